"""``LakeflowConnectWriteBackTests``: write to the live source, then read the write back.

Live mode only (``CONNECTOR_TEST_MODE=record`` or ``live``; the two are the
same). List it before ``LakeflowConnectTests``::

    class TestExample(LakeflowConnectWriteBackTests, LakeflowConnectTests):
        test_utils_class = ExampleTestUtils
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from connector_watch.simulator.values import dotted_get
from connector_watch.tests.harness.failures import HarnessFailure


class LakeflowConnectWriteBackTests:
    test_utils_class: ClassVar[type | None] = None

    @classmethod
    def setup_class(cls) -> None:
        super().setup_class()  # type: ignore[misc]
        cls.test_utils = None
        if cls.test_utils_class is not None and cls.settings.live:  # type: ignore[attr-defined]
            try:
                cls.test_utils = cls.test_utils_class(cls.settings.config)  # type: ignore[attr-defined]
            except BaseException:
                super().teardown_class()  # type: ignore[misc]
                raise

    def _require_live(self) -> Any:
        if not self.settings.live:  # type: ignore[attr-defined]
            pytest.skip(f"write-back runs against the live source only (mode is {self.settings.mode.value})")  # type: ignore[attr-defined]
        if self.test_utils is None:
            pytest.skip("no test_utils_class configured")
        return self.test_utils

    def _fresh_connector(self) -> Any:
        return type(self.connector)(self.settings.config)  # type: ignore[attr-defined]

    def _read_all(self, connector: Any, table: str, call: str = "read_table") -> list[Any]:
        return self.read_until_settled(table, call, connector)[0]  # type: ignore[attr-defined]

    def test_list_insertable_tables(self) -> None:
        utils = self._require_live()
        tables = set(self.connector.list_tables())  # type: ignore[attr-defined]
        unknown = [t for t in utils.list_insertable_tables() if t not in tables]
        if unknown:
            raise HarnessFailure(
                f"insertable tables not in list_tables(): {unknown}", check="write_back.tables"
            )

    def test_list_deletable_tables(self) -> None:
        utils = self._require_live()
        for table in utils.list_deletable_tables():
            kind = self.metadata(table).get("ingestion_type")  # type: ignore[attr-defined]
            if kind != "cdc_with_deletes":
                raise HarnessFailure(
                    f"deletable table {table!r} is {kind}, not cdc_with_deletes",
                    check="write_back.tables",
                    table=table,
                )

    def test_write_to_source(self) -> None:
        utils = self._require_live()
        for table in utils.list_insertable_tables():
            ok, rows, column_map = utils.generate_rows_and_write(table, 1)
            if not ok or len(rows) != 1 or not column_map:
                raise HarnessFailure(
                    f"Write returned success={ok}, {len(rows)} row(s), column map {column_map!r}",
                    check="write_back.write",
                    table=table,
                )

    def test_incremental_after_write(self) -> None:
        utils = self._require_live()
        for table in utils.list_insertable_tables():
            metadata = self.metadata(table)  # type: ignore[attr-defined]
            before = self._read_all(self._fresh_connector(), table)
            ok, rows, column_map = utils.generate_rows_and_write(table, 1)
            if not ok:
                raise HarnessFailure("Write returned success=False", check="write_back.write", table=table)
            after = self._read_all(self._fresh_connector(), table)
            if metadata.get("ingestion_type") == "snapshot" and len(after) < len(before) + 1:
                raise HarnessFailure(
                    f"Expected >= {len(before) + 1} records after the write, got {len(after)}",
                    check="write_back.incremental",
                    table=table,
                )
            if not after:
                raise HarnessFailure(
                    "Expected >= 1 record after the write, got 0", check="write_back.incremental", table=table
                )
            written = rows[0]
            if not any(_matches(record, written, column_map) for record in after):
                raise HarnessFailure(
                    f"Written row not found in the read back: {written!r}",
                    check="write_back.not_found",
                    table=table,
                    details={"written": written, "column_map": column_map},
                )

    def test_delete_and_read_deletes(self) -> None:
        utils = self._require_live()
        for table in utils.list_deletable_tables():
            ok, rows, column_map = utils.delete_rows(table, 1)
            if not ok or not rows:
                raise HarnessFailure("Delete returned success=False", check="write_back.delete", table=table)
            deleted = self._read_all(self._fresh_connector(), table, call="read_table_deletes")
            if not any(_matches(record, rows[0], column_map) for record in deleted):
                raise HarnessFailure(
                    f"Deleted row not found in read_table_deletes: {rows[0]!r}",
                    check="write_back.delete_not_found",
                    table=table,
                )


def _matches(record: Any, written: dict[str, Any], column_map: dict[str, str]) -> bool:
    """The read record carries every mapped value of the written row (and there is one to compare)."""
    if not column_map:
        return False
    for write_field, read_field in column_map.items():
        read_value, written_value = dotted_get(record, read_field), dotted_get(written, write_field)
        if read_value is None or written_value is None or str(read_value) != str(written_value):
            return False
    return True
