"""Records dated after "now", for proving that reads terminate.

A connector should cap each incremental read at the moment it started;
otherwise a source that keeps changing makes it read forever. The simulator
checks this by adding records whose cursor lies in the future
(``synthesize_future_records``). Unlike the public simulator's clones, these
get fresh values in every field that is unique across the table (so primary
keys do not collide) and keep the cursor's own format: the same ISO layout
(separator, precision, ``Z`` or the same offset, a date alone: from tomorrow),
epoch seconds or epoch milliseconds (numbers or digit strings).
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, time, timedelta, timezone
from typing import Any

from connector_watch.simulator.values import MS_THRESHOLD, dotted_get, dotted_set, parse_iso

_ISO_SHAPE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:(?P<sep>[T ])(?P<hm>\d{2}:\d{2})(?P<sec>:\d{2})?(?:(?P<dot>[.,])(?P<frac>\d+))?)?"
    r"(?P<space>\s*)(?P<zone>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _epoch_like(sample: float, moment: datetime) -> float:
    return moment.timestamp() * (1000 if abs(sample) >= MS_THRESHOLD else 1)


def _format_like(sample: Any, moment: datetime) -> Any:
    """``moment`` written the way ``sample`` is: epoch s/ms (number or digits), or the same ISO layout."""
    if isinstance(sample, bool):
        return sample
    if isinstance(sample, int):
        return int(_epoch_like(sample, moment))
    if isinstance(sample, float):
        return _epoch_like(sample, moment)
    text = str(sample).strip() if sample is not None else ""
    if _NUMERIC.match(text):
        value = _epoch_like(float(text), moment)
        return str(int(value)) if "." not in text else f"{value:.{len(text.split('.')[1])}f}"
    shape = _ISO_SHAPE.match(text)
    if shape is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    zone = shape["zone"]
    local = moment.astimezone(timezone.utc)
    if zone and zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        local = moment.astimezone(timezone(offset if zone[0] == "+" else -offset))
    if shape["sep"] is None:
        return local.strftime("%Y-%m-%d")
    out = local.strftime(f"%Y-%m-%d{shape['sep']}%H:%M")
    if shape["sec"]:
        out += local.strftime(":%S")
    if shape["frac"]:
        width = len(shape["frac"])
        out += shape["dot"] + local.strftime("%f")[:width].ljust(width, "0")
    return out + shape["space"] + (zone or "")  # ``local`` has the sample's offset: same text


def _is_future(value: Any, now: datetime) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= MS_THRESHOLD else value
        return seconds > now.timestamp()
    micros = parse_iso(str(value))
    return micros is not None and micros / 1_000_000 > now.timestamp()


#: Field names that identify a record; with a single record, uniqueness cannot be observed.
_KEY_NAMES = frozenset({"id", "uuid", "guid", "sha", "node_id", "key", "_id"})


def _unique_fields(records: list[dict[str, Any]], prefix: str = "") -> list[str]:
    """Dotted paths of scalar fields whose values are distinct across all records.

    A table of one record shows no such thing, so there the identifier-named
    top-level fields (``id``, ``uuid``, ``sha``, ...) are taken as the unique ones.
    """
    if not records:
        return []
    if len(records) == 1 and not prefix:
        return [
            key
            for key, value in sorted(records[0].items())
            if key.lower() in _KEY_NAMES
            and isinstance(value, (int, float, str))
            and not isinstance(value, bool)
        ]
    paths: list[str] = []
    keys = set().union(*(r.keys() for r in records if isinstance(r, dict)))
    for key in sorted(keys):
        values = [r.get(key) if isinstance(r, dict) else None for r in records]
        path = f"{prefix}{key}"
        if all(isinstance(v, dict) for v in values) and not prefix:
            paths.extend(_unique_fields(values, prefix=f"{path}."))
            continue
        if any(v is None or isinstance(v, (dict, list, bool)) for v in values):
            continue
        distinct = len(set(map(str, values)))
        if len(values) > 1 and distinct >= max(2, int(len(values) * 0.9)):
            paths.append(path)
    return paths


def _fresh(sample: Any, existing: list[Any], i: int) -> Any:
    if isinstance(sample, int):
        return max(v for v in existing if isinstance(v, int)) + 1 + i
    if isinstance(sample, float):
        return max(v for v in existing if isinstance(v, (int, float))) + 1.0 + i
    taken = set(map(str, existing))
    candidate = f"{sample}-future-{i + 1}"
    while candidate in taken:
        candidate += "x"
    return candidate


def synthesize(records: list[Any], cursor_field: str, count: int, now: datetime | None = None) -> list[int]:
    """Append ``count`` future records to ``records`` in place; return their indices.

    Does nothing when a record already has a future cursor, or the table is
    empty or not a list of objects.
    """
    now = now or datetime.now(timezone.utc)
    dicts = [r for r in records if isinstance(r, dict)]
    if count <= 0 or not dicts or len(dicts) != len(records):
        return []
    if any(_is_future(dotted_get(r, cursor_field), now) for r in dicts):
        return []
    template = dicts[-1]
    cursor_sample = next(
        (dotted_get(r, cursor_field) for r in reversed(dicts) if dotted_get(r, cursor_field) is not None),
        None,
    )
    unique = [p for p in _unique_fields(dicts) if p != cursor_field]
    added = []
    for i in range(count):
        clone = copy.deepcopy(template)
        for path in unique:
            existing = [dotted_get(r, path) for r in dicts]
            dotted_set(clone, path, _fresh(dotted_get(template, path), existing, i))
        if isinstance(cursor_sample, str) and _DATE_ONLY.match(cursor_sample.strip()):
            moment = datetime.combine(now.date() + timedelta(days=i + 1), time(), timezone.utc)
        else:
            moment = now + timedelta(hours=i + 1)
        dotted_set(clone, cursor_field, _format_like(cursor_sample, moment))
        records.append(clone)
        added.append(len(records) - 1)
    return added
