"""Rows to Arrow: converted rows handed to Spark as Arrow record batches of
``ARROW_BATCH_ROWS`` (what PySpark's own conversion would give, built by pyarrow where the Spark
type allows), or as tuples when this PySpark's converters are not there. Part of the readers
(merged with them into a single-file connector by ``merge_source``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timezone
from itertools import islice
from typing import Any

import pyarrow as pa
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
    StructType,
    TimestampNTZType,
    TimestampType,
)

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
