"""The readers of the ``lakeflow_connect`` data source, in one self-contained module.

This module holds everything a Spark read needs from a connector and nothing from
connector-watch's simulator: batch reads that drain every batch, the connector's
partitions, the simple and partitioned stream readers, deletes, virtual tables,
and the conversion of raw records with errors that name the table, the field, the
value and the record. It imports only the standard library, PySpark,
:mod:`connector_watch.sources.interface` and :mod:`connector_watch.sources.parsing`, so it also serves as the
template of a merged single-file connector (``merge_source``'s default template)::

    python -m connector_watch.simulator.tools.merge_source github

(the merge replaces the ``LakeflowConnectImpl`` line with the connector's class;
``register_lakeflow_source(spark)`` then registers the format). Inside this
repository :mod:`connector_watch.sources.spark.datasource` extends :class:`ReadContext` to find the
connector by source name and switch the simulator on in every Spark process.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timezone
from itertools import islice
from typing import Any

import pyarrow as pa
from connector_watch.sources.interface import LakeflowConnect
from connector_watch.sources.parsing import ConversionError, parse_record
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
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

# A merged single-file connector names its class here (see the module docstring).
LakeflowConnectImpl = LakeflowConnect  # __LAKEFLOW_CONNECT_IMPL__

FORMAT = "lakeflow_connect"
#: The data source's own option keys (lower case: Spark lower-cases option names).
OPT_SOURCE = "source"
OPT_CONNECTOR = "connector"
OPT_TABLE = "tablename"
OPT_DELETE_FLOW = "isdeleteflow"
OPT_SIM_MODE = "simulatormode"
OPT_SIM_SOURCE = "simulatorsource"
OPT_SIM_SPECS = "simulatorspecsdir"
OPT_SIM_CASSETTE = "simulatorcassette"
OPT_SIM_TRACE = "simulatortracedir"
OPT_MAX_BATCHES = "maxbatches"
OPT_TABLE_NAME_LIST = "tablenamelist"
OPT_TABLE_CONFIGS = "tableconfigs"
FRAMEWORK_OPTIONS = frozenset(
    {
        OPT_SOURCE,
        OPT_CONNECTOR,
        OPT_TABLE,
        OPT_DELETE_FLOW,
        OPT_SIM_MODE,
        OPT_SIM_SOURCE,
        OPT_SIM_SPECS,
        OPT_SIM_CASSETTE,
        OPT_SIM_TRACE,
        OPT_MAX_BATCHES,
        OPT_TABLE_NAME_LIST,
        OPT_TABLE_CONFIGS,
        "path",
    }
)
DEFAULT_MAX_BATCHES = 100_000
PROBLEM_MARKER = "CONNECTOR_WATCH_PROBLEM"
MAX_RECORD_CHARS = 4000

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


# ---------------------------------------------------------------------------- errors


class DataSourceOptionError(ValueError):
    """A read whose options cannot work (missing source or table, bad simulator mode)."""


class ConnectorProblem(RuntimeError):
    """A failure inside a read, with a ``CONNECTOR_WATCH_PROBLEM {json}`` line for machines.

    Spark wraps exceptions from Python workers in its own; the marker line survives
    that, so a caller (the daemon's e2e stage) gets the facts without scraping prose.
    """

    def __init__(self, message: str, problem: dict[str, Any]) -> None:
        self.problem = problem
        payload = json.dumps(problem, default=str, ensure_ascii=False)
        super().__init__(f"{message}\n{PROBLEM_MARKER} {payload}")


def parse_problems(text: str) -> list[dict[str, Any]]:
    """Every ``CONNECTOR_WATCH_PROBLEM {json}`` payload in ``text`` (an exception's message)."""
    problems: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    start = 0
    while True:
        at = text.find(PROBLEM_MARKER + " ", start)
        if at < 0:
            return problems
        begin = at + len(PROBLEM_MARKER) + 1
        try:
            value, end = decoder.raw_decode(text, begin)
        except ValueError:
            start = begin
            continue
        if isinstance(value, dict) and value not in problems:
            problems.append(value)
        start = end


def failure_problem(exc: BaseException, table: str | None, call: str) -> dict[str, Any]:
    """Structured facts about an exception from connector code (for the problem marker)."""
    frames = [
        {"file": f.filename, "line": f.lineno, "function": f.name}
        for f in traceback.extract_tb(exc.__traceback__)
        if "/pyspark/" not in f.filename and "pyspark.zip" not in f.filename
    ]
    return {
        "kind": "error",
        "table": table,
        "call": call,
        "exception": type(exc).__name__,
        "message": str(exc).split(f"\n{PROBLEM_MARKER} ")[0][:2000],
        "frames": frames[-12:],
    }


# ---------------------------------------------------------------------------- helpers


def lower_options(options: Mapping[str, Any]) -> dict[str, str]:
    """Spark hands options with lower-cased keys; make plain dicts agree."""
    return {str(k).lower(): str(v) for k, v in options.items() if v is not None}


class Options(dict):  # type: ignore[type-arg]
    """Options as Spark hands them over: names are case-insensitive (Spark lower-cases them), so a
    connector reading ``options["apiKey"]`` finds ``.option("apiKey", ...)``. A dict, so it still
    serialises to JSON and copies like one."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__({str(k).lower(): v for k, v in (items or {}).items()})

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def copy(self) -> Options:  # type: ignore[override]
        return Options(self)


def connector_options(options: Mapping[str, str]) -> Options:
    """The read's options without the data source's own keys: what the connector sees."""
    return Options({k: v for k, v in options.items() if k.lower() not in FRAMEWORK_OPTIONS})


def canonical_offset(offset: Any) -> str:
    return json.dumps(offset, sort_keys=True, default=str)


def offset_settled(offset: Any, new_offset: Any) -> bool:
    """The harness's rule: stop at ``None``, at the offset given, or at two empty offsets."""
    return (
        new_offset is None
        or canonical_offset(new_offset) == canonical_offset(offset)
        or (not offset and not new_offset)
    )


def table_is_partitioned(connector: Any, table: str) -> bool:
    """Whether a batch read of ``table`` splits into the connector's partitions."""
    methods = ("get_partitions", "read_partition")
    if not all(callable(getattr(connector, name, None)) for name in methods):
        return False
    check = getattr(connector, "is_partitioned", None)
    return bool(check(table)) if callable(check) else True


def shown_record(record: Any, keep: Sequence[str] = ()) -> Any:
    """The record as JSON-able data; a large one keeps its short fields and the ``keep`` ones.

    Omitted fields are counted under ``"…"`` so a reader knows the record was cut.
    """
    data = json.loads(json.dumps(record, default=str, ensure_ascii=False))
    if len(json.dumps(data, ensure_ascii=False)) <= MAX_RECORD_CHARS or not isinstance(data, dict):
        return data
    wanted = {path.split(".")[0].split("[")[0] for path in keep}
    compact: dict[str, Any] = {}
    omitted = 0
    for key, value in data.items():
        if key in wanted or len(json.dumps(value, ensure_ascii=False)) <= 120:
            compact[key] = value
        else:
            omitted += 1
    if omitted:
        compact["…"] = f"{omitted} long field(s) omitted"
    return compact


def _dotted(record: Any, path: str) -> Any:
    value = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


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
        self.max_batches = _max_batches(self.options.get(OPT_MAX_BATCHES))
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
                keys[pk] = _dotted(record, pk)
        spark_type = exc.data_type.simpleString() if exc.data_type is not None else None
        where = f"record #{position}" + (f" of batch {batch}" if batch is not None else "") + f" of {call}()"
        compact = shown_record(record, (exc.path, *keys))
        headline = f"[{self.label}] cannot convert field '{exc.path}' = {_short_repr(exc.value)} to {spark_type}: {exc.reason}"
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
ARROW_BATCH_ROWS = 10_000  # Spark's spark.sql.execution.arrow.maxRecordsPerBatch default
_PLAIN_TYPES = (
    StringType,
    LongType,
    IntegerType,
    ShortType,
    ByteType,
    DoubleType,
    FloatType,
    BooleanType,
    DateType,
    TimestampNTZType,
)


def _arrow_ready(data_type: DataType, top: bool = True) -> bool:
    """Whether pyarrow turns the Python values of ``data_type`` into exactly what PySpark would.

    Plain scalars, structs and arrays of them do; a top-level timestamp does once made
    UTC-aware (as PySpark does). Anything else (maps, decimals, binary, variants,
    nested timestamps, arrays without nulls) goes through PySpark's own converter.
    """
    if isinstance(data_type, _PLAIN_TYPES):
        return True
    if isinstance(data_type, TimestampType):
        return top
    if isinstance(data_type, StructType):
        return all(_arrow_ready(f.dataType, False) for f in data_type.fields)
    if isinstance(data_type, ArrayType):
        return data_type.containsNull and _arrow_ready(data_type.elementType, False)
    return False


def _utc(value: Any) -> Any:
    if value is None or value.tzinfo is timezone.utc:
        return value
    return value.astimezone(timezone.utc)  # PySpark's rule: a naive value is local time


class ArrowBatcher:
    """Rows (tuples in schema order) to Arrow record batches, column by column.

    PySpark converts a Python data source's tuples value by value; building each column
    with one ``pyarrow.array`` call is several times faster and gives the same batch.
    A column pyarrow refuses falls back to PySpark's converter for that batch.
    """

    def __init__(self, schema: StructType) -> None:
        from pyspark.sql.conversion import LocalDataToArrowConversion
        from pyspark.sql.pandas.types import to_arrow_schema

        self.schema = schema
        self.arrow_schema = to_arrow_schema(schema, timezone="UTC")
        self.slow = [LocalDataToArrowConversion._create_converter(f.dataType) for f in schema.fields]
        self.fast: list[Callable[[Any], Any] | None] = []
        for field in schema.fields:
            if not _arrow_ready(field.dataType):
                self.fast.append(self.slow[len(self.fast)])
            elif isinstance(field.dataType, TimestampType):
                self.fast.append(_utc)
            else:
                self.fast.append(None)

    def batch(self, rows: Sequence[tuple[Any, ...]]) -> pa.RecordBatch:
        columns = list(zip(*rows, strict=True))
        arrays = []
        for index, field in enumerate(self.arrow_schema):
            values = columns[index]
            convert = self.fast[index]
            try:
                arrays.append(
                    pa.array(values if convert is None else [convert(v) for v in values], type=field.type)
                )
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                slow = self.slow[index]
                arrays.append(pa.array([slow(v) for v in values], type=field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)

    def batches(self, rows: Iterator[tuple[Any, ...]]) -> Iterator[pa.RecordBatch]:
        while True:
            chunk = list(islice(rows, ARROW_BATCH_ROWS))
            if not chunk:
                return
            yield self.batch(chunk)


def arrow_batches(schema: StructType, rows: Iterator[tuple[Any, ...]]) -> Iterator[Any]:
    """``rows`` as Arrow record batches, or as they are when PySpark's converters are unavailable."""
    try:
        batcher = ArrowBatcher(schema)
    except (ImportError, AttributeError, TypeError):  # another PySpark: let it convert the tuples
        yield from rows
        return
    yield from batcher.batches(rows)


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


def _max_batches(raw: str | None) -> int:
    if not raw:
        return DEFAULT_MAX_BATCHES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise DataSourceOptionError(f"option 'maxBatches' must be a whole number of 1 or more; got {raw!r}")
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
    if module is not None and LakeflowSource.__module__ not in ("__main__", "connector_watch.sources.spark.readers"):
        with contextlib.suppress(ImportError, ValueError):
            from pyspark import cloudpickle

            cloudpickle.register_pickle_by_value(module)
    spark.dataSource.register(LakeflowSource)
    return LakeflowSource
