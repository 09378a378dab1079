"""Corpus lint: a corpus file checked against the connector's schema and metadata.

Pure. Finds duplicate primary keys, cursors that go backwards where the API
would serve them unsorted, cursors dated after now (clock-dependent data), and
values whose type does not fit the table's ``StructType``. Each finding points
at the record and key in the file.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.simulator.locations import PathKey, Span, cached_json_value_spans
from connector_watch.simulator.values import as_instant, dotted_get
from connector_watch.sources.parsing import ConversionError, parse_value
from pyspark.sql.types import StructType

MAX_FINDINGS = 50
MAX_TYPE_CHECKED = 20_000


@dataclass
class TableContext:
    """What is known about a connector table served from this corpus."""

    table: str
    schema: dict[str, Any] | None
    metadata: dict[str, Any] | None
    sorted_by_spec: bool = False


class _Locator:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._spans: tuple[dict[PathKey, Span], dict[PathKey, Span]] | None = None

    def at(self, key: PathKey, prefer: str = "value") -> Location:
        if self._spans is None:
            self._spans = cached_json_value_spans(self.text, 2)
        values, keys = self._spans
        primary, secondary = (values, keys) if prefer == "value" else (keys, values)
        probe = tuple(key)
        while probe:
            span = primary.get(probe) or secondary.get(probe)
            if span is not None:
                return Location(
                    self.path,
                    Range.from_one_based(span.start.line, span.start.column, span.end.line, span.end.column),
                )
            probe = probe[:-1]
        return Location(self.path, Range.lines(0))


def _key(record: dict[str, Any], fields: Sequence[str]) -> tuple[str, ...] | None:
    values = [dotted_get(record, f) for f in fields]
    if any(v is None for v in values):
        return None
    return tuple(json.dumps(v, sort_keys=True) for v in values)


def lint_corpus(
    path: str, text: str, records: Any, tables: Sequence[TableContext], now: float | None = None
) -> list[Diagnostic]:
    now = time.time() if now is None else now
    locate = _Locator(path, text)
    findings: list[Diagnostic] = []
    if not isinstance(records, list):
        return findings
    not_objects = [i for i, r in enumerate(records) if not isinstance(r, dict)]
    for i in not_objects[:5]:
        findings.append(
            Diagnostic(
                "corpus",
                f"record #{i} is a JSON {type(records[i]).__name__}, not an object",
                locate.at((i,)),
                0.9,
                code="corpus.not_object",
                source="static",
            )
        )
    for context in tables:
        metadata = context.metadata or {}
        pks = list(metadata.get("primary_keys") or [])
        if pks:
            findings.extend(_duplicate_keys(records, pks, context.table, locate))
        cursor = metadata.get("cursor_field")
        if cursor:
            findings.extend(_cursor_findings(records, cursor, context, locate, now))
        if context.schema:
            findings.extend(
                _type_findings(records, StructType.fromJson(context.schema), context.table, locate)
            )
    return _dedupe(findings)[:MAX_FINDINGS]


def _duplicate_keys(records: list[Any], pks: list[str], table: str, locate: _Locator) -> list[Diagnostic]:
    first: dict[tuple[str, ...], int] = {}
    findings = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        key = _key(record, pks)
        if key is None:
            continue
        if key in first:
            shown = [json.loads(k) for k in key]
            findings.append(
                Diagnostic(
                    "corpus",
                    f"duplicate primary key {pks}={shown if len(shown) > 1 else shown[0]!r} "
                    f"(table {table}): record #{i} repeats record #{first[key]}",
                    locate.at((i, pks[0].split(".")[0])),
                    0.9,
                    code="corpus.duplicate_key",
                    source="static",
                    related=[
                        Related(locate.at((first[key], pks[0].split(".")[0])), "first record with this key")
                    ],
                    fix="give every record a unique primary key",
                )
            )
        else:
            first[key] = i
    return findings


def _cursor_findings(
    records: list[Any], cursor: str, context: TableContext, locate: _Locator, now: float
) -> list[Diagnostic]:
    findings = []
    backwards: list[tuple[int, int, Any]] = []
    previous: tuple[int, Any] | None = None
    top = cursor.split(".")[0]
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        value = dotted_get(record, cursor)
        instant = as_instant(value) if not isinstance(value, bool) else None
        if instant is not None and instant / 1_000_000 > now + 60:
            findings.append(
                Diagnostic(
                    "environment",
                    f"cursor {cursor}={value!r} is in the future: the connector stops at the time it starts, "
                    "so this record breaks with the clock (clock-dependent data)",
                    locate.at((i, top)),
                    0.6,
                    severity="warning",
                    code="corpus.future_cursor",
                    source="static",
                    fix="date corpus records in the past",
                )
            )
        if context.sorted_by_spec or instant is None:
            previous = (i, instant) if instant is not None else previous
            continue
        if previous is not None and instant < previous[1]:
            backwards.append((i, previous[0], value))
        previous = (i, instant)
    if backwards:
        i, before, value = backwards[0]
        findings.append(
            Diagnostic(
                "corpus",
                f"cursor {cursor} goes backwards {len(backwards)} time(s) in file order (first at record #{i}: "
                f"{value!r} after record #{before}), and the endpoint serves records in file order",
                locate.at((i, top)),
                0.5,
                severity="warning",
                code="corpus.cursor_order",
                source="static",
                fix="order the records by cursor, or give the endpoint a default_sort",
            )
        )
    return findings


def _type_findings(records: list[Any], schema: StructType, table: str, locate: _Locator) -> list[Diagnostic]:
    findings = []
    fields = {f.name: f for f in schema.fields}
    kinds: dict[str, Counter[str]] = {}
    sample = [r for r in records[:MAX_TYPE_CHECKED] if isinstance(r, dict)]
    for record in sample:
        for name in fields:
            value = record.get(name)
            if value is not None:
                kinds.setdefault(name, Counter())[type(value).__name__] += 1
    # Only a value whose type differs from what most records hold can be a corpus typo; a type the
    # whole corpus agrees on is the connector's to convert (or the tests will say), so skip parsing it.
    majority = {name: counts.most_common(1)[0] for name, counts in kinds.items()}
    for i, record in enumerate(records[:MAX_TYPE_CHECKED]):
        if not isinstance(record, dict):
            continue
        for name, field in fields.items():
            value = record.get(name)
            if value is None or value == {}:
                continue  # APIs send {} for absent objects; connectors turn it into None
            common, count = majority.get(name, ("", 0))
            if type(value).__name__ == common or count < 2 or _fits(value, field.dataType):
                continue
            spark_type = field.dataType.simpleString()
            spark_type = spark_type if len(spark_type) <= 60 else spark_type[:57] + "..."
            shown = json.dumps(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            findings.append(
                Diagnostic(
                    "corpus",
                    f"{name}: {_JSON_KIND.get(type(value).__name__, type(value).__name__)} value {shown} does "
                    f"not fit the schema type {spark_type} (table {table}); {count} other record(s) hold "
                    f"{_a(common)}",
                    locate.at((i, name)),
                    0.8,
                    code="corpus.type_mismatch",
                    source="static",
                    fix=f"make {name} {_a(common)} like the other records",
                )
            )
            if len(findings) >= MAX_FINDINGS:
                return findings
    return findings


def _fits(value: Any, data_type: Any) -> bool:
    try:
        parse_value(value, data_type)
    except ConversionError:
        return False
    return True


def _dedupe(findings: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    result = []
    for finding in findings:
        key = finding.key()
        if key not in seen:
            seen.add(key)
            result.append(finding)
    return result


#: JSON's names for the Python types json.loads gives.
_JSON_KIND = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "dict": "object",
    "list": "array",
}


def _a(python_type: str) -> str:
    """``"int"`` → ``"an integer"``: a JSON kind with its article."""
    kind = _JSON_KIND.get(python_type, python_type)
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"
