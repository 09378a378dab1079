"""Bootstrap a corpus from a connector's Spark schemas: one ``<table>.json`` per table.

```python
from connector_watch.simulator.tools.corpus_from_schema import write_corpus_from_schemas
write_corpus_from_schemas(connector, Path("simulator/specs/github/corpus"), records_per_table=5)
```
or from a shell::

    python -m connector_watch.simulator.tools.corpus_from_schema --connector sources.github.github:GithubLakeflowConnect \\
        --config '{"owner": "octo-org", "token": "x"}' --output simulator/specs/github/corpus --records 5

The records are synthetic but valid: every value parses as its Spark type
(``connector_watch.sources.parsing.parse_record``), including dates, binary (base64),
decimals (as text) and nested structs, maps and arrays; non-nullable fields are
always set. Primary keys are unique whatever their type. Cursors are strictly
increasing and end an hour or two before now, so a connector reading from its
default start date gets every record on its first read and none lies in the
future. A cursor typed as a number is epoch time: milliseconds for a ``long``
(unless its name says seconds), seconds for an ``int``.

An existing corpus file is never overwritten (it may be hand-edited) unless
``force=True`` / ``--force``; nothing is written when any file would be.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import json
import random
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector_watch.simulator.corpus import write_table
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

__all__ = [
    "CorpusExistsError",
    "generate_records",
    "main",
    "write_corpus",
    "write_corpus_from_schemas",
]

_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]
_MAX_DEPTH = 6
#: Random values of the integral types, and what each can hold (for distinct keys).
_INT_RANGES = {ByteType: (0, 127), ShortType: (0, 32_767), IntegerType: (1, 2_000_000), LongType: (1, 10**9)}
_INT_LIMITS = {ByteType: 127, ShortType: 32_767, IntegerType: 2**31 - 1, LongType: 2**63 - 1}
#: Names of numeric moments by unit (``updated_ms``, ``lastModifiedMillis``; ``end_time_sec``, ``created_unix``).
_MS_NAME = re.compile(r"(?:^ms|_ms|[a-z0-9]Ms|[Mm]illis|[Mm]illiseconds)$")
_SECONDS_NAME = re.compile(r"(?:[Ss]ec|[Ss]ecs|[Ss]econds|_s|[Uu]nix)$")
#: Integer fields that hold a moment (``createdAt``, ``timestamp``, ``end_time``...): epoch values, not counts.
_TIME_NAME = re.compile(
    r"(?:_at|[a-z0-9]At|[Tt]ime|[Ss]tamp|[Dd]ate|[Cc]reated|[Uu]pdated|[Mm]odified)$|"
    + _MS_NAME.pattern
    + "|"
    + _SECONDS_NAME.pattern
)


class CorpusExistsError(FileExistsError):
    """Corpus files already exist and ``force`` was not given."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        names = ", ".join(str(p) for p in self.paths)
        what = (
            "corpus files already exist (they may be hand-edited)"
            if len(self.paths) > 1
            else "corpus file already exists (it may be hand-edited)"
        )
        super().__init__(
            f"{what}: {names}\n"
            "  Fix: pass force=True (--force on the command line) to overwrite, or choose another output directory."
        )


# --------------------------------------------------------------------------- entry points


def write_corpus(
    schemas: Mapping[str, StructType],
    output_dir: str | Path,
    *,
    records_per_table: int = 5,
    cursor_fields: Mapping[str, str | None] | None = None,
    primary_keys: Mapping[str, Sequence[str]] | None = None,
    seed: int = 42,
    force: bool = False,
    now: datetime | None = None,
) -> list[Path]:
    """Write ``<output_dir>/<table>.json`` for each ``{table: StructType}``; return the paths.

    Needs no connector instance. Raises :class:`CorpusExistsError` (naming every
    file) before writing anything when a file exists and ``force`` is false.
    """
    if records_per_table < 1:
        raise ValueError(f"records_per_table must be at least 1, got {records_per_table}")
    output_dir = Path(output_dir)
    cursor_fields = dict(cursor_fields or {})
    primary_keys = dict(primary_keys or {})
    targets = {table: output_dir / f"{table}.json" for table in schemas}
    existing = [path for path in targets.values() if path.exists()]
    if existing and not force:
        raise CorpusExistsError(existing)
    tables = {
        table: generate_records(
            schema,
            count=records_per_table,
            cursor_field=cursor_fields.get(table),
            primary_key_fields=primary_keys.get(table) or (),
            seed=seed + _table_seed(table),
            now=now,
        )
        for table, schema in schemas.items()
    }
    written = []
    for table, records in tables.items():
        write_table(targets[table], records)
        written.append(targets[table])
        print(f"  wrote {targets[table]}  ({len(records)} record{'s' if len(records) != 1 else ''})")
    return written


