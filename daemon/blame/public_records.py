"""Public-harness record checks judged against the table's corpus: which field, whose fault.

Pure. A ``parse_value`` conversion error names the value, not the field: :func:`find_value` finds
it in the corpus, then the harness's ``read.schema_parse`` rule judges it. Non-nullable fields and
primary keys a record lacks (the corpus record's gap, or the connector's when every record has
them), columns no corpus record even has (the schema invents them), metadata naming a field the
schema does not declare."""

from __future__ import annotations

import re
from typing import Any

from connector_watch.daemon.blame import harness_checks
from connector_watch.daemon.blame.context import (
    Context,
    connector_site,
    harness_message,
    json_location,
    schema_field_location,
    table_corpus_files,
)
from connector_watch.daemon.blame.public_table import corpus_records
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.sources_view import find_line


def null_columns(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:
    """Columns no corpus record even has as a key: the schema (or the connector's mapping) invents them."""

    columns = (harness.get("details") or {}).get("columns") or []
    files = table_corpus_files(ctx)
    records = [r for path in files for r in (corpus_records(ctx, path) or []) if isinstance(r, dict)]
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


def schema_parse(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:
    """A conversion error names the value, not the field: find it in the table's corpus."""

    details = dict(harness.get("details") or {})
    missing = details.get("missing_field")
    if missing and (found := missing_fields(ctx, {**harness, "details": {"fields": [missing]}})):
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
    return harness_checks.schema_parse(ctx, {**harness, "details": details})


def find_value(ctx: Context, value: Any, index: int | None) -> tuple[dict[str, Any], str] | None:
    """The corpus record of the table holding ``value`` (record ``index`` first) and its field path."""
    for path in table_corpus_files(ctx):
        records = corpus_records(ctx, path) or []
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


def missing_fields(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

    details = harness.get("details") or {}
    fields = [f.split("[")[0] for f in details.get("fields") or []]
    if details.get("record") is not None or not fields:
        return None
    table = harness.get("table") or ctx.failure.table or ""
    for path in table_corpus_files(ctx, table):
        records = [r for r in corpus_records(ctx, path) or [] if isinstance(r, dict)]
        # A field no record has is the schema's (or the mapping's) invention, not a corpus gap.
        known = [f for f in fields if any(_dotted(r, f) is not None for r in records)]
        for index, record in enumerate(corpus_records(ctx, path) or []):
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


def not_in_schema(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic] | None:

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
