"""Converting raw JSON records to the Python values of a Spark schema.

Connectors return raw JSON dicts; the harness, the corpus lint and the Spark
data source all convert them with :func:`parse_record` against the table's
``StructType``, so a value that does not fit the schema is reported the same way
everywhere: with the table, the field path, the value and its type.

It follows the public ``parse_value`` (same accepted inputs, same message
prefix ``Error converting '<value>' (<type>) to <SparkType>``) and is stricter
where the public one lost data silently: a fractional number is not an
integer, a boolean is not a number, epoch timestamps are UTC (milliseconds are
recognised), and an integer out of range is an error.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from pyspark.sql import Row
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

__all__ = ["ConversionError", "parse_record", "parse_value"]

_INT_RANGES = {
    ByteType: (-(2**7), 2**7 - 1),
    ShortType: (-(2**15), 2**15 - 1),
    IntegerType: (-(2**31), 2**31 - 1),
    LongType: (-(2**63), 2**63 - 1),
}
_MS_THRESHOLD = 10**11
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class ConversionError(ValueError):
    """A value that does not fit its Spark type. ``path`` is the dotted field path."""

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        value: Any = None,
        data_type: DataType | None = None,
        table: str | None = None,
    ) -> None:
        self.reason = message
        self.path = path
        self.value = value
        self.data_type = data_type
        self.table = table
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"field '{self.path}'" if self.path else "value"
        prefix = f"[{self.table}] " if self.table else ""
        return f"{prefix}{where}: {self.reason}"

    def within(self, path: str | None = None, table: str | None = None) -> ConversionError:
        if path:
            sep = "" if self.path.startswith("[") else "."
            self.path = f"{path}{sep}{self.path}" if self.path else path
        if table:
            self.table = table
        self.args = (self._render(),)
        return self


def _fail(value: Any, data_type: DataType, why: str) -> ConversionError:
    shown = json.dumps(value, default=str) if isinstance(value, (dict, list)) else value
    text = str(shown)
    if len(text) > 120:
        text = text[:117] + "..."
    return ConversionError(
        f"Error converting '{text}' ({type(value)}) to {data_type}: {why}", value=value, data_type=data_type
    )


def _integer(value: Any, data_type: DataType) -> int:
    if isinstance(value, bool):
        raise _fail(value, data_type, "a boolean is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _fail(value, data_type, "has a fractional part")
        number = int(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise _fail(value, data_type, "not a number")
            if not as_float.is_integer():
                raise _fail(value, data_type, "has a fractional part")
            number = int(as_float)
    else:
        raise _fail(value, data_type, "not a number")
    low, high = _INT_RANGES[type(data_type)]
    if not low <= number <= high:
        raise _fail(value, data_type, f"out of range [{low}, {high}]")
    return number


def _float(value: Any, data_type: DataType) -> float:
    if isinstance(value, bool):
        raise _fail(value, data_type, "a boolean is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _fail(value, data_type, "not a number")


def _decimal(value: Any, data_type: DataType) -> Decimal:
    if isinstance(value, bool):
        raise _fail(value, data_type, "a boolean is not a number")
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _fail(value, data_type, "not a decimal number")


def _boolean(value: Any, data_type: DataType) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "t", "yes", "y", "1"):
            return True
        if lowered in ("false", "f", "no", "n", "0"):
            return False
    raise _fail(value, data_type, "not a boolean")


def _timestamp(value: Any, data_type: DataType) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, bool):
        raise _fail(value, data_type, "a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= _MS_THRESHOLD else value
        moment = _EPOCH + timedelta(seconds=seconds)
        return moment.replace(tzinfo=None) if isinstance(data_type, TimestampNTZType) else moment
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z"):
                try:
                    moment = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise _fail(value, data_type, "not an ISO-8601 timestamp")
        if isinstance(data_type, TimestampNTZType):
            return moment.replace(tzinfo=None)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    raise _fail(value, data_type, "not a timestamp")


def _date(value: Any, data_type: DataType) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise _fail(value, data_type, "not a date")


def _binary(value: Any, data_type: DataType) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value.encode("utf-8")
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise _fail(value, data_type, "not binary data (base64, hex or a list of bytes)")


def _string(value: Any, data_type: DataType) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_PRIMITIVES = {
    StringType: _string,
    ByteType: _integer,
    ShortType: _integer,
    IntegerType: _integer,
    LongType: _integer,
    FloatType: _float,
    DoubleType: _float,
    DecimalType: _decimal,
    BooleanType: _boolean,
    DateType: _date,
    TimestampType: _timestamp,
    TimestampNTZType: _timestamp,
    BinaryType: _binary,
}


def _struct(value: Any, data_type: StructType) -> Row:
    if not isinstance(value, dict):
        raise _fail(value, data_type, f"Expected a dictionary for StructType, got {type(value)}")
    if value == {}:
        raise _fail(
            value, data_type, "field in StructType cannot be an empty dict; use None for an absent struct"
        )
    fields = {}
    for field in data_type.fields:
        if field.name in value and value[field.name] is not None:
            try:
                fields[field.name] = parse_value(value[field.name], field.dataType)
            except ConversionError as exc:
                raise exc.within(field.name)
        elif field.nullable:
            fields[field.name] = None
        else:
            state = "is None" if field.name in value else "not found in the input"
            raise ConversionError(
                f"Field {field.name} is not nullable but {state}",
                path=field.name,
                value=None,
                data_type=field.dataType,
            )
    return Row(**fields)


def parse_value(value: Any, data_type: DataType) -> Any:
    """Convert one JSON value to the Python value Spark expects for ``data_type``."""
    if value is None:
        return None
    if isinstance(data_type, StructType):
        return _struct(value, data_type)
    if isinstance(data_type, ArrayType):
        if not isinstance(value, list):
            if data_type.containsNull:
                return [parse_value(value, data_type.elementType)]
            raise _fail(value, data_type, f"Expected a list for ArrayType, got {type(value)}")
        result = []
        for i, item in enumerate(value):
            try:
                result.append(parse_value(item, data_type.elementType))
            except ConversionError as exc:
                raise exc.within(f"[{i}]")
        return result
    if isinstance(data_type, MapType):
        if not isinstance(value, dict):
            raise _fail(value, data_type, f"Expected a dictionary for MapType, got {type(value)}")
        return {
            parse_value(k, data_type.keyType): parse_value(v, data_type.valueType) for k, v in value.items()
        }
    parser = _PRIMITIVES.get(type(data_type))
    if parser is not None:
        return parser(value, data_type)
    if type(data_type).__name__ == "VariantType":
        return value
    raise _fail(value, data_type, f"Unsupported field type: {data_type}")


def parse_record(record: Any, schema: StructType, table: str | None = None) -> Row:
    """Convert a raw record to a ``Row`` of ``schema``; errors name the table and field path."""
    try:
        return _struct(record, schema)
    except ConversionError as exc:
        raise exc.within(table=table)
