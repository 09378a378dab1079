"""Re-seed a corpus from a recorded cassette (WORKFLOW.md, R3).

    python -m connector_watch.simulator.tools.cassette_to_corpus \\
        --cassette tests/unit/sources/github/cassettes/TestGithubConnector.json \\
        --spec simulator/specs/github/endpoints.yaml \\
        --output simulator/specs/github/corpus

Each successful JSON response whose request matches a spec endpoint gives
records for that endpoint's corpus table, found through the endpoint's
``wrapper.records_key`` (dotted, e.g. ``d.results``), or the body itself for a
bare list or a ``single_entity``. Records are **merged into the existing
corpus**: a record whose primary key is already there replaces it, a new one
is appended, and corpus records the cassette does not mention are kept. The
tool prints what changed per table (added, updated with the fields that
changed, unchanged, kept). ``--replace`` writes only the recorded records.

Primary keys come from ``--primary-key table=field[,field]``, else the source
connector's ``TABLE_METADATA`` (when the corpus table is a connector table),
else the first of ``id``, ``sha``, ``uuid``, ``node_id``, ``key``, another
``*id`` field (``CustomerID``), a nested ``*.id`` or ``name`` that is present and
unique in the data.

Token-endpoint responses are skipped (their credentials are redacted in the
cassette). A scrub stand-in (``***REDACTED***``, ``redacted-1@example.com``)
never replaces a real value the corpus already has, rows a write-back test
created (holding ``WRITE_BACK_MARKER``) are left out, and a detail endpoint's
body never replaces the list corpus it shares. Exit status: 0 when a table was written (or would be, with
``--dry-run``), 1 when the cassette held nothing to write, 2 on bad input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.simulator.cassette import Cassette
from connector_watch.simulator.cassette_records import Extraction, dedupe_exact, extract
from connector_watch.simulator.corpus import write_table
from connector_watch.simulator.scrub import is_scrubbed
from connector_watch.simulator.spec import load_spec
from connector_watch.simulator.values import dotted_get

PK_CANDIDATES = ("id", "sha", "uuid", "node_id", "key")


class ToolError(Exception):
    """Bad input: reported on stderr with exit status 2."""


@dataclass
class TableChange:
    table: str
    primary_keys: list[str]
    pk_origin: str
    single_entity: bool = False
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    removed: int = 0
    changed_fields: set[str] = field(default_factory=set)
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    records: Any = None  # what would be written

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        if self.single_entity:
            state = "updated" if self.updated else "unchanged"
            text = f"{self.table}.json: single entity {state}"
            if self.changed_fields:
                text += f" (fields changed: {', '.join(sorted(self.changed_fields))})"
            return text
        parts = [f"{self.added} added", f"{self.updated} updated"]
        if self.changed_fields:
            parts[-1] += f" (fields changed: {', '.join(sorted(self.changed_fields)[:12])})"
        parts.append(f"{self.unchanged} unchanged")
        if self.removed:
            parts.append(f"{self.removed} removed (--replace)")
        else:
            parts.append(f"{self.kept} kept from the corpus")
        key = "+".join(self.primary_keys) if self.primary_keys else "whole record"
        text = f"{self.table}.json: " + ", ".join(parts) + f" [primary key: {key}, {self.pk_origin}]"
        if self.duplicates:
            text += f"; {self.duplicates} repeated recording(s) of the same record merged"
        return text


# --------------------------------------------------------------------------- primary keys


def connector_primary_keys(source: str | None, table: str) -> list[str] | None:
    """``primary_keys`` of ``table`` in ``sources/<source>/<source>.py``'s ``TABLE_METADATA``."""
    if not source:
        return None
    try:
        module = importlib.import_module(f"sources.{source}.{source}")
    except Exception:
        return None
    metadata = getattr(module, "TABLE_METADATA", None)
    if isinstance(metadata, dict) and isinstance(metadata.get(table), dict):
        keys = metadata[table].get("primary_keys")
        if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            return keys
    return None


