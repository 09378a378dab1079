"""The small readers every public-harness fact is built with.

Pure. A ``Fix:`` line, the chain item of a harness check, a path made workspace-relative, Python
literals and offsets printed in a failure text, ``parse_value``'s conversion message as our
``read.schema_parse`` details, and pyspark type reprs as ``simpleString()``. Used by
:mod:`.public_harness`, :mod:`.public_tracebacks` and :mod:`.public_setup`."""

from __future__ import annotations

import ast
import json
import os
import re
from typing import Any

UNKNOWN_ENDPOINT = re.compile(r"No endpoint spec matches (?P<method>[A-Z]+) (?P<url>\S+)")
_CONVERSION = re.compile(
    r"Error converting '(?P<value>.*)' \(<class '(?P<pytype>[\w.]+)'>\) to (?P<spark>[A-Za-z]+Type(?:\([^)]*\))?)(?:: (?P<reason>.*))?$",
    re.S,
)

#: pyspark type reprs → the ``simpleString()`` our harness reports.
_SPARK_SIMPLE = {
    "StringType": "string",
    "LongType": "bigint",
    "IntegerType": "int",
    "ShortType": "smallint",
    "ByteType": "tinyint",
    "DoubleType": "double",
    "FloatType": "float",
    "BooleanType": "boolean",
    "DateType": "date",
    "TimestampType": "timestamp",
    "TimestampNTZType": "timestamp_ntz",
    "BinaryType": "binary",
    "VariantType": "variant",
}


def fix_line(text: str) -> str | None:
    match = re.search(r"^\s*Fix: (.+(?:\n {4,}.+)*)", text, re.M)
    return re.sub(r"\s+", " ", match.group(1)).strip() if match else None


def harness_item(
    exc_type: str, block: str, check: str, table: str | None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": exc_type,
        "message": block,
        "frames": [],
        "harness": {"check": check, "table": table, "details": details or {}, "hint": fix_line(block)},
        "publicHarness": True,
    }


def relative(path: str, root: str) -> str:
    if not root or not os.path.isabs(path):
        return path
    root = root.rstrip(os.sep)
    if path == root or path.startswith(root + os.sep):
        return os.path.relpath(path, root)
    return path


def parse_conversion(error: str) -> dict[str, Any]:
    """``parse_value``'s message as our ``read.schema_parse`` details (value, spark_type, ...)."""
    match = _CONVERSION.search(error)
    if match:
        spark = match.group("spark")
        return {
            "value": _python_value(match.group("value"), match.group("pytype")),
            "python_type": match.group("pytype").rsplit(".", 1)[-1],
            "spark_type": spark_simple(spark),
            "reason": (match.group("reason") or "").strip() or None,
        }
    struct = re.search(
        r"Expected a (dictionary|list) for (StructType|ArrayType|MapType), got <class '([\w.]+)'>", error
    )
    if struct:
        return {
            "value": None,
            "python_type": struct.group(3),
            "spark_type": {"StructType": "struct", "ArrayType": "array", "MapType": "map"}[struct.group(2)],
            "reason": struct.group(0),
        }
    if "cannot be an empty dict" in error:
        return {
            "value": {},
            "python_type": "dict",
            "spark_type": "struct",
            "reason": "empty dict for a struct",
        }
    missing = re.search(r"Field (\S+) is not nullable but not found in the input", error)
    if missing:
        return {
            "value": None,
            "python_type": None,
            "spark_type": None,
            "reason": missing.group(0),
            "missing_field": missing.group(1),
        }
    return {"value": None, "python_type": None, "spark_type": None, "reason": error.strip() or None}


def spark_simple(spark_repr: str) -> str:
    """``LongType()`` → ``bigint``, ``DecimalType(10,2)`` → ``decimal(10,2)`` (``simpleString()``)."""
    name = spark_repr.split("(", 1)[0]
    if name == "DecimalType":
        args = re.findall(r"\d+", spark_repr)
        return f"decimal({args[0]},{args[1]})" if len(args) >= 2 else "decimal(10,0)"
    return _SPARK_SIMPLE.get(name, name.removesuffix("Type").lower())


def _python_value(text: str, pytype: str) -> Any:
    """The raw value back from its ``'{value}'`` rendering, given its Python type."""
    kind = pytype.rsplit(".", 1)[-1]
    if kind == "str":
        return text
    if kind in ("int", "float", "bool", "dict", "list", "NoneType"):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def literal_list(text: str) -> list[Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return [t.strip(" '\"") for t in text.strip("[]").split(",") if t.strip()]
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def parse_offset(text: str) -> Any:
    text = text.strip().rstrip(".")
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    return text
