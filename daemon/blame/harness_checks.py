"""Harness evidence: a check of the connector contract, a value that does not fit the schema."""

from __future__ import annotations

from collections import Counter
from typing import Any

from connector_watch.daemon.blame.context import (
    Context,
    connector_site,
    corpus_files_read,
    find_corpus_record,
    handler_location,
    harness_message,
    harness_of,
    json_location,
    request_evidence,
    schema_field_location,
    spec_endpoint_location,
    spec_key_location,
)
from connector_watch.daemon.blame.ground_truth import empty_read, ground_truth
from connector_watch.daemon.diagnostics import Diagnostic, Related
from connector_watch.daemon.sources_view import json_data
from connector_watch.simulator.values import dotted_get

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


def harness_check(ctx: Context) -> list[Diagnostic] | None:
    harness = harness_of(ctx)
    if harness is None:
        return None
    check = harness.get("check") or ""
    if check == "ground_truth":
        return ground_truth(ctx, harness)
    if check == "read.schema_parse":
        return schema_parse(ctx, harness)
    if check in ("read.empty_first_read", "deletes.empty_first_read"):
        return empty_read(ctx, harness)
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
        message = harness_message(ctx)
        return [
            ctx.diag(
                "connector",
                message,
                connector_site(ctx),
                0.5,
                code=check,
                fix=harness.get("hint"),
                evidence=[
                    "write-back runs against the live source; the source may also be slow to show new rows"
                ],
            )
        ]
    return None


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


def _connector_contract(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    check = harness["check"]
    method = next((m for prefix, m in _CHECK_METHOD.items() if check.startswith(prefix)), None)
    location = connector_site(ctx, method)
    message = harness_message(ctx)
    if check == "partition.no_records":
        return [
            ctx.diag(
                "connector",
                message,
                location,
                0.55,
                code=check,
                evidence=request_evidence(ctx.failure.trace),
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


def schema_parse(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    details = harness.get("details") or {}
    field_path = details.get("field") or ""
    value = details.get("value")
    record = details.get("record")
    spark_type = details.get("spark_type")
    found = find_corpus_record(ctx, record)
    schema_location = schema_field_location(ctx, field_path) or connector_site(ctx, "get_table_schema")
    top_field = field_path.split(".")[0].split("[")[0]
    evidence = [
        f"field '{field_path}' holds {value!r} ({type(value).__name__}); the schema says {spark_type}"
    ]
    corpus_location = None
    outlier = None
    if found:
        path, index = found
        corpus_location = json_location(ctx, path, (index, top_field))
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


def conversion(ctx: Context) -> list[Diagnostic] | None:
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
            return schema_parse(ctx, fake)
    return None


def _terminates(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    clock = [
        d
        for path in corpus_files_read(ctx)
        for d in ctx.failure.static.get(path, [])
        if d.code == "corpus.future_cursor"
    ]
    evidence = [harness_message(ctx), *request_evidence(ctx.failure.trace, 3)]
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
    location = handler_location(ctx, entry) or connector_site(ctx, "read_table")
    return [
        ctx.diag(
            "connector",
            harness_message(ctx),
            location,
            0.75,
            code="read.terminates",
            evidence=evidence,
            fix=harness.get("hint") or "return the start offset once no new records exist",
        )
    ]


def _null_columns(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    columns = (harness.get("details") or {}).get("columns") or []
    corpus_files = corpus_files_read(ctx)
    present = []
    for path in corpus_files:
        data = json_data(ctx.view, path)
        if isinstance(data, list):
            present.extend(
                c for c in columns if any(isinstance(r, dict) and r.get(c) is not None for r in data)
            )
    evidence = [harness_message(ctx)]
    if present:
        location = schema_field_location(ctx, present[0]) or connector_site(ctx, "read_table")
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
        json_location(ctx, corpus_files[0], (0, columns[0]))
        if corpus_files and columns
        else connector_site(ctx)
    )
    related = (
        [Related(loc, "the schema declares it") for loc in [schema_field_location(ctx, columns[0])] if loc]
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


def _missing_fields(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    details = harness.get("details") or {}
    fields = details.get("fields") or []
    record = details.get("record")
    found = find_corpus_record(ctx, record)
    evidence = [harness_message(ctx)]
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
                    json_location(ctx, path, (index,)),
                    0.65,
                    code=harness["check"],
                    evidence=evidence,
                    related=[
                        Related(loc, "declared non-nullable here")
                        for loc in [schema_field_location(ctx, missing_in_corpus[0])]
                        if loc
                    ],
                    fix="add the field to the record, or make the schema field nullable",
                )
            ]
    location = schema_field_location(ctx, fields[0] if fields else None) or connector_site(
        ctx, "read_table"
    )
    return [
        ctx.diag(
            "connector",
            harness_message(ctx),
            location,
            0.6,
            code=harness["check"],
            evidence=evidence,
            fix="map the field from the raw record, or declare it nullable",
        )
    ]


def _ambiguous_wrapper(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    entry = ctx.failure.trace[-1] if ctx.failure.trace else None
    spec_location = spec_key_location(ctx, entry, "records_key") or (
        spec_endpoint_location(entry) if entry else None
    )
    connector_location = handler_location(ctx, entry) or connector_site(ctx, "read_table")
    spec_first = ctx.changed(ctx.spec_file()) and not ctx.connector_changed()
    primary = spec_location if spec_first and spec_location else connector_location
    other = connector_location if primary is spec_location else spec_location
    return [
        ctx.diag(
            "spec" if primary is spec_location else "connector",
            f"{harness_message(ctx)} — the connector and the spec disagree on where records are",
            primary,
            0.5,
            code=harness["check"],
            evidence=request_evidence(ctx.failure.trace, 2),
            related=[Related(other, "the other side")] if other else [],
            fix="compare the spec's wrapper.records_key with the key the connector reads",
        )
    ]
