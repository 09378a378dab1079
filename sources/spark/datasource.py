"""Every connector as a PySpark Python Data Source, format ``lakeflow_connect``.

```python
from sources.spark import spark_session

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

Records become rows through :func:`sources.parsing.parse_record`, the one JSON→Spark
conversion of the project. A value that does not fit raises an error naming the
table, the field, the value, the Spark type and the record, plus a
``CONNECTOR_WATCH_PROBLEM`` line holding the same facts as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pyspark.errors import PySparkNotImplementedError
from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceStreamReader,
    InputPartition,
    SimpleDataSourceStreamReader,
)
from pyspark.sql.streaming.datasource import ReadAllAvailable, SupportsTriggerAvailableNow
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from sources.parsing import ConversionError, parse_record
from sources.spark import runtime
from sources.spark.runtime import ConnectorProblem, DataSourceOptionError

FORMAT = "lakeflow_connect"
METADATA_TABLE = "_community_table_metadata"
NAMESPACES_TABLE = "_community_namespaces"
TABLES_TABLE = "_community_tables"
VIRTUAL_TABLES = (METADATA_TABLE, NAMESPACES_TABLE, TABLES_TABLE)
SNAPSHOT_DONE = {"connector_watch_snapshot": "read"}

METADATA_SCHEMA = StructType(
    [
        StructField("tableName", StringType(), False),
        StructField("primary_keys", ArrayType(StringType()), True),
        StructField("cursor_field", StringType(), True),
        StructField("ingestion_type", StringType(), True),
    ]
)
TABLES_SCHEMA = StructType(
    [StructField("namespace", ArrayType(StringType()), True), StructField("tableName", StringType(), False)]
)
NAMESPACES_SCHEMA = StructType([StructField("namespace", ArrayType(StringType()), True)])


# ---------------------------------------------------------------------------- shared state


class _Context:
    """The read's options plus a connector built lazily in whichever process needs it.

    Pickled from the planner to the executors without the connector (a fresh one is
    built there, inside the simulator when one is asked for).
    """

    def __init__(self, options: Any) -> None:
        self.options = runtime.lower_options(dict(options))
        self.table = self.options.get(runtime.OPT_TABLE, "")
        self.delete_flow = self.options.get(runtime.OPT_DELETE_FLOW, "").strip().lower() == "true"
        self.table_options = runtime.connector_options(self.options)
        self.label = f"{self.options.get(runtime.OPT_SOURCE) or self.options.get(runtime.OPT_CONNECTOR) or 'connector'}.{self.table}"
        raw_max = self.options.get(runtime.OPT_MAX_BATCHES)
        self.max_batches = int(raw_max) if raw_max else runtime.DEFAULT_MAX_BATCHES
        self._connector: Any = None
        self._metadata: dict[str, Any] | None = None
        runtime.simulator_mode(self.options)  # reject a bad mode at planning time

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_connector"] = None
        return state

    def connector(self) -> Any:
        """The connector (call inside :meth:`active` when a simulator is asked for)."""
        if self._connector is None:
            cls = runtime.connector_class(self.options)
            try:
                self._connector = cls(runtime.connector_options(self.options))
            except Exception as exc:
                raise ConnectorProblem(
                    f"[{self.label}] {cls.__name__}(options) raised {type(exc).__name__}: {exc}",
                    runtime.failure_problem(exc, self.table or None, "__init__"),
                ) from exc
        return self._connector

    def active(self, **extra: Any) -> Any:
        return runtime.activated(self.options, table=self.table, **extra)

    def call(self, name: str, func: Callable[..., Any], *args: Any) -> Any:
        """Run connector code; anything it raises comes back with a problem marker."""
        try:
            return func(*args)
        except (ConnectorProblem, DataSourceOptionError):
            raise
        except Exception as exc:
            raise ConnectorProblem(
                f"[{self.label}] {name}() raised {type(exc).__name__}: {exc}",
                runtime.failure_problem(exc, self.table or None, name),
            ) from exc

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            connector = self.connector()
            value = self.call(
                "read_table_metadata", connector.read_table_metadata, self.table, self.table_options
            )
            self._metadata = value if isinstance(value, dict) else {}
        return self._metadata

    def require_table(self) -> str:
        if not self.table:
            raise DataSourceOptionError(
                f"option 'tableName' is required (a table of the connector, or one of {list(VIRTUAL_TABLES)})"
            )
        return self.table

    # ------------------------------------------------------------------ conversion
    def rows(
        self, records: Any, schema: StructType, call: str, batch: int | None = None, offset: Any = None
    ) -> Iterator[Any]:
        """Each raw record of ``records`` as a Row of ``schema``."""
        iterator = self.call(call, iter, records)
        position = 0
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                raise ConnectorProblem(
                    f"[{self.label}] iterating the records of {call}() raised {type(exc).__name__}: {exc}",
                    runtime.failure_problem(exc, self.table, call),
                ) from exc
            yield self.convert(record, schema, call, position, batch, offset)
            position += 1

    def convert(
        self, record: Any, schema: StructType, call: str, position: int, batch: int | None, offset: Any
    ) -> Any:
        try:
            return parse_record(record, schema, self.table)
        except ConversionError as exc:
            raise self._conversion_problem(exc, record, call, position, batch, offset) from None

    def _conversion_problem(
        self, exc: ConversionError, record: Any, call: str, position: int, batch: int | None, offset: Any
    ) -> ConnectorProblem:
        keys: dict[str, Any] = {}
        try:
            from simulator.values import dotted_get

            for pk in self.metadata().get("primary_keys") or []:
                keys[pk] = dotted_get(record, pk) if isinstance(record, dict) else None
        except Exception:  # the error being reported matters more than its keys
            keys = {}
        spark_type = exc.data_type.simpleString() if exc.data_type is not None else None
        where = f"record #{position}" + (f" of batch {batch}" if batch is not None else "") + f" of {call}()"
        shown_record = runtime.shown_record(record, (exc.path, *keys))
        headline = f"[{self.label}] cannot convert field '{exc.path}' = {_short(exc.value)} to {spark_type}: {exc.reason}"
        message = (
            f"{headline}\n  {where}"
            + (f" (start offset {runtime.canonical(offset)})" if offset is not None else "")
            + f": {json.dumps(shown_record, default=str, ensure_ascii=False)}"
        )
        problem = {
            "kind": "conversion",
            "table": self.table,
            "message": headline,
            "field": exc.path,
            "value": _jsonable(exc.value),
            "sparkType": spark_type,
            "reason": exc.reason,
            "record": shown_record,
            "keys": keys,
            "call": call,
            "position": position,
            "batch": batch,
        }
        return ConnectorProblem(message, problem)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _offset_settled(offset: Any, new_offset: Any) -> bool:
    return (
        new_offset is None
        or runtime.canonical(new_offset) == runtime.canonical(offset)
        or (not offset and not new_offset)
    )


# ---------------------------------------------------------------------------- batch


class LakeflowBatchReader(DataSourceReader):
    """Batch reads: the connector's partitions, or one task that drains every batch."""

    def __init__(self, context: _Context, schema: StructType) -> None:
        self.context = context
        self.schema = schema

    def partitions(self) -> Sequence[InputPartition]:
        ctx = self.context
        if ctx.table in VIRTUAL_TABLES or ctx.delete_flow:
            return [InputPartition({"kind": "drain"})]
        with ctx.active(phase="partitions"):
            connector = ctx.connector()
            if not ctx.call("is_partitioned", runtime.is_partitioned, connector, ctx.table):
                return [InputPartition({"kind": "drain"})]
            descriptors = ctx.call("get_partitions", connector.get_partitions, ctx.table, ctx.table_options)
        descriptors = list(descriptors or [])
        if not descriptors:
            return [InputPartition({"kind": "empty"})]
        return [InputPartition({"kind": "partition", "descriptor": json.dumps(d)}) for d in descriptors]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        ctx = self.context
        kind = partition.value.get("kind") if isinstance(partition.value, dict) else "drain"
        if kind == "empty":
            return
        with ctx.active(phase="read", kind=kind):
            if ctx.table in VIRTUAL_TABLES:
                yield from _virtual_rows(ctx)
                return
            connector = ctx.connector()
            if kind == "partition":
                descriptor = json.loads(partition.value["descriptor"])
                records = ctx.call(
                    "read_partition", connector.read_partition, ctx.table, descriptor, ctx.table_options
                )
                yield from ctx.rows(records, self.schema, "read_partition")
                return
            yield from drain(ctx, self.schema)


