"""Every connector as a PySpark Python Data Source, format ``lakeflow_connect``.

```python
from connector_watch.sources.spark import spark_session

spark = spark_session()                      # registers the data source
df = (spark.read.format("lakeflow_connect")
      .option("source", "github").option("tableName", "issues")
      .option("owner", "octo-org").option("repos", "alpha,beta")   # connector options
      .option("simulatorMode", "simulate")                         # offline: spec + corpus
      .load())
```

Options (Spark lower-cases option names; any case works):

``source``             source name: the connector is the ``LakeflowConnect`` class of
                       ``sources.<source>.<source>``.
``connector``          instead of ``source``: ``"package.module:Class"``.
``tableName``          the table; or a virtual table: ``_community_tables`` (every table),
                       ``_community_table_metadata`` (with ``tableNameList``, a JSON list, and
                       optional ``tableConfigs``, a JSON object of table options per table),
                       ``_community_namespaces`` (empty: no connector here has namespaces).
``isDeleteFlow``       ``true``: read ``read_table_deletes`` (``cdc_with_deletes`` tables).
``simulatorMode``      ``simulate`` | ``replay`` | ``hybrid`` | ``off`` (default): answer the
                       connector's HTTP calls inside every Spark process (see :mod:`.runtime`).
``simulatorSource``    the spec to serve (default: ``source``).
``simulatorSpecsDir``  directory holding ``<source>/endpoints.yaml`` (default: the workspace of
                       ``$CONNECTOR_WATCH_WORKSPACE``, else the specs shipped in the package).
``simulatorCassette``  cassette for ``replay``/``hybrid``.
``simulatorTraceDir``  each process writes its simulator trace here (ground truth for checks).
``maxBatches``         cap on the reads of one batch drain (default 100000).

Every other option goes to the connector, both as a connection option and as a
table option.

Readers:

- **batch**: a partitioned table (``SupportsPartition``; for ``SupportsPartitionedStream``
  when ``is_partitioned(table)``) becomes one Spark partition per descriptor, read on the
  executors. Any other table is read in one task that **drains every batch**: it feeds
  each returned offset back into ``read_table`` until the offset stops changing (the
  public wiring read only the first batch).
- **streaming**: ``SupportsPartitionedStream`` tables use the partitioned stream reader
  (``latest_offset`` → ``get_partitions(start, end)`` → ``read_partition``); others the
  simple stream reader (one ``read_table`` per micro-batch from the last offset). Both
  support ``Trigger.AvailableNow``; a snapshot table streams its snapshot once.
- **deletes**: ``isDeleteFlow=true`` reads ``read_table_deletes`` in either mode.

The readers live in :mod:`connector_watch.sources.spark.readers` (with ``problems``,
``read_options`` and ``arrow``, free of the simulator, so a merged single-file connector can use
them too); this module adds what needs the
repository: the connector found by source name, and the simulator in every Spark
process (:mod:`connector_watch.sources.spark.runtime`). Records become rows through
:func:`connector_watch.sources.parsing.parse_record`, the one JSON→Spark conversion of the project. A value that does not fit raises an error naming the
table, the field, the value, the Spark type and the record, plus a
``CONNECTOR_WATCH_PROBLEM`` line holding the same facts as JSON.
"""

from __future__ import annotations

from typing import Any

from connector_watch.sources.spark import runtime
from connector_watch.sources.spark.read_options import FORMAT
from connector_watch.sources.spark.readers import (
    METADATA_TABLE,
    NAMESPACES_TABLE,
    TABLES_TABLE,
    VIRTUAL_TABLES,
    LakeflowBatchReader,
    LakeflowPartitionedStreamReader,
    LakeflowSource,
    LakeflowStreamReader,
    ReadContext,
)


class SimulatedContext(ReadContext):
    """The connector of ``source`` (or ``connector``), with the simulator the options ask for."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        runtime.simulator_mode(self.options)  # reject a bad mode at planning time

    def connector_class(self) -> type:
        return runtime.connector_class(self.options)

    def active(self, **facts: Any) -> Any:
        return runtime.activated(self.options, table=self.table, **facts)


class LakeflowDataSource(LakeflowSource):
    """The ``lakeflow_connect`` format: any connector of this project (see the module docstring)."""

    context_class = SimulatedContext


def register(spark: Any) -> None:
    """Register the ``lakeflow_connect`` format on ``spark``."""
    spark.dataSource.register(LakeflowDataSource)


__all__ = [
    "FORMAT",
    "METADATA_TABLE",
    "NAMESPACES_TABLE",
    "TABLES_TABLE",
    "VIRTUAL_TABLES",
    "LakeflowBatchReader",
    "LakeflowDataSource",
    "LakeflowPartitionedStreamReader",
    "LakeflowStreamReader",
    "SimulatedContext",
    "register",
]
