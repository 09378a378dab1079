"""Fixtures for the record-mode tests: live servers, private workspaces, suite runs, Spark.

Live servers are real HTTP servers in their own processes on 127.0.0.1 (see
``simulator/live_servers``), started on first use and terminated when the test
session ends. Suite runs are real ``pytest`` subprocesses in a private copy of
the example workspace, so recordings never touch the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator.live_servers.process import LiveServerProcess, start
from connector_watch.tests.support.workspace import copy_examples

REPO = Path(__file__).resolve().parents[2]


class LiveServers:
    """One live server per source for the whole session (rate limit ``first``: every route's first
    call is answered 429, so every recording exercises a retry)."""

    def __init__(self) -> None:
        self._servers: dict[str, LiveServerProcess] = {}

    def __getitem__(self, source: str) -> LiveServerProcess:
        if source not in self._servers:
            self._servers[source] = start(source, rate_limit="first")
        server = self._servers[source]
        assert server.running, f"the {source} live server died:\n{server.log()}"
        return server

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def live_servers() -> Iterator[LiveServers]:
    servers = LiveServers()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory for servers private to one test (own drift, delay, data); all stopped after it."""
    started: list[LiveServerProcess] = []

    def make(source: str, **kwargs: Any) -> LiveServerProcess:
        server = start(source, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A private copy of the example workspace (connectors, specs, corpora, tests)."""
    return copy_examples(tmp_path / "workspace")


def cassette_paths(workspace: Path, source: str) -> tuple[Path, Path, Path]:
    name = f"Test{source.capitalize()}Connector.json"
    base = workspace / "tests" / "unit" / "sources" / source / "cassettes" / name
    return base, base.with_name(name + ".validation.json"), base.with_name(name + ".coverage.json")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The test session's one local SparkSession (shared with ``tests/spark``: same settings, and
    ``spark_session`` returns the active session when there is one). Spark tests are marked
    ``spark`` and ``slow``."""
    from connector_watch.sources.spark.session import SparkSetupError, spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        session = spark_session("local[2]", app_name="connector-watch-tests", python_path=[REPO])
    except SparkSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield session
    finally:
        session.stop()
