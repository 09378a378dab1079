"""``LakeflowConnectWriteTestUtils``: how a connector's write-back tests create and delete source rows.

Write-back is not part of the connector interface: a test class that wants the
write-then-read checks sets ``test_utils_class`` to a subclass of this, whose
methods write to the live source (or its local stand-in server).

Put :data:`WRITE_BACK_MARKER` in a text field of every row you create (a title,
a name): re-seeding a corpus from a recording then leaves those rows out.
"""

from __future__ import annotations

from typing import Any

from connector_watch.simulator.cassette_records import WRITE_BACK_MARKER

__all__ = ["WRITE_BACK_MARKER", "LakeflowConnectWriteTestUtils"]


class LakeflowConnectWriteTestUtils:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def list_insertable_tables(self) -> list[str]:
        """Tables rows can be written to."""
        return []

    def list_deletable_tables(self) -> list[str]:
        """Tables rows can be deleted from (all of them cdc_with_deletes)."""
        return []

    def generate_rows_and_write(
        self, table_name: str, count: int
    ) -> tuple[bool, list[dict[str, Any]], dict[str, str]]:
        """Write ``count`` new rows; returns ``(ok, rows written, column map)``.

        The column map maps a write-side field to the read-side field (dotted
        paths allowed) so the test can find the written row in a later read.
        """
        return False, [], {}

    def delete_rows(self, table_name: str, count: int) -> tuple[bool, list[dict[str, Any]], dict[str, str]]:
        """Delete ``count`` rows; returns ``(ok, rows deleted, column map)``."""
        return False, [], {}
