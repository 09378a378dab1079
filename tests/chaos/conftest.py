"""The chaos suite's quick tier: live daemons (``connector-watch serve``) driven through trouble and
compared with cold runs. Every test here is marked ``chaos`` (and ``slow``); ``bench/chaos.py``
runs the same trials longer."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from connector_watch.tests.chaos.driver import LiveDaemon, chaos_workspace
from connector_watch.tests.chaos.quick import DAEMON_ARGS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def chaos_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GitHub example as a git checkout (its HEAD is the starting state)."""
    return chaos_workspace(tmp_path_factory.mktemp("chaos-template") / "workspace")


@pytest.fixture(scope="module")
def live(chaos_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    """One daemon for a module's trials (each leaves the workspace as it found it)."""
    root = Path(shutil.copytree(chaos_template, tmp_path_factory.mktemp("chaos") / "workspace", symlinks=True))
    daemon = LiveDaemon(root, *DAEMON_ARGS)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def fresh_daemon(chaos_template: Path, tmp_path: Path) -> Iterator[Callable[[], LiveDaemon]]:
    """A daemon of its own for a test that kills it."""
    started: list[LiveDaemon] = []

    def start() -> LiveDaemon:
        root = Path(shutil.copytree(chaos_template, tmp_path / "workspace", symlinks=True))
        daemon = LiveDaemon(root, *DAEMON_ARGS)
        started.append(daemon)
        return daemon.start()

    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop()