def write_corpus_from_schemas(
    connector: Any,
    output_dir: str | Path,
    *,
    records_per_table: int = 5,
    table_options: Mapping[str, Mapping[str, str]] | None = None,
    cursor_field_overrides: Mapping[str, str] | None = None,
    primary_key_overrides: Mapping[str, Sequence[str]] | None = None,
    seed: int = 42,
    force: bool = False,
    now: datetime | None = None,
) -> list[Path]:
    """One corpus file per table ``connector.list_tables()`` names.

    Schemas come from ``get_table_schema`` (a table whose schema needs options
    it was not given is skipped, with a note); cursor field and primary keys
    from ``read_table_metadata`` unless overridden.
    """
    table_options = table_options or {}
    cursor_field_overrides = cursor_field_overrides or {}
    primary_key_overrides = primary_key_overrides or {}
    schemas: dict[str, StructType] = {}
    cursors: dict[str, str | None] = {}
    keys: dict[str, Sequence[str]] = {}
    for table in connector.list_tables():
        options = dict(table_options.get(table, {}))
        try:
            schema = connector.get_table_schema(table, options)
        except Exception as exc:  # offline and without real options this is best effort
            print(f"  skip {table}: get_table_schema raised {type(exc).__name__}: {exc}")
            continue
        metadata: Mapping[str, Any] = {}
        if table not in cursor_field_overrides or table not in primary_key_overrides:
            try:
                metadata = connector.read_table_metadata(table, options) or {}
            except Exception as exc:
                print(f"  note {table}: read_table_metadata raised {type(exc).__name__}: {exc}")
        schemas[table] = schema
        cursors[table] = cursor_field_overrides.get(table, metadata.get("cursor_field"))
        keys[table] = primary_key_overrides.get(table, metadata.get("primary_keys") or ())
    return write_corpus(
        schemas,
        output_dir,
        records_per_table=records_per_table,
        cursor_fields=cursors,
        primary_keys=keys,
        seed=seed,
        force=force,
        now=now,
    )


def generate_records(
    schema: StructType,
    *,
    count: int,
    cursor_field: str | None = None,
    primary_key_fields: Sequence[str] = (),
    seed: int = 0,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``count`` records of ``schema``: unique primary keys, a strictly increasing cursor ending before now."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    anchor = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    keys = [k for k in primary_key_fields if k != cursor_field]
    pinned = {*keys, *([cursor_field] if cursor_field else [])}
    records = []
    for i in range(count):
        generator = _Generator(random.Random(seed * 1_000_003 + i), anchor, nulls=i > 0, pinned=pinned)
        record = generator.struct(schema, "", 0)
        if cursor_field:
            data_type = _field_type(schema, cursor_field, "cursor_field")
            _set(record, schema, cursor_field, _cursor(data_type, cursor_field, i, count, anchor))
        for key in keys:
            data_type = _field_type(schema, key, "primary key")
            _set(record, schema, key, _unique(data_type, key, i, count, anchor))
        records.append(record)
    return records


# --------------------------------------------------------------------------- values


class _Generator:
    def __init__(self, rng: random.Random, anchor: datetime, *, nulls: bool, pinned: set[str]) -> None:
        self.rng = rng
        self.anchor = anchor
        self.nulls = nulls  # the first record of a table populates every field
        self.pinned = pinned

    def struct(self, schema: StructType, prefix: str, depth: int) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for field in schema.fields:
            path = f"{prefix}{field.name}"
            on_key_path = any(p == path or p.startswith(path + ".") for p in self.pinned)
            if field.nullable and not on_key_path and (depth >= _MAX_DEPTH or self._skip()):
                record[field.name] = None
                continue
            record[field.name] = self.value(field.dataType, field.name, f"{path}.", depth + 1)
        return record

    def _skip(self) -> bool:
        return self.nulls and self.rng.random() < 0.1

    def value(self, data_type: DataType, name: str, prefix: str = "", depth: int = 0) -> Any:
        rng = self.rng
        if isinstance(data_type, StructType):
            return self.struct(data_type, prefix, depth) if data_type.fields else None
        if isinstance(data_type, ArrayType):
            return [
                self.value(data_type.elementType, name, prefix, depth + 1) for _ in range(rng.randint(1, 2))
            ]
        if isinstance(data_type, MapType):
            entries = {}
            for i in range(rng.randint(1, 2)):
                key = self.value(data_type.keyType, f"key_{i}", prefix, depth + 1)
                entries[_key_text(key, i)] = self.value(data_type.valueType, name, prefix, depth + 1)
            return entries
        if isinstance(data_type, BooleanType):
            return rng.random() < 0.5
        if isinstance(data_type, (IntegerType, LongType)) and _TIME_NAME.search(name):
            return _epoch(data_type, name, self.anchor - timedelta(seconds=rng.randint(0, 30 * 86_400)))
        if isinstance(data_type, tuple(_INT_RANGES)):
            low, high = _INT_RANGES[type(data_type)]
            return rng.randint(low, high)
        if isinstance(data_type, (FloatType, DoubleType)):
            return round(rng.uniform(0, 1000), 2)
        if isinstance(data_type, DecimalType):
            return _decimal_text(data_type, rng.randrange(10**18), rng.randrange(10**18))
        if isinstance(data_type, DateType):
            return (self.anchor.date() - timedelta(days=rng.randint(1, 365))).isoformat()
        if isinstance(data_type, (TimestampType, TimestampNTZType)):
            moment = self.anchor - timedelta(seconds=rng.randint(0, 30 * 86_400))
            return _iso(moment, naive=isinstance(data_type, TimestampNTZType))
        if isinstance(data_type, BinaryType):
            return base64.b64encode(rng.randbytes(rng.randint(4, 12))).decode()
        if isinstance(data_type, StringType):
            return _text(rng, name)
        if type(data_type).__name__ == "VariantType":
            return {"kind": rng.choice(_WORDS), "value": rng.randint(1, 100)}
        return None  # NullType, intervals, ...: nothing sensible to invent


def _text(rng: random.Random, name: str) -> str:
    word, number = rng.choice(_WORDS), rng.randint(100, 999)
    lowered = name.lower()
    if "email" in lowered or lowered.endswith("mail"):
        return f"{word}.{number}@example.com"
    if lowered.endswith("url") or lowered == "href":
        return f"https://example.com/{word}/{number}"
    return f"{word}-{number}"


def _decimal_text(data_type: DecimalType, whole: int, fraction: int) -> str:
    digits = max(0, min(data_type.precision - data_type.scale, 6))
    integer = whole % (10**digits) if digits else 0
    if data_type.scale == 0:
        return str(integer)
    return f"{integer}.{fraction % 10**data_type.scale:0{data_type.scale}d}"


def _key_text(key: Any, i: int) -> str:
    if key is None:
        return f"key_{i}"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (dict, list)):
        return json.dumps(key, sort_keys=True)
    return str(key)


