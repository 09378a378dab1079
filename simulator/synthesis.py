"""Replay synthesis (``synthesize_count``): more records than the sampled recording kept.

A cassette keeps a few records per response. With ``synthesize_count=N`` replay appends N
records to every recorded records list, as the public simulator does: each a copy of the last
recorded record in which only the scalar fields that differ across the recorded records change
(ints and floats step up, ISO timestamps move forward keeping their format, UUIDs and long hex
ids are redrawn, other strings get a ``-syn<i>`` suffix; booleans, nulls and anything inside
lists stay). Deterministic: the random draws are seeded from the request.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from connector_watch.simulator.sampling import get_path, records_path

_HEX = re.compile(r"[0-9a-f]{20,}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def seed_of(method: str, url: str, query: Any) -> int:
    digest = hashlib.sha256(
        f"{method} {url} {sorted(query.items()) if isinstance(query, dict) else query}".encode()
    )
    return int.from_bytes(digest.digest()[:8], "big")


def synthesize(records: list[Any], count: int, seed: int) -> list[Any]:
    """``count`` new records modelled on ``records`` (empty when there is nothing to model)."""
    models = [r for r in records if isinstance(r, dict)]
    if count <= 0 or not models:
        return []
    varying = _varying_fields(models)
    rng = random.Random(seed)
    out = []
    for i in range(1, count + 1):
        record = copy.deepcopy(models[-1])
        for path in varying:
            parent = _parent(record, path)
            if parent is not None:
                parent[path[-1]] = _vary(parent[path[-1]], i, rng)
        out.append(record)
    return out


def _varying_fields(records: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Paths (through objects, never lists) of scalars whose values differ across ``records``."""
    paths: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            here = (*path, key)
            if isinstance(value, dict):
                walk(value, here)
            elif not isinstance(value, (list, bool)) and value is not None:
                seen = {repr(get_path(r, here)) for r in records}
                if len(seen) > 1:
                    paths.append(here)

    walk(records[-1], ())
    return paths


def _parent(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = record
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and path[-1] in node else None


def _vary(value: Any, i: int, rng: random.Random) -> Any:
    if isinstance(value, int):
        return value + rng.randint(1, 1000) + i
    if isinstance(value, float):
        return value + rng.uniform(1, 1000) + i
    if not isinstance(value, str):
        return value
    if _ISO.match(value):
        return _shift_timestamp(value, i, rng)
    try:
        uuid.UUID(value)
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    except ValueError:
        pass
    if _HEX.fullmatch(value.lower()):
        return "".join(rng.choice("0123456789abcdef") for _ in value)
    return f"{value}-syn{i}"


def _shift_timestamp(value: str, i: int, rng: random.Random) -> str:
    head = value[:19]
    try:
        moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return f"{value}-syn{i}"
    shifted = moment + timedelta(seconds=rng.randint(1, 3600) * i)
    return shifted.strftime("%Y-%m-%dT%H:%M:%S") + value[19:]


def synthesized_body(body: bytes, encoding: str | None, count: int, seed: int) -> bytes | None:
    """A JSON response body with ``count`` records added to its records list (None: nothing to add to)."""
    try:
        data = json.loads(body.decode(encoding or "utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    path = records_path(data)
    records = data if path == () else (get_path(data, path) if path else None)
    if not isinstance(records, list):
        return None
    added = synthesize(records, count, seed)
    if not added:
        return None
    records.extend(added)
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
