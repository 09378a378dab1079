"""``LakeflowConnectTests``: the reusable test suite every connector's tests subclass.

```python
class TestGithubConnector(LakeflowConnectTests):
    connector_class = GithubLakeflowConnect
    simulator_source = "github"
    replay_config = {"token": "stand-in"}
    sample_records = 5
```

Every check of the public community-connectors suite is here, made honest
(an unmodelled endpoint is not "raising for an invalid table"; metadata keys
must exist in the schema), plus a ground-truth check in simulate mode. Table
checks get **one pytest node per table** (``test_read_table[issues]``), so a
change to one table's corpus reruns only that table's nodes.

Failures raise :class:`~connector_watch.tests.harness.failures.HarnessFailure` with a ``check``
code and evidence; exceptions from the connector propagate unchanged (with a
note naming the table) so their traceback points at the connector's line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
import requests
from connector_watch.simulator import NoMatchingInteraction, UnknownEndpoint
from connector_watch.simulator import trace as simulator_trace
from connector_watch.simulator.values import dotted_get
from connector_watch.sources.interface import INGESTION_TYPES, LakeflowConnect, SupportsPartition
from connector_watch.tests.harness import observations
from connector_watch.tests.harness import settings as settings_module
from connector_watch.tests.harness.catalogue import catalogue_of, partitioned
from connector_watch.tests.harness.failures import HarnessFailure, annotate
from connector_watch.tests.harness.ground_truth import compare
from connector_watch.tests.harness.records import (
    INCREMENTAL,
    check_offset,
    check_records,
    drain,
    null_columns,
    schema_field_names,
    take,
    unpack_read,
)
from pyspark.sql.types import StructType

F = TypeVar("F", bound=Callable[..., Any])
INVALID_TABLE = "__nonexistent_table_$$_9z9z9z__"
#: Exceptions that do not show a connector rejecting an unknown table: the request never reached a
#: table check (simulator or HTTP errors) or the code is broken (programming errors).
NOT_A_TABLE_CHECK = (
    UnknownEndpoint,
    NoMatchingInteraction,
    requests.RequestException,
    AttributeError,
    TypeError,
    NameError,
    NotImplementedError,
    ImportError,
)


def for_tables(selection: str) -> Callable[[F], F]:
    """Run a test once per table of ``selection`` (see :mod:`connector_watch.tests.harness.catalogue`)."""

    def mark(func: F) -> F:
        func._cw_tables = selection  # type: ignore[attr-defined]
        return func

    return mark


def canonical(offset: Any) -> str:
    return json.dumps(offset, sort_keys=True, default=str)


class LakeflowConnectTests:
    """Base class of connector test classes. Set ``connector_class`` (and usually ``simulator_source``)."""

    connector_class: ClassVar[type | None] = None
    config: ClassVar[dict[str, Any] | None] = None
    table_configs: ClassVar[dict[str, dict[str, str]] | None] = None
    sample_records: ClassVar[int] = 200
    replay_config: ClassVar[dict[str, Any] | None] = None
    record_replay_ignore_query_params: ClassVar[list[str] | None] = None
    record_replay_sample_size: ClassVar[int] = 5
    record_replay_synthesize_count: ClassVar[int] = 0
    simulator_source: ClassVar[str | None] = None
    allow_empty_first_read: ClassVar[tuple[str, ...] | set[str] | list[str]] = ()
    allow_null_columns: ClassVar[dict[str, list[str]]] = {}
    read_termination_max_iterations: ClassVar[int] = 50
    max_microbatch_iterations: ClassVar[int] = 20
    #: Records read when checking column population and ground truth.
    ground_truth_max_records: ClassVar[int] = 100_000

    connector: ClassVar[Any]
    settings: ClassVar[settings_module.Settings]

    @classmethod
    def _replay_config(cls) -> dict[str, Any] | None:
        return cls.replay_config

    # ------------------------------------------------------------------ collection
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        selection = getattr(metafunc.function, "_cw_tables", None)
        if selection is None or "table" not in metafunc.fixturenames:
            return
        tables = catalogue_of(metafunc.cls).select(selection)
        if tables:
            metafunc.parametrize("table", tables, ids=tables)
        else:
            reason = (
                f"no {selection.replace('_', '-')} tables"
                if selection != "deletes"
                else "no cdc_with_deletes tables"
            )
            metafunc.parametrize(
                "table", [pytest.param(None, id="none", marks=pytest.mark.skip(reason=reason))]
            )

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def setup_class(cls) -> None:
        cls.settings = settings_module.resolve(cls)
        cls.config = cls.settings.config  # as the public suite sets them
        cls.table_configs = cls.settings.table_configs
        cls._simulator = cls.settings.simulator()
        cls._simulator.__enter__()
        try:
            cls.connector = cls.connector_class(cls.settings.config)  # type: ignore[misc]
        except BaseException:
            cls._simulator.__exit__(None, None, None)
            raise

    @classmethod
    def teardown_class(cls) -> None:
        simulator = cls.__dict__.get("_simulator")
        if simulator is not None:
            simulator.__exit__(None, None, None)
            del cls._simulator

    # ------------------------------------------------------------------ helpers
    def options(self, table: str) -> dict[str, str]:
        return self.settings.table_options(table)

    # The public suite's helper names, for test classes written against it.
    def _opts(self, table: str) -> dict[str, str]:
        return self.options(table)

    def _tables(self) -> list[str]:
        return list(self.connector.list_tables())

    @classmethod
    def _config_dir(cls) -> Path:
        return settings_module.test_file_of(cls).parent / "configs"

    def _is_partitioned(self, table: str) -> bool:
        return partitioned(self.connector, table)

    def _ingestion_type(self, table: str) -> str | None:
        return self.metadata(table).get("ingestion_type")

    def schema(self, table: str) -> StructType:
        try:
            schema = self.connector.get_table_schema(table, self.options(table))
        except Exception as exc:
            raise annotate(exc, f"[{table}] get_table_schema() raised")
        if not isinstance(schema, StructType):
            raise HarnessFailure(
                f"Expected StructType from get_table_schema, got {type(schema).__name__}",
                check="schema.type",
                table=table,
            )
        observations.record(type(self).__name__, self.simulator_source, table, schema=schema)
        return schema

    def metadata(self, table: str) -> dict[str, Any]:
        try:
            metadata = self.connector.read_table_metadata(table, self.options(table))
        except Exception as exc:
            raise annotate(exc, f"[{table}] read_table_metadata() raised")
        if not isinstance(metadata, dict):
            raise HarnessFailure(
                f"read_table_metadata returned {type(metadata).__name__}, expected dict",
                check="metadata.type",
                table=table,
            )
        observations.record(type(self).__name__, self.simulator_source, table, metadata=metadata)
        return metadata

    def read(
        self, table: str, offset: Any, call: str = "read_table", connector: Any = None
    ) -> tuple[Any, Any]:
        method = getattr(connector or self.connector, call)
        try:
            result = method(table, offset, self.options(table))
        except Exception as exc:
            if offset is None and isinstance(exc, (AttributeError, TypeError)):
                annotate(
                    exc,
                    "a first read gets start_offset=None (Spark batch reads pass None, streams {}): treat "
                    "both as 'from the beginning' (connector_watch.sources.interface.is_initial_offset)",
                )
            raise annotate(exc, f"[{table}] {call}(start_offset={offset!r}) raised")
        return unpack_read(result, table, call, offset)

    def read_until_settled(
        self, table: str, call: str = "read_table", connector: Any = None
    ) -> tuple[list[Any], list[Any]]:
        """Feed offsets back until one repeats; returns (records, offsets seen). ``connector``: another
        instance than the class's (the write-back tests read with fresh ones)."""
        ingestion_type = self.metadata(table).get("ingestion_type")
        offset: Any = None
        offsets: list[Any] = [offset]
        records: list[Any] = []
        for _ in range(self.read_termination_max_iterations):
            iterator, new_offset = self.read(table, offset, call, connector)
            batch = drain(iterator, table, call)
            records.extend(batch)
            check_offset(new_offset, table, ingestion_type, call)
            offsets.append(new_offset)
            if (
                new_offset is None
                or canonical(new_offset) == canonical(offset)
                or (not offset and not new_offset)
            ):
                return records, offsets
            if len(records) > self.ground_truth_max_records:
                return records, offsets
            offset = new_offset
        raise HarnessFailure(
            f"{call} did not converge in {self.read_termination_max_iterations} iterations "
            f"(last offset: {offsets[-1]!r})",
            check="read.terminates",
            table=table,
            details={"offsets": offsets[-5:], "records": len(records)},
            hint="cap incremental reads at the connector's start time and return the start offset once caught up",
        )

    def _require_simulated(self) -> None:
        if not self.settings.simulated:
            pytest.skip(f"needs the corpus ground truth (simulate mode); mode is {self.settings.mode.value}")

    # ------------------------------------------------------------------ class-level tests
    def test_partition_requires_lakeflow_connect(self) -> None:
        if not isinstance(self.connector, SupportsPartition):
            pytest.skip("connector does not implement SupportsPartition")
        if not isinstance(self.connector, LakeflowConnect):
            raise HarnessFailure(
                f"{type(self.connector).__name__} implements SupportsPartition but is not a LakeflowConnect",
                check="partition.requires_lakeflow_connect",
            )

    def test_list_tables(self) -> None:
        tables = self.connector.list_tables()
        if not isinstance(tables, list):
            raise HarnessFailure(
                f"list_tables returned {type(tables).__name__}, expected list", check="list_tables"
            )
        if not tables:
            raise HarnessFailure("list_tables returned an empty list", check="list_tables")
        bad = [t for t in tables if not isinstance(t, str) or not t]
        if bad:
            raise HarnessFailure(f"table names must be non-empty str: {bad!r}", check="list_tables")
        duplicates = sorted({t for t in tables if tables.count(t) > 1})
        if duplicates:
            raise HarnessFailure(f"Duplicate table names: {duplicates}", check="list_tables")

    def test_invalid_table_name(self) -> None:
        """Each of schema, metadata and read must reject an unknown table by itself."""
        failures = []
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("get_table_schema", lambda: self.connector.get_table_schema(INVALID_TABLE, {})),
            ("read_table_metadata", lambda: self.connector.read_table_metadata(INVALID_TABLE, {})),
            ("read_table", lambda: _exhaust(self.connector.read_table(INVALID_TABLE, {}, {}))),
        ]
        for name, call in calls:
            try:
                call()
            except NOT_A_TABLE_CHECK as exc:
                failures.append(
                    f"{name} raised {type(exc).__name__} ({_first_line(exc)}), which does not show it "
                    "checked the table name"
                )
            except Exception:
                continue
            else:
                failures.append(f"{name} did not raise for invalid table {INVALID_TABLE!r}")
        if failures:
            raise HarnessFailure(
                "; ".join(failures),
                check="invalid_table",
                hint="raise ValueError for a table list_tables() does not return",
            )

    # ------------------------------------------------------------------ per-table tests
    @for_tables("all")
    def test_get_table_schema(self, table: str) -> None:
        schema = self.schema(table)
        if not schema.fields:
            raise HarnessFailure("Schema has no fields", check="schema.empty", table=table)
        names = [f.name for f in schema.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise HarnessFailure(
                f"Duplicate field names: {duplicates}", check="schema.duplicates", table=table
            )
        if self.schema(table) != schema:
            raise HarnessFailure(
                "get_table_schema is non-deterministic across calls",
                check="schema.deterministic",
                table=table,
            )

    @for_tables("all")
    def test_read_table_metadata(self, table: str) -> None:
        metadata = self.metadata(table)
        if self.metadata(table) != metadata:
            raise HarnessFailure(
                "read_table_metadata is non-deterministic across calls",
                check="metadata.deterministic",
                table=table,
            )
        ingestion_type = metadata.get("ingestion_type")
        if ingestion_type not in INGESTION_TYPES:
            raise HarnessFailure(
                f"Invalid ingestion_type {ingestion_type!r}; expected one of {list(INGESTION_TYPES)}"
                if "ingestion_type" in metadata
                else "Missing 'ingestion_type'",
                check="metadata.ingestion_type",
                table=table,
            )
        pks = metadata.get("primary_keys")
        if ingestion_type != "append" and (not isinstance(pks, list) or not pks):
            raise HarnessFailure(
                f"Missing 'primary_keys': {ingestion_type} tables need a non-empty list",
                check="metadata.primary_keys",
                table=table,
            )
        if pks is not None and (not isinstance(pks, list) or not all(isinstance(p, str) for p in pks)):
            raise HarnessFailure(
                f"primary_keys must be a list of str, got {pks!r}", check="metadata.primary_keys", table=table
            )
        cursor = metadata.get("cursor_field")
        if ingestion_type in ("cdc", "cdc_with_deletes") and not isinstance(cursor, str):
            raise HarnessFailure(
                f"Missing 'cursor_field': {ingestion_type} tables need a str cursor_field",
                check="metadata.cursor_field",
                table=table,
            )
        fields = schema_field_names(self.schema(table))
        missing = [k for k in (pks or []) + ([cursor] if isinstance(cursor, str) else []) if k not in fields]
        if missing:
            raise HarnessFailure(
                f"metadata names field(s) not in schema: {missing}",
                check="metadata.not_in_schema",
                table=table,
                details={"missing": missing, "schema_fields": sorted(fields)},
            )

    @for_tables("non_partitioned")
    def test_read_table(self, table: str) -> None:
        metadata = self.metadata(table)
        schema = self.schema(table)
        iterator, offset = self.read(table, {})
        records = take(iterator, self.sample_records, table)
        check_offset(offset, table, metadata.get("ingestion_type"))
        if (
            not records
            and self.settings.simulated
            and metadata.get("ingestion_type") in INCREMENTAL
            and table not in self.allow_empty_first_read
        ):
            raise HarnessFailure(
                "read_table returned no records on the first call (start_offset={}) in simulate mode",
                check="read.empty_first_read",
                table=table,
                hint="compare the corpus dates with the connector's start window, the spec's records_key, "
                "and the connector's filters",
            )
        check_records(records, table, schema, metadata)

    @for_tables("deletes")
    def test_read_table_deletes(self, table: str) -> None:
        metadata = self.metadata(table)
        if metadata.get("ingestion_type") != "cdc_with_deletes":
            pytest.skip(f"{table} is {metadata.get('ingestion_type')}, not cdc_with_deletes")
        iterator, offset = self.read(table, {}, call="read_table_deletes")
        records = take(iterator, self.sample_records, table, "read_table_deletes")
        check_offset(offset, table, "cdc_with_deletes", "read_table_deletes")
        if not records and self.settings.simulated and table not in self.allow_empty_first_read:
            raise HarnessFailure(
                "read_table_deletes returned no records on the first call in simulate mode",
                check="deletes.empty_first_read",
                table=table,
            )
        pks = metadata.get("primary_keys") or []
        for position, record in enumerate(records):
            if not isinstance(record, dict):
                raise HarnessFailure(
                    f"Deleted record #{position} is {type(record).__name__}, expected dict",
                    check="deletes.record_type",
                    table=table,
                )
            missing = [pk for pk in pks if dotted_get(record, pk) is None]
            if missing:
                raise HarnessFailure(
                    f"Deleted record missing primary key {missing}: {record!r}",
                    check="deletes.primary_key",
                    table=table,
                )
        # What a deleted record does carry must fit the schema, as read_table's records do.
        check_records(
            records, table, self.schema(table), metadata, call="read_table_deletes", tombstones=True
        )

    @for_tables("non_partitioned")
    def test_read_terminates(self, table: str) -> None:
        self.read_until_settled(table)

    @for_tables("non_partitioned")
    def test_every_column_populated_by_at_least_one_record(self, table: str) -> None:
        self._require_simulated()
        self.check_columns_populated(table, self.read_until_settled(table)[0])

    def check_columns_populated(self, table: str, records: list[Any]) -> None:
        """Every top-level column is non-null in at least one record (``allow_null_columns`` exempts)."""
        schema = self.schema(table)
        records = [r for r in records if isinstance(r, dict)]
        if not records:
            pytest.skip(f"{table} returned no records to check")
        allowed = set(self.allow_null_columns.get(table, []))
        nulls = [c for c in null_columns(records, schema) if c not in allowed]
        if nulls:
            raise HarnessFailure(
                f"Columns null in every sampled record (checked {len(records)} record(s)): {nulls}",
                check="read.null_columns",
                table=table,
                details={"columns": nulls, "checked": len(records)},
                hint="add corpus values for these columns, fix the connector's field mapping, or list them in "
                "allow_null_columns",
            )

    @for_tables("non_partitioned")
    def test_read_matches_corpus(self, table: str) -> None:
        """Simulate mode: a full read returns each corpus record its requests reached, once."""
        self._require_simulated()
        self.check_against_corpus(table, lambda: self.read_until_settled(table)[0])

    def check_against_corpus(self, table: str, read: Callable[[], list[Any]]) -> None:
        """Run ``read`` under a trace capture and compare what it returned with the corpus."""
        metadata = self.metadata(table)
        with simulator_trace.capture() as trace:
            records = read()
        simulator = self._simulator
        corpus = (
            {name: simulator.corpus.get(name) for name in trace.corpus_tables_read}
            if simulator.corpus
            else {}
        )
        report = compare(
            table,
            records,
            trace,
            corpus,
            metadata.get("primary_keys") or [],
            metadata.get("ingestion_type"),
            simulator.future_indices,
        )
        if not report.ok:
            raise HarnessFailure(
                report.summary(), check="ground_truth", table=table, details=report.to_dict()
            )
        if report.inconclusive:
            pytest.skip(f"[{table}] ground truth {report.note}")


def _exhaust(result: Any) -> Any:
    if isinstance(result, tuple) and result:
        drain(result[0], INVALID_TABLE)
    return result


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


__all__ = ["LakeflowConnectTests", "for_tables"]
