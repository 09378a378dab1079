"""Checks on what a read returned: shapes, offsets, schema fit, nulls, keys."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from connector_watch.simulator.values import dotted_get
from connector_watch.sources.parsing import ConversionError, parse_record
from connector_watch.tests.harness.failures import HarnessFailure, annotate
from pyspark.sql.types import ArrayType, DataType, StructType

INCREMENTAL = ("cdc", "cdc_with_deletes", "append")


def unpack_read(result: Any, table: str, call: str, start_offset: Any) -> tuple[Iterator[Any], Any]:
    """Split a ``read_table`` result into ``(iterator, offset)``, checking its shape."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise HarnessFailure(
            f"{call}({table!r}, {start_offset!r}) returned {type(result).__name__}, expected 2-tuple (records, offset)",
            check="read.shape",
            table=table,
        )
    records, offset = result
    try:
        iterator = iter(records)
    except TypeError:
        raise HarnessFailure(
            f"{call} records are not iterable ({type(records).__name__})", check="read.shape", table=table
        )
    return iterator, offset


def check_offset(offset: Any, table: str, ingestion_type: str | None, call: str = "read_table") -> None:
    if offset is None:
        if ingestion_type in INCREMENTAL:
            raise HarnessFailure(
                f"Offset is None but ingestion_type is {ingestion_type!r}: {call} must return a dict offset "
                "for incremental tables",
                check="read.offset",
                table=table,
            )
        return
    if not isinstance(offset, dict):
        raise HarnessFailure(
            f"Offset must be dict or None, got {type(offset).__name__}: {offset!r}",
            check="read.offset",
            table=table,
        )
    try:
        json.dumps(offset)
    except (TypeError, ValueError) as exc:
        raise HarnessFailure(
            f"Offset not JSON-serializable: {offset!r} ({exc})", check="read.offset", table=table
        )


def take(iterator: Iterator[Any], limit: int, table: str, call: str = "read_table") -> list[Any]:
    """Up to ``limit`` records; an exception from the iterator is the connector's."""
    try:
        return list(islice(iterator, limit))
    except Exception as exc:
        raise annotate(exc, f"[{table}] raised while iterating the records of {call}()")


def drain(iterator: Iterable[Any], table: str, call: str = "read_table") -> list[Any]:
    try:
        return list(iterator)
    except Exception as exc:
        raise annotate(exc, f"[{table}] raised while iterating the records of {call}()")


def check_records(
    records: list[Any],
    table: str,
    schema: StructType,
    metadata: dict[str, Any],
    *,
    call: str = "read_table",
    tombstones: bool = False,
) -> None:
    """Every record is a dict that fits the schema, non-nullable fields are set, keys present.

    ``tombstones``: deleted records, which may carry only their keys (and cursor): their values
    must still fit the schema and their keys be set, but other fields may be missing.
    """
    pks = list(metadata.get("primary_keys") or [])
    ingestion_type = metadata.get("ingestion_type")
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise HarnessFailure(
                f"Record #{position} is {type(record).__name__}, expected dict",
                check="read.record_type",
                table=table,
            )
        try:
            parse_record(record, schema, table)
        except ConversionError as exc:
            raise HarnessFailure(
                f"failed schema parsing: record #{position} of {call}: {exc}",
                check="read.schema_parse",
                table=table,
                details={
                    "record_index": position,
                    "field": exc.path,
                    "value": _jsonable(exc.value),
                    "spark_type": exc.data_type.simpleString() if exc.data_type is not None else None,
                    "record": _jsonable(record),
                },
                hint="the connector's schema and the raw value disagree: fix the schema, the connector's "
                "conversion, or the corpus value",
            )
        missing = [] if tombstones else non_nullable_nulls(record, schema)
        if missing:
            raise HarnessFailure(
                f"Non-nullable field(s) are None in record #{position}: {missing}",
                check="read.non_nullable",
                table=table,
                details={"fields": missing, "record": _jsonable(record)},
            )
        if (
            not tombstones
            and schema.fields
            and all(dotted_get(record, f.name) is None for f in schema.fields)
        ):
            raise HarnessFailure(
                f"All columns are null in record #{position} (keys: {sorted(record)[:10]})",
                check="read.all_null",
                table=table,
                details={"record": _jsonable(record)},
                hint="often a wrong wrapper.records_key in the spec, or the connector reading the wrong key",
            )
        if ingestion_type in ("cdc", "cdc_with_deletes"):
            null_keys = [pk for pk in pks if dotted_get(record, pk) is None]
            if null_keys:
                raise HarnessFailure(
                    f"Record #{position} has a null primary key {null_keys}",
                    check="read.null_primary_key",
                    table=table,
                    details={"fields": null_keys, "record": _jsonable(record)},
                )


def non_nullable_nulls(record: dict[str, Any], schema: StructType, prefix: str = "") -> list[str]:
    missing: list[str] = []
    for field in schema.fields:
        value = record.get(field.name) if isinstance(record, dict) else None
        path = f"{prefix}{field.name}"
        if value is None:
            if not field.nullable:
                missing.append(path)
            continue
        missing.extend(_nested_nulls(value, field.dataType, path))
    return missing


def _nested_nulls(value: Any, data_type: DataType, path: str) -> list[str]:
    if isinstance(data_type, StructType) and isinstance(value, dict):
        return non_nullable_nulls(value, data_type, prefix=f"{path}.")
    if isinstance(data_type, ArrayType) and isinstance(value, list):
        found: list[str] = []
        for i, item in enumerate(value):
            if item is None and not data_type.containsNull:
                found.append(f"{path}[{i}]")
            elif item is not None:
                found.extend(_nested_nulls(item, data_type.elementType, f"{path}[{i}]"))
        return found
    return []


def null_columns(records: list[dict[str, Any]], schema: StructType) -> list[str]:
    """Top-level columns that are null in every record."""
    return [
        f.name for f in schema.fields if all(r.get(f.name) is None for r in records if isinstance(r, dict))
    ]


def schema_field_names(schema: StructType) -> set[str]:
    names: set[str] = set()

    def walk(struct: StructType, prefix: str) -> None:
        for field in struct.fields:
            names.add(prefix + field.name)
            if isinstance(field.dataType, StructType):
                walk(field.dataType, prefix + field.name + ".")

    walk(schema, "")
    return names


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
