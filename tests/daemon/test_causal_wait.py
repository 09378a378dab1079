"""Waiting for the causal scheduler must not swallow the waiter's own cancellation.

The engine's runner waits for investigations; when the engine stops it cancels the runner. A
``wait`` that suppressed every ``CancelledError`` (to outlive a cancelled investigation) also
swallowed the runner's, and ``Engine.stop`` then hung until the next investigation ended, or
forever (found through ``connector-watch lsp``'s shutdown while an investigation ran).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from connector_watch.daemon.baselines import Baseline, Baselines
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.workspace import Workspace


def _scheduler(tmp_path: Path, overlay_ready: asyncio.Event) -> CausalScheduler:
    async def overlay():  # an investigation that lasts until the test says
        await overlay_ready.wait()
        raise RuntimeError("no overlay here")

    scheduler = CausalScheduler(
        Workspace(tmp_path), Baselines(None, None), overlay, lambda verdicts: None, lambda *a: None
    )
    scheduler.schedule("t.py::test", ("failed", ""), Baseline("last pass", True, {"a.json": b"[]"}))
    return scheduler


def test_a_cancelled_waiter_stops_while_the_investigation_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        ready = asyncio.Event()
        scheduler = _scheduler(tmp_path, ready)
        scheduler.start()
        waiter = asyncio.create_task(scheduler.wait())
        await asyncio.sleep(0.05)
        waiter.cancel()
        done, _ = await asyncio.wait({waiter}, timeout=5)
        assert waiter in done and waiter.cancelled()
        assert scheduler.busy  # the investigation itself was not touched
        await scheduler.cancel()

    asyncio.run(scenario())


def test_a_cancelled_investigation_ends_the_wait_without_cancelling_the_waiter(tmp_path: Path) -> None:
    async def scenario() -> None:
        scheduler = _scheduler(tmp_path, asyncio.Event())
        scheduler.start()
        waiter = asyncio.create_task(scheduler.wait())
        await asyncio.sleep(0.05)
        await scheduler.cancel()  # a newer save
        await asyncio.wait_for(waiter, 5)
        assert not waiter.cancelled()

    asyncio.run(scenario())
