"""Drift: record mode's validation reports as diagnostics.

In record mode every live response is compared with what the spec and corpus
would have served (``connector_watch.simulator.validator``); the findings land in
``<cassette>.validation.json`` when a test class finishes. This module turns a
report into ``drift`` diagnostics located at the spec line or corpus record to
change, each naming the nodes whose requests reached the drifting endpoint.
Pure: the engine reads the file and passes the document in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.index import NodeRecord
from connector_watch.simulator.spec import Spec

DRIFT_SEVERITIES = frozenset({"error", "warning"})  # info-level findings stay in the report


def _location(item: dict[str, Any] | None, fallback: str) -> Location:
    if not item:
        return Location(fallback, Range.lines(0))
    return Location(
        item["file"], Range.from_one_based(int(item.get("line") or 1), int(item.get("column") or 1))
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def drift_diagnostics(
    report: dict[str, Any],
    report_path: str,
    spec: Spec | None,
    nodes: Iterable[NodeRecord],
) -> list[Diagnostic]:
    """One diagnostic per drift finding of a validation report."""
    nodes = list(nodes)
    diagnostics: list[Diagnostic] = []
    for row in report.get("endpoints", []):
        spec_path, method = row.get("spec_path"), row.get("method")
        hit = sorted(
            n.node_id
            for n in nodes
            if any(
                r.method == method and spec is not None and _lands_on(spec, r.method, r.path, spec_path)
                for r in n.requests
            )
        )
        for finding in row.get("findings", []):
            severity = finding.get("severity", "")
            if severity not in DRIFT_SEVERITIES:
                continue
            evidence = [f"{method} {spec_path or row.get('sample_url')}: {finding.get('kind')}"]
            if "live" in finding:
                evidence.append(f"live: {_short(finding['live'])}")
            if "spec" in finding:
                evidence.append(f"spec/corpus: {_short(finding['spec'])}")
            if finding.get("example_url"):
                evidence.append(f"seen at {finding['example_url']}")
            evidence.append(f"report: {report_path}")
            diagnostics.append(
                Diagnostic(
                    blame="drift",
                    message=f"live drift: {finding.get('message', '')}",
                    location=_location(finding.get("location"), report_path),
                    confidence=0.85,
                    severity=severity,
                    related=[
                        Related(_location(r, report_path), r.get("note") or "also concerned")
                        for r in finding.get("related", [])
                    ],
                    evidence=evidence,
                    fix=finding.get("fix") or None,
                    node_ids=hit,
                    code=f"drift.{finding.get('kind')}",
                )
            )
    return diagnostics


def _lands_on(spec: Spec, method: str, path: str, spec_path: str | None) -> bool:
    match = spec.match(method, path)
    return match is not None and match[0].path == spec_path