def _unique(records: list[Any], path: str) -> bool:
    values = [dotted_get(r, path) for r in records]
    if not values or any(v is None or isinstance(v, (dict, list)) for v in values):
        return False
    return len({json.dumps(v, sort_keys=True) for v in values}) == len(values)


def infer_primary_keys(existing: list[Any], fresh: list[Any]) -> list[str] | None:
    """The first id-like field present and unique in the corpus (or, without one, the new records)."""
    sample = [r for r in existing if isinstance(r, dict)] or dedupe_exact(fresh)
    if not sample:
        return None
    candidates = list(PK_CANDIDATES)
    first = sample[0]
    candidates += [k for k in first if k.lower().endswith("id") and k not in candidates]  # CustomerID, userId
    candidates += [f"{k}.id" for k, v in first.items() if isinstance(v, dict) and "id" in v]
    candidates += [k for k in first if k.lower() == "name"]
    for candidate in candidates:
        if _unique(sample, candidate) and all(dotted_get(r, candidate) is not None for r in fresh):
            return [candidate]
    return None


def _pk_value(record: Any, keys: list[str]) -> str:
    if not keys:
        return json.dumps(record, sort_keys=True)
    return json.dumps([dotted_get(record, k) for k in keys], sort_keys=True, default=str)


def _changed_fields(old: Any, new: Any, prefix: str = "") -> set[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: set[str] = set()
        for key in set(old) | set(new):
            path = f"{prefix}{key}"
            if key not in old or key not in new:
                out.add(path)
            elif old[key] != new[key]:
                sub = _changed_fields(old[key], new[key], path + ".")
                out |= sub or {path}
        return out
    return {prefix.rstrip(".")} if old != new else set()


# --------------------------------------------------------------------------- merging


def keep_real_values(old: Any, new: Any) -> Any:
    """``new``, except where the recording holds a scrub stand-in (``***REDACTED***``,
    ``redacted-1@example.com``) for a value the corpus already has: that value stays."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {key: keep_real_values(old[key], value) if key in old else value for key, value in new.items()}
    if is_scrubbed(new) and old is not None and not is_scrubbed(old):
        return old
    return new


def merge_table(
    table: str,
    existing: Any,
    fresh: list[Any],
    primary_keys: list[str] | None,
    pk_origin: str,
    *,
    replace: bool = False,
) -> TableChange:
    keys = primary_keys or []
    change = TableChange(table, keys, pk_origin if keys else "no unique key found: whole records compared")
    latest: OrderedDict[str, Any] = OrderedDict()
    for record in fresh:
        value = _pk_value(record, keys)
        if value in latest:
            change.duplicates += 1
        latest[value] = record  # the last recording of a record wins
    base = [] if replace or not isinstance(existing, list) else list(existing)
    if replace and isinstance(existing, list):
        fresh_keys = set(latest)
        change.removed = sum(1 for r in existing if _pk_value(r, keys) not in fresh_keys)
    merged: list[Any] = []
    used: set[str] = set()
    for record in base:
        value = _pk_value(record, keys)
        if value in latest and value not in used:
            new = keep_real_values(record, latest[value])
            used.add(value)
            if new == record:
                change.unchanged += 1
            else:
                change.updated += 1
                change.changed_fields |= _changed_fields(record, new)
            merged.append(new)
        else:
            change.kept += 1
            merged.append(record)
    old_by_key = {_pk_value(r, keys): r for r in existing} if replace and isinstance(existing, list) else {}
    for value, record in latest.items():
        if value in used:
            continue
        if value in old_by_key:
            record = keep_real_values(old_by_key[value], record)
            if old_by_key[value] == record:
                change.unchanged += 1
            else:
                change.updated += 1
                change.changed_fields |= _changed_fields(old_by_key[value], record)
        else:
            change.added += 1
        merged.append(record)
    change.records = merged
    return change


def merge_entity(table: str, existing: Any, fresh: Any) -> TableChange:
    change = TableChange(table, [], "single entity", single_entity=True)
    fresh = keep_real_values(existing, fresh)
    if existing == fresh:
        change.unchanged = 1
    else:
        change.updated = 1
        change.changed_fields = _changed_fields(existing, fresh) if existing is not None else {"(new)"}
    change.records = fresh
    return change


def reseed(
    cassette_path: str | Path,
    spec_path: str | Path,
    output: str | Path,
    *,
    primary_keys: dict[str, list[str]] | None = None,
    source: str | None = None,
    replace: bool = False,
    dry_run: bool = False,
) -> tuple[list[TableChange], Extraction]:
    """Merge the cassette's records into the corpus at ``output``; returns what changed."""
    cassette_path, spec_path, output = Path(cassette_path), Path(spec_path), Path(output)
    if not cassette_path.is_file():
        raise ToolError(f"cassette not found: {cassette_path}")
    if not spec_path.is_file():
        raise ToolError(f"spec not found: {spec_path}")
    try:
        cassette = Cassette.load(cassette_path)
    except (ValueError, KeyError) as exc:
        raise ToolError(f"cannot read cassette {cassette_path}: {exc}")
    spec = load_spec(spec_path, output, check_files=False)
    source = source or cassette.source or spec_path.parent.name
    extraction = extract(cassette, spec)
    changes: list[TableChange] = []
    for table, fresh in extraction.tables.items():
        path = output / f"{table}.json"
        existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        keys, origin = None, ""
        if primary_keys and table in primary_keys:
            keys, origin = primary_keys[table], "from --primary-key"
        if keys is None:
            keys = connector_primary_keys(source, table)
            origin = f"from sources/{source} TABLE_METADATA" if keys else ""
        if keys is None:
            keys = infer_primary_keys(existing if isinstance(existing, list) else [], fresh)
            origin = "inferred: present and unique in the data" if keys else ""
        change = merge_table(table, existing, fresh, keys, origin, replace=replace)
        changes.append(change)
    for table, entity in extraction.entities.items():
        path = output / f"{table}.json"
        existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        changes.append(merge_entity(table, existing, entity))
    if not dry_run:
        for change in changes:
            if change.changed:
                write_table(output / f"{change.table}.json", change.records)
    return changes, extraction


def _parse_primary_keys(values: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for value in values:
        table, sep, fields = value.partition("=")
        if not sep or not table or not fields:
            raise ToolError(f"--primary-key expects table=field[,field], got {value!r}")
        result[table] = [f.strip() for f in fields.split(",") if f.strip()]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connector_watch.simulator.tools.cassette_to_corpus",
        description="Merge the records of a recorded cassette into a corpus.",
    )
    parser.add_argument(
        "--cassette",
        required=True,
        type=Path,
        help="the cassette (tests/unit/sources/<name>/cassettes/<TestClass>.json)",
    )
    parser.add_argument("--spec", required=True, type=Path, help="the source's endpoints.yaml")
    parser.add_argument("--output", required=True, type=Path, help="the corpus directory to merge into")
    parser.add_argument("--primary-key", action="append", default=[], metavar="TABLE=FIELD[,FIELD]")
    parser.add_argument("--source", help="the source name (default: the cassette's)")
    parser.add_argument(
        "--replace", action="store_true", help="write only the recorded records (drop the others)"
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    args = parser.parse_args(argv)
    try:
        changes, extraction = reseed(
            args.cassette,
            args.spec,
            args.output,
            primary_keys=_parse_primary_keys(args.primary_key),
            source=args.source,
            replace=args.replace,
            dry_run=args.dry_run,
        )
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a spec that does not load
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "would write" if args.dry_run else "wrote"
    for change in changes:
        state = verb if change.changed else "no change to"
        print(f"{state} {args.output / change.table}.json — {change.summary()}")
    for note in extraction.notes:
        print(f"note: {note}")
    for reason, count in sorted(extraction.skipped.items()):
        print(f"skipped {count} interaction(s): {reason}")
    if not changes:
        print("nothing to write: no recorded response matched a spec endpoint with a corpus", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
