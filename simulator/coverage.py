"""Spec-aware coverage of one record-mode session: ``<cassette>.coverage.json``.

The public simulator counted calls per concrete URL and never looked at the
spec. This report is keyed by **spec endpoint**: hits per endpoint (fan-out
children of ``/repos/{owner}/{repo}/issues`` count once, under the template),
the spec endpoints **never hit**, and the requests that **matched no spec
entry**, with the nearest entries and a suggested path template. Parameter
shapes are key names only (query and body), never values.

The public shape is kept: ``endpoints[]`` rows carry ``method``, ``url``,
``count`` and ``param_shapes`` (``url`` is the spec path template, or the
concrete scrubbed URL for unmatched requests).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.scrub import scrub_url_query
from connector_watch.simulator.spec import Spec
from connector_watch.simulator.trace import Caller
from connector_watch.simulator.validator import suggest_path_template

REPORT_VERSION = 1
MAX_SHAPES = 5


@dataclass
class CoverageCall:
    request: SimRequest
    status: int | None
    timeout_given: bool = True
    caller: Caller | None = None
    failure: str | None = None  # "unreachable" | "timeout"


@dataclass
class _Row:
    method: str
    url: str
    spec_path: str | None
    line: int | None
    corpus: str | None
    count: int = 0
    shapes: list[list[str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    nearest: list[str] = field(default_factory=list)
    concrete: set[str] = field(default_factory=set)


def param_shape(request: SimRequest) -> list[str]:
    """Sorted parameter names: query keys, and body keys prefixed ``body.``."""
    keys = sorted(request.query)
    keys += sorted(f"body.{k}" for k in request.body_keys())
    return keys


def build_coverage(spec: Spec | None, calls: list[CoverageCall]) -> dict[str, Any]:
    rows: dict[tuple[str, str], _Row] = {}
    no_timeout: dict[str, int] = defaultdict(int)
    failures: dict[str, int] = defaultdict(int)
    for call in calls:
        request = call.request
        match = spec.match(request.method, request.path) if spec is not None else None
        if match is not None:
            endpoint = match[0]
            key = (request.method, endpoint.path)
            row = rows.setdefault(
                key, _Row(request.method, endpoint.path, endpoint.path, endpoint.line, endpoint.corpus)
            )
        else:
            template = suggest_path_template(request.path)
            key = (request.method, f"?{template}")
            row = rows.setdefault(key, _Row(request.method, template, None, None, None))
            if spec is not None and not row.nearest:
                row.nearest = spec.nearest(request.method, request.path)
        row.count += 1
        row.concrete.add(scrub_url_query(request.base_url))
        shape = param_shape(request)
        if shape not in row.shapes and len(row.shapes) < MAX_SHAPES:
            row.shapes.append(shape)
        status = str(call.status) if call.status is not None else (call.failure or "error")
        row.statuses[status] = row.statuses.get(status, 0) + 1
        if not call.timeout_given and call.caller is not None:
            no_timeout[f"{call.caller.file}:{call.caller.line}"] += 1
        if call.failure:
            failures[call.failure] += 1

    spec_rows = []
    never_hit = []
    if spec is not None:
        for endpoint in spec.endpoints:
            hits = rows.get((endpoint.method, endpoint.path))
            entry = {
                "method": endpoint.method,
                "path": endpoint.path,
                "line": endpoint.line,
                "corpus": endpoint.corpus,
                "hits": hits.count if hits else 0,
            }
            spec_rows.append(entry)
            if not hits:
                never_hit.append(
                    {
                        "method": endpoint.method,
                        "path": endpoint.path,
                        "line": endpoint.line,
                        "file": spec.file,
                        "message": f"{endpoint.key} (line {endpoint.line}) is in the spec but was never requested",
                    }
                )
    unmatched = [
        {
            "method": r.method,
            "url": r.url,
            "count": r.count,
            "examples": sorted(r.concrete)[:3],
            "suggested_path": r.url,
            "nearest": r.nearest,
            "message": f"{r.method} {r.url} was requested {r.count} time(s) but matches no spec entry",
        }
        for r in sorted(rows.values(), key=lambda r: (r.url, r.method))
        if r.spec_path is None
    ]
    endpoints = [
        {
            "method": r.method,
            "url": r.url,
            "count": r.count,
            "param_shapes": r.shapes,
            # beyond the public shape
            "spec_path": r.spec_path,
            "spec_line": r.line,
            "corpus": r.corpus,
            "statuses": dict(sorted(r.statuses.items())),
            "distinct_urls": len(r.concrete),
        }
        for r in sorted(rows.values(), key=lambda r: (r.url, r.method))
    ]
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "endpoints": endpoints,
        "spec_endpoints": spec_rows,
        "never_hit": never_hit,
        "unmatched": unmatched,
        "summary": {
            "calls": sum(r.count for r in rows.values()),
            "spec_endpoints": len(spec_rows),
            "spec_endpoints_hit": sum(1 for e in spec_rows if e["hits"]),
            "spec_endpoints_never_hit": len(never_hit),
            "unmatched_requests": sum(u["count"] for u in unmatched),
            "unmatched_paths": len(unmatched),
            "calls_without_timeout": sum(no_timeout.values()),
            "failed_calls": dict(sorted(failures.items())),
        },
    }
    if spec is not None:
        report["spec"] = spec.file
    if no_timeout:
        report["calls_without_timeout"] = [
            {"caller": where, "count": count} for where, count in sorted(no_timeout.items())
        ]
    return report
