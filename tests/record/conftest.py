"""Fixtures for the record-mode tests: live servers, private workspaces, suite runs, Spark.

Live servers are real HTTP servers in their own processes on 127.0.0.1 (see
``simulator/live_servers``), started on first use and terminated when the test
session ends. Suite runs are real ``pytest`` subprocesses in a private copy of
the example workspace, so recordings never touch the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulator.live_servers.process import LiveServerProcess, start
from tests.support.workspace import copy_examples

REPO = Path(__file__).resolve().parents[2]
SUITE_TIMEOUT = 180


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


@dataclass
class SuiteRun:
    source: str
    mode: str
    returncode: int
    outcomes: dict[str, str]  # node id -> passed | failed | error | skipped
    output: str
    seconds: float
    messages: dict[str, str] = field(default_factory=dict)

    def by_outcome(self, outcome: str) -> list[str]:
        return sorted(n for n, o in self.outcomes.items() if o == outcome)

    def node(self, fragment: str) -> list[tuple[str, str]]:
        return [(n, o) for n, o in self.outcomes.items() if fragment in n]


def run_suite(
    workspace: Path,
    source: str,
    *,
    mode: str,
    config: dict[str, Any] | None = None,
    config_path: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = SUITE_TIMEOUT,
) -> SuiteRun:
    """Run ``tests/unit/sources/<source>`` of ``workspace`` in a pytest subprocess.

    The connector config goes in ``CONNECTOR_TEST_CONFIG_JSON`` (``config``) or, with
    ``config_path``, is written there (mode 0600) and named by ``CONNECTOR_TEST_CONFIG_PATH``.
    """
    report = workspace / f".junit-{source}-{mode}-{time.monotonic_ns()}.xml"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_TEST_", "PYTEST_"))}
    environment["CONNECTOR_TEST_MODE"] = mode
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the suites need no plugin; startup is faster
    if config is not None and config_path is not None:
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.touch(mode=0o600)
        config_path.write_text(json.dumps(config), encoding="utf-8")
        environment["CONNECTOR_TEST_CONFIG_PATH"] = str(config_path)
    elif config is not None:
        environment["CONNECTOR_TEST_CONFIG_JSON"] = json.dumps(config)
    environment.update(env or {})
    started = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--junitxml={report}",
            f"tests/unit/sources/{source}",
        ],
        cwd=workspace,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    if report.is_file():
        for case in ET.parse(report).getroot().iter("testcase"):
            node = f"{case.get('classname')}::{case.get('name')}"
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed"}.get(child.tag, child.tag)
                    messages[node] = (child.get("message") or "") + "\n" + (child.text or "")
            outcomes[node] = outcome
        report.unlink()
    return SuiteRun(
        source,
        mode,
        completed.returncode,
        outcomes,
        completed.stdout + completed.stderr,
        time.monotonic() - started,
        messages,
    )


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
    from sources.spark.session import SparkSetupError, spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        session = spark_session("local[2]", app_name="connector-watch-tests", python_path=[REPO])
    except SparkSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield session
    finally:
        session.stop()
