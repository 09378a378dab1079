"""The ``lakeflow_connect`` data source's options and offsets: its own option keys (everything
else goes to the connector, case-insensitively), ``maxBatches``, offsets compared the harness's
way, and whether a table reads through the connector's partitions. Part of the readers (merged
with them into a single-file connector by ``merge_source``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector_watch.sources.spark.problems import DataSourceOptionError

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


def max_batches(raw: str | None) -> int:
    if not raw:
        return DEFAULT_MAX_BATCHES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise DataSourceOptionError(f"option 'maxBatches' must be a whole number of 1 or more; got {raw!r}")
    return value
