"""Fixtures for the server tests: private workspace copies and ``connector-watch serve`` subprocesses."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from connector_watch.tests.server.support import VIOLATIONS, Daemon, copy_workspace, run


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the example workspace per session; tests copy it again before touching it."""
    return copy_workspace(tmp_path_factory.mktemp("template") / "workspace")


@pytest.fixture
def workspace(workspace_template: Path, tmp_path: Path) -> Path:
    """A private copy for one test."""
    return Path(shutil.copytree(workspace_template, tmp_path / "workspace"))


@pytest.fixture(scope="session")
def daemon(workspace_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the session, on its own copy, after its initial run (it knows every node).

    Tests that use it leave it idle, in simulate mode, with its workspace unchanged.
    """
    root = Path(shutil.copytree(workspace_template, tmp_path_factory.mktemp("daemon") / "workspace"))
    process = Daemon(root)
    try:
        process.start()
        run(process.wait_idle())
        yield process
    finally:
        process.stop()


@pytest.fixture
def start_daemon(workspace_template: Path, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons for one test (each on a fresh copy unless ``root`` is given); all stop at teardown."""
    started: list[Daemon] = []

    def start(*args: str, root: Path | None = None, wait: bool = True) -> Daemon:
        if root is None:
            root = Path(shutil.copytree(workspace_template, tmp_path / f"workspace{len(started)}"))
        process = Daemon(root, *args)
        started.append(process)
        return process.start() if wait else process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(autouse=True)
def _every_message_follows_the_schema() -> Iterator[None]:
    VIOLATIONS.clear()
    yield
    assert not VIOLATIONS, f"the daemon sent messages the schema rejects: {VIOLATIONS}"


def break_github_corpus(root: Path) -> str:
    """Give the GitHub issues ids the connector's schema rejects; the corpus path."""
    path = root / "simulator" / "specs" / "github" / "corpus" / "issues.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    for record in records:  # every one: the tests read a sample, of some repositories only
        record["id"] = "not-a-number"
    path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    return path.relative_to(root).as_posix()


@pytest.fixture(scope="session")
def failing_daemon(workspace_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon after a save that broke a GitHub corpus and the run that save triggered (a test failed)."""
    root = Path(shutil.copytree(workspace_template, tmp_path_factory.mktemp("failing") / "workspace"))
    process = Daemon(root)

    async def break_it() -> None:
        async with await process.client() as client:
            break_github_corpus(root)
            await client.until(
                lambda m: m["method"] == "test/finished" and m["params"]["outcome"] == "failed"
            )
            await client.until(lambda m: m["method"] == "run/finished")

    try:
        process.start()
        run(process.wait_idle())
        run(break_it())
        yield process
    finally:
        process.stop()
