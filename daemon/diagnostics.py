"""Diagnostics: a blamed finding with its evidence, a place to underline, and a fix.

One dataclass, rendered three ways: the CI/JSON shape documented in the README
(``to_dict``), an LSP ``Diagnostic`` for editors (``to_lsp``), and text for the
terminal. Positions are zero-based (LSP); paths are relative to the workspace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Who is at fault. ``test`` covers the harness, configuration and test files;
#: ``environment`` a missing dependency, a crashed worker or clock-dependent data;
#: ``drift`` a live API that differs from the spec or corpus (record mode).
BLAME_CATEGORIES = ("connector", "spec", "corpus", "test", "environment", "drift")

#: LSP DiagnosticSeverity.
SEVERITY = {"error": 1, "warning": 2, "information": 3, "hint": 4}


@dataclass(frozen=True, order=True)
class Position:
    line: int  # zero-based
    character: int  # zero-based

    def to_dict(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position

    @classmethod
    def lines(
        cls, line: int, column: int = 0, end_line: int | None = None, end_column: int | None = None
    ) -> Range:
        """From zero-based numbers; the end defaults to the end of the start line."""
        end_line = line if end_line is None else end_line
        end_column = max(column + 1, 1000) if end_column is None else end_column
        return cls(Position(line, column), Position(end_line, end_column))

    @classmethod
    def from_one_based(
        cls, line: int, column: int = 1, end_line: int | None = None, end_column: int | None = None
    ) -> Range:
        start = Position(max(line - 1, 0), max(column - 1, 0))
        if end_line is None:
            end = Position(start.line, 1000)
        else:
            end = Position(max(end_line - 1, 0), max((end_column or 1) - 1, 0))
            if end <= start:
                end = Position(start.line, start.character + 1)
        return cls(start, end)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.to_dict(), "end": self.end.to_dict()}


@dataclass(frozen=True)
class Location:
    path: str  # relative to the workspace, forward slashes
    range: Range

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "range": self.range.to_dict()}

    @property
    def line(self) -> int:
        """One-based line, for people."""
        return self.range.start.line + 1

    def __str__(self) -> str:
        return f"{self.path}:{self.range.start.line + 1}:{self.range.start.character + 1}"


@dataclass(frozen=True)
class Related:
    location: Location
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location.to_dict(), "message": self.message}


@dataclass(frozen=True)
class TextEdit:
    """Replace ``range`` of the workspace file ``path`` with ``new_text`` (an LSP ``TextEdit``)."""

    path: str
    range: Range
    new_text: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "range": self.range.to_dict(), "newText": self.new_text}


@dataclass(frozen=True)
class VerifiedFix:
    """An edit the daemon built from the evidence and proved: the failing nodes pass with it applied
    (rerun on the overlay, never the user's files). The editor applies it; the daemon never does."""

    title: str
    edits: tuple[TextEdit, ...]
    nodes: tuple[str, ...]  # the nodes that failed, and passed with the fix applied
    note: str = ""  # what ran: "2 tests passed with the fix applied (overlay rerun, 180 ms)"
    #: (path, SHA-256 hex of its bytes) of every file the edits were verified against: an editor
    #: applies the fix only to those contents (its ranges mean nothing in a file changed since).
    against: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        verified: dict[str, Any] = {"nodeIds": list(self.nodes), "note": self.note}
        if self.against:
            verified["against"] = dict(self.against)
        return {"title": self.title, "edits": [e.to_dict() for e in self.edits], "verified": verified}

    def applies_to(self, read: Callable[[str], bytes | None]) -> bool:
        """Whether every file it edits still holds what it was verified against."""
        return all(content_digest(read(path)) == digest for path, digest in self.against)


def content_digest(data: bytes | None) -> str:
    """The digest a fix carries of a file's contents (SHA-256: editors compute it too)."""
    return "" if data is None else hashlib.sha256(data).hexdigest()


@dataclass
class Diagnostic:
    blame: str
    message: str
    location: Location
    confidence: float = 0.8
    severity: str = "error"
    related: list[Related] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    fix: str | None = None
    node_ids: list[str] = field(default_factory=list)
    code: str | None = None  # the check or rule that produced it
    source: str = "run"  # "run" (from a test node) | "static"
    # Expected vs. actual text for an editor's diff view ({"expected", "actual"}), when the check has one.
    diff: dict[str, str] | None = None
    # What the counterfactual reruns found (blame.causality.CausalEvidence.to_dict()), once known.
    causal: dict[str, Any] | None = None
    #: Fixes proven on the overlay (only verified ones are ever offered as edits).
    fixes: list[VerifiedFix] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.blame not in BLAME_CATEGORIES:
            raise ValueError(f"unknown blame {self.blame!r}; expected one of {BLAME_CATEGORIES}")

    def key(self) -> tuple[Any, ...]:
        """Identity for de-duplication across nodes."""
        return (self.blame, self.message, self.location.path, self.location.range.start.line)

    def to_dict(self) -> dict[str, Any]:
        """The stable CI/JSON shape (see the README)."""
        return {
            "blame": self.blame,
            "confidence": round(self.confidence, 2),
            "severity": self.severity,
            "message": self.message,
            "location": self.location.to_dict(),
            "related": [r.to_dict() for r in self.related],
            "evidence": list(self.evidence),
            "fix": self.fix,
            "nodeIds": list(self.node_ids),
            "code": self.code,
            **({"diff": dict(self.diff)} if self.diff else {}),
            **({"causal": self.causal} if self.causal else {}),
            **({"fixes": [f.to_dict() for f in self.fixes]} if self.fixes else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnostic:
        """The inverse of :meth:`to_dict`."""

        def location(item: dict[str, Any]) -> Location:
            r = item["range"]
            return Location(
                item["path"],
                Range(
                    Position(r["start"]["line"], r["start"]["character"]),
                    Position(r["end"]["line"], r["end"]["character"]),
                ),
            )

        return cls(
            blame=data["blame"],
            message=data["message"],
            location=location(data["location"]),
            confidence=float(data.get("confidence", 0.8)),
            severity=data.get("severity", "error"),
            related=[Related(location(r["location"]), r.get("message", "")) for r in data.get("related", [])],
            evidence=list(data.get("evidence", [])),
            fix=data.get("fix"),
            node_ids=list(data.get("nodeIds", [])),
            code=data.get("code"),
            diff=data.get("diff"),
            causal=data.get("causal"),
            fixes=[
                VerifiedFix(
                    f["title"],
                    tuple(TextEdit(e["path"], location(e).range, e["newText"]) for e in f["edits"]),
                    tuple(f.get("verified", {}).get("nodeIds", [])),
                    f.get("verified", {}).get("note", ""),
                )
                for f in data.get("fixes", [])
            ],
        )

    def to_lsp(self, uri_for: Any) -> dict[str, Any]:
        """An LSP ``Diagnostic``; ``uri_for(path)`` turns a workspace path into a URI."""
        return {
            "range": self.location.range.to_dict(),
            "severity": SEVERITY.get(self.severity, 1),
            "source": "connector-watch",
            "code": self.blame,
            "message": self.message,
            "relatedInformation": [
                {
                    "location": {"uri": uri_for(r.location.path), "range": r.location.range.to_dict()},
                    "message": r.message,
                }
                for r in self.related
            ],
            "data": {
                "path": self.location.path,
                "uri": uri_for(self.location.path),
                "relatedPaths": [r.location.path for r in self.related],
                "confidence": round(self.confidence, 2),
                "evidence": list(self.evidence),
                "nodeIds": list(self.node_ids),
                "fix": self.fix,
                "check": self.code,
                "origin": self.source,
                **({"diff": dict(self.diff)} if self.diff else {}),
                **({"causal": self.causal} if self.causal else {}),
                **({"fixes": [f.to_dict() for f in self.fixes]} if self.fixes else {}),
            },
        }

    def one_line(self) -> str:
        fix = f" — fix: {self.fix}" if self.fix else ""
        return f"[{self.blame}] {self.location}: {self.message.splitlines()[0]}{fix}"
