"""Cross-checks of a spec against its corpus and its connector, without running anything (pure).

What a first run on a fresh clone can say before any history exists — judgements without causal
evidence, so warnings:

- a filter's ``field`` that no record of the endpoint's corpus has (a renamed field, a typo): the
  filter can never match, and every request that uses it is served nothing or everything;
- a ``records_key`` that appears nowhere in the connector's code: the connector probably reads its
  records from another key (a handler-served endpoint, or a key built at run time, may be fine);
- a query parameter the connector, as recorded in the last run, sends to an endpoint that the spec
  does not declare (the spec renamed or lost it), located at the endpoint.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.simulator.spec import Endpoint, Spec
from connector_watch.simulator.values import dotted_get


def cross_check(
    spec: Spec,
    spec_path: str,
    corpora: Mapping[str, list[Any] | None],
    connector_texts: Iterable[str],
    sent_params: Mapping[int, set[str]] | None = None,
) -> list[Diagnostic]:
    """Findings located in the spec. ``corpora``: table → records (None when unreadable);
    ``sent_params``: endpoint index → query parameter names the connector sent it last run."""
    lines = _spec_lines(spec)
    code = "\n".join(connector_texts)
    findings: list[Diagnostic] = []
    for endpoint in spec.endpoints:
        records = corpora.get(endpoint.corpus or "") if endpoint.corpus else None
        if records and not endpoint.handler:
            findings.extend(_filter_fields(endpoint, records, spec_path, lines))
        wrapper = endpoint.response.wrapper
        if wrapper is not None and code and not endpoint.handler:
            finding = _records_key_unread(endpoint, wrapper.records_key, code, spec_path, lines)
            if finding is not None:
                findings.append(finding)
        if sent_params and endpoint.index in sent_params:
            findings.extend(_undeclared_params(endpoint, sent_params[endpoint.index], spec_path, lines))
    return findings


def _spec_lines(spec: Spec) -> list[str]:
    try:
        return spec.path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError, AttributeError):
        return []


def _line_of(lines: list[str], start: int, pattern: str) -> int:
    """The first line from ``start`` (zero-based) matching ``pattern``, else ``start``."""
    compiled = re.compile(pattern)
    for i in range(max(start, 0), min(len(lines), start + 80)):
        if compiled.search(lines[i]):
            return i
    return max(start, 0)


def _fields(records: list[Any]) -> set[str]:
    found: set[str] = set()

    def walk(value: Any, prefix: str, depth: int) -> None:
        if isinstance(value, dict) and depth < 4:
            for key, item in value.items():
                path = f"{prefix}.{key}" if prefix else key
                found.add(path)
                walk(item, path, depth + 1)

    for record in records[:200]:
        walk(record, "", 0)
    return found


def _filter_fields(endpoint: Endpoint, records: list[Any], spec_path: str, lines: list[str]) -> list[Diagnostic]:
    findings = []
    known = _fields(records)
    for param in endpoint.params.values():
        if param.role != "filter" or not param.field:
            continue
        if any(dotted_get(r, param.field) is not None for r in records if isinstance(r, dict)) or param.field in known:
            continue
        close = difflib.get_close_matches(param.field, sorted(known), n=1, cutoff=0.6)
        row = _line_of(lines, endpoint.line - 1, rf"field:\s*{re.escape(param.field)}\b")
        findings.append(
            Diagnostic(
                "spec",
                f"filter '{param.name}' reads field '{param.field}', which no record of corpus "
                f"'{endpoint.corpus}' has" + (f" (did you mean '{close[0]}'?)" if close else ""),
                Location(spec_path, Range.lines(row)),
                0.6,
                severity="warning",
                code="spec.filter_field_unknown",
                source="static",
                evidence=["a judgement without causal evidence: the spec against its corpus"],
                fix=f"use field: {close[0]}" if close else "name a field the corpus records have",
            )
        )
    return findings


def _records_key_unread(
    endpoint: Endpoint, records_key: str, code: str, spec_path: str, lines: list[str]
) -> Diagnostic | None:
    head = records_key.split(".")[0]
    if not head or head.startswith("$") or re.search(rf"""["']{re.escape(head)}["']""", code):
        return None
    if re.search(rf"\b{re.escape(head)}\b", code):  # an attribute or a name built at run time
        return None
    row = _line_of(lines, endpoint.line - 1, r"records_key:")
    return Diagnostic(
        "spec",
        f"records_key '{records_key}' of {endpoint.method} {endpoint.path} appears nowhere in the "
        "connector's code: it probably reads its records from another key",
        Location(spec_path, Range.lines(row)),
        0.45,
        severity="warning",
        code="spec.records_key_unread",
        source="static",
        evidence=["a judgement without causal evidence: the spec against the connector's code"],
        fix="make records_key the key the connector reads records from",
    )


def _undeclared_params(endpoint: Endpoint, sent: set[str], spec_path: str, lines: list[str]) -> list[Diagnostic]:
    declared = {p.name for p in endpoint.params.values() if p.location == "query"}
    if not declared:
        return []
    missing = sorted(name for name in sent if name not in declared)
    findings = []
    for name in missing:
        close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
        row = (
            _line_of(lines, endpoint.line - 1, rf"^\s*{re.escape(close[0])}\s*:") if close else endpoint.line - 1
        )
        findings.append(
            Diagnostic(
                "spec",
                f"the connector sends '{name}' to {endpoint.method} {endpoint.path}, which the spec does "
                "not declare" + (f" (it declares '{close[0]}')" if close else ""),
                Location(spec_path, Range.lines(row)),
                0.6,
                severity="warning",
                code="spec.param_undeclared",
                source="static",
                evidence=["from the requests the connector made in its last run"],
                fix=f"name the parameter '{name}'" if close else f"declare '{name}' under params:",
            )
        )
    return findings
