"""The fallback PySpark data source for merged connector files (see :mod:`connector_watch.simulator.tools.merge_source`).

The merge tool appends ``sources/spark/readers.py`` (streams, partitions, deletes) when the
workspace has it; this small, self-contained template is used where it does not: a batch read
that drains every batch of one table. The merge tool replaces the ``LakeflowConnectImpl`` line
with the source's connector class and strips this module's imports from the repository (their
definitions are already in the merged file). ``merge_source --template`` picks another module
written the same way.

Reading a table::

    register_lakeflow_source(spark)
    spark.read.format("lakeflow_connect").option("tableName", "issues").options(**config).load()

Every option but ``tableName`` reaches the connector, both as a connection
option and as a table option (as in the public project).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from connector_watch.sources.interface import LakeflowConnect
from connector_watch.sources.parsing import parse_record
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructType

LakeflowConnectImpl = LakeflowConnect  # __LAKEFLOW_CONNECT_IMPL__

DATA_SOURCE_NAME = "lakeflow_connect"
TABLE_OPTION = "tablename"  # Spark lower-cases option names
MAX_BATCHES = 100_000


def _split_options(options: Any) -> tuple[str, dict[str, str]]:
    """``(table, every other option)``; the table comes from ``tableName`` (any case)."""
    values = {str(k): str(v) for k, v in dict(options).items()}
    table = None
    for key in list(values):
        if key.lower() == TABLE_OPTION:
            table = values.pop(key)
    if not table:
        raise ValueError(f"{DATA_SOURCE_NAME}: set the table to read with .option('tableName', '<table>')")
    return table, values


def read_all(
    connector: Any, table: str, table_options: dict[str, str], schema: StructType
) -> Iterator[tuple]:
    """Every record of ``table``: ``read_table`` from the initial offset until the offset settles."""
    offset: dict | None = None
    for _ in range(MAX_BATCHES):
        records, end = connector.read_table(table, offset, table_options)
        for record in records:
            yield tuple(parse_record(record, schema, table))
        if end is None or end == offset or (not end and not offset):
            return
        offset = end
    raise RuntimeError(f"{DATA_SOURCE_NAME}: {table} did not settle after {MAX_BATCHES} batches")


class LakeflowBatchReader(DataSourceReader):
    def __init__(self, options: dict[str, str], schema: StructType) -> None:
        self.options = options
        self.read_schema = schema

    def partitions(self) -> list[InputPartition]:
        return [InputPartition(0)]

    def read(self, partition: InputPartition) -> Iterator[tuple]:
        table, options = _split_options(self.options)
        connector = LakeflowConnectImpl(options)
        yield from read_all(connector, table, options, self.read_schema)


class LakeflowSource(DataSource):
    """``spark.read.format("lakeflow_connect")``: one table of the merged connector."""

    @classmethod
    def name(cls) -> str:
        return DATA_SOURCE_NAME

    def schema(self) -> StructType:
        table, options = _split_options(self.options)
        return LakeflowConnectImpl(options).get_table_schema(table, options)

    def reader(self, schema: StructType) -> LakeflowBatchReader:
        return LakeflowBatchReader(dict(self.options), schema)


def register_lakeflow_source(spark: Any) -> type[LakeflowSource]:
    """Register the data source with ``spark`` (and let Spark ship this file's classes by value)."""
    module = sys.modules.get(__name__)
    if module is not None and __name__ != "__main__":
        try:
            from pyspark import cloudpickle

            cloudpickle.register_pickle_by_value(module)
        except (ImportError, ValueError):  # pragma: no cover - older pyspark, or not a real module
            pass
    spark.dataSource.register(LakeflowSource)
    return LakeflowSource