def _iso(moment: datetime, *, naive: bool = False) -> str:
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text if naive else text + "Z"


# --------------------------------------------------------------------------- keys and cursors


def _cursor(data_type: DataType, name: str, i: int, count: int, anchor: datetime) -> Any:
    """Record ``i``'s cursor: strictly increasing in ``i``; the last is ``anchor`` (before now)."""
    leaf = name.rsplit(".", 1)[-1]
    moment = anchor - timedelta(hours=count - 1 - i)
    if isinstance(data_type, DateType):
        return (anchor.date() - timedelta(days=count - i)).isoformat()
    if isinstance(data_type, (ByteType, ShortType)):
        return i + 1  # too small for epoch time: a sequence still orders the records
    if isinstance(data_type, (IntegerType, LongType)):
        return _epoch(data_type, leaf, moment)
    if isinstance(data_type, (FloatType, DoubleType)):
        return moment.timestamp() * (1000 if _MS_NAME.search(leaf) else 1)
    if isinstance(data_type, DecimalType):
        return str(int(moment.timestamp()))
    if isinstance(data_type, TimestampNTZType):
        return _iso(moment, naive=True)
    return _iso(moment)  # timestamps, strings and anything else: ISO-8601 UTC


def _epoch(data_type: DataType, name: str, moment: datetime) -> int:
    """Epoch time for an integer field: seconds in an ``int``; in a ``long``, milliseconds unless
    the name says seconds (``..._sec``, ``..._unix``)."""
    seconds = int(moment.timestamp())
    if isinstance(data_type, LongType) and (_MS_NAME.search(name) or not _SECONDS_NAME.search(name)):
        return seconds * 1000
    return seconds


