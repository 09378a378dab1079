"""What a test class's connector offers, learned once at collection.

Knowing the tables (and which are partitioned, which have deletes) while
collecting lets the harness give every table its own pytest node
(``test_read_table[issues]``), so a change to one table reruns only its nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector_watch.sources.interface import SupportsPartition, SupportsPartitionedStream
from connector_watch.tests.harness import settings as settings_module
from connector_watch.tests.harness.failures import HarnessFailure, annotate

#: Table selections a harness test can ask for.
SELECTIONS = ("all", "non_partitioned", "partitioned", "deletes")


@dataclass
class Catalogue:
    tables: list[str]
    metadata: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    partitioned: dict[str, bool] = field(default_factory=dict)

    def select(self, selection: str) -> list[str]:
        if selection == "all":
            return list(self.tables)
        if selection == "non_partitioned":
            return [t for t in self.tables if not self.partitioned.get(t, False)]
        if selection == "partitioned":
            return [t for t in self.tables if self.partitioned.get(t, False)]
        if selection == "deletes":
            # A table whose metadata failed is kept, so the failure shows up in its own node.
            return [
                t
                for t in self.tables
                if self.metadata.get(t) is None
                or self.metadata[t].get("ingestion_type") == "cdc_with_deletes"
            ]
        raise ValueError(f"unknown table selection {selection!r}; expected one of {SELECTIONS}")


_cache: dict[type, Catalogue] = {}
_failed: dict[type, Exception] = {}


def partitioned(connector: Any, table: str) -> bool:
    if isinstance(connector, SupportsPartitionedStream):
        return bool(connector.is_partitioned(table))
    return isinstance(connector, SupportsPartition)


def catalogue_of(test_class: type) -> Catalogue:
    """Build (once per class) the catalogue by running the connector under the simulator."""
    if test_class in _cache:
        return _cache[test_class]
    if test_class in _failed:  # asked once per test function: fail the same way, once
        raise _failed[test_class]
    try:
        catalogue = _build(test_class)
    except Exception as exc:
        _failed[test_class] = exc
        raise
    _cache[test_class] = catalogue
    return catalogue


def _build(test_class: type) -> Catalogue:
    settings = settings_module.resolve(test_class)
    simulator = settings.simulator(record=False)
    with simulator:
        try:
            connector = test_class.connector_class(settings.config)
        except Exception as exc:
            raise annotate(exc, f"{test_class.__name__}: the connector raised while being constructed")
        try:
            tables = connector.list_tables()
        except Exception as exc:
            raise annotate(exc, f"{test_class.__name__}: list_tables() raised while collecting tests")
        if not isinstance(tables, (list, tuple)) or not all(isinstance(t, str) for t in tables):
            raise HarnessFailure(
                f"list_tables() must return a list of str, got {tables!r}", check="list_tables"
            )
        catalogue = Catalogue(tables=list(dict.fromkeys(tables)))
        for table in catalogue.tables:
            try:
                catalogue.metadata[table] = connector.read_table_metadata(
                    table, settings.table_options(table)
                )
            except Exception:
                catalogue.metadata[table] = None
            try:
                catalogue.partitioned[table] = partitioned(connector, table)
            except Exception:
                catalogue.partitioned[table] = False
    return catalogue