def drain(ctx: _Context, schema: StructType) -> Iterator[Any]:
    """Read batch after batch, feeding each offset back, until the offset settles."""
    call = "read_table_deletes" if ctx.delete_flow else "read_table"
    connector = ctx.connector()
    method = getattr(connector, call)
    offset: Any = None
    for batch in range(ctx.max_batches):
        result = ctx.call(call, method, ctx.table, offset, ctx.table_options)
        records, new_offset = _unpack(ctx, result, call)
        yield from ctx.rows(records, schema, call, batch, offset)
        if _offset_settled(offset, new_offset):
            return
        offset = new_offset
    raise ConnectorProblem(
        f"[{ctx.label}] {call} did not settle in {ctx.max_batches} batches (last offset "
        f"{runtime.canonical(offset)}): cap reads at the connector's start time and return the "
        "offset it was given once caught up (or raise option maxBatches)",
        {"kind": "error", "table": ctx.table, "call": call, "exception": "DidNotSettle", "offset": offset},
    )


def _unpack(ctx: _Context, result: Any, call: str) -> tuple[Any, Any]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ConnectorProblem(
            f"[{ctx.label}] {call} returned {type(result).__name__}, expected (records, offset)",
            {"kind": "error", "table": ctx.table, "call": call, "exception": "BadReturn"},
        )
    records, offset = result
    if offset is not None and not isinstance(offset, dict):
        raise ConnectorProblem(
            f"[{ctx.label}] {call} returned offset {offset!r} ({type(offset).__name__}); expected a dict or None",
            {"kind": "error", "table": ctx.table, "call": call, "exception": "BadOffset"},
        )
    return records, offset