def _unique(data_type: DataType, name: str, i: int, count: int, anchor: datetime) -> Any:
    """Record ``i``'s value for a primary key: distinct for every ``i`` below ``count``."""
    leaf = name.rsplit(".", 1)[-1]
    if isinstance(data_type, tuple(_INT_LIMITS)):
        high = _INT_LIMITS[type(data_type)]
        start = 1001 if high >= 1000 + count else 1
        if start + count - 1 > high:
            raise ValueError(
                f"primary key {name!r} ({data_type.simpleString()}) cannot hold {count} distinct values"
            )
        return start + i
    if isinstance(data_type, BooleanType):
        if count > 2:
            raise ValueError(f"primary key {name!r} is a boolean: at most 2 distinct values, {count} asked")
        return i == 0
    if isinstance(data_type, (FloatType, DoubleType)):
        return 1000.5 + i
    if isinstance(data_type, DecimalType):
        if data_type.precision - data_type.scale < len(str(count)):
            raise ValueError(
                f"primary key {name!r} ({data_type.simpleString()}) cannot hold {count} distinct values"
            )
        return str(Decimal(i + 1))
    if isinstance(data_type, DateType):
        return (date(2000, 1, 1) + timedelta(days=i)).isoformat()
    if isinstance(data_type, (TimestampType, TimestampNTZType)):
        moment = datetime.combine(date(2000, 1, 1), time(), timezone.utc) + timedelta(minutes=i)
        return _iso(moment, naive=isinstance(data_type, TimestampNTZType))
    if isinstance(data_type, BinaryType):
        return base64.b64encode(f"{leaf}-{i + 1}".encode()).decode()
    if isinstance(data_type, StringType):
        return f"{leaf}-{i + 1:04d}"
    raise ValueError(f"primary key {name!r} has type {data_type.simpleString()}, which cannot be made unique")


def _field_type(schema: StructType, path: str, what: str) -> DataType:
    current: DataType = schema
    for part in path.split("."):
        if not isinstance(current, StructType) or part not in current.fieldNames():
            raise ValueError(
                f"{what} {path!r} is not a field of the schema (fields: {', '.join(schema.fieldNames())})"
            )
        current = current[part].dataType
    return current


def _set(record: dict[str, Any], schema: StructType, path: str, value: Any) -> None:
    """Set a dotted field, creating the structs on the way (their other fields stay as generated or null)."""
    parts = path.split(".")
    current, current_type = record, schema
    for part in parts[:-1]:
        current_type = current_type[part].dataType
        if not isinstance(current.get(part), dict):
            current[part] = {name: None for name in current_type.fieldNames()}
        current = current[part]
    current[parts[-1]] = value


def _table_seed(table: str) -> int:
    return int.from_bytes(hashlib.sha256(table.encode()).digest()[:4], "big")


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connector_watch.simulator.tools.corpus_from_schema",
        description="Write a synthetic corpus (<table>.json per table) from a connector's Spark schemas.",
    )
    parser.add_argument("--connector", required=True, help="the connector class, as module.path:ClassName")
    parser.add_argument(
        "--config",
        default="{}",
        help="connector options: a JSON object, or @file.json (stand-in credentials are enough)",
    )
    parser.add_argument("--output", required=True, type=Path, help="the corpus directory to write")
    parser.add_argument("--records", type=int, default=5, help="records per table (default 5)")
    parser.add_argument("--table-options", default="{}", help="per-table options: a JSON object of objects")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--force", action="store_true", help="overwrite existing corpus files")
    return parser


def _json_object(parser: argparse.ArgumentParser, flag: str, text: str) -> dict[str, Any]:
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            parser.error(f"{flag}: cannot read {text[1:]}: {exc.strerror or exc}")
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        parser.error(
            f"{flag} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {source!r}"
        )
    if not isinstance(value, dict):
        parser.error(f"{flag} must be a JSON object, got {type(value).__name__}")
    return value


def _connector_class(parser: argparse.ArgumentParser, target: str) -> type:
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        parser.error(f"--connector must be module.path:ClassName, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        parser.error(f"--connector: cannot import {module_name!r}: {type(exc).__name__}: {exc}")
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        classes = sorted(
            n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module_name
        )
        parser.error(
            f"--connector: {module_name} has no class {class_name!r} (classes: {', '.join(classes) or 'none'})"
        )
    return cls


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error(f"--records must be at least 1, got {args.records}")
    config = _json_object(parser, "--config", args.config)
    table_options = _json_object(parser, "--table-options", args.table_options)
    cls = _connector_class(parser, args.connector)
    try:
        connector = cls({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    except Exception as exc:
        print(f"error: {args.connector}({args.config}) raised {type(exc).__name__}: {exc}", file=sys.stderr)
        print(
            "  Fix: pass the options the connector requires with --config (stand-in values will do).",
            file=sys.stderr,
        )
        return 2
    try:
        written = write_corpus_from_schemas(
            connector,
            args.output,
            records_per_table=args.records,
            table_options=table_options,
            seed=args.seed,
            force=args.force,
        )
    except (CorpusExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not written:
        print("error: no table could be generated (every get_table_schema call failed)", file=sys.stderr)
        return 1
    print(f"{len(written)} corpus file{'s' if len(written) != 1 else ''} written to {args.output}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess in the tests
    sys.exit(main())
