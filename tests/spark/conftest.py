"""Shared pieces of the Spark tests: one SparkSession per test run, and the example sources' tables.

Every test that starts Spark is marked ``spark`` and ``slow``; ``make test-quick``
(``-m "not slow"``) leaves them out. A missing Java runtime or pyarrow fails the
session fixture with the one clear message of :class:`~connector_watch.sources.spark.session.SparkSetupError`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator import Simulator
from connector_watch.simulator.layout import Layout
from connector_watch.sources.spark import runtime
from connector_watch.sources.spark.config import load_source_config

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = Layout.load(ROOT)
EXAMPLE_SOURCES = ("github", "zendesk", "hubspot", "msgraph")


def example_tables() -> list[tuple[str, str, dict[str, Any]]]:
    """``(source, table, metadata)`` of every table of every example source (read at collection)."""
    found = []
    for source in EXAMPLE_SOURCES:
        config = load_source_config(LAYOUT, source)
        with Simulator(mode="simulate", spec_path=LAYOUT.spec_file(source)):
            connector = runtime.connector_class({"source": source})(config.connection)
            for table in connector.list_tables():
                found.append(
                    (source, table, connector.read_table_metadata(table, config.table_options(table)))
                )
    return found


def plain_drain(source: str, table: str, call: str = "read_table") -> list[dict[str, Any]]:
    """Every record of ``table`` read in plain Python (no Spark), offsets fed back until they settle."""
    config = load_source_config(LAYOUT, source)
    records: list[dict[str, Any]] = []
    with Simulator(mode="simulate", spec_path=LAYOUT.spec_file(source)):
        connector = runtime.connector_class({"source": source})(config.connection)
        offset: Any = None
        for _ in range(1000):
            batch, new = getattr(connector, call)(table, offset, config.table_options(table))
            records.extend(batch)
            if new is None or runtime.canonical(new) == runtime.canonical(offset) or (not offset and not new):
                return records
            offset = new
    raise AssertionError(f"{source}.{table} did not settle")


def read_options(source: str, table: str, **extra: str) -> dict[str, str]:
    """The options of a simulated read of ``table``, as ``python -m connector_watch.sources.spark read`` builds them."""
    config = load_source_config(LAYOUT, source)
    return {
        **config.options(table),
        "source": source,
        "tableName": table,
        "simulatorMode": "simulate",
        "simulatorSpecsDir": str(LAYOUT.specs_dir()),
        **extra,
    }


@pytest.fixture(scope="session")
def spark_session_for_tests() -> Iterator[Any]:
    """One SparkSession for the whole test run (another suite's session is reused if it came first)."""
    from connector_watch.sources.spark.session import SparkSetupError, spark_session

    try:
        session = spark_session("local[2]", app_name="connector-watch-tests", python_path=[ROOT])
    except SparkSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield session
    session.stop()


@pytest.fixture
def spark(spark_session_for_tests: Any) -> Any:
    """The shared session with this repository's ``lakeflow_connect`` registered (another test in
    the same process may have registered a merged file's data source under that name)."""
    from connector_watch.sources.spark.datasource import register

    register(spark_session_for_tests)
    return spark_session_for_tests


@pytest.fixture
def trace_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="cw-spark-trace-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def pk_values(rows: list[Any], pks: list[str]) -> list[str]:
    """The primary keys of rows (Spark Rows or dicts) as sortable JSON text."""
    from connector_watch.simulator.values import dotted_get

    out = []
    for row in rows:
        data = row.asDict(recursive=True) if hasattr(row, "asDict") else row
        out.append(json.dumps([dotted_get(data, pk) for pk in pks], default=str))
    return sorted(out)
