"""The readers of the ``lakeflow_connect`` data source.

This module and its parts hold everything a Spark read needs from a connector and nothing from
connector-watch's simulator: batch reads that drain every batch, the connector's
partitions, the simple and partitioned stream readers, deletes, virtual tables,
and the conversion of raw records with errors that name the table, the field, the
value and the record (``problems``: the problem markers; ``read_options``: option keys and
offsets; ``arrow``: rows to Arrow batches). They import only the standard library, PySpark,
pyarrow, :mod:`connector_watch.sources.interface`, :mod:`connector_watch.sources.parsing` and each
other, so together they also serve as the template of a merged single-file connector
(``merge_source``'s default template, its parts merged before it)::

    python -m connector_watch.simulator.tools.merge_source github

(the merge replaces the ``LakeflowConnectImpl`` line with the connector's class, which is why
:class:`ReadContext` stays in this module; ``register_lakeflow_source(spark)`` then registers the
format). Inside this repository :mod:`connector_watch.sources.spark.datasource` extends
:class:`ReadContext` to find the connector by source name and switch the simulator on in every
Spark process.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connector_watch.sources.interface import LakeflowConnect
from connector_watch.sources.parsing import ConversionError, parse_record
from connector_watch.sources.spark.arrow import arrow_batches
from connector_watch.sources.spark.problems import (
    ConnectorProblem,
    DataSourceOptionError,
    dotted,
    failure_problem,
    short_repr,
    shown_record,
)
from connector_watch.sources.spark.read_options import (
    FORMAT,
    OPT_CONNECTOR,
    OPT_DELETE_FLOW,
    OPT_MAX_BATCHES,
    OPT_SOURCE,
    OPT_TABLE,
    OPT_TABLE_CONFIGS,
    OPT_TABLE_NAME_LIST,
    canonical_offset,
    connector_options,
    lower_options,
    max_batches,
    offset_settled,
    table_is_partitioned,
)
from pyspark.errors import PySparkNotImplementedError
from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceStreamReader,
    InputPartition,
    SimpleDataSourceStreamReader,
)
from pyspark.sql.streaming.datasource import ReadAllAvailable, SupportsTriggerAvailableNow
from pyspark.sql.types import (
    ArrayType,
    StringType,
    StructField,
    StructType,
)

# A merged single-file connector names its class here (see the module docstring).
LakeflowConnectImpl = LakeflowConnect  # __LAKEFLOW_CONNECT_IMPL__

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


# ---------------------------------------------------------------------------- the read's context


class ReadContext:
    """The read's options plus a connector built lazily in whichever Spark process needs it.

    Pickled from the planner to the executors without the connector: a fresh one is
    built there. Subclasses decide where the connector class comes from
    (:meth:`connector_class`) and what runs around connector calls (:meth:`active`).
    """

    def __init__(self, options: Any) -> None:
        self.options = lower_options(dict(options))
        self.table = self.options.get(OPT_TABLE, "")
        self.delete_flow = self.options.get(OPT_DELETE_FLOW, "").strip().lower() == "true"
        self.table_options = connector_options(self.options)
        source = self.options.get(OPT_SOURCE) or self.options.get(OPT_CONNECTOR) or "connector"
        self.label = f"{source}.{self.table}"
        self.max_batches = max_batches(self.options.get(OPT_MAX_BATCHES))
        self._connector: Any = None
        self._metadata: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_connector"] = None
        return state

    # ------------------------------------------------------------------ hooks
    def connector_class(self) -> type:
        return LakeflowConnectImpl

    def active(self, **facts: Any) -> Any:
        """A context manager around every unit of connector work (nothing here)."""
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ connector
    def connector(self) -> Any:
        """The connector (call inside :meth:`active`)."""
        if self._connector is None:
            cls = self.connector_class()
            try:
                self._connector = cls(connector_options(self.options))
            except Exception as exc:
                raise ConnectorProblem(
                    f"[{self.label}] {cls.__name__}(options) raised {type(exc).__name__}: {exc}",
                    failure_problem(exc, self.table or None, "__init__"),
                ) from exc
        return self._connector

    def call(self, name: str, func: Callable[..., Any], *args: Any) -> Any:
        """Run connector code; anything it raises comes back with a problem marker."""
        try:
            return func(*args)
        except (ConnectorProblem, DataSourceOptionError):
            raise
        except Exception as exc:
            raise ConnectorProblem(
                f"[{self.label}] {name}() raised {type(exc).__name__}: {exc}",
                failure_problem(exc, self.table or None, name),
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

    def unpack(self, result: Any, call: str) -> tuple[Any, Any]:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ConnectorProblem(
                f"[{self.label}] {call} returned {type(result).__name__}, expected (records, offset)",
                {"kind": "error", "table": self.table, "call": call, "exception": "BadReturn"},
            )
        records, offset = result
        if offset is not None and not isinstance(offset, dict):
            raise ConnectorProblem(
                f"[{self.label}] {call} returned offset {offset!r} ({type(offset).__name__}); "
                "expected a dict or None",
                {"kind": "error", "table": self.table, "call": call, "exception": "BadOffset"},
            )
        return records, offset

    # ------------------------------------------------------------------ conversion
    def rows(
        self, records: Any, schema: StructType, call: str, batch: int | None = None, offset: Any = None
    ) -> Iterator[Any]:
        """Each raw record of ``records`` as a tuple of ``schema``'s values, in its order.

        Once the first record is in, the heap that outlives the read (the connector's client,
        a simulator's corpus: a million records are tens of millions of objects) is frozen
        out of the cyclic garbage collector, and young collections run every 50,000
        allocations instead of 700 for the whole read (the first page may load that corpus). Rows are acyclic and freed by
        reference counting; without this the collector's rescans cost as much as the
        conversion itself.
        """
        iterator = self.call(call, iter, records)
        position = 0
        frozen = False
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
        try:
            while True:
                try:
                    record = next(iterator)
                except StopIteration:
                    return
                except Exception as exc:
                    raise ConnectorProblem(
                        f"[{self.label}] iterating the records of {call}() raised {type(exc).__name__}: {exc}",
                        failure_problem(exc, self.table, call),
                    ) from exc
                if not frozen:
                    gc.freeze()
                    frozen = True
                try:
                    # A plain tuple in schema order: PySpark maps a Row's values by name, which costs
                    # twice as much per row when turning them into Arrow.
                    row = tuple(parse_record(record, schema, self.table))
                except ConversionError as exc:
                    raise self.conversion_problem(exc, record, call, position, batch, offset) from None
                yield row
                position += 1
        finally:
            gc.set_threshold(*threshold)
            if frozen:
                gc.unfreeze()

    def conversion_problem(
        self, exc: ConversionError, record: Any, call: str, position: int, batch: int | None, offset: Any
    ) -> ConnectorProblem:
        keys: dict[str, Any] = {}
        with contextlib.suppress(Exception):  # the error being reported matters more than its keys
            for pk in self.metadata().get("primary_keys") or []:
                keys[pk] = dotted(record, pk)
        spark_type = exc.data_type.simpleString() if exc.data_type is not None else None
        where = f"record #{position}" + (f" of batch {batch}" if batch is not None else "") + f" of {call}()"
        compact = shown_record(record, (exc.path, *keys))
        headline = f"[{self.label}] cannot convert field '{exc.path}' = {short_repr(exc.value)} to {spark_type}: {exc.reason}"
        message = (
            f"{headline}\n  {where}"
            + (f" (start offset {canonical_offset(offset)})" if offset is not None else "")
            + f": {json.dumps(compact, default=str, ensure_ascii=False)}"
        )
        problem = {
            "kind": "conversion",
            "table": self.table,
            "message": headline,
            "field": exc.path,
            "value": json.loads(json.dumps(exc.value, default=str)),
            "sparkType": spark_type,
            "reason": exc.reason,
            "record": compact,
            "keys": keys,
            "call": call,
            "position": position,
            "batch": batch,
        }
        return ConnectorProblem(message, problem)


# ---------------------------------------------------------------------------- Arrow

GC_YOUNG_THRESHOLD = 50_000


# ---------------------------------------------------------------------------- batch


def read_all_batches(ctx: ReadContext, schema: StructType) -> Iterator[Any]:
    """Read batch after batch, feeding each offset back, until the offset settles."""
    call = "read_table_deletes" if ctx.delete_flow else "read_table"
    connector = ctx.connector()
    method = getattr(connector, call)
    offset: Any = None
    for batch in range(ctx.max_batches):
        records, new_offset = ctx.unpack(ctx.call(call, method, ctx.table, offset, ctx.table_options), call)
        yield from ctx.rows(records, schema, call, batch, offset)
        if offset_settled(offset, new_offset):
            return
        offset = new_offset
    raise ConnectorProblem(
        f"[{ctx.label}] {call} did not settle in {ctx.max_batches} batches (last offset "
        f"{canonical_offset(offset)}): cap reads at the connector's start time and return the "
        "offset it was given once caught up (or raise option maxBatches)",
        {"kind": "error", "table": ctx.table, "call": call, "exception": "DidNotSettle", "offset": offset},
    )


def read_all(
    connector: Any, table: str, table_options: dict[str, str], schema: StructType
) -> Iterator[tuple]:
    """Every row of ``table`` from a connector instance, without Spark (tests, notebooks)."""
    ctx = ReadContext({**table_options, OPT_TABLE: table})
    ctx._connector = connector
    return read_all_batches(ctx, schema)


def _virtual_rows(ctx: ReadContext) -> Iterator[tuple[Any, ...]]:
    connector = ctx.connector()
    if ctx.table == TABLES_TABLE:
        for name in sorted(ctx.call("list_tables", connector.list_tables)):
            yield ([], name)
    elif ctx.table == METADATA_TABLE:
        names = _json_option(ctx, OPT_TABLE_NAME_LIST, list) or []
        configs = _json_option(ctx, OPT_TABLE_CONFIGS, dict) or {}
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


def _json_option(ctx: ReadContext, key: str, kind: type) -> Any:
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


def check_delete_flow(ctx: ReadContext) -> None:
    """``isDeleteFlow=true`` only on a ``cdc_with_deletes`` table (said when the read is planned)."""
    if not ctx.delete_flow or ctx.table in VIRTUAL_TABLES:
        return
    with ctx.active(phase="plan"):
        kind = ctx.metadata().get("ingestion_type")
    if kind != "cdc_with_deletes":
        raise DataSourceOptionError(
            f"option isDeleteFlow=true reads deleted records, but table {ctx.table!r} is {kind}, not "
            "cdc_with_deletes: drop the option, or read a cdc_with_deletes table"
        )


class LakeflowBatchReader(DataSourceReader):
    """Batch reads: the connector's partitions, or one task that drains every batch."""

    def __init__(self, context: ReadContext, schema: StructType) -> None:
        self.context = context
        self.schema = schema

    def partitions(self) -> Sequence[InputPartition]:
        ctx = self.context
        if ctx.table in VIRTUAL_TABLES or ctx.delete_flow:
            return [InputPartition({"kind": "drain"})]
        with ctx.active(phase="partitions"):
            connector = ctx.connector()
            if not ctx.call("is_partitioned", table_is_partitioned, connector, ctx.table):
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
                yield from arrow_batches(self.schema, ctx.rows(records, self.schema, "read_partition"))
                return
            yield from arrow_batches(self.schema, read_all_batches(ctx, self.schema))


# ---------------------------------------------------------------------------- streaming


class LakeflowStreamReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """One ``read_table`` (or ``read_table_deletes``) per micro-batch, from the last offset.

    Records are read and converted in the streaming source's process (the simple
    reader's contract), so Spark can replay the micro-batch from its cache. A snapshot
    table (its offset never moves) is read once: ``{}`` → :data:`SNAPSHOT_DONE`.
    """

    def __init__(self, context: ReadContext, schema: StructType) -> None:
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
            records, end = ctx.unpack(
                ctx.call(call, getattr(connector, call), ctx.table, start, ctx.table_options), call
            )
            rows = list(ctx.rows(records, self.schema, call, None, start))
        if end is None or canonical_offset(end) == canonical_offset(start):
            if rows and not start:
                return iter(rows), dict(SNAPSHOT_DONE)
            # Caught up: records handed back with the same offset were emitted by an earlier
            # micro-batch (a connector re-reading a lookback window), so none is new.
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

    def __init__(self, context: ReadContext, schema: StructType) -> None:
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
        if canonical_offset(start) == canonical_offset(end):
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
        with ctx.active(phase="read", kind="partition"):
            connector = ctx.connector()
            records = ctx.call(
                "read_partition", connector.read_partition, ctx.table, descriptor, ctx.table_options
            )
            yield from arrow_batches(self.schema, ctx.rows(records, self.schema, "read_partition"))

    def prepareForTriggerAvailableNow(self) -> None:
        pass


# ---------------------------------------------------------------------------- the data source


class LakeflowSource(DataSource):
    """The ``lakeflow_connect`` format over :data:`LakeflowConnectImpl` (a merged file's connector)."""

    context_class: type[ReadContext] = ReadContext

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.context = self.context_class(options)
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
        check_delete_flow(self.context)
        return LakeflowBatchReader(self.context, schema)

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        ctx = self.context
        table = ctx.require_table()
        if table in VIRTUAL_TABLES:
            raise DataSourceOptionError(f"virtual table {table!r} can only be read in batch")
        check_delete_flow(ctx)
        if not ctx.delete_flow:
            with ctx.active(phase="plan"):
                connector = ctx.connector()
                partitioned = callable(getattr(connector, "latest_offset", None)) and ctx.call(
                    "is_partitioned", table_is_partitioned, connector, table
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


def register_lakeflow_source(spark: Any) -> type[LakeflowSource]:
    """Register the ``lakeflow_connect`` format of a merged single-file connector.

    A merged file is not an importable module on the executors, so its classes are
    shipped by value.
    """
    module = sys.modules.get(LakeflowSource.__module__)
    if module is not None and LakeflowSource.__module__ not in (
        "__main__",
        "connector_watch.sources.spark.readers",
    ):
        with contextlib.suppress(ImportError, ValueError):
            from pyspark import cloudpickle

            cloudpickle.register_pickle_by_value(module)
    spark.dataSource.register(LakeflowSource)
    return LakeflowSource