def _virtual_rows(ctx: _Context) -> Iterator[tuple[Any, ...]]:
    connector = ctx.connector()
    if ctx.table == TABLES_TABLE:
        for name in sorted(ctx.call("list_tables", connector.list_tables)):
            yield ([], name)
    elif ctx.table == METADATA_TABLE:
        names = _json_option(ctx, runtime.OPT_TABLE_NAME_LIST, list) or []
        configs = _json_option(ctx, runtime.OPT_TABLE_CONFIGS, dict) or {}
        for name in names:
            metadata = ctx.call(
                "read_table_metadata", connector.read_table_metadata, name, dict(configs.get(name) or {})
            )
            yield (
                name,
                list(metadata.get("primary_keys") or []),
                metadata.get("cursor_field"),
                metadata.get("ingestion_type"),
            )
    # _community_namespaces: no connector here implements namespaces, so no rows.


def _json_option(ctx: _Context, key: str, kind: type) -> Any:
    raw = ctx.options.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise DataSourceOptionError(f"option {key!r} must be JSON ({kind.__name__}); got {raw!r}: {exc}")
    if not isinstance(value, kind):
        raise DataSourceOptionError(f"option {key!r} must be a JSON {kind.__name__}; got {value!r}")
    return value


# ---------------------------------------------------------------------------- streaming


class LakeflowStreamReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """One ``read_table`` (or ``read_table_deletes``) per micro-batch, from the last offset.

    Records are read and converted in the streaming source's process (that is the
    simple reader's contract), so the micro-batch can be replayed from Spark's cache.
    A snapshot table (its offset never moves) is read once: ``{}`` → ``SNAPSHOT_DONE``.
    """

    def __init__(self, context: _Context, schema: StructType) -> None:
        self.context = context
        self.schema = schema

    def initialOffset(self) -> dict:
        return {}

    def read(self, start: dict) -> tuple[Iterator[Any], dict]:
        ctx = self.context
        if start == SNAPSHOT_DONE:
            return iter([]), start
        call = "read_table_deletes" if ctx.delete_flow else "read_table"
        with ctx.active(phase="stream"):
            connector = ctx.connector()
            result = ctx.call(call, getattr(connector, call), ctx.table, start, ctx.table_options)
            records, end = _unpack(ctx, result, call)
            rows = list(ctx.rows(records, self.schema, call, None, start))
        if end is None or runtime.canonical(end) == runtime.canonical(start):
            if rows and not start:
                return iter(rows), dict(SNAPSHOT_DONE)
            if rows:
                raise ConnectorProblem(
                    f"[{ctx.label}] {call}(start_offset={runtime.canonical(start)}) returned {len(rows)} "
                    "record(s) but the same offset: a stream would read them forever",
                    {"kind": "error", "table": ctx.table, "call": call, "exception": "OffsetDidNotAdvance"},
                )
            return iter([]), start
        return iter(rows), end

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[Any]:
        # Spark replays an uncommitted micro-batch after a restart: read it again from start.
        rows, _ = self.read(start)
        return rows

    def prepareForTriggerAvailableNow(self) -> None:
        # Connectors cap every read at the moment they were built, so reading until the offset
        # stops moving is exactly "what is available now".
        pass


class LakeflowPartitionedStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """``SupportsPartitionedStream``: micro-batches planned by the connector, read on executors."""

    def __init__(self, context: _Context, schema: StructType) -> None:
        self.context = context
        self.schema = schema

    def initialOffset(self) -> dict:
        return {}

    def getDefaultReadLimit(self) -> ReadAllAvailable:
        return ReadAllAvailable()

    def latestOffset(self, start: dict, limit: Any = None) -> dict:
        if limit is not None and not isinstance(limit, ReadAllAvailable):
            raise DataSourceOptionError(
                f"{FORMAT}: micro-batch size is the connector's (table options such as "
                f"max_records_per_batch), not Spark's read limit {type(limit).__name__}"
            )
        ctx = self.context
        with ctx.active(phase="latest_offset"):
            connector = ctx.connector()
            end = ctx.call("latest_offset", connector.latest_offset, ctx.table, ctx.table_options, start)
        if not isinstance(end, dict):
            raise ConnectorProblem(
                f"[{ctx.label}] latest_offset returned {end!r}; expected a dict",
                {"kind": "error", "table": ctx.table, "call": "latest_offset", "exception": "BadOffset"},
            )
        return end

    def partitions(self, start: dict, end: dict) -> Sequence[InputPartition]:
        ctx = self.context
        if runtime.canonical(start) == runtime.canonical(end):
            return []
        with ctx.active(phase="partitions"):
            connector = ctx.connector()
            descriptors = ctx.call(
                "get_partitions", connector.get_partitions, ctx.table, ctx.table_options, start, end
            )
        return [InputPartition(json.dumps(d)) for d in descriptors or []]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        ctx = self.context
        descriptor = json.loads(partition.value)
        with ctx.active(phase="read"):
            connector = ctx.connector()
            records = ctx.call(
                "read_partition", connector.read_partition, ctx.table, descriptor, ctx.table_options
            )
            yield from ctx.rows(records, self.schema, "read_partition")

    def prepareForTriggerAvailableNow(self) -> None:
        pass


# ---------------------------------------------------------------------------- the data source


class LakeflowDataSource(DataSource):
    """The ``lakeflow_connect`` format: any connector of this project (see the module docstring)."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.context = _Context(options)
        table = self.context.table
        if table.startswith("_community_") and table not in VIRTUAL_TABLES:
            raise DataSourceOptionError(
                f"unknown virtual table {table!r}; the virtual tables are {', '.join(VIRTUAL_TABLES)}"
            )

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def schema(self) -> StructType:
        ctx = self.context
        table = ctx.require_table()
        if table == METADATA_TABLE:
            return METADATA_SCHEMA
        if table == TABLES_TABLE:
            return TABLES_SCHEMA
        if table == NAMESPACES_TABLE:
            return NAMESPACES_SCHEMA
        with ctx.active(phase="schema"):
            connector = ctx.connector()
            schema = ctx.call("get_table_schema", connector.get_table_schema, table, ctx.table_options)
        if not isinstance(schema, StructType):
            raise ConnectorProblem(
                f"[{ctx.label}] get_table_schema returned {type(schema).__name__}, expected StructType",
                {"kind": "error", "table": table, "call": "get_table_schema", "exception": "BadSchema"},
            )
        return schema

    def reader(self, schema: StructType) -> DataSourceReader:
        self.context.require_table()
        return LakeflowBatchReader(self.context, schema)

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        ctx = self.context
        table = ctx.require_table()
        if table in VIRTUAL_TABLES:
            raise DataSourceOptionError(f"virtual table {table!r} can only be read in batch")
        if not ctx.delete_flow:
            with ctx.active(phase="plan"):
                connector = ctx.connector()
                partitioned = callable(getattr(connector, "latest_offset", None)) and ctx.call(
                    "is_partitioned", runtime.is_partitioned, connector, table
                )
            if partitioned:
                return LakeflowPartitionedStreamReader(ctx, schema)
        # PySpark falls back to simpleStreamReader() on this error.
        raise PySparkNotImplementedError(
            errorClass="NOT_IMPLEMENTED", messageParameters={"feature": "streamReader"}
        )

    def simpleStreamReader(self, schema: StructType) -> SimpleDataSourceStreamReader:
        self.context.require_table()
        return LakeflowStreamReader(self.context, schema)


def register(spark: Any) -> None:
    """Register the ``lakeflow_connect`` format on ``spark``."""
    spark.dataSource.register(LakeflowDataSource)


__all__ = [
    "FORMAT",
    "METADATA_TABLE",
    "TABLES_TABLE",
    "LakeflowBatchReader",
    "LakeflowDataSource",
    "LakeflowPartitionedStreamReader",
    "LakeflowStreamReader",
    "register",
]
