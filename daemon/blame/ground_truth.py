"""Ground-truth evidence: what the simulator served against what the connector returned."""

from __future__ import annotations

from typing import Any

from connector_watch.daemon.blame.context import (
    Context,
    call_chain,
    connector_site,
    corpus_files_read,
    corpus_path,
    handler_location,
    harness_message,
    json_location,
    request_evidence,
    spec_endpoint_location,
    spec_key_location,
)
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.sources_view import json_data


def ground_truth(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    diagnostics = _ground_truth_causes(ctx, harness)
    diff = (harness.get("details") or {}).get("diff")
    for diagnostic in diagnostics:
        diagnostic.diff = diff if isinstance(diff, dict) else None
    return diagnostics


def _ground_truth_causes(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    details = harness.get("details") or {}
    lost = details.get("lost") or []
    trace = ctx.failure.trace
    by_seq = {e["seq"]: e for e in trace}
    diagnostics = []
    summary = harness_message(ctx)
    base_evidence = [line.strip() for line in (ctx.chain[0].get("message") or "").splitlines()[1:8]]
    if details.get("future"):
        entry = next((e for e in reversed(trace) if e.get("futureServed")), trace[-1] if trace else None)
        location = handler_location(ctx, entry) or connector_site(ctx, "read_table")
        related = [
            Related(loc, "the spec adds records dated after now here")
            for loc in [spec_endpoint_location(entry)]
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
        for d in ctx.failure.static.get(corpus_path(ctx, x), [])
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
                related=[Related(connector_site(ctx, "read_table"), "the connector's read")],
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
        location = handler_location(ctx, entry) or connector_site(ctx, "read_table")
        corpus_location = json_location(ctx, corpus_path(ctx, first), (first["index"],))
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
                spec_key_location(ctx, entry, "records_key") or spec_endpoint_location(entry) or location
            )
            related.append(Related(location, "where the connector reads the response"))
            fix = "the spec changed since this passed: make its response (wrapper.records_key, extras) what the connector reads"
        else:
            where = location
            related += call_chain(entry)
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
        location = handler_location(ctx, entry) or connector_site(ctx, "read_table")
        spec_location = spec_endpoint_location(entry) if entry else None
        spec_changed = ctx.changed(ctx.spec_file()) and not ctx.connector_changed()
        message = (
            f"{never_count} corpus record(s) sit on pages the connector never requested "
            f"(first: {first['corpus']}[{first['index']}] on page {first.get('page')})"
        )
        related = [Related(spec_location, "the endpoint's pagination style")] if spec_location else []
        related += call_chain(entry)  # the paging loop, when a shared helper made the request
        related.append(
            Related(
                json_location(ctx, corpus_path(ctx, first), (first["index"],)),
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
            for path in corpus_files_read(ctx)
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
                    connector_site(ctx, "read_table"),
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
            connector_site(ctx, "read_table"),
            0.5,
            code="ground_truth",
            evidence=base_evidence,
        )
    ]


def empty_read(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    trace = [e for e in ctx.failure.trace if e.get("outcome") == "served"]
    served = sum(e.get("served") or 0 for e in trace)
    evidence = request_evidence(ctx.failure.trace)
    entry = trace[-1] if trace else (ctx.failure.trace[-1] if ctx.failure.trace else None)
    connector_location = handler_location(ctx, entry) or connector_site(ctx, "read_table")
    spec_location = spec_key_location(ctx, entry, "records_key") or (
        spec_endpoint_location(entry) if entry else None
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

