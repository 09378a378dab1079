"""Blame: who is at fault for a failed node, with evidence, a place to underline, and a fix.

A pure function. Its inputs are the structured failure the pytest plugin sent
(exception chain with frames and typed details, the simulator trace, the
harness check and its evidence), the node's record, the static findings of the
moment, and which files changed since the node last passed. Its output is a
list of :class:`~daemon.diagnostics.Diagnostic`.

The categories: ``connector``, ``spec``, ``corpus``, ``test`` (harness, config,
test file), ``environment`` (missing dependency, crashed worker, clock-dependent
data) and ``drift`` (record mode). Where the evidence cannot decide between the
connector and the spec or corpus, the diagnostic says so, points at one side and
links the other (``related``), with a lower confidence.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.sources_view import SourceView, find_line, json_data, json_span, yaml_key_span
from connector_watch.simulator.layout import Layout
from connector_watch.simulator.values import dotted_get

LOOP_THRESHOLD = 20


@dataclass
class FailureInput:
    node_id: str
    outcome: str
    failure: dict[str, Any] | None  # {"when", "chain": [...]}
    trace: list[dict[str, Any]] = field(default_factory=list)
    test_file: str | None = None
    test_line: int | None = None
    source: str | None = None
    table: str | None = None
    message: str | None = None
    recent_changes: set[str] = field(default_factory=set)
    static: Mapping[str, list[Diagnostic]] = field(default_factory=dict)
    crash_status: int | None = None


@dataclass
class _Context:
    failure: FailureInput
    layout: Layout
    view: SourceView

    @property
    def chain(self) -> list[dict[str, Any]]:
        return (self.failure.failure or {}).get("chain", [])

    def connector_files(self) -> list[str]:
        """The source's Python files, the main connector module first."""
        if not self.failure.source:
            return []
        directory = self.layout.relative(self.layout.source_dir(self.failure.source))
        main = self.layout.relative(self.layout.connector_file(self.failure.source))
        others = [f for f in self.view.python_files(directory) if f != main and not f.endswith("__init__.py")]
        return [main, *others]

    def spec_file(self) -> str | None:
        if not self.failure.source:
            return None
        return self.layout.relative(self.layout.spec_file(self.failure.source))

    def frames(self) -> list[dict[str, Any]]:
        return [f for exc in self.chain for f in exc.get("frames", [])]

    def kind_of(self, path: str) -> str:
        _, kind = self.layout.owner(path)
        if kind == "connector":
            return "connector"
        if kind in ("test", "test_support", "table_config"):
            return "test"
        if path.startswith(("tests/harness/", "tests/unit/sources/test_", "tests/unit/sources/lakeflow_")):
            return "harness"
        if path.startswith("simulator/"):
            return "simulator"
        if path.startswith(("/", "<")):
            return "external"
        return "other"

    def deepest_frame(self, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        """The innermost frame (closest to the raise) in a file of one of ``kinds``."""
        for exc in reversed(self.chain):
            for frame in reversed(exc.get("frames", [])):
                if self.kind_of(frame["file"]) in kinds:
                    return frame
        return None

    def node_location(self) -> Location:
        path = self.failure.test_file or "."
        line = max((self.failure.test_line or 1) - 1, 0)
        return Location(path, Range.lines(line))

    def changed(self, *paths: str | None) -> bool:
        return any(p and (p in self.failure.recent_changes) for p in paths)

    def changed_under(self, prefix: str | None) -> bool:
        return bool(prefix) and any(p.startswith(prefix) for p in self.failure.recent_changes)

    def corpus_changed(self) -> bool:
        if not self.failure.source:
            return False
        return self.changed_under(self.layout.relative(self.layout.corpus_dir(self.failure.source)) + "/")

    def connector_changed(self) -> bool:
        if not self.failure.source:
            return False
        return self.changed_under(self.layout.relative(self.layout.source_dir(self.failure.source)) + "/")

    def diag(
        self,
        blame: str,
        message: str,
        location: Location,
        confidence: float,
        *,
        fix: str | None = None,
        evidence: Iterable[str] = (),
        related: Iterable[Related] = (),
        code: str | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            blame=blame,
            message=message,
            location=location,
            confidence=confidence,
            fix=fix,
            evidence=[e for e in evidence if e],
            related=list(related),
            node_ids=[self.failure.node_id],
            code=code,
        )


def _frame_location(frame: dict[str, Any]) -> Location:
    return Location(frame["file"], Range.lines(max(frame["line"] - 1, 0)))


def _issue_location(issue: dict[str, Any]) -> Location:
    return Location(
        issue["file"],
        Range.from_one_based(
            issue["line"], issue.get("column") or 1, issue.get("endLine"), issue.get("endColumn")
        ),
    )


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _exception_summary(exc: dict[str, Any]) -> str:
    return f"{exc['type']}: {_first_line(exc.get('message'))}".strip()


def _request_evidence(trace: list[dict[str, Any]], limit: int = 4) -> list[str]:
    lines = []
    for entry in trace[-limit:]:
        endpoint = entry.get("endpoint")
        where = f" → {endpoint['key']} ({endpoint['specFile']}:{endpoint['line']})" if endpoint else ""
        served = f", served {entry['served']} of {entry['total']}" if entry.get("total") is not None else ""
        lines.append(
            f"request #{entry['seq']}: {entry['method']} {entry['url']} [{entry['outcome']}"
            f"{', ' + str(entry['status']) if entry.get('status') else ''}{served}]{where}"
        )
    return lines


def _spec_endpoint_location(entry: dict[str, Any]) -> Location | None:
    endpoint = entry.get("endpoint")
    if not endpoint:
        return None
    return Location(endpoint["specFile"], Range.lines(max(endpoint["line"] - 1, 0)))


def _spec_key_location(ctx: _Context, entry: dict[str, Any] | None, key: str) -> Location | None:
    """Where ``key:`` sits inside the endpoint that answered ``entry`` (e.g. its ``records_key``)."""
    endpoint = (entry or {}).get("endpoint")
    if not endpoint or endpoint.get("index") is None:
        return None
    span = yaml_key_span(ctx.view, endpoint["specFile"], ("endpoints", endpoint["index"]), key)
    if span is None:
        return None
    return Location(endpoint["specFile"], Range.from_one_based(span.start.line, span.start.column))


def _call_chain(entry: dict[str, Any] | None) -> list[Related]:
    """The connector lines that led to the request (a paging loop around a shared helper)."""
    caller = (entry or {}).get("caller")
    if not caller or caller["file"].startswith("/"):
        return []
    return [
        Related(
            Location(caller["file"], Range.lines(max(frame["line"] - 1, 0))),
            f"called from {frame['function']}()",
        )
        for frame in caller.get("outer") or []
    ]


def _caller_location(entry: dict[str, Any]) -> Location | None:
    caller = entry.get("caller")
    if not caller or caller["file"].startswith("/"):
        return None
    return Location(caller["file"], Range.lines(max(caller["line"] - 1, 0)))


# ---------------------------------------------------------------------------- entry point


def blame(failure: FailureInput, layout: Layout, view: SourceView) -> list[Diagnostic]:
    """Diagnostics for one failed, errored, timed-out or crashed node (or collection)."""
    from connector_watch.daemon import blame_public

    parts = blame_public.split(failure, layout, view)  # a public-harness text: one failure per [table] error
    if parts is not None:
        return blame_public.dedupe(d for part in parts for d in blame(part, layout, view))
    ctx = _Context(failure, layout, view)
    for rule in (
        _crashed,
        _timeout,
        _spec_error,
        _corpus_error,
        blame_public.public_fact,
        _config_error,
        _syntax_error,
        _missing_module,
        _unknown_endpoint,
        _no_cassette_match,
        _harness_check,
        _conversion,
        _http_error,
        _exception_site,
    ):
        result = rule(ctx)
        if result:
            return result
    return [
        ctx.diag(
            "test",
            _first_line(failure.message) or f"{failure.outcome}",
            ctx.node_location(),
            0.3,
            evidence=[failure.message or ""],
            code="unclassified",
        )
    ]


# ---------------------------------------------------------------------------- rules


def _crashed(ctx: _Context) -> list[Diagnostic] | None:
    if ctx.failure.outcome != "crashed":
        return None
    status = ctx.failure.crash_status
    how = (
        f"was killed by signal {-status}"
        if status is not None and status < 0
        else f"exited with status {status}"
    )
    return [
        ctx.diag(
            "environment",
            f"the worker process {how} while running this test; it was run again once and crashed again",
            ctx.node_location(),
            0.7,
            evidence=_request_evidence(ctx.failure.trace),
            code="worker.crashed",
            fix="look for native crashes, os._exit or an out-of-memory kill in the code this test runs",
        )
    ]


def _timeout(ctx: _Context) -> list[Diagnostic] | None:
    if ctx.failure.outcome != "timeout" and not (ctx.chain and ctx.chain[0]["type"] == "NodeTimeout"):
        return None
    trace = ctx.failure.trace
    frame = ctx.deepest_frame(("connector",)) or ctx.deepest_frame(("test", "harness", "other"))
    evidence = _request_evidence(trace)
    urls = Counter((e["method"], e["url"]) for e in trace)
    looping = [(k, n) for k, n in urls.most_common(1) if n >= LOOP_THRESHOLD]
    if looping:
        (method, url), count = looping[0]
        message = (
            f"hung: requested {method} {url} {count} times — the connector keeps paging without progress"
        )
        fix = "stop paging when the response has no next page (no Link rel=next, empty page, has_more false)"
    elif frame is not None:
        message = f"hung at {frame['file']}:{frame['line']} in {frame['function']}: {frame.get('code') or ''}".strip()
        fix = "every loop needs an exit and every HTTP call a timeout"
    else:
        message = "hung past the per-test timeout"
        fix = "every loop needs an exit and every HTTP call a timeout"
    if frame is None and ctx.failure.outcome == "timeout" and not trace:
        location = ctx.node_location()
        blame_to = "test"
    else:
        location = _frame_location(frame) if frame else ctx.node_location()
        blame_to = "connector" if frame is None or ctx.kind_of(frame["file"]) == "connector" else "test"
    if looping:
        caller = _caller_location(trace[-1])
        location = caller or location
        blame_to = "connector"
    return [ctx.diag(blame_to, message, location, 0.8, fix=fix, evidence=evidence, code="timeout")]


def _issues(ctx: _Context, codes: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    found = []
    for exc in ctx.chain:
        for issue in exc.get("issues", []) or []:
            if codes is None or any(issue.get("code", "").startswith(c) for c in codes):
                found.append(issue)
    return found


def _spec_error(ctx: _Context) -> list[Diagnostic] | None:
    if not any(exc["type"] == "SpecError" for exc in ctx.chain):
        return None
    diagnostics = []
    for issue in _issues(ctx):
        if issue.get("severity") == "warning":
            continue
        diagnostics.append(
            ctx.diag(
                "spec",
                issue["message"],
                _issue_location(issue),
                0.95,
                code=f"spec.{issue.get('code', 'invalid')}",
                fix=_fix_from_message(issue["message"]) or "fix the spec so it loads (see simulator/SPEC.md)",
                evidence=["the spec did not load, so no test of this source could run"],
            )
        )
    return diagnostics or None


def _fix_from_message(message: str) -> str | None:
    match = re.search(r"did you mean '([^']+)'\?", message)
    if match:
        return f"use '{match.group(1)}'"
    return None


def _corpus_error(ctx: _Context) -> list[Diagnostic] | None:
    issues = [i for exc in ctx.chain if exc["type"] == "CorpusError" for i in exc.get("issues", []) or []]
    if not issues:
        return None
    return [
        ctx.diag(
            "corpus",
            issue["message"],
            _issue_location(issue),
            0.95,
            code=f"corpus.{issue.get('code')}",
            fix="make the corpus file a JSON array of objects (or fix the syntax error)",
            evidence=_request_evidence(ctx.failure.trace, 2),
        )
        for issue in issues
    ]


def _config_error(ctx: _Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        harness = exc.get("harness")
        if harness and harness.get("check") == "config":
            location = ctx.node_location()
            match = re.search(r"(\S+\.json):(\d+):(\d+)", exc.get("message", ""))
            if match:
                location = Location(
                    match.group(1).lstrip("/")
                    if not match.group(1).startswith("/")
                    else ctx.layout.relative(match.group(1)),
                    Range.from_one_based(int(match.group(2)), int(match.group(3))),
                )
            return [
                ctx.diag(
                    "test",
                    _first_line(exc["message"]).removeprefix("[None] "),
                    location,
                    0.9,
                    fix=harness.get("hint"),
                    code="harness.config",
                )
            ]
    return None


def _syntax_error(ctx: _Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        syntax = exc.get("syntax")
        if not syntax:
            continue
        path = syntax["file"]
        kind = ctx.kind_of(path)
        blame_to = {"connector": "connector", "test": "test", "harness": "test"}.get(kind, "environment")
        location = Location(
            path,
            Range.from_one_based(
                syntax.get("line") or 1,
                syntax.get("column") or 1,
                syntax.get("endLine"),
                syntax.get("endColumn"),
            ),
        )
        return [
            ctx.diag(
                blame_to,
                f"{exc['type']}: {syntax.get('message')}",
                location,
                0.95,
                fix="fix the syntax error",
                code="python.syntax",
            )
        ]
    return None


def _missing_module(ctx: _Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        name = exc.get("missingModule")
        if not name:
            continue
        top = name.split(".")[0]
        workspace_package = top in ("sources", "simulator", "tests", "daemon", "connector_watch")
        frame = ctx.deepest_frame(("connector", "test", "other"))
        location = _frame_location(frame) if frame else ctx.node_location()
        if workspace_package:
            blame_to = "connector" if frame and ctx.kind_of(frame["file"]) == "connector" else "test"
            return [
                ctx.diag(
                    blame_to,
                    f"imports {name}, which does not exist in the workspace",
                    location,
                    0.85,
                    fix="fix the import path",
                    code="python.import",
                )
            ]
        return [
            ctx.diag(
                "environment",
                f"missing dependency: No module named '{name}'",
                location,
                0.85,
                fix=f"install it (pip install {top}) or add it to the project's dependencies",
                code="environment.missing_dependency",
            )
        ]
    return None


def _unknown_endpoint(ctx: _Context) -> list[Diagnostic] | None:
    entry = next((e for e in reversed(ctx.failure.trace) if e.get("outcome") == "unknown-endpoint"), None)
    details = next((exc.get("request") for exc in ctx.chain if exc["type"] == "UnknownEndpoint"), None)
    if entry is None and details is None:
        return None
    method = (entry or details or {}).get("method")
    url = (entry or details or {}).get("url")
    nearest = (entry or {}).get("nearest") or (details or {}).get("nearest") or []
    path = urlsplit(url or "").path
    caller = _caller_location(entry) if entry else None
    frame = ctx.deepest_frame(("connector",))
    connector_location = caller or (_frame_location(frame) if frame else ctx.node_location())
    spec_file = ctx.spec_file()
    near_location, near_path, similarity = None, None, 0.0
    if nearest:
        match = re.match(r"(\w+) (\S+) \((.+):(\d+)\)", nearest[0])
        if match:
            near_path = match.group(2)
            near_location = Location(
                ctx.layout.relative(match.group(3)), Range.lines(int(match.group(4)) - 1)
            )
            similarity = _path_similarity(path, near_path)
    spec_location = near_location or (Location(spec_file, Range.lines(0)) if spec_file else None)
    evidence = [f"{method} {url} matched no endpoint in {spec_file or 'the spec'}"]
    if nearest:
        evidence.append("nearest spec endpoints: " + "; ".join(nearest))
    spec_changed, connector_changed = ctx.changed(spec_file), ctx.connector_changed()
    if spec_changed and not connector_changed:
        blame_to, confidence = "spec", 0.75
        message = f"the spec no longer models {method} {path} (the spec changed since this test last passed)"
        fix = f"restore or add an endpoint for {method} {path} in {spec_file}"
    elif connector_changed and not spec_changed:
        blame_to, confidence = "connector", 0.75
        message = f"the connector now calls {method} {path}, which the spec does not model"
        fix = f"call {near_path}" if near_path else "fix the URL the connector builds"
    elif near_path and similarity >= 0.8:
        blame_to, confidence = "connector", 0.6
        message = f"the connector calls {method} {path}, which looks like a misspelling of {near_path}"
        fix = f"call {near_path} (or add {path} to the spec if the API really has it)"
    else:
        blame_to, confidence = "spec", 0.55
        message = f"no spec endpoint models {method} {path}"
        fix = f"add an endpoint for {method} {path} under 'endpoints:' in {spec_file}"
    primary, other = (
        (connector_location, spec_location)
        if blame_to == "connector"
        else (spec_location, connector_location)
    )
    related = []
    if other is not None:
        related.append(
            Related(
                other,
                "the spec's nearest endpoint"
                if blame_to == "connector"
                else "the connector line that made the request",
            )
        )
    return [
        ctx.diag(
            blame_to,
            message,
            primary or ctx.node_location(),
            confidence,
            fix=fix,
            evidence=evidence,
            related=related,
            code="simulator.unknown_endpoint",
        )
    ]


def _path_similarity(path: str, template: str | None) -> float:
    if not template:
        return 0.0
    a = [p for p in path.split("/") if p]
    b = [p for p in template.split("/") if p]
    if len(a) != len(b):
        return difflib.SequenceMatcher(None, path, template).ratio() * 0.9
    scores = [
        1.0 if y.startswith("{") or x == y else difflib.SequenceMatcher(None, x, y).ratio()
        for x, y in zip(a, b, strict=True)
    ]
    return sum(scores) / len(scores) if scores else 0.0


def _no_cassette_match(ctx: _Context) -> list[Diagnostic] | None:
    details = next((exc.get("request") for exc in ctx.chain if exc["type"] == "NoMatchingInteraction"), None)
    if details is None:
        return None
    caller = next(
        (_caller_location(e) for e in reversed(ctx.failure.trace) if e.get("outcome") == "no-cassette-match"),
        None,
    )
    return [
        ctx.diag(
            "test",
            f"the cassette has no recording of {details['method']} {details['url']}",
            caller or ctx.node_location(),
            0.6,
            code="replay.no_match",
            fix="re-record with CONNECTOR_TEST_MODE=record, or make the request deterministic (dates, random ids)",
            evidence=["nearest recorded: " + "; ".join(details.get("nearest") or [])],
        )
    ]


# ---------------------------------------------------------------------------- harness checks


def _harness(ctx: _Context) -> dict[str, Any] | None:
    for exc in ctx.chain:
        if exc.get("harness"):
            return exc["harness"]
    return None


CONNECTOR_CHECKS = (
    "read.offset",
    "read.shape",
    "read.record_type",
    "metadata.",
    "schema.",
    "list_tables",
    "invalid_table",
    "partition.",
    "stream.",
    "deletes.record_type",
)


def _harness_check(ctx: _Context) -> list[Diagnostic] | None:
    harness = _harness(ctx)
    if harness is None:
        return None
    check = harness.get("check") or ""
    if check == "ground_truth":
        return _ground_truth(ctx, harness)
    if check == "read.schema_parse":
        return _schema_parse(ctx, harness)
    if check in ("read.empty_first_read", "deletes.empty_first_read"):
        return _empty_read(ctx, harness)
    if check == "read.terminates":
        return _terminates(ctx, harness)
    if check == "read.null_columns":
        return _null_columns(ctx, harness)
    if check in ("read.non_nullable", "read.null_primary_key", "deletes.primary_key"):
        return _missing_fields(ctx, harness)
    if check == "read.all_null":
        return _ambiguous_wrapper(ctx, harness)
    if check.startswith(CONNECTOR_CHECKS) or check == "partition.no_records":
        return _connector_contract(ctx, harness)
    if check.startswith("write_back."):
        message = _harness_message(ctx)
        return [
            ctx.diag(
                "connector",
                message,
                _connector_site(ctx),
                0.5,
                code=check,
                fix=harness.get("hint"),
                evidence=[
                    "write-back runs against the live source; the source may also be slow to show new rows"
                ],
            )
        ]
    return None


def _harness_message(ctx: _Context) -> str:
    for exc in ctx.chain:
        if exc.get("harness"):
            return _first_line(exc["message"])
    return _first_line(ctx.failure.message)


def _connector_site(ctx: _Context, method: str | None = None) -> Location:
    frame = ctx.deepest_frame(("connector",))
    if frame:
        return _frame_location(frame)
    for path in ctx.connector_files():
        if method:
            found = find_line(ctx.view, path, rf"^\s*def {re.escape(method)}\b")
            if found:
                return Location(path, Range.lines(found[0], found[1]))
    files = ctx.connector_files()
    if files:
        return Location(files[0], Range.lines(0))
    return ctx.node_location()


_CHECK_METHOD = {
    "read.": "read_table",
    "metadata.": "read_table_metadata",
    "schema.": "get_table_schema",
    "list_tables": "list_tables",
    "invalid_table": "read_table",
    "partition.": "get_partitions",
    "stream.": "latest_offset",
    "deletes.": "read_table_deletes",
}


def _connector_contract(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    check = harness["check"]
    method = next((m for prefix, m in _CHECK_METHOD.items() if check.startswith(prefix)), None)
    location = _connector_site(ctx, method)
    message = _harness_message(ctx)
    if check == "partition.no_records":
        return [
            ctx.diag(
                "connector",
                message,
                location,
                0.55,
                code=check,
                evidence=_request_evidence(ctx.failure.trace),
                fix="check the partition bounds against the corpus, or add corpus records",
            )
        ]
    return [
        ctx.diag(
            "connector",
            message,
            location,
            0.85,
            code=check,
            fix=harness.get("hint"),
            evidence=[f"the connector broke the {method or 'interface'} contract"],
        )
    ]


def _corpus_files_read(ctx: _Context) -> list[str]:
    files = []
    for entry in ctx.failure.trace:
        path = entry.get("corpusFile")
        if path and path not in files and entry.get("outcome") == "served":
            files.append(path)
    if not files and not ctx.failure.trace:  # no trace (the public harness): the table's corpus by name
        from connector_watch.daemon.blame_public import table_corpus_files

        files = table_corpus_files(ctx)
    return files


def _find_corpus_record(ctx: _Context, record: Any) -> tuple[str, int] | None:
    """The corpus file and index of a record the connector returned (by id-like keys, then equality)."""
    if not isinstance(record, dict):
        return None
    keys = [k for k in ("id", "sha", "uuid", "key", "name") if k in record]
    for path in _corpus_files_read(ctx):
        data = json_data(ctx.view, path)
        if not isinstance(data, list):
            continue
        for i, candidate in enumerate(data):
            if candidate == record:
                return path, i
        for key in keys:
            for i, candidate in enumerate(data):
                if isinstance(candidate, dict) and candidate.get(key) == record.get(key):
                    return path, i
    return None


def _json_location(ctx: _Context, path: str, key: tuple[Any, ...]) -> Location:
    span = json_span(ctx.view, path, key)
    if span is None:
        return Location(path, Range.lines(0))
    return Location(
        path, Range.from_one_based(span.start.line, span.start.column, span.end.line, span.end.column)
    )


def _schema_field_location(ctx: _Context, field_path: str | None) -> Location | None:
    """Where the connector declares a schema field: StructField("x", ...) or ("x", SomeType(...))."""
    if not field_path:
        return None
    name = re.escape(re.split(r"[.\[]", field_path)[-1] or field_path)
    patterns = (
        rf"""StructField\(\s*["']{name}["']""",
        rf"""\(\s*["']{name}["']\s*,\s*\w+Type\(""",
        rf"""["']{name}["']""",
    )
    for pattern in patterns:
        for path in ctx.connector_files():
            found = find_line(ctx.view, path, pattern)
            if found:
                return Location(path, Range.lines(found[0], found[1]))
    return None


def _schema_parse(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    details = harness.get("details") or {}
    field_path = details.get("field") or ""
    value = details.get("value")
    record = details.get("record")
    spark_type = details.get("spark_type")
    found = _find_corpus_record(ctx, record)
    schema_location = _schema_field_location(ctx, field_path) or _connector_site(ctx, "get_table_schema")
    top_field = field_path.split(".")[0].split("[")[0]
    evidence = [
        f"field '{field_path}' holds {value!r} ({type(value).__name__}); the schema says {spark_type}"
    ]
    corpus_location = None
    outlier = None
    if found:
        path, index = found
        corpus_location = _json_location(ctx, path, (index, top_field))
        data = json_data(ctx.view, path) or []
        kinds = Counter(
            type(dotted_get(r, field_path.replace("[", ".").replace("]", ""))).__name__
            for r in data
            if isinstance(r, dict)
        )
        mine = type(value).__name__
        evidence.append(f"{path}[{index}] is the record; the field's types across the corpus: {dict(kinds)}")
        common, count = kinds.most_common(1)[0] if kinds else (mine, 0)
        outlier = mine != common and count > 1
    corpus_changed, connector_changed = ctx.corpus_changed(), ctx.connector_changed()
    if corpus_location and (
        (corpus_changed and not connector_changed) or (outlier and not connector_changed)
    ):
        why = (
            "the corpus changed since this test last passed"
            if corpus_changed
            else "other records of the corpus hold this field with another type"
        )
        return [
            ctx.diag(
                "corpus",
                f"corpus value {value!r} of '{field_path}' does not fit the connector's schema "
                f"({spark_type}): {why}",
                corpus_location,
                0.8,
                code="read.schema_parse",
                fix=f"give '{field_path}' a {spark_type} value in the corpus record",
                evidence=evidence,
                related=[Related(schema_location, "the schema declares the type here")],
            )
        ]
    confidence = 0.8 if connector_changed else 0.65
    related = [Related(corpus_location, "the corpus value")] if corpus_location else []
    return [
        ctx.diag(
            "connector",
            f"the connector's schema declares '{field_path}' as {spark_type}, but the source "
            f"returns {value!r} ({type(value).__name__})",
            schema_location,
            confidence,
            code="read.schema_parse",
            evidence=evidence,
            related=related,
            fix=f"declare '{field_path}' with a type that fits {type(value).__name__} values, or convert "
            "it in the connector",
        )
    ]


def _ground_truth(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    diagnostics = _ground_truth_causes(ctx, harness)
    diff = (harness.get("details") or {}).get("diff")
    for diagnostic in diagnostics:
        diagnostic.diff = diff if isinstance(diff, dict) else None
    return diagnostics


def _ground_truth_causes(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    details = harness.get("details") or {}
    lost = details.get("lost") or []
    trace = ctx.failure.trace
    by_seq = {e["seq"]: e for e in trace}
    diagnostics = []
    summary = _harness_message(ctx)
    base_evidence = [line.strip() for line in (ctx.chain[0].get("message") or "").splitlines()[1:8]]
    if details.get("future"):
        entry = next((e for e in reversed(trace) if e.get("futureServed")), trace[-1] if trace else None)
        location = (_caller_location(entry) if entry else None) or _connector_site(ctx, "read_table")
        related = [
            Related(loc, "the spec adds records dated after now here")
            for loc in [_spec_endpoint_location(entry)]
            if entry and loc
        ]
        diagnostics.append(
            ctx.diag(
                "connector",
                f"returned {len(details['future'])} record(s) dated after the read started: reads are not "
                "capped at the connector's start time",
                location,
                0.85,
                code="ground_truth.future",
                related=related,
                fix="cap the upper bound of every incremental read at the time the connector was created",
                evidence=base_evidence,
            )
        )
    clock = [
        d
        for x in lost
        for d in ctx.failure.static.get(_corpus_path(ctx, x), [])
        if d.code == "corpus.future_cursor"
    ]
    if lost and clock:
        return [
            ctx.diag(
                "environment",
                f"{details.get('lost_count', len(lost))} record(s) never came back because the corpus dates them after now: "
                "the connector rightly stops at its start time, so this data breaks with the clock",
                clock[0].location,
                0.7,
                code="ground_truth.clock",
                evidence=base_evidence,
                fix="date corpus records in the past",
                related=[Related(_connector_site(ctx, "read_table"), "the connector's read")],
            )
        ]
    dropped = [x for x in lost if x.get("reason") == "dropped"]
    never = [x for x in lost if x.get("reason") == "never-requested"]
    # ``lost`` lists the first few; the counts cover them all.
    by_reason = details.get("lost_by_reason") or {}
    dropped_count = by_reason.get("dropped", len(dropped))
    never_count = by_reason.get("never-requested", len(never))
    if dropped:
        first = dropped[0]
        entry = by_seq.get(first.get("request_seq"))
        location = (_caller_location(entry) if entry else None) or _connector_site(ctx, "read_table")
        corpus_location = _json_location(ctx, _corpus_path(ctx, first), (first["index"],))
        spec_changed = ctx.changed(ctx.spec_file())
        blame_to = "spec" if spec_changed and not ctx.connector_changed() else "connector"
        message = (
            f"{dropped_count} record(s) served by the simulator never came out of the connector "
            f"(first: {first['corpus']}[{first['index']}] key {first['key']!r})"
        )
        related = [Related(corpus_location, "a record that was served but not returned")]
        if blame_to == "spec":
            # The spec changed the response the connector reads: its records key first.
            where = (
                _spec_key_location(ctx, entry, "records_key") or _spec_endpoint_location(entry) or location
            )
            related.append(Related(location, "where the connector reads the response"))
            fix = "the spec changed since this passed: make its response (wrapper.records_key, extras) what the connector reads"
        else:
            where = location
            related += _call_chain(entry)
            fix = "check how the connector reads the response (records key, filters, batch limits)"
        diagnostics.append(
            ctx.diag(
                blame_to,
                message,
                where,
                0.7,
                code="ground_truth.dropped",
                evidence=base_evidence,
                related=related,
                fix=fix,
            )
        )
    if never:
        first = never[0]
        entry = by_seq.get(first.get("request_seq"))
        location = (_caller_location(entry) if entry else None) or _connector_site(ctx, "read_table")
        spec_location = _spec_endpoint_location(entry) if entry else None
        spec_changed = ctx.changed(ctx.spec_file()) and not ctx.connector_changed()
        message = (
            f"{never_count} corpus record(s) sit on pages the connector never requested "
            f"(first: {first['corpus']}[{first['index']}] on page {first.get('page')})"
        )
        related = [Related(spec_location, "the endpoint's pagination style")] if spec_location else []
        related += _call_chain(entry)  # the paging loop, when a shared helper made the request
        related.append(
            Related(
                _json_location(ctx, _corpus_path(ctx, first), (first["index"],)),
                "a record on a page never requested",
            )
        )
        diagnostics.append(
            ctx.diag(
                "spec" if spec_changed else "connector",
                message,
                (spec_location if spec_changed and spec_location else location),
                0.7 if not spec_changed else 0.6,
                code="ground_truth.never_requested",
                related=related,
                evidence=base_evidence,
                fix="follow the next-page signal until it is absent (or fix the pagination style in the spec)",
            )
        )
    if details.get("duplicates") and details.get("ingestion_type") in ("append", "snapshot"):
        dup_static = [
            d
            for path in _corpus_files_read(ctx)
            for d in ctx.failure.static.get(path, [])
            if d.code == "corpus.duplicate_key"
        ]
        if dup_static:
            diagnostics.append(
                ctx.diag(
                    "corpus",
                    f"duplicated records come from duplicate primary keys in the corpus: "
                    f"{dup_static[0].message}",
                    dup_static[0].location,
                    0.85,
                    code="ground_truth.duplicates",
                    evidence=base_evidence,
                    fix="give every corpus record a unique primary key",
                )
            )
        else:
            diagnostics.append(
                ctx.diag(
                    "connector",
                    f"returned {len(details['duplicates'])} record(s) more than once "
                    f"(first key {details['duplicates'][0]['key']!r}): pages or batches overlap",
                    _connector_site(ctx, "read_table"),
                    0.7,
                    code="ground_truth.duplicates",
                    evidence=base_evidence,
                    fix="make consecutive reads start strictly after the last record returned",
                )
            )
    return diagnostics or [
        ctx.diag(
            "connector",
            summary,
            _connector_site(ctx, "read_table"),
            0.5,
            code="ground_truth",
            evidence=base_evidence,
        )
    ]


def _corpus_path(ctx: _Context, lost: dict[str, Any]) -> str:
    name = lost.get("corpus")
    for path in _corpus_files_read(ctx):
        if path.rsplit("/", 1)[-1] == f"{name}.json":
            return path
    if ctx.failure.source:
        return ctx.layout.relative(ctx.layout.corpus_dir(ctx.failure.source) / f"{name}.json")
    return f"{name}.json"


def _empty_read(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    trace = [e for e in ctx.failure.trace if e.get("outcome") == "served"]
    served = sum(e.get("served") or 0 for e in trace)
    evidence = _request_evidence(ctx.failure.trace)
    entry = trace[-1] if trace else (ctx.failure.trace[-1] if ctx.failure.trace else None)
    connector_location = (_caller_location(entry) if entry else None) or _connector_site(ctx, "read_table")
    spec_location = _spec_key_location(ctx, entry, "records_key") or (
        _spec_endpoint_location(entry) if entry else None
    )
    corpus_file = entry.get("corpusFile") if entry else None
    corpus_data = json_data(ctx.view, corpus_file) if corpus_file else None
    spec_changed, corpus_changed, connector_changed = (
        ctx.changed(ctx.spec_file()),
        ctx.corpus_changed(),
        ctx.connector_changed(),
    )
    if entry is not None and entry.get("corpusMissing"):
        return [
            ctx.diag(
                "corpus",
                f"the endpoint's corpus file {corpus_file} does not exist, so the read was empty",
                spec_location or connector_location,
                0.85,
                code=harness["check"],
                evidence=evidence,
                fix=f"create {corpus_file} (python -m connector_watch.simulator.tools.corpus_from_schema)",
            )
        ]
    if served:
        blame_to = "spec" if spec_changed and not connector_changed else "connector"
        message = f"the simulator served {served} record(s) but the connector returned none" + (
            " (the spec changed since this test last passed)" if blame_to == "spec" else ""
        )
        primary, other = (
            ((spec_location or connector_location), connector_location)
            if blame_to == "spec"
            else (connector_location, spec_location)
        )
        related = [Related(other, "the other side of the records key")] if other else []
        return [
            ctx.diag(
                blame_to,
                message,
                primary,
                0.6,
                code=harness["check"],
                evidence=evidence,
                related=related,
                fix="compare the key the connector reads records from with the spec's wrapper.records_key",
            )
        ]
    if isinstance(corpus_data, list) and not corpus_data:
        location = Location(corpus_file, Range.lines(0)) if corpus_file else connector_location
        return [
            ctx.diag(
                "corpus",
                f"the corpus {corpus_file} is empty",
                location,
                0.8,
                code=harness["check"],
                evidence=evidence,
                fix="add records to the corpus",
            )
        ]
    if corpus_changed and not connector_changed:
        blame_to, confidence = "corpus", 0.7
        message = (
            "no corpus record matches the connector's first request (the corpus changed since it last passed)"
        )
    elif connector_changed and not corpus_changed:
        blame_to, confidence = "connector", 0.7
        message = (
            "the connector's first request now selects no record (the connector changed since it last passed)"
        )
    elif spec_changed:
        blame_to, confidence = "spec", 0.6
        message = "the first request selects no record (the spec's filters changed since it last passed)"
    else:
        blame_to, confidence = "corpus", 0.5
        message = (
            "the first request selects no corpus record: either the corpus dates fall outside the "
            "connector's default window, or the connector filters too narrowly"
        )
    location = {
        "corpus": Location(corpus_file, Range.lines(0)) if corpus_file else connector_location,
        "connector": connector_location,
        "spec": spec_location or connector_location,
    }[blame_to]
    related = (
        [Related(connector_location, "the request the connector built")] if blame_to != "connector" else []
    )
    if spec_location and blame_to != "spec":
        related.append(Related(spec_location, "the endpoint's filter parameters"))
    return [
        ctx.diag(
            blame_to,
            message,
            location,
            confidence,
            code=harness["check"],
            evidence=evidence,
            related=related,
            fix="align the corpus dates and the connector's start window",
        )
    ]


def _terminates(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    clock = [
        d
        for path in _corpus_files_read(ctx)
        for d in ctx.failure.static.get(path, [])
        if d.code == "corpus.future_cursor"
    ]
    evidence = [_harness_message(ctx), *_request_evidence(ctx.failure.trace, 3)]
    if clock:
        return [
            ctx.diag(
                "environment",
                "reads never settle because corpus records are dated after now (clock-dependent data)",
                clock[0].location,
                0.6,
                code="read.terminates.clock",
                evidence=evidence,
                fix="date corpus records in the past",
            )
        ]
    entry = ctx.failure.trace[-1] if ctx.failure.trace else None
    location = (_caller_location(entry) if entry else None) or _connector_site(ctx, "read_table")
    return [
        ctx.diag(
            "connector",
            _harness_message(ctx),
            location,
            0.75,
            code="read.terminates",
            evidence=evidence,
            fix=harness.get("hint") or "return the start offset once no new records exist",
        )
    ]


def _null_columns(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    columns = (harness.get("details") or {}).get("columns") or []
    corpus_files = _corpus_files_read(ctx)
    present = []
    for path in corpus_files:
        data = json_data(ctx.view, path)
        if isinstance(data, list):
            present.extend(
                c for c in columns if any(isinstance(r, dict) and r.get(c) is not None for r in data)
            )
    evidence = [_harness_message(ctx)]
    if present:
        location = _schema_field_location(ctx, present[0]) or _connector_site(ctx, "read_table")
        return [
            ctx.diag(
                "connector",
                f"column(s) {present} have values in the corpus but are null in every record "
                "the connector returned",
                location,
                0.7,
                code="read.null_columns",
                evidence=evidence,
                fix="map these fields from the raw records",
            )
        ]
    location = (
        _json_location(ctx, corpus_files[0], (0, columns[0])) if corpus_files and columns else _connector_site(ctx)
    )
    related = (
        [Related(loc, "the schema declares it") for loc in [_schema_field_location(ctx, columns[0])] if loc]
        if columns
        else []
    )
    return [
        ctx.diag(
            "corpus",
            f"no corpus record has a value for {columns}",
            location,
            0.7,
            code="read.null_columns",
            evidence=evidence,
            related=related,
            fix="give at least one corpus record a value for each column (or list it in allow_null_columns)",
        )
    ]


def _missing_fields(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    details = harness.get("details") or {}
    fields = details.get("fields") or []
    record = details.get("record")
    found = _find_corpus_record(ctx, record)
    evidence = [_harness_message(ctx)]
    if found and fields:
        path, index = found
        data = json_data(ctx.view, path) or []
        raw = data[index] if index < len(data) else {}
        missing_in_corpus = [f for f in fields if dotted_get(raw, f.split("[")[0]) is None]
        if missing_in_corpus:
            return [
                ctx.diag(
                    "corpus",
                    f"corpus record {path}[{index}] has no value for {missing_in_corpus}, which the "
                    "schema requires",
                    _json_location(ctx, path, (index,)),
                    0.65,
                    code=harness["check"],
                    evidence=evidence,
                    related=[
                        Related(loc, "declared non-nullable here")
                        for loc in [_schema_field_location(ctx, missing_in_corpus[0])]
                        if loc
                    ],
                    fix="add the field to the record, or make the schema field nullable",
                )
            ]
    location = _schema_field_location(ctx, fields[0] if fields else None) or _connector_site(
        ctx, "read_table"
    )
    return [
        ctx.diag(
            "connector",
            _harness_message(ctx),
            location,
            0.6,
            code=harness["check"],
            evidence=evidence,
            fix="map the field from the raw record, or declare it nullable",
        )
    ]


def _ambiguous_wrapper(ctx: _Context, harness: dict[str, Any]) -> list[Diagnostic]:
    entry = ctx.failure.trace[-1] if ctx.failure.trace else None
    spec_location = _spec_key_location(ctx, entry, "records_key") or (
        _spec_endpoint_location(entry) if entry else None
    )
    connector_location = (_caller_location(entry) if entry else None) or _connector_site(ctx, "read_table")
    spec_first = ctx.changed(ctx.spec_file()) and not ctx.connector_changed()
    primary = spec_location if spec_first and spec_location else connector_location
    other = connector_location if primary is spec_location else spec_location
    return [
        ctx.diag(
            "spec" if primary is spec_location else "connector",
            f"{_harness_message(ctx)} — the connector and the spec disagree on where records are",
            primary,
            0.5,
            code=harness["check"],
            evidence=_request_evidence(ctx.failure.trace, 2),
            related=[Related(other, "the other side")] if other else [],
            fix="compare the spec's wrapper.records_key with the key the connector reads",
        )
    ]


def _conversion(ctx: _Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        conversion = exc.get("conversion")
        if conversion:
            fake = {
                "check": "read.schema_parse",
                "details": {
                    "field": conversion.get("path"),
                    "value": conversion.get("value"),
                    "spark_type": conversion.get("sparkType"),
                },
            }
            return _schema_parse(ctx, fake)
    return None


def _http_error(ctx: _Context) -> list[Diagnostic] | None:
    if not any(exc["type"] == "HTTPError" for exc in ctx.chain):
        return None
    declared = [e for e in ctx.failure.trace if e.get("outcome") == "declared-error"]
    if not declared:
        return None
    entry = declared[-1]
    location = _caller_location(entry) or _connector_site(ctx)
    related = [
        Related(loc, "the spec declares this error response")
        for loc in [_spec_endpoint_location(entry)]
        if loc
    ]
    return [
        ctx.diag(
            "connector",
            f"the connector gave up on a {entry.get('status')} from {entry['method']} "
            f"{entry['url']} instead of retrying",
            location,
            0.75,
            code="http.no_retry",
            related=related,
            evidence=_request_evidence(ctx.failure.trace, 3),
            fix="retry 429 and 5xx responses, honouring Retry-After, a bounded number of times",
        )
    ]


def _exception_site(ctx: _Context) -> list[Diagnostic] | None:
    if not ctx.chain:
        return None
    innermost = ctx.chain[-1]
    summary = _exception_summary(innermost)
    frame = ctx.deepest_frame(("connector",))
    evidence = [summary, *_request_evidence(ctx.failure.trace, 3)]
    if frame is not None:
        spec_changed = ctx.changed(ctx.spec_file()) and not ctx.connector_changed()
        entry = ctx.failure.trace[-1] if ctx.failure.trace else None
        spec_location = _spec_endpoint_location(entry) if entry else None
        if spec_changed and spec_location:
            return [
                ctx.diag(
                    "spec",
                    f"{summary} — the connector fails on responses of a spec that changed since "
                    "this test last passed",
                    spec_location,
                    0.6,
                    code="exception.spec_changed",
                    evidence=evidence,
                    related=[Related(_frame_location(frame), "where the connector failed")],
                    fix="check the endpoint's response shape against what the connector expects",
                )
            ]
        related = (
            [Related(spec_location, "the endpoint whose response the connector was reading")]
            if spec_location
            else []
        )
        return [
            ctx.diag(
                "connector",
                f"{summary} (in {frame['function']})",
                _frame_location(frame),
                0.75,
                code="exception.connector",
                evidence=evidence,
                related=related,
            )
        ]
    frame = ctx.deepest_frame(("test",))
    if frame is not None:
        return [
            ctx.diag("test", summary, _frame_location(frame), 0.7, code="exception.test", evidence=evidence)
        ]
    frame = ctx.deepest_frame(("harness",))
    if frame is not None:
        return [
            ctx.diag(
                "test",
                f"the harness raised {summary}",
                _frame_location(frame),
                0.5,
                code="exception.harness",
                evidence=evidence,
            )
        ]
    frame = ctx.deepest_frame(("simulator",))
    if frame is not None:
        return [
            ctx.diag(
                "environment",
                f"the simulator raised {summary}",
                _frame_location(frame),
                0.5,
                code="exception.simulator",
                evidence=evidence,
            )
        ]
    return None


# ---------------------------------------------------------------------------- differential rerun

CORPUS_CHECKS = (
    "read.schema_parse",
    "read.null_columns",
    "read.non_nullable",
    "corpus.",
)


def differential_verdict(
    diagnostics: list[Diagnostic], replay: dict[str, Any], node_id: str
) -> list[Diagnostic]:
    """Revise a failed node's diagnostics with its outcome against recorded live traffic.

    ``replay`` is the node's ``test_finished`` event from a rerun in replay mode.
    """
    outcome = replay.get("outcome")
    chain = (replay.get("failure") or {}).get("chain", [])
    if (
        outcome == "skipped"
        or any(e.get("type") == "NoMatchingInteraction" for e in chain)
        or not diagnostics
    ):
        note = (
            "against the cassette: inconclusive (the recording does not cover this test's requests)"
            if outcome != "skipped"
            else "against the cassette: not applicable in replay mode"
        )
        return [_with_evidence(diagnostics[0], note), *diagnostics[1:]] if diagnostics else diagnostics
    primary = diagnostics[0]
    if outcome == "passed":
        evidence = (
            "passes against the recorded live traffic (cassette) and fails against spec + corpus: "
            "the spec or corpus differs from the real API"
        )
        if primary.blame in ("spec", "corpus"):
            return [_with_evidence(primary, evidence, boost=0.1), *diagnostics[1:]]
        # The other side named in the diagnostic decides: a corpus record, else the spec line.
        corpus_side = next((r.location for r in primary.related if "/corpus/" in r.location.path), None)
        spec_side = next(
            (r.location for r in primary.related if r.location.path.endswith((".yaml", ".yml"))), None
        )
        if corpus_side is not None or (spec_side is None and (primary.code or "").startswith(CORPUS_CHECKS)):
            blamed, other = "corpus", corpus_side
        else:
            blamed, other = "spec", spec_side
        revised = Diagnostic(
            blame=blamed,
            message=f"{primary.message} — the connector works against recorded live traffic, so "
            f"the {blamed} is the likelier culprit",
            location=other or primary.location,
            confidence=0.7,
            related=[Related(primary.location, "where the failure surfaced"), *primary.related],
            evidence=[evidence, *primary.evidence],
            fix=f"compare the {blamed} with the recorded responses "
            "(python -m connector_watch.simulator.tools.cassette_to_corpus re-seeds the corpus)",
            node_ids=[node_id],
            code="differential.cassette_passes",
        )
        return [revised, replace_confidence(primary, min(primary.confidence, 0.4)), *diagnostics[1:]]
    evidence = "fails against the recorded live traffic (cassette) too: the connector is the likelier culprit"
    if primary.blame == "connector":
        return [_with_evidence(primary, evidence, boost=0.1), *diagnostics[1:]]
    return [_with_evidence(primary, evidence, boost=-0.2), *diagnostics[1:]]


def _with_evidence(diagnostic: Diagnostic, note: str, boost: float = 0.0) -> Diagnostic:
    revised = replace_confidence(diagnostic, max(0.05, min(0.99, diagnostic.confidence + boost)))
    revised.evidence = [note, *diagnostic.evidence]
    return revised


def replace_confidence(diagnostic: Diagnostic, confidence: float) -> Diagnostic:
    return Diagnostic(
        **{
            **diagnostic.__dict__,
            "confidence": confidence,
            "evidence": list(diagnostic.evidence),
            "related": list(diagnostic.related),
            "node_ids": list(diagnostic.node_ids),
        }
    )
