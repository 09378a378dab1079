"""One-shot reports: the ``run --json`` document, SARIF, JUnit XML and grouped text.

The JSON document's shape is a public contract (documented in the README)::

    {"summary": {"total", "passed", "failed", "error", "skipped", "timeout", "crashed", "durationMs",
                 "byBlame": {...}, "staticErrors", "staticWarnings", "staticByBlame": {...}},
     "results": [{"nodeId", "outcome", "durationMs", "message", "diagnostics": [<diagnostic>]}],
     "staticDiagnostics": [<diagnostic>]}

A ``<diagnostic>`` is ``Diagnostic.to_dict()``: ``blame``, ``confidence``, ``severity``, ``message``,
``location: {path, range: {start: {line, character}, end}}`` (zero-based, workspace-relative),
``related``, ``evidence``, ``fix``, ``nodeIds``, ``code``.

Test results and static findings are counted apart: ``byBlame`` counts the problems the tests'
failures were blamed on; ``staticErrors``, ``staticWarnings`` and ``staticByBlame`` count what the
static checks found in the files of the sources the run touched (notes, ``information``, are
listed but not counted).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from xml.etree import ElementTree

from connector_watch.daemon.diagnostics import BLAME_CATEGORIES, Diagnostic
from connector_watch.daemon.index import FAILING

SCHEMA_VERSION = 1


@dataclass
class NodeResult:
    node_id: str
    outcome: str
    duration_ms: float
    diagnostics: list[Diagnostic] = field(default_factory=list)
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "outcome": self.outcome,
            "durationMs": round(self.duration_ms, 2),
            "message": self.message,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


@dataclass
class RunReport:
    results: list[NodeResult]
    static: list[Diagnostic]
    duration_ms: float

    @property
    def failed(self) -> bool:
        return any(r.outcome in FAILING for r in self.results) or any(
            d.severity == "error" for d in self.static
        )

    def summary(self) -> dict[str, Any]:
        counts = Counter(r.outcome for r in self.results)
        from_tests = {d.key(): d for r in self.results for d in r.diagnostics}
        by_blame = Counter(d.blame for d in from_tests.values())
        counted = [d for d in self.static if d.severity in ("error", "warning")]
        static_by_blame = Counter(d.blame for d in counted)
        return {
            "schemaVersion": SCHEMA_VERSION,
            "total": len(self.results),
            **{k: counts.get(k, 0) for k in ("passed", "failed", "error", "skipped", "timeout", "crashed")},
            "durationMs": round(self.duration_ms, 1),
            "byBlame": {k: by_blame.get(k, 0) for k in BLAME_CATEGORIES},
            "staticErrors": sum(1 for d in counted if d.severity == "error"),
            "staticWarnings": sum(1 for d in counted if d.severity == "warning"),
            "staticByBlame": {k: static_by_blame.get(k, 0) for k in BLAME_CATEGORIES},
        }

    def all_diagnostics(self) -> list[Diagnostic]:
        seen: dict[tuple[Any, ...], Diagnostic] = {}
        for result in self.results:
            for d in result.diagnostics:
                kept = seen.get(d.key())
                if kept is None:
                    seen[d.key()] = d
                else:  # the same problem in several tests: told once, with every test it fails
                    more = [n for n in (d.node_ids or [result.node_id]) if n not in kept.node_ids]
                    if more:
                        seen[d.key()] = replace(kept, node_ids=[*kept.node_ids, *more])
        # A static finding a failing test already reports at the same place (with its nodes and
        # fix) is the same problem told twice.
        places = {(d.blame, d.location.path, d.location.range.start.line) for d in seen.values()}
        for d in self.static:
            if (d.blame, d.location.path, d.location.range.start.line) not in places:
                seen.setdefault(d.key(), d)
        return list(seen.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "results": [r.to_dict() for r in self.results],
            "staticDiagnostics": [d.to_dict() for d in self.static],
        }


def render_text(report: RunReport) -> str:
    """Failures grouped by blame, then one summary line."""
    lines: list[str] = []
    groups: dict[str, list[Diagnostic]] = {}
    for d in report.all_diagnostics():
        if d.severity in ("error", "warning") or d.source != "static":
            groups.setdefault(d.blame, []).append(d)
    for blame in BLAME_CATEGORIES:
        items = groups.get(blame)
        if not items:
            continue
        lines.append(f"== {blame} ({len(items)}) ==")
        for d in sorted(items, key=lambda d: (d.location.path, d.location.range.start.line)):
            severity = "" if d.severity == "error" else f" [{d.severity}]"
            lines.append(f"  {d.location}{severity}: {d.message.splitlines()[0]}")
            if d.fix:
                lines.append(f"      fix: {d.fix}")
            for related in d.related[:2]:
                lines.append(f"      see {related.location}: {related.message}")
            if d.node_ids:
                shown = ", ".join(n.split("::", 1)[-1] for n in d.node_ids[:3])
                more = f" (+{len(d.node_ids) - 3})" if len(d.node_ids) > 3 else ""
                lines.append(f"      nodes: {shown}{more}")
    s = report.summary()
    lines.append(
        f"{s['total']} node(s): {s['passed']} passed, {s['failed']} failed, {s['error']} error(s), "
        f"{s['skipped']} skipped, {s['timeout']} timed out, {s['crashed']} crashed; "
        f"static checks: {s['staticErrors']} error(s), {s['staticWarnings']} warning(s); "
        f"in {s['durationMs'] / 1000:.2f} s"
    )
    return "\n".join(lines)


def render_sarif(report: RunReport, tool_version: str = "0.1.0") -> dict[str, Any]:
    """SARIF 2.1.0, one result per diagnostic (rule id = blame category)."""
    level = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}
    results = []
    for d in report.all_diagnostics():
        r = d.location.range
        results.append(
            {
                "ruleId": d.blame,
                "level": level.get(d.severity, "error"),
                "message": {"text": d.message + (f"\nFix: {d.fix}" if d.fix else "")},
                "locations": [
                    _sarif_location(
                        d.location.path, r.start.line, r.start.character, r.end.line, r.end.character
                    )
                ],
                "relatedLocations": [
                    {
                        **_sarif_location(
                            rel.location.path,
                            rel.location.range.start.line,
                            rel.location.range.start.character,
                            rel.location.range.end.line,
                            rel.location.range.end.character,
                        ),
                        "message": {"text": rel.message},
                    }
                    for rel in d.related
                ],
                "properties": {
                    "confidence": d.confidence,
                    "evidence": d.evidence,
                    "nodeIds": d.node_ids,
                    "check": d.code,
                },
            }
        )
    rules = [{"id": b, "shortDescription": {"text": f"failure blamed on the {b}"}} for b in BLAME_CATEGORIES]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "connector-watch", "version": tool_version, "rules": rules}},
                "results": results,
            }
        ],
    }


def _sarif_location(path: str, line: int, column: int, end_line: int, end_column: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path},
            "region": {
                "startLine": line + 1,
                "startColumn": column + 1,
                "endLine": end_line + 1,
                "endColumn": max(end_column, column + 1) + 1,
            },
        }
    }


def render_junit(report: RunReport) -> bytes:
    suites = ElementTree.Element("testsuites", name="connector-watch")
    by_file: dict[str, list[NodeResult]] = {}
    for result in report.results:
        by_file.setdefault(result.node_id.split("::")[0], []).append(result)
    for file, results in sorted(by_file.items()):
        counts = Counter(r.outcome for r in results)
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=file,
            tests=str(len(results)),
            failures=str(counts.get("failed", 0) + counts.get("timeout", 0)),
            errors=str(counts.get("error", 0) + counts.get("crashed", 0)),
            skipped=str(counts.get("skipped", 0)),
            time=f"{sum(r.duration_ms for r in results) / 1000:.3f}",
        )
        for result in results:
            parts = result.node_id.split("::")
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=".".join(parts[:-1]) or file,
                name=parts[-1],
                time=f"{result.duration_ms / 1000:.3f}",
            )
            if result.outcome in ("failed", "timeout", "error", "crashed"):
                tag = "failure" if result.outcome in ("failed", "timeout") else "error"
                blamed = "; ".join(d.one_line() for d in result.diagnostics) or result.outcome
                element = ElementTree.SubElement(case, tag, message=blamed[:2000], type=result.outcome)
                element.text = result.message or ""
            elif result.outcome == "skipped":
                ElementTree.SubElement(case, "skipped", message=(result.message or "")[:500])
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)


def diagnostics_document(diagnostics: Iterable[Diagnostic], notes: Iterable[str] = ()) -> str:
    return json.dumps({"diagnostics": [d.to_dict() for d in diagnostics], "notes": list(notes)}, indent=2)
