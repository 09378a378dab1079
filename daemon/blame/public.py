"""Blame for failures of the public harness: facts without a request trace.

Pure (reads files through the :class:`~connector_watch.daemon.sources_view.SourceView`). The
plugin turns a public-harness failure text into our harness's facts
(:mod:`connector_watch.daemon.public_harness`), one per ``[table]`` error. Those facts carry no
trace of the requests that answered the read (the public simulator serves them), so what blame
learns from the trace for our harness it learns here from the files:

- the table's corpus file (named after the table) and the spec endpoint that serves it;
- where a conversion error's value sits in the corpus, hence which field it is;
- whether the endpoint's ``records_key`` is one the connector reads at all, whether it names a
  corpus that exists;
- whether corpus dates fell out of the connector's "now minus window", or a fixed start date
  outgrew the iteration cap (``environment``: the clock, with the dates as evidence);
- for a request no endpoint models, which side the source's API documentation agrees with, and
  the connector line that builds the URL.

:func:`split` makes one failure per fact (blame judges each); :func:`public_fact` is the rule.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from connector_watch.daemon import clock
from connector_watch.daemon.blame.context import (
    Context,
    FailureInput,
    connector_site,
    first_line,
    frame_location,
    harness_message,
    json_location,
    normal_name,
    schema_field_location,
    table_corpus_files,
    table_spec,
)
from connector_watch.daemon.blame.harness_checks import schema_parse
from connector_watch.daemon.blame.traffic import path_similarity
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.sources_view import find_line, json_data, yaml_key_span

# ---------------------------------------------------------------------------- one failure per fact


def split(failure: FailureInput, layout: Any, view: Any) -> list[FailureInput] | None:
    """One failure per public-harness fact of the outermost exception (None: no facts)."""
    chain = (failure.failure or {}).get("chain") or []
    if not chain or not chain[0].get("facts"):
        return None
    outer, rest = chain[0], chain[1:]
    # A test class without simulator_source (a scenario test building its own simulator) still
    # belongs to the source whose test directory holds it.
    source = failure.source or (layout.owner(failure.test_file)[0] if failure.test_file else None)
    parts = []
    for fact in outer["facts"]:
        item = {**fact, "frames": fact.get("frames") or outer.get("frames", [])}
        if item.get("issues"):
            item["issues"] = [_locate_issue(view, issue) for issue in item["issues"]]
        table = (fact.get("harness") or {}).get("table") or fact.get("table") or failure.table
        parts.append(
            dataclasses.replace(
                failure,
                failure={**(failure.failure or {}), "chain": [item, *rest]},
                table=table,
                source=source,
            )
        )
    return parts


def _locate_issue(view: Any, issue: dict[str, Any]) -> dict[str, Any]:
    """The public spec loader names an endpoint by index: find its line."""
    if issue.get("line") is not None:
        return issue
    line = 1
    if issue.get("endpoint") is not None:
        span = yaml_key_span(view, issue["file"], ("endpoints", issue["endpoint"]), "path") or yaml_key_span(
            view, issue["file"], ("endpoints", issue["endpoint"]), "method"
        )
        if span is not None:
            line = span.start.line
    return {**issue, "line": line, "column": 1}


def dedupe(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: dict[tuple[Any, ...], Diagnostic] = {}
    for d in diagnostics:
        key = (d.blame, d.message, d.location.path, d.location.range.start.line)
        if key not in seen:
            seen[key] = d
    return list(seen.values())


# ---------------------------------------------------------------------------- the rule


def public_fact(ctx: Context) -> list[Diagnostic] | None:
    """Judge a public-harness fact when no request trace tells more (else the generic rules do)."""
    if not ctx.chain or not ctx.chain[0].get("publicHarness"):
        return None
    fact = ctx.chain[0]
    harness = fact.get("harness") or {}
    check = harness.get("check") or ""
    if check == "config":
        return _config(ctx, fact, harness)
    if ctx.failure.trace:
        return None  # requests were traced (our simulator answered): the generic rules know more
    if fact.get("request") and not fact["request"].get("nearest"):
        return _unknown_endpoint(ctx, fact)
    if fact.get("unknownParams"):
        return _unknown_params(ctx, fact)
    handlers = {
        "read.empty_first_read": _empty_read,
        "read.terminates": _terminates,
        "read.schema_parse": _schema_parse,
        "read.non_nullable": _missing_fields,
        "read.null_primary_key": _missing_fields,
        "deletes.primary_key": _missing_fields,
        "metadata.not_in_schema": _not_in_schema,
    }
    handler = handlers.get(check)
    if handler is None and check.endswith(".raised"):
        handler = _raised
    if handler is None and check == "read.null_columns":
        handler = _null_columns
    return handler(ctx, harness) if handler else None


def _raised(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    """The connector raised inside a harness ``try`` that kept only its message (no traceback)."""

    details = harness.get("details") or {}
    call = details.get("call") or "read_table"
    error = (details.get("error") or "").strip()
    table = harness.get("table") or ctx.failure.table
    what = "while its records were iterated" if details.get("while_iterating") else "during repeated reads"
    return [
        ctx.diag(
            "connector",
            f"{call}({table!r}) raised {what}: {error}".replace("  ", " "),
            connector_site(ctx, call),
            0.6,
            code=harness.get("check"),
            evidence=[
                "the public harness kept only the exception's message; the traceback of another node of "
                "this class may show the line"
            ],
            fix=harness.get("hint"),
        )
    ]


def _null_columns(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:
    """Columns no corpus record even has as a key: the schema (or the connector's mapping) invents them."""

    columns = (harness.get("details") or {}).get("columns") or []
    files = table_corpus_files(ctx)
    records = [r for path in files for r in (_records(ctx, path) or []) if isinstance(r, dict)]
    if not records or not columns:
        return None
    absent = [c for c in columns if all(c not in r for r in records)]
    if len(absent) != len(columns):
        return None  # some columns are keys of the corpus records with null values: the corpus's to fill
    location = schema_field_location(ctx, absent[0])
    if location is None:
        return None
    return [
        ctx.diag(
            "connector",
            f"the schema declares {absent}, which no corpus record has under any key: the connector never "
            "fills them (a schema field the API does not send, or a mapping that looks up the wrong name)",
            location,
            0.55,
            code=harness.get("check"),
            evidence=[harness_message(ctx)],
            related=[Related(Location(files[0], Range.lines(0)), "the table's corpus")],
            fix="drop the field from the schema, map it from the raw record, or list it in allow_null_columns",
        )
    ]


# ---------------------------------------------------------------------------- files of a table


def table_endpoints(ctx: Context, table: str) -> list[Any]:
    """Spec endpoints that serve the table: by corpus name, else by a path segment naming it."""
    spec = table_spec(ctx)
    if spec is None:
        return []
    wanted = {normal_name(table), normal_name(table) + "s", normal_name(table).removesuffix("s")}
    by_corpus = [e for e in spec.endpoints if e.corpus and normal_name(e.corpus) in wanted]
    if by_corpus:
        return by_corpus
    return [
        e
        for e in spec.endpoints
        if any(normal_name(part) in wanted for part in e.path.split("/") if part and not part.startswith("{"))
    ]


def _endpoint_location(ctx: Context, endpoint: Any, key: str | None = None) -> Location:
    if key:
        span = yaml_key_span(ctx.view, endpoint.spec_file, ("endpoints", endpoint.index), key)
        if span is not None:
            return Location(endpoint.spec_file, Range.from_one_based(span.start.line, span.start.column))
    return Location(endpoint.spec_file, Range.lines(max(endpoint.line - 1, 0)))


def _records(ctx: Context, path: str) -> list[Any] | None:
    data = json_data(ctx.view, path)
    return data if isinstance(data, list) else None


def _quoted_in_connector(ctx: Context, word: str) -> bool:
    pattern = re.compile(rf"""["']{re.escape(word)}["']""")
    return any(pattern.search(ctx.view.text(path) or "") for path in ctx.connector_files())


# ---------------------------------------------------------------------------- rules


def _config(ctx: Context, fact: dict[str, Any], harness: dict[str, Any]) -> list[Diagnostic]:

    message = first_line(fact.get("message"))
    details = harness.get("details") or {}
    test_file, cls = _test_class(ctx)
    key = None
    if details.get("missing_spec") or details.get("corpus_dir") or "simulate' mode requires" in message:
        key = "simulator_source"
    elif "credentials" in message.lower() or "CONNECTOR_TEST_CONFIG" in message:
        key = "replay_config"
    location = _class_attribute(ctx, test_file, cls, key) if test_file else None
    if details.get("missing_spec"):
        message = f"simulator_source names a source without a spec: {details['missing_spec']} does not exist"
    return [
        ctx.diag(
            "test",
            message,
            location or ctx.node_location(),
            0.9,
            fix=harness.get("hint"),
            code="harness.config",
            evidence=[line.strip() for line in (fact.get("message") or "").splitlines()[:4]],
        )
    ]


def _test_class(ctx: Context) -> tuple[str | None, str | None]:
    parts = ctx.failure.node_id.split("::")
    test_file = ctx.failure.test_file or parts[0]
    cls = parts[1] if len(parts) > 2 else None
    return test_file, cls


def _class_attribute(ctx: Context, path: str, cls: str | None, key: str | None) -> Location | None:
    text = ctx.view.text(path)
    if text is None:
        return None
    lines = text.splitlines()
    start = 0
    if cls:
        found = find_line(ctx.view, path, rf"^class {re.escape(cls)}\b")
        if found is None:
            return None
        start = found[0]
    if key:
        for number in range(start + 1, len(lines)):
            if re.match(r"^\S", lines[number]):
                break  # the class ended
            if re.match(rf"^\s+{re.escape(key)}\s*[:=]", lines[number]):
                return Location(path, Range.lines(number))
    return Location(path, Range.lines(start))


def _empty_read(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

    table = harness.get("table") or ctx.failure.table or ""
    files = table_corpus_files(ctx, table)
    records = _records(ctx, files[0]) if files else None
    endpoints = table_endpoints(ctx, table)
    evidence = [harness_message(ctx)]
    connector = connector_site(ctx, "read_table")
    # 1. The endpoint that serves the table names a corpus that does not exist.
    corpus_dir = ctx.layout.relative(ctx.layout.corpus_dir(ctx.failure.source)) if ctx.failure.source else ""
    for endpoint in endpoints:
        if (
            endpoint.corpus
            and ctx.view.text(f"{corpus_dir}/{endpoint.corpus}.json") is None
            and not endpoint.handler
        ):
            others = f" ({files[0]} exists)" if files else ""
            return [
                ctx.diag(
                    "spec",
                    f"the endpoint {endpoint.key} serves corpus '{endpoint.corpus}', which does not exist{others}: "
                    f"the read of {table} is empty",
                    _endpoint_location(ctx, endpoint, "corpus"),
                    0.8,
                    code=harness["check"],
                    evidence=evidence,
                    related=[Related(Location(files[0], Range.lines(0)), "the table's corpus")]
                    if files
                    else [],
                    fix=f"name the corpus file the table's records are in ('{files[0].rsplit('/', 1)[-1][:-5]}')"
                    if files
                    else f"create {corpus_dir}/{endpoint.corpus}.json",
                )
            ]
    # 2. The corpus is empty.
    if files and records == []:
        return [
            ctx.diag(
                "corpus",
                f"the corpus {files[0]} is empty, so the first read of {table} returned nothing",
                Location(files[0], Range.lines(0)),
                0.8,
                code=harness["check"],
                evidence=evidence,
                fix="add records to the corpus",
            )
        ]
    # 3. The spec wraps the records under a key the connector never reads.
    for endpoint in endpoints:
        wrapper = endpoint.response.wrapper
        key = wrapper.records_key.split(".")[-1] if wrapper and wrapper.records_key else None
        if key and not _quoted_in_connector(ctx, key):
            return [
                ctx.diag(
                    "spec",
                    f"the spec wraps {table}'s records under '{wrapper.records_key}', a key the connector never "
                    "reads, so it finds no records",
                    _endpoint_location(ctx, endpoint, "records_key"),
                    0.7,
                    code=harness["check"],
                    evidence=[*evidence, f"no string '{key}' in {', '.join(ctx.connector_files()[:3])}"],
                    related=[Related(connector, "where the connector reads the response")],
                    fix="make wrapper.records_key the key the connector (and the API) use",
                )
            ]
    # 4. The corpus dates fell out of the connector's window: the clock.
    if records:
        aged = clock.aged_corpus(records, _windows(ctx), time.time())
        if aged is not None:
            return [
                ctx.diag(
                    "environment",
                    f"every {table} record is dated before the connector's first read window "
                    f"(newest {aged.newest.isoformat()}, window from {aged.window_start.isoformat()}): the "
                    "corpus aged with the clock",
                    json_location(ctx, files[0], (aged.newest_index, aged.field)),
                    0.7,
                    code="read.empty_first_read.clock",
                    evidence=[*evidence, *aged.evidence()],
                    related=[
                        Related(
                            Location(aged.window.path, Range.lines(aged.window.line)),
                            "the connector's window",
                        )
                    ]
                    if aged.window
                    else [],
                    fix="date the corpus relative to today (or give the table a fixed start_date option in "
                    "dev_table_config.json)",
                )
            ]
    # 5. Otherwise the connector filtered everything out.
    related = [Related(Location(files[0], Range.lines(0)), "the corpus it should have read")] if files else []
    return [
        ctx.diag(
            "connector",
            f"the connector's first read of {table} returned nothing although the corpus has "
            f"{len(records or [])} record(s): it filters too narrowly or reads the wrong key",
            connector,
            0.5,
            code=harness["check"],
            evidence=evidence,
            related=related,
            fix="compare the first request's filters and the key it reads with the corpus and the spec",
        )
    ]


def _windows(ctx: Context) -> list[clock.Window]:
    found = []
    for path in ctx.connector_files():
        if "/_generated_" in path:
            continue
        found.extend(clock.read_windows(path, ctx.view.text(path) or ""))
    return found


def _table_options(ctx: Context, table: str) -> tuple[str | None, dict[str, Any]]:
    if not ctx.failure.source:
        return None, {}
    path = ctx.layout.relative(ctx.layout.table_config(ctx.failure.source))
    data = json_data(ctx.view, path)
    options = data.get(table) if isinstance(data, dict) else None
    return (path, options) if isinstance(options, dict) else (None, {})


def _terminates(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

    details = harness.get("details") or {}
    table = harness.get("table") or ctx.failure.table or ""
    offsets = details.get("offsets") or []
    last = offsets[-1] if offsets else None
    iterations = int(details.get("iterations") or 0)
    evidence = [harness_message(ctx)]
    now = time.time()
    config_path, options = _table_options(ctx, table)
    walk = clock.walk_towards_now(last, options, iterations, now)
    if walk is not None and config_path:
        return [
            ctx.diag(
                "environment",
                f"reads of {table} walk from the fixed {walk.option} {walk.start.isoformat()} towards today in "
                f"~{walk.batch_days:.0f}-day batches and ran out of the test's {iterations} reads at "
                f"{walk.reached.isoformat()}: the start date aged with the clock",
                json_location(ctx, config_path, (table, walk.option)),
                0.7,
                code="read.terminates.clock",
                evidence=[*evidence, *walk.evidence()],
                fix=f"move {walk.option} closer to today (or raise read_termination_max_iterations on the test class)",
            )
        ]
    counter = clock.counter_key(last, iterations)
    if counter is not None:
        site = _counter_site(ctx, counter)
        return [
            ctx.diag(
                "connector",
                f"the offset of {table} counts reads in '{counter}' ({json.dumps(last)} after {iterations} "
                "reads), so it never repeats and reads never settle",
                site or connector_site(ctx, "read_table"),
                0.75,
                code="read.terminates",
                evidence=evidence,
                fix="return the start offset unchanged once there is nothing new to read",
            )
        ]
    if last is not None and clock.tracks_wall_clock(last, now):
        site = _wall_clock_site(ctx)
        return [
            ctx.diag(
                "connector",
                f"the offset of {table} follows the wall clock ({json.dumps(last)}), so it never repeats and "
                "reads never settle",
                site or connector_site(ctx, "read_table"),
                0.75,
                code="read.terminates",
                evidence=evidence,
                fix="end incremental reads at the time the connector was created, not at now()",
            )
        ]
    return None


def _counter_site(ctx: Context, key: str) -> Location | None:
    """The connector line that increments an offset key (``"polls": ... + 1``), else that names it."""
    quoted = rf"""["']{re.escape(key)}["']"""
    for pattern in (rf"{quoted}[^\n]*\+\s*1\b", rf"{quoted}\s*\]\s*\+=", quoted):
        for path in ctx.connector_files():
            if "/_generated_" in path:
                continue
            found = find_line(ctx.view, path, pattern)
            if found:
                return Location(path, Range.lines(found[0]))
    return None


def _wall_clock_site(ctx: Context) -> Location | None:
    """A connector line reading the clock outside ``__init__`` (an offset that follows now())."""
    pattern = re.compile(r"\b(?:datetime\.now|datetime\.utcnow|time\.time|date\.today|utcnow)\(")
    for path in ctx.connector_files():
        if "/_generated_" in path:
            continue
        function = ""
        for number, line in enumerate((ctx.view.text(path) or "").splitlines()):
            header = re.match(r"\s*def (\w+)", line)
            if header:
                function = header.group(1)
            if function == "__init__" or line.strip().startswith("#") or not pattern.search(line):
                continue
            if re.match(r"\s*self\.\w+\s*=", line):
                continue  # an attribute set once (the init time)
            return Location(path, Range.lines(number))
    return None


def _schema_parse(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:
    """A conversion error names the value, not the field: find it in the table's corpus."""

    details = dict(harness.get("details") or {})
    missing = details.get("missing_field")
    if missing and (found := _missing_fields(ctx, {**harness, "details": {"fields": [missing]}})):
        return found
    if not details.get("spark_type"):
        # parse_value failed on the schema itself (not a StructType, an unsupported type)

        return [
            ctx.diag(
                "connector",
                harness_message(ctx),
                connector_site(ctx, "get_table_schema"),
                0.6,
                code=harness.get("check"),
                evidence=[str(details.get("reason") or "")[:300]],
                fix="return a pyspark StructType whose field types parse_value supports",
            )
        ]
    if details.get("field") or details.get("value") is None:
        return None
    found = find_value(ctx, details["value"], details.get("record_index"))
    if found is None:
        return None
    record, field = found
    details.update(field=field, record=record)
    return schema_parse(ctx, {**harness, "details": details})


def find_value(ctx: Context, value: Any, index: int | None) -> tuple[dict[str, Any], str] | None:
    """The corpus record of the table holding ``value`` (record ``index`` first) and its field path."""
    for path in table_corpus_files(ctx):
        records = _records(ctx, path) or []
        order = list(range(len(records)))
        if index is not None and 0 <= index < len(records):
            order.remove(index)
            order.insert(0, index)
        for i in order:
            record = records[i]
            if isinstance(record, dict):
                field = _field_holding(record, value)
                if field:
                    return record, field
    return None


def _field_holding(record: dict[str, Any], value: Any, prefix: str = "", depth: int = 0) -> str | None:
    for key, item in record.items():
        if item == value and type(item) is type(value):
            return prefix + key
    if depth < 2:
        for key, item in record.items():
            if isinstance(item, dict):
                found = _field_holding(item, value, f"{prefix}{key}.", depth + 1)
                if found:
                    return found
    return None


def _missing_fields(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

    details = harness.get("details") or {}
    fields = [f.split("[")[0] for f in details.get("fields") or []]
    if details.get("record") is not None or not fields:
        return None
    table = harness.get("table") or ctx.failure.table or ""
    for path in table_corpus_files(ctx, table):
        records = [r for r in _records(ctx, path) or [] if isinstance(r, dict)]
        # A field no record has is the schema's (or the mapping's) invention, not a corpus gap.
        known = [f for f in fields if any(_dotted(r, f) is not None for r in records)]
        for index, record in enumerate(_records(ctx, path) or []):
            if not isinstance(record, dict):
                continue
            missing = [f for f in known if _dotted(record, f) is None]
            if missing:
                top = missing[0].split(".")[0]
                where = (index, top) if top in record else (index,)
                return [
                    ctx.diag(
                        "corpus",
                        f"corpus record {path}[{index}] has no value for {missing}, which {table}'s schema "
                        "requires",
                        json_location(ctx, path, where),
                        0.65,
                        code=harness.get("check"),
                        evidence=[harness_message(ctx)],
                        related=[
                            Related(loc, "declared non-nullable here")
                            for loc in [schema_field_location(ctx, missing[0])]
                            if loc
                        ],
                        fix="add the field to the record, or make the schema field nullable",
                    )
                ]
    location = schema_field_location(ctx, fields[0])
    if location is None:
        return None
    return [
        ctx.diag(
            "connector",
            f"{harness_message(ctx)} — every corpus record has {fields}, so the connector drops or renames them "
            "(or declares a field the API does not send)",
            location,
            0.65,
            code=harness.get("check"),
            evidence=[harness_message(ctx)],
            fix="map the field from the raw record, or declare it nullable",
        )
    ]


def _dotted(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _not_in_schema(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

    missing = (harness.get("details") or {}).get("missing") or []
    for name in missing:
        for path in ctx.connector_files():
            if "/_generated_" in path:
                continue
            found = find_line(
                ctx.view,
                path,
                rf"""["'](?:cursor_field|primary_keys)["']\s*:\s*\[?[^\n]*["']{re.escape(name)}["']""",
            ) or find_line(
                ctx.view, path, rf"""(?:cursor_field|primary_keys)\s*=\s*\[?[^\n]*["']{re.escape(name)}["']"""
            )
            if found:
                return [
                    ctx.diag(
                        "connector",
                        harness_message(ctx),
                        Location(path, Range.lines(found[0])),
                        0.85,
                        code=harness.get("check"),
                        evidence=[f"the metadata names '{name}', which the table's schema does not declare"],
                        fix="name a field of the schema (or add it to the schema)",
                    )
                ]
    return None


# ---------------------------------------------------------------------------- an unmodelled request


def _unknown_endpoint(ctx: Context, fact: dict[str, Any]) -> list[Diagnostic] | None:

    request = fact["request"]
    method, url = request.get("method") or "GET", request.get("url") or ""
    path = urlsplit(url).path
    spec = table_spec(ctx)
    spec_file = ctx.spec_file()
    nearest = None
    if spec is not None:
        ranked = spec.nearest(method, path, limit=1)
        if ranked:
            nearest = next((e for e in spec.endpoints if ranked[0].startswith(f"{e.key} (")), None)
    frame = ctx.deepest_frame(("connector",))
    connector_location = _url_site(ctx, path, frame) or (
        frame_location(frame) if frame else ctx.node_location()
    )
    spec_location = (
        _endpoint_location(ctx, nearest, "path")
        if nearest
        else (Location(spec_file, Range.lines(0)) if spec_file else None)
    )
    evidence = [f"{method} {url} matched no endpoint in {spec_file or 'the spec'}"]
    if nearest:
        evidence.append(f"nearest spec endpoint: {nearest.key} ({nearest.spec_file}:{nearest.line})")
    spec_changed, connector_changed = ctx.changed(spec_file), ctx.connector_changed()
    verdict = _documented(ctx, path, nearest.path if nearest else None)
    if verdict:
        evidence.append(verdict[1])
    if spec_changed and not connector_changed:
        blame_to, confidence, why = "spec", 0.75, "the spec changed since this test last passed"
    elif connector_changed and not spec_changed:
        blame_to, confidence, why = "connector", 0.75, "the connector changed since this test last passed"
    elif verdict:
        blame_to, confidence, why = verdict[0], 0.7, verdict[1]
    elif nearest and path_similarity(path, nearest.path) >= 0.8:
        blame_to, confidence, why = "connector", 0.55, f"it looks like a misspelling of {nearest.path}"
    else:
        blame_to, confidence, why = "spec", 0.55, "no spec endpoint looks like it"
    if blame_to == "spec":
        message = f"the spec does not model {method} {path}: {why}"
        fix = (
            f"make the endpoint's path match the API ({nearest.path} → the documented path)"
            if nearest and verdict
            else f"add an endpoint for {method} {path} under 'endpoints:' in {spec_file}"
        )
        primary, other, other_note = (
            spec_location,
            connector_location,
            "the connector line that made the request",
        )
    else:
        message = f"the connector calls {method} {path}, which the spec does not model: {why}"
        fix = f"call {nearest.path}" if nearest else "fix the URL the connector builds"
        primary, other, other_note = connector_location, spec_location, "the spec's nearest endpoint"
    return [
        ctx.diag(
            blame_to,
            message,
            primary or ctx.node_location(),
            confidence,
            fix=fix,
            evidence=evidence,
            related=[Related(other, other_note)] if other else [],
            code="simulator.unknown_endpoint",
        )
    ]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template.rstrip("/"))
    body = "".join(r"[^/\s`'\"]+" if p.startswith("{") else re.escape(p) for p in parts if p)
    return re.compile(body + r"(?![\w-])")


def _documented(ctx: Context, request_path: str, spec_path: str | None) -> tuple[str, str] | None:
    """Which side the source's API documentation (``*_api_doc.md``, README) agrees with."""
    if not spec_path or not ctx.failure.source:
        return None
    source = ctx.failure.source
    directory = ctx.layout.source_dir(source)
    names = {ctx.layout.relative(d) for d in directory.glob("*.md")} if directory.is_dir() else set()
    base = ctx.layout.relative(directory)
    names |= {f"{base}/{source}_api_doc.md", f"{base}/README.md"}  # the repository's conventions
    texts = [(name, text) for name in sorted(names) if (text := ctx.view.text(name))]
    documented_templates = {m.group(0) for _, t in texts for m in re.finditer(r"/[\w{}./-]+", t)}
    request_documented = any(
        _template_regex(template).fullmatch(request_path) or template == request_path
        for template in documented_templates
        if "{" in template or template.count("/") > 1
    )
    spec_documented = any(_template_regex(spec_path).search(t) for _, t in texts)
    names = ", ".join(name for name, _ in texts[:2])
    if request_documented and not spec_documented:
        return "spec", f"the API documentation ({names}) has the path the connector requested, not the spec's"
    if spec_documented and not request_documented:
        return (
            "connector",
            f"the API documentation ({names}) has the spec's path {spec_path}, not the one requested",
        )
    return None


def _url_site(ctx: Context, request_path: str, frame: dict[str, Any] | None) -> Location | None:
    """The connector line that builds the request's URL: its last literal segment in a string."""
    segments = [s for s in request_path.split("/") if s]
    if not segments:
        return None
    last = re.escape(segments[-1])
    pattern = re.compile(rf"""/{last}(?:["'?]|$)""")
    frame_files = [
        f["file"] for exc in ctx.chain for f in exc.get("frames", []) if ctx.kind_of(f["file"]) == "connector"
    ]
    files = [*dict.fromkeys([*frame_files, *ctx.connector_files()])]
    frame_lines = {(f["file"], f["line"]) for exc in ctx.chain for f in exc.get("frames", [])}
    best: tuple[int, str, int] | None = None
    for path in files:
        if "/_generated_" in path:
            continue
        for number, line in enumerate((ctx.view.text(path) or "").splitlines()):
            if line.strip().startswith("#") or not pattern.search(line):
                continue
            # Prefer the line nearest a frame of the failure (the function that built the request).
            distance = min((abs(number + 1 - fl) for ff, fl in frame_lines if ff == path), default=10_000)
            if best is None or distance < best[0]:
                best = (distance, path, number)
    return Location(best[1], Range.lines(best[2])) if best else None


# ---------------------------------------------------------------------------- a parameter the spec does not allow


def _unknown_params(ctx: Context, fact: dict[str, Any]) -> list[Diagnostic] | None:
    """A strict endpoint answered 400 "Unknown query parameter(s)": the spec's list, or the connector's
    request? The API documentation decides when it names the parameter."""
    params = fact["unknownParams"].get("unknown") or []
    if not params:
        return None
    table = fact.get("table") or ctx.failure.table or ""
    spec = table_spec(ctx)
    strict = [e for e in (spec.endpoints if spec else []) if e.strict_params]
    mine = [e for e in table_endpoints(ctx, table) if e.strict_params] or strict
    endpoint = mine[0] if mine else None
    frame = ctx.deepest_frame(("connector",))
    connector_location = _param_site(ctx, params[0]) or (
        frame_location(frame) if frame else ctx.node_location()
    )
    spec_location = (
        (_endpoint_location(ctx, endpoint, "params") or _endpoint_location(ctx, endpoint, "strict_params"))
        if endpoint
        else None
    )
    documented = [p for p in params if _documents_param(ctx, p)]
    spec_changed, connector_changed = ctx.changed(ctx.spec_file()), ctx.connector_changed()
    evidence = [f"the endpoint answered 400: unknown query parameter(s) {params}"]
    if (spec_changed and not connector_changed) or (documented and not connector_changed and spec_location):
        why = (
            "the spec changed since this test last passed"
            if spec_changed
            else f"the API documentation names {documented}"
        )
        return [
            ctx.diag(
                "spec",
                f"the spec's strict endpoint {endpoint.key if endpoint else ''} does not list {params}, which "
                f"the connector sends: {why}",
                spec_location or ctx.node_location(),
                0.65,
                code="simulator.unknown_params",
                evidence=evidence,
                related=[Related(connector_location, "where the connector adds the parameter")],
                fix=f"declare {params} under the endpoint's params (with their role)",
            )
        ]
    return [
        ctx.diag(
            "connector",
            f"the connector sends {params}, which the endpoint does not take (the API documentation does not "
            "name it either)",
            connector_location,
            0.6,
            code="simulator.unknown_params",
            evidence=evidence,
            related=[Related(spec_location, "the endpoint's parameters")] if spec_location else [],
            fix="drop or rename the parameter",
        )
    ]


def _param_site(ctx: Context, param: str) -> Location | None:
    """The connector line that adds a query parameter (``?name=``, ``"name":``), nearest a frame."""
    pattern = re.compile(rf"""[?&"']{re.escape(param)}(?:=|["']\s*:)""")
    frames = {(f["file"], f["line"]) for exc in ctx.chain for f in exc.get("frames", [])}
    best: tuple[int, str, int] | None = None
    for path in ctx.connector_files():
        if "/_generated_" in path:
            continue
        for number, line in enumerate((ctx.view.text(path) or "").splitlines()):
            if pattern.search(line) and not line.strip().startswith("#"):
                distance = min((abs(number + 1 - fl) for ff, fl in frames if ff == path), default=10_000)
                if best is None or distance < best[0]:
                    best = (distance, path, number)
    return Location(best[1], Range.lines(best[2])) if best else None


def _documents_param(ctx: Context, param: str) -> bool:
    if not ctx.failure.source:
        return False
    base = ctx.layout.relative(ctx.layout.source_dir(ctx.failure.source))
    pattern = re.compile(rf"""(?:[?&`'"\s]){re.escape(param)}(?:=|`|\b)""")
    for name in (f"{base}/{ctx.failure.source}_api_doc.md", f"{base}/README.md"):
        if pattern.search(ctx.view.text(name) or ""):
            return True
    return False
