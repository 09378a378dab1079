"""Public-harness reads that return nothing or never settle, judged from the files and the clock.

Pure. ``read.empty_first_read``: an endpoint naming a corpus that does not exist, an empty corpus,
records wrapped under a key the connector never reads, corpus dates older than the connector's
read window (``environment``: the clock), else the connector's filter. ``read.terminates``: a fixed
start date that outgrew the iteration cap (the clock), an offset that counts reads or follows the
wall clock (the connector line that makes it so)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from connector_watch.daemon import clock
from connector_watch.daemon.blame.context import (
    Context,
    connector_site,
    harness_message,
    json_location,
    table_corpus_files,
)
from connector_watch.daemon.blame.public_table import (
    corpus_records,
    endpoint_location,
    quoted_in_connector,
    table_endpoints,
)
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.sources_view import find_line, json_data


def empty_read(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

    table = harness.get("table") or ctx.failure.table or ""
    files = table_corpus_files(ctx, table)
    records = corpus_records(ctx, files[0]) if files else None
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
                    endpoint_location(ctx, endpoint, "corpus"),
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
        if key and not quoted_in_connector(ctx, key):
            return [
                ctx.diag(
                    "spec",
                    f"the spec wraps {table}'s records under '{wrapper.records_key}', a key the connector never "
                    "reads, so it finds no records",
                    endpoint_location(ctx, endpoint, "records_key"),
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


def terminates(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

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
