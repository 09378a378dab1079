"""The connector interface.

A connector is a class that turns a REST API into tables. This module is the
contract between a connector and everything that drives it: the pytest harness,
the Spark data source and the connector-watch daemon.

It follows the public Lakeflow community-connectors interface, so a connector
written for that project ports by changing only its import lines::

    from connector_watch.sources.interface import LakeflowConnect, SupportsPartitionedStream

Offsets
-------
An offset is an opaque, JSON-serialisable ``dict`` chosen by the connector.
Callers feed the offset a read returned into the next read and stop once the
returned offset equals the one they passed in.

**The first read of a table may be called with ``None`` or with ``{}``.**
The public project is inconsistent about which one it passes (batch reads pass
``None``, streams pass ``{}``), so every caller here may pass either and every
connector must treat both as "start from the beginning". Use
:func:`is_initial_offset` rather than comparing against one of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from pyspark.sql.types import StructType

__all__ = [
    "INGESTION_TYPES",
    "LakeflowConnect",
    "SupportsPartition",
    "SupportsPartitionedStream",
    "is_initial_offset",
]

#: The ingestion types ``read_table_metadata`` may declare.
#:
#: ``snapshot``: every read returns the whole table.
#: ``cdc``: incremental upserts keyed by ``primary_keys``, ordered by ``cursor_field``.
#: ``cdc_with_deletes``: ``cdc`` plus :meth:`LakeflowConnect.read_table_deletes`.
#: ``append``: incremental, insert-only.
INGESTION_TYPES: tuple[str, ...] = ("snapshot", "cdc", "cdc_with_deletes", "append")


def is_initial_offset(offset: dict[str, Any] | None) -> bool:
    """True when ``offset`` means "no progress yet" (``None`` or ``{}``)."""
    return not offset


class LakeflowConnect(ABC):
    """Base class of every connector.

    ``options`` are the connection options (credentials, base URL, ...); at run
    time in Spark they also carry every ``.option()`` of the read.
    """

    def __init__(self, options: dict[str, str]) -> None:
        self.options = options

    @abstractmethod
    def list_tables(self) -> list[str]:
        """Names of the tables this connector can read."""

    @abstractmethod
    def get_table_schema(self, table_name: str, table_options: dict[str, str]) -> StructType:
        """The Spark schema of ``table_name``'s records."""

    @abstractmethod
    def read_table_metadata(self, table_name: str, table_options: dict[str, str]) -> dict:
        """``{"primary_keys": [...], "cursor_field": "...", "ingestion_type": "..."}``.

        ``primary_keys`` may be empty only for ``append`` tables; ``cursor_field``
        is required for ``cdc`` and ``cdc_with_deletes``. Both may be dotted paths
        into struct columns. ``ingestion_type`` is one of :data:`INGESTION_TYPES`.
        """

    @abstractmethod
    def read_table(
        self,
        table_name: str,
        start_offset: dict | None,
        table_options: dict[str, str],
    ) -> tuple[Iterator[dict], dict | None]:
        """Read one batch of raw JSON records starting at ``start_offset``.

        Returns ``(records, end_offset)``. The caller reads again from
        ``end_offset`` until a read returns the offset it was given. A
        ``snapshot`` table may return ``None`` as its offset. ``start_offset``
        is ``None`` or ``{}`` on the first call (see the module docstring).
        """

    def read_table_deletes(
        self,
        table_name: str,
        start_offset: dict | None,
        table_options: dict[str, str],
    ) -> tuple[Iterator[dict], dict | None]:
        """Deleted records of a ``cdc_with_deletes`` table, with the same offset
        protocol as :meth:`read_table`. Each record carries at least the primary
        keys and the cursor field."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement read_table_deletes "
            f"(required for cdc_with_deletes table {table_name!r})"
        )


class SupportsPartition(ABC):
    """Mixin for connectors that split a batch read into parallel partitions.

    Mix it in beside :class:`LakeflowConnect`. Partition descriptors are dicts of
    JSON primitives; ``read_partition`` runs on Spark executors.
    """

    @abstractmethod
    def get_partitions(self, table_name: str, table_options: dict[str, str]) -> Sequence[dict]:
        """Partition descriptors covering the whole table."""

    @abstractmethod
    def read_partition(
        self, table_name: str, partition: dict, table_options: dict[str, str]
    ) -> Iterator[dict]:
        """Raw records of one partition."""


class SupportsPartitionedStream(SupportsPartition):
    """Mixin for connectors whose incremental reads are partitioned too.

    A micro-batch is the range ``(start_offset, end_offset]``: the caller asks
    :meth:`latest_offset` for the end, then :meth:`get_partitions` for the
    partitions between the two and reads each with :meth:`read_partition`.
    """

    def is_partitioned(self, table_name: str) -> bool:
        """Whether ``table_name`` uses the partitioned reader (default: yes)."""
        return True

    @abstractmethod
    def latest_offset(
        self, table_name: str, table_options: dict[str, str], start_offset: dict | None = None
    ) -> dict:
        """The offset up to which data is available now, given ``start_offset``
        (``None`` or ``{}`` first). The connector owns batch sizing."""

    @abstractmethod
    def get_partitions(  # type: ignore[override]
        self,
        table_name: str,
        table_options: dict[str, str],
        start_offset: dict | None = None,
        end_offset: dict | None = None,
    ) -> Sequence[dict]:
        """Partitions of ``(start_offset, end_offset]``; both ``None`` means a
        whole-table batch read. Must be empty when ``start_offset == end_offset``."""
