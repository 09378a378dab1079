"""Problems as a person reads them: one entry per root cause, with every test it breaks under it.

**Pure.** The engine already merges a diagnostic that several failing tests report at the same place
into one (``Engine.file_diagnostics``: one per file, place and message, its ``node_ids`` the union).
This turns those sets, plus failing tests that carry no located diagnostic, into :class:`Problem`
entries; orders them (errors first, newest first) and filters them by file and by test name, as
Vitest's ``p`` and ``t`` do. The terminal screen reads it; the browser panel does the same in
``panel/panel.js`` from the protocol's published sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic


@dataclass
class Problem:
    key: tuple[Any, ...]
    message: str
    blame: str | None = None  # None: a failing test whose failure no diagnostic locates
    severity: str = "error"
    origin: str = "run"  # run | static
    location: str | None = None  # path:line:column, for people
    path: str | None = None
    confidence: float | None = None
    fix: str | None = None
    evidence: list[str] = field(default_factory=list)
    related: list[tuple[str, str]] = field(default_factory=list)  # (path:line:column, message)
    diff: dict[str, str] | None = None
    causal: str | None = None  # what the counterfactual reruns found, for people
    fixes: list[str] = field(default_factory=list)  # titles of the edits the daemon verified
    node_ids: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    def matches(self, file_filter: str = "", test_filter: str = "") -> bool:
        """Case-insensitive substring filters: ``file_filter`` on the blamed file, the related files
        and the failing tests' files; ``test_filter`` on the failing tests' names."""
        if file_filter:
            needle = file_filter.lower()
            paths = [
                self.path or "",
                *(loc for loc, _ in self.related),
                *(n.split("::")[0] for n in self.node_ids),
            ]
            if not any(needle in p.lower() for p in paths):
                return False
        if test_filter:
            needle = test_filter.lower()
            if not any(needle in test_name(n).lower() for n in self.node_ids):
                return False
        return True


def test_name(node_id: str) -> str:
    """``TestClass::test_name[table]`` of a node ID (the file's path dropped)."""
    return node_id.split("::", 1)[1] if "::" in node_id else node_id


def identity(d: Diagnostic) -> tuple[Any, ...]:
    """What stays the same when the daemon revises a diagnostic's verdict (its message and evidence
    change once the causal reruns are done): the daemon's id when it has one, else blame, place and
    tests."""
    stable = getattr(d, "id", None)
    if stable:
        return ("id", stable)
    start = d.location.range.start
    return (d.blame, d.location.path, start.line, start.character, tuple(sorted(d.node_ids)))


def from_diagnostic(d: Diagnostic) -> Problem:
    return Problem(
        key=identity(d),
        message=d.message,
        blame=d.blame,
        severity=d.severity,
        origin=d.source,
        location=str(d.location),
        path=d.location.path,
        confidence=d.confidence,
        fix=d.fix,
        evidence=list(d.evidence),
        related=[(str(r.location), r.message) for r in d.related],
        diff=dict(d.diff) if d.diff else None,
        causal=causal_text(d.causal),
        fixes=[f.title for f in d.fixes],
        node_ids=sorted(d.node_ids),
    )


def causal_text(causal: Mapping[str, Any] | None) -> str | None:
    """One line about which change made the test fail (the daemon's counterfactual reruns)."""
    if not causal:
        return None
    status = causal.get("status")
    triggers = [
        f"{t['location']['path']}:{t['location']['range']['start']['line'] + 1}" for t in causal.get("triggers", [])
    ]
    text = {
        "pending": "checking which change caused it…",
        "trigger": "caused by the change at " + ", ".join(triggers),
        "not-caused": "not caused by the changes since it last passed",
        "pre-existing": f"fails at {causal.get('base') or 'the base'} too",
        "inconclusive": "the reruns could not tell which change caused it",
        "no-history": "no passing run to compare with",
    }.get(str(status), str(status))
    return f"{text} ({causal['note']})" if causal.get("note") else text


def collect(
    file_diagnostics: Mapping[str, Iterable[Diagnostic]],
    failing: Mapping[str, str | None],
    located: Iterable[str],
) -> list[Problem]:
    """Every root cause: the published diagnostics of every file, then one entry per failing node
    (``failing``: node ID → failure text) that none of them names and ``located`` does not list
    (nodes whose diagnostics are elsewhere: the engine knows them)."""
    problems: dict[tuple[Any, ...], Problem] = {}
    for path in sorted(file_diagnostics):
        for d in file_diagnostics[path]:
            problems.setdefault(identity(d), from_diagnostic(d))
    named = {n for p in problems.values() for n in p.node_ids} | set(located)
    for node_id in sorted(failing):
        if node_id in named:
            continue
        text = failing[node_id] or "failed (no detail)"
        problems[("node", node_id)] = Problem(
            key=("node", node_id),
            message=text,
            location=node_id.split("::")[0],
            path=node_id.split("::")[0],
            node_ids=[node_id],
        )
    return list(problems.values())


class Recency:
    """Remembers when each root cause first appeared, so the newest sorts first."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], int] = {}
        self._clock = 0

    def order(self, problems: list[Problem]) -> list[Problem]:
        """Errors before warnings, each newest first; forgets problems that went away."""
        for problem in problems:
            if problem.key not in self._seen:
                self._clock += 1
                self._seen[problem.key] = self._clock
        current = {p.key for p in problems}
        self._seen = {k: v for k, v in self._seen.items() if k in current}
        return sorted(problems, key=lambda p: (p.severity != "error", -self._seen[p.key]))
