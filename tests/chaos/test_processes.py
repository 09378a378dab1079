"""Processes dying: workers and the zygote SIGKILLed, tests that hang or end their process."""

from __future__ import annotations

import asyncio

import pytest
from connector_watch.tests.chaos.driver import LiveDaemon
from connector_watch.tests.chaos.quick import trial


@pytest.mark.parametrize("name", ["worker_sigkill", "zygote_sigkill", "hangs", "crashes"])
def test_dying_workers_end_where_a_cold_run_does(live: LiveDaemon, name: str) -> None:
    trial(live, name)


def test_every_node_is_placed_in_its_own_file(live: LiveDaemon) -> None:
    """A test inherited from the harness is placed at its class in the test file: a line number of
    the harness file would point past the end of a 15-line test file (issue 14's fifth defect)."""

    async def snapshot() -> dict:
        await live.connect()
        try:
            return await live.settle()
        finally:
            await live.disconnect()

    nodes = [n for n in asyncio.run(snapshot())["nodes"] if n.get("kind") == "test"]
    assert nodes
    for item in nodes:
        lines = (live.root / item["file"]).read_text(encoding="utf-8").splitlines()
        assert 1 <= item["line"] <= len(lines), item
        assert lines[item["line"] - 1].lstrip().startswith(("class ", "def ", "async def ", "@")), item
