"""What the harness learned about each table while testing (schema, metadata).

The connector-watch daemon's pytest plugin drains these after each test to lint
corpora against the connector's real schema without importing connector code
into the daemon itself. Recording is cheap and has no effect outside the daemon.
"""

from __future__ import annotations

from typing import Any

_pending: list[dict[str, Any]] = []


def record(
    test_class: str, source: str | None, table: str, *, schema: Any = None, metadata: Any = None
) -> None:
    entry: dict[str, Any] = {"testClass": test_class, "source": source, "table": table}
    if schema is not None:
        try:
            entry["schema"] = schema.jsonValue()
        except Exception:
            return
    if metadata is not None:
        entry["metadata"] = metadata
    _pending.append(entry)


def drain() -> list[dict[str, Any]]:
    items = list(_pending)
    _pending.clear()
    return items
