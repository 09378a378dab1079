"""Type-aware comparison of record values with request parameters.

Query strings carry text; corpus records carry JSON values. Comparing them the
way the real API would means knowing what the value *is*:

- ISO-8601 timestamps compare as instants, whatever their offset or precision
  (``…T10:00:00Z`` equals ``…T12:00:00+02:00``; ``…00.500Z`` is after ``…00Z``);
  a date alone is midnight UTC.
- Epoch seconds and milliseconds compare with ISO timestamps (and, with the
  ``timestamp`` type hint, with each other); a number above 10^11 is taken as
  milliseconds.
- Numbers compare as numbers, booleans accept ``true/false/1/0/yes/no``.

Sorting uses :func:`sort_key`, which orders any mix of types without raising.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: An epoch number at or above this is milliseconds (10^11 seconds is the year 5138).
MS_THRESHOLD = 10**11
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


@cache
def parse_iso(text: str) -> int | None:
    """Microseconds since the epoch for an ISO-8601 string, else None."""
    m = _ISO.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment -= sign * offset
    return (moment - _EPOCH) // timedelta(microseconds=1) + micros


def epoch_to_micros(value: float) -> int:
    """Epoch seconds or milliseconds (by magnitude) → microseconds."""
    if abs(value) >= MS_THRESHOLD:
        return round(value * 1000)
    return round(value * 1_000_000)


def as_instant(value: Any) -> int | None:
    """Microseconds since the epoch for anything that denotes a moment."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return (aware - _EPOCH) // timedelta(microseconds=1)
    if isinstance(value, date):
        return as_instant(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))
    if isinstance(value, (int, float)):
        return epoch_to_micros(value)
    if isinstance(value, str):
        iso = parse_iso(value)
        if iso is not None:
            return iso
        if _NUMBER.match(value.strip()):
            return epoch_to_micros(float(value))
    return None


def looks_like_timestamp(value: Any) -> bool:
    return isinstance(value, str) and parse_iso(value) is not None


def _as_number(text: str) -> int | float | None:
    text = text.strip()
    if not _NUMBER.match(text):
        return None
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _as_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def coerce_pair(record_value: Any, wanted: Any, type_hint: str | None = None) -> tuple[Any, Any] | None:
    """Make ``record_value`` and the request value ``wanted`` comparable.

    Returns the pair to compare, or None when they cannot be compared (the
    record then does not match, as a real API would not return it).
    """
    if type_hint == "timestamp" or (
        type_hint is None
        and (
            (looks_like_timestamp(record_value) and as_instant(wanted) is not None)
            or (
                looks_like_timestamp(wanted)
                and isinstance(record_value, (int, float, str))
                and not isinstance(record_value, bool)
            )
        )
    ):
        a, b = as_instant(record_value), as_instant(wanted)
        return (a, b) if a is not None and b is not None else None
    if type_hint == "string":
        return str(record_value), str(wanted)
    if type_hint == "boolean" or isinstance(record_value, bool):
        b = wanted if isinstance(wanted, bool) else _as_bool(str(wanted))
        a = record_value if isinstance(record_value, bool) else _as_bool(str(record_value))
        return (a, b) if a is not None and b is not None else None
    if type_hint == "number" or isinstance(record_value, (int, float)):
        a = record_value if isinstance(record_value, (int, float)) else _as_number(str(record_value))
        b = (
            wanted
            if isinstance(wanted, (int, float)) and not isinstance(wanted, bool)
            else _as_number(str(wanted))
        )
        return (a, b) if a is not None and b is not None else None
    if isinstance(record_value, str):
        return record_value, wanted if isinstance(wanted, str) else _scalar_text(wanted)
    return _scalar_text(record_value), _scalar_text(wanted)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def split_multi(values: list[Any]) -> list[Any]:
    """Values of an ``in`` filter: repeated keys and comma-separated text."""
    result: list[Any] = []
    for value in values:
        if isinstance(value, str):
            result.extend(part.strip() for part in value.split(",") if part.strip() != "")
        elif isinstance(value, list):
            result.extend(value)
        else:
            result.append(value)
    return result


def matches(record_value: Any, op: str, wanted: list[Any], type_hint: str | None = None) -> bool:
    """Whether a record value passes a filter. ``wanted`` holds every value sent."""
    if record_value is None:
        return op == "ne"
    if op == "in":
        return any(_equal(record_value, w, type_hint) for w in split_multi(wanted))
    value = wanted[-1] if wanted else None
    if value is None:
        return True
    if op == "eq":
        return _equal(record_value, value, type_hint)
    if op == "ne":
        return not _equal(record_value, value, type_hint)
    if op == "contains":
        if isinstance(record_value, list):
            return any(_equal(item, value, type_hint) for item in record_value)
        return _scalar_text(value) in _scalar_text(record_value)
    if op == "starts_with":
        return _scalar_text(record_value).startswith(_scalar_text(value))
    if op == "ends_with":
        return _scalar_text(record_value).endswith(_scalar_text(value))
    pair = coerce_pair(record_value, value, type_hint)
    if pair is None:
        return False
    a, b = pair
    try:
        if op == "gt":
            return a > b
        if op == "gte":
            return a >= b
        if op == "lt":
            return a < b
        if op == "lte":
            return a <= b
    except TypeError:
        return False
    raise ValueError(f"unknown filter op {op!r}")


def _equal(record_value: Any, wanted: Any, type_hint: str | None) -> bool:
    pair = coerce_pair(record_value, wanted, type_hint)
    return pair is not None and pair[0] == pair[1]


def sort_key(value: Any) -> tuple[int, Any]:
    """A key that orders any mix of JSON values without raising.

    Numbers (and booleans) first, then timestamps by instant, then other
    strings, then lists and objects by their JSON text.
    """
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        instant = parse_iso(value) if len(value) <= 40 else None
        if instant is not None:
            return (1, instant)
        return (2, value)
    return (3, json.dumps(value, sort_keys=True, default=str))


def dotted_get(record: Any, path: str) -> Any:
    """``record["a"]["b"]`` for ``"a.b"``; numeric segments index lists; None when absent."""
    current = record
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def dotted_set(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``target["a"]["b"] = value`` for ``"a.b"``, creating dicts on the way."""
    parts = path.split(".")
    current = target
    for part in parts[:-1]:
        nxt = current.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            current[part] = nxt
        current = nxt
    current[parts[-1]] = value
