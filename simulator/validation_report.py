"""The live validator's findings and report: what a finding says and where it points
(``Location``, ``Finding``), one row per endpoint (``EndpointRow``), and the public
``<cassette>.validation.json`` shape built from the rows (``build_report``), rendered as text
(``render_text``), written (``write_report``) and read back (``has_drift``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from connector_watch.simulator.spec import Endpoint

REPORT_VERSION = 1
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int = 1
    note: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "line": self.line, "column": self.column}
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Finding:
    kind: str
    severity: str  # error | warning | info
    message: str
    fix: str = ""
    path: str | None = None
    live: Any = None
    spec: Any = None
    location: Location | None = None
    related: list[Location] = field(default_factory=list)
    count: int = 1
    example_url: str | None = None

    @property
    def drift(self) -> bool:
        return self.severity in ("error", "warning")

    def issue_text(self) -> str:
        places = [str(p) for p in ([self.location] if self.location else []) + self.related]
        where = f" [{'; '.join(places)}]" if places else ""
        return f"{self.message}{where}"

    def dedupe_key(self) -> tuple:
        return (self.kind, self.path, self.message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "severity": self.severity, "message": self.message}
        if self.path is not None:
            data["path"] = self.path
        if self.live is not None:
            data["live"] = self.live
        if self.spec is not None:
            data["spec"] = self.spec
        if self.location is not None:
            data["location"] = self.location.to_dict()
        if self.related:
            data["related"] = [r.to_dict() for r in self.related]
        data["fix"] = self.fix
        data["count"] = self.count
        if self.example_url:
            data["example_url"] = self.example_url
        return data


@dataclass
class EndpointRow:
    method: str
    spec_path: str | None
    sample_url: str
    line: int | None = None
    corpus: str | None = None
    calls: int = 0
    matched: int = 0
    mismatched: int = 0
    no_spec: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    findings: dict[tuple, Finding] = field(default_factory=dict)
    endpoint: Endpoint | None = None
    live_records: list[Any] = field(default_factory=list)
    spec_records: list[Any] = field(default_factory=list)
    record_drift: bool = False  # endpoint-level record findings (fields, types) found drift
    suggested_path: str | None = None  # no_spec rows: a path template for the missing endpoint

    @property
    def status(self) -> str:
        if self.no_spec:
            return "no_spec"
        if self.mismatched or self.record_drift:
            return "mismatched"
        if self.calls and self.matched:
            return "validated"
        return "unknown"

    def add(self, finding: Finding) -> None:
        key = finding.dedupe_key()
        known = self.findings.get(key)
        if known is None:
            self.findings[key] = finding
        else:
            known.count += 1

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(
            self.findings.values(), key=lambda f: (SEVERITY_RANK.get(f.severity, 3), f.kind, f.path or "")
        )
        return {
            "method": self.method,
            "spec_path": self.spec_path,
            "sample_url": self.sample_url,
            "status": self.status,
            "calls": self.calls,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "no_spec": self.no_spec,
            "issues": [f.issue_text() for f in ordered if f.drift or f.kind == "no_spec"],
            # beyond the public shape
            "spec_line": self.line,
            "corpus": self.corpus,
            **({"suggested_path": self.suggested_path} if self.suggested_path else {}),
            "statuses": dict(sorted(self.statuses.items())),
            "findings": [f.to_dict() for f in ordered],
        }


def build_report(
    rows: Iterable[EndpointRow], *, generated_at: str | None = None, spec_file: str | None = None
) -> dict[str, Any]:
    ordered = sorted(rows, key=lambda r: (r.spec_path or r.sample_url, r.method))
    endpoints = [r.to_dict() for r in ordered]
    kinds: dict[str, int] = defaultdict(int)
    for row in ordered:
        for finding in row.findings.values():
            kinds[finding.kind] += 1
    summary = {
        "endpoints_total": len(ordered),
        "endpoints_validated": sum(1 for r in ordered if r.status == "validated"),
        "endpoints_mismatched": sum(1 for r in ordered if r.status == "mismatched"),
        "endpoints_missing_spec": sum(1 for r in ordered if r.status == "no_spec"),
        # beyond the public shape
        "calls": sum(r.calls for r in ordered),
        "drift": any(r.status in ("mismatched", "no_spec") for r in ordered),
        "findings_by_kind": dict(sorted(kinds.items())),
    }
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "generated_at": generated_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endpoints": endpoints,
        "summary": summary,
    }
    if spec_file:
        report["spec"] = spec_file
    return report


def render_text(report: dict[str, Any]) -> str:
    """The report as a person reads it in a terminal."""
    lines = []
    summary = report.get("summary", {})
    lines.append(
        f"{summary.get('endpoints_total', 0)} endpoint(s): {summary.get('endpoints_validated', 0)} validated, "
        f"{summary.get('endpoints_mismatched', 0)} mismatched, {summary.get('endpoints_missing_spec', 0)} without spec"
    )
    for row in report.get("endpoints", []):
        shown = row.get("spec_path") or row.get("suggested_path") or row.get("sample_url")
        lines.append(f"{row['status']:>10}  {row['method']} {shown}")
        for issue in row.get("issues", []) if not row.get("findings") else []:  # the public validator's rows
            lines.append(f"            issue: {issue}")
        for finding in row.get("findings", []):
            if finding["severity"] == "info":
                continue
            places = ([finding["location"]] if finding.get("location") else []) + finding.get("related", [])
            where = " (" + "; ".join(f"{p['file']}:{p['line']}" for p in places) + ")" if places else ""
            lines.append(f"            {finding['severity']}: {finding['message']}{where}")
            if finding.get("fix"):
                lines.append(f"              fix: {finding['fix'].splitlines()[0]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def has_drift(report: dict[str, Any]) -> bool:
    """Ours say so in ``summary.drift``; the public validator's reports only in their rows' statuses."""
    summary = report.get("summary", {})
    if "drift" in summary:
        return bool(summary["drift"])
    return any(row.get("status") in ("mismatched", "no_spec") for row in report.get("endpoints", []))
