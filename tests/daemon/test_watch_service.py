"""The watch service never stops watching for good: a watcher that cannot start is retried.

watchdog's ``Observer.start()`` raises when a folder vanishes between listing and watching, or when
the inotify watch limit is reached (ENOSPC). Exhausting the kernel's limit is not something a test
can do to this machine, so that one failure is injected into the real watcher's ``start``; the
observer, the folders and the save are real.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
from connector_watch.daemon import watcher as watcher_module
from connector_watch.daemon.watcher import Debouncer, WatchService
from connector_watch.daemon.workspace import Workspace
from connector_watch.tests.support.workspace import copy_examples

CORPUS = "simulator/specs/github/corpus/issues.json"


def _fail_first_starts(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[int]:
    real_start = watcher_module.Watcher.start
    attempts: list[int] = []

    def start(self: watcher_module.Watcher) -> None:
        attempts.append(1)
        if len(attempts) <= failures:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        real_start(self)

    monkeypatch.setattr(watcher_module.Watcher, "start", start)
    return attempts


async def _until(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("failures", [1, 3], ids=["at-start-once", "at-start-three-times"])
def test_a_watcher_that_cannot_start_is_reported_and_retried_until_saves_are_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    root = copy_examples(tmp_path, sources=("github",))
    attempts = _fail_first_starts(monkeypatch, failures)
    logs: list[tuple[str, str]] = []
    noticed: list[str] = []

    async def scenario() -> None:
        debouncer = Debouncer(quiet=0.02)
        service = WatchService(
            Workspace(root),
            debouncer,
            noticed=noticed.append,
            unseen=lambda: [],
            log=lambda level, message: logs.append((level, message)),
            interval=0.05,
        )
        service.start()  # must not raise: the daemon keeps serving
        supervisor = asyncio.create_task(service.supervise())
        try:
            await _until(lambda: service.watcher is not None and service.watcher.failure() is None)
            (root / CORPUS).write_text((root / CORPUS).read_text() + "\n")
            await _until(lambda: CORPUS in noticed)
        finally:
            supervisor.cancel()
            service.stop()

    asyncio.run(scenario())
    cannot = [m for level, m in logs if level == "error" and "cannot start the file watcher" in m]
    assert len(cannot) == failures, logs
    assert "ENOSPC" in cannot[0] or "watch limit" in cannot[0]
    assert len(attempts) == failures + 1
    assert any("running again" in m for _, m in logs), logs
