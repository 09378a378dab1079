"""The daemon SIGKILLed in the middle of a run, files changed while it is down, then started again
with and without its initial run (issue 14's fourth defect: without the initial run it did not
load its saved index, and a clean shutdown then overwrote that index with what little it knew)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable

import pytest
from connector_watch.tests.chaos.driver import LiveDaemon
from connector_watch.tests.chaos.quick import trial
from connector_watch.tests.chaos.trials import ISSUES
from connector_watch.tests.server.support import connector_watch


@pytest.mark.parametrize("name", ["daemon_sigkill_initial_run", "daemon_sigkill_no_initial_run"])
def test_a_killed_daemon_started_again_ends_where_a_cold_run_does(
    fresh_daemon: Callable[[], LiveDaemon], name: str
) -> None:
    trial(fresh_daemon(), name)


def test_serve_without_its_initial_run_keeps_and_uses_the_saved_index(
    fresh_daemon: Callable[[], LiveDaemon],
) -> None:
    daemon = fresh_daemon()
    index_file = daemon.root / ".connector-watch" / "index.json"

    async def settle_and_count() -> int:
        await daemon.connect()
        try:
            snapshot = await daemon.settle()
            return len([n for n in snapshot["nodes"] if n.get("kind") == "test"])
        finally:
            await daemon.disconnect()

    def saved_nodes() -> int:
        return len(json.loads(index_file.read_text(encoding="utf-8"))["nodes"])

    known = asyncio.run(settle_and_count())
    deadline = time.monotonic() + 30
    while not index_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)  # saved a little after the runs settle
    assert saved_nodes() == known > 30
    daemon.stop()  # a clean shutdown
    assert saved_nodes() == known

    daemon.args = (*daemon.args, "--no-initial-run")
    daemon.start()
    assert asyncio.run(settle_and_count()) == known  # loaded, not rebuilt from nothing
    daemon.stop()
    assert saved_nodes() == known  # and not overwritten with less

    impact = subprocess.run(
        [*connector_watch(), "impact", "--workspace", str(daemon.root), ISSUES],
        capture_output=True, text=True, timeout=120, check=True,
    )
    nodes = [n["nodeId"] for n in json.loads(impact.stdout)["nodes"]]
    assert nodes and all("[issues]" in n for n in nodes), nodes  # the table's nodes, not the file
