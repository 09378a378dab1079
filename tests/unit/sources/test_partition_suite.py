"""Partition mixins: ``SupportsPartitionTests`` and ``SupportsPartitionedStreamTests``.

Use beside the base suite::

    class TestGithubConnector(LakeflowConnectTests, SupportsPartitionedStreamTests): ...

Each check runs once per partitioned table (a table is partitioned when the
connector is ``SupportsPartitionedStream`` and ``is_partitioned(table)``, or
plain ``SupportsPartition``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from connector_watch.sources.interface import SupportsPartition, SupportsPartitionedStream
from connector_watch.tests.harness.failures import HarnessFailure, annotate
from connector_watch.tests.harness.records import check_records, drain
from connector_watch.tests.unit.sources.test_suite import canonical, for_tables


class SupportsPartitionTests:
    """Checks for ``SupportsPartition``: partitions cover the table and read back as valid records."""

    def _partitions(self, table: str, *args: Any) -> list[dict[str, Any]]:
        try:
            partitions = self.connector.get_partitions(table, self.options(table), *args)  # type: ignore[attr-defined]
        except Exception as exc:
            raise annotate(exc, f"[{table}] get_partitions() raised")
        if partitions is None:
            raise HarnessFailure("get_partitions returned None", check="partition.none", table=table)
        return list(partitions)

    def _read_partition(self, table: str, partition: dict[str, Any]) -> list[Any]:
        try:
            records = self.connector.read_partition(table, partition, self.options(table))  # type: ignore[attr-defined]
        except Exception as exc:
            raise annotate(exc, f"[{table}] read_partition({partition!r}) raised")
        return drain(records, table, "read_partition")

    def _read_all_partitions(self, table: str) -> list[Any]:
        records: list[Any] = []
        for partition in self._partitions(table):
            records.extend(self._read_partition(table, partition))
        return records

    def _require_partition_support(self) -> None:
        if not isinstance(self.connector, SupportsPartition):  # type: ignore[attr-defined]
            pytest.skip("connector does not implement SupportsPartition")

    @for_tables("partitioned")
    def test_get_partitions(self, table: str) -> None:
        self._require_partition_support()
        partitions = self._partitions(table)
        if not partitions:
            raise HarnessFailure(
                "get_partitions returned empty sequence", check="partition.empty", table=table
            )
        bad = [p for p in partitions if not isinstance(p, dict)]
        if bad:
            raise HarnessFailure(
                f"partition descriptors must be dicts: {bad[:3]!r}", check="partition.type", table=table
            )

    @for_tables("partitioned")
    def test_get_partitions_stable(self, table: str) -> None:
        self._require_partition_support()
        first, second = self._partitions(table), self._partitions(table)
        if canonical(first) != canonical(second):
            raise HarnessFailure(
                "get_partitions is non-deterministic",
                check="partition.stable",
                table=table,
                details={"first": first[:5], "second": second[:5]},
            )

    @for_tables("partitioned")
    def test_partition_descriptors_serializable(self, table: str) -> None:
        self._require_partition_support()
        for partition in self._partitions(table):
            try:
                json.dumps(partition)
            except (TypeError, ValueError) as exc:
                raise HarnessFailure(
                    f"partition {partition!r} is not JSON-serializable: {exc}",
                    check="partition.serializable",
                    table=table,
                )

    @for_tables("partitioned")
    def test_read_partition(self, table: str) -> None:
        self._require_partition_support()
        records = self._read_all_partitions(table)
        if not records:
            raise HarnessFailure(
                "All partitions produced zero records", check="partition.no_records", table=table
            )
        check_records(
            records[: self.sample_records],
            table,
            self.schema(table),
            self.metadata(table),  # type: ignore[attr-defined]
            call="read_partition",
        )

    @for_tables("partitioned")
    def test_every_column_populated_by_at_least_one_partition_record(self, table: str) -> None:
        self._require_partition_support()
        self._require_simulated()  # type: ignore[attr-defined]
        self.check_columns_populated(table, self._read_all_partitions(table))  # type: ignore[attr-defined]

    @for_tables("partitioned")
    def test_partitions_match_corpus(self, table: str) -> None:
        """Simulate mode: reading every partition returns each corpus record its requests reached, once."""
        self._require_partition_support()
        self._require_simulated()  # type: ignore[attr-defined]
        self.check_against_corpus(table, lambda: self._read_all_partitions(table))  # type: ignore[attr-defined]


class SupportsPartitionedStreamTests(SupportsPartitionTests):
    """Adds the micro-batch protocol: latest_offset, partitions between offsets, convergence."""

    def _require_stream_support(self) -> None:
        if not isinstance(self.connector, SupportsPartitionedStream):  # type: ignore[attr-defined]
            pytest.skip("connector does not implement SupportsPartitionedStream")

    def _latest(self, table: str, start: Any) -> dict[str, Any]:
        try:
            offset = self.connector.latest_offset(table, self.options(table), start)  # type: ignore[attr-defined]
        except Exception as exc:
            raise annotate(exc, f"[{table}] latest_offset(start_offset={start!r}) raised")
        if not isinstance(offset, dict):
            raise HarnessFailure(
                f"latest_offset returned {type(offset).__name__}, expected dict",
                check="stream.latest_offset",
                table=table,
            )
        try:
            json.dumps(offset)
        except (TypeError, ValueError) as exc:
            raise HarnessFailure(
                f"latest_offset {offset!r} is not JSON-serializable: {exc}",
                check="stream.latest_offset",
                table=table,
            )
        return offset

    @for_tables("partitioned")
    def test_is_partitioned(self, table: str) -> None:
        self._require_stream_support()
        value = self.connector.is_partitioned(table)  # type: ignore[attr-defined]
        if not isinstance(value, bool):
            raise HarnessFailure(
                f"is_partitioned returned {value!r}, expected bool",
                check="stream.is_partitioned",
                table=table,
            )

    @for_tables("partitioned")
    def test_latest_offset(self, table: str) -> None:
        self._require_stream_support()
        if not self._latest(table, {}):
            raise HarnessFailure(
                "latest_offset returned empty dict", check="stream.latest_offset", table=table
            )

    @for_tables("partitioned")
    def test_latest_offset_with_start(self, table: str) -> None:
        self._require_stream_support()
        first = self._latest(table, {})
        self._latest(table, first)

    @for_tables("partitioned")
    def test_microbatch_offset_convergence(self, table: str) -> None:
        self._require_stream_support()
        start: dict[str, Any] = {}
        limit = self.max_microbatch_iterations  # type: ignore[attr-defined]
        for _ in range(limit):
            end = self._latest(table, start)
            for partition in self._partitions(table, start, end):
                self._read_partition(table, partition)
            if canonical(end) == canonical(start):
                return
            start = end
        raise HarnessFailure(
            f"Offset did not converge after {limit} micro-batches (last: {start!r})",
            check="stream.convergence",
            table=table,
        )

    @for_tables("partitioned")
    def test_get_partitions_with_offsets(self, table: str) -> None:
        self._require_stream_support()
        end = self._latest(table, {})
        partitions = self._partitions(table, None, end)
        bad = [p for p in partitions if not isinstance(p, dict)]
        if bad:
            raise HarnessFailure(
                f"partition descriptors must be dicts: {bad[:3]!r}", check="partition.type", table=table
            )

    @for_tables("partitioned")
    def test_equal_offsets_empty_partitions(self, table: str) -> None:
        self._require_stream_support()
        end = self._latest(table, {})
        partitions = self._partitions(table, end, end)
        if partitions:
            raise HarnessFailure(
                f"Expected 0 partitions when start==end, got {len(partitions)}",
                check="stream.equal_offsets",
                table=table,
            )

    @for_tables("partitioned")
    def test_partitioned_stream_round_trip(self, table: str) -> None:
        self._require_stream_support()
        end = self._latest(table, {})
        records: list[Any] = []
        for partition in self._partitions(table, {}, end):
            records.extend(self._read_partition(table, partition))
        check_records(
            records[: self.sample_records],
            table,
            self.schema(table),
            self.metadata(table),  # type: ignore[attr-defined]
            call="read_partition",
        )
