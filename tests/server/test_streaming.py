"""Many clients, a client that joins mid-run, clients that leave mid-run: against a real daemon.

The daemon is shared (see conftest.py); every test leaves it idle.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from connector_watch.tests.server.support import Client, Daemon, assert_contiguous, notifications_of, run

pytestmark = pytest.mark.slow  # a real `connector-watch serve` subprocess


def is_run_finished(run_id: int) -> Any:
    return lambda m: m["method"] == "run/finished" and m["params"]["runId"] == run_id


def test_twenty_clients_at_once_receive_the_same_run(daemon: Daemon) -> None:
    async def scenario() -> None:
        clients: list[Client] = list(await asyncio.gather(*(daemon.client() for _ in range(20))))
        try:
            seqs = {c.snapshot["seq"] for c in clients}
            assert len(seqs) == 1, f"an idle daemon gave different snapshots: {seqs}"
            before = seqs.pop()
            result = await clients[0].call("run", {"source": "github"})
            assert result["accepted"] and result["nodeIds"]
            streams = await asyncio.gather(
                *(c.until(lambda m: m["method"] == "run/finished", timeout=60) for c in clients)
            )
            first = streams[0]
            assert first[0]["method"] == "run/started"
            assert_contiguous(first, before)
            for stream in streams[1:]:
                assert stream == first  # the same messages, in the same order
            run_id = first[0]["params"]["runId"]
            finished = [m["params"]["nodeId"] for m in notifications_of(first, "test/finished", run_id)]
            assert sorted(finished) == sorted(result["nodeIds"])
            assert len(set(finished)) == len(finished)
            counts = first[-1]["params"]["counts"]
            assert sum(counts.values()) == len(finished)
            assert not first[-1]["params"]["cancelled"]
            assert not notifications_of(first, "$/resync")
        finally:
            await asyncio.gather(*(c.__aexit__() for c in clients))

    run(scenario())
    daemon.assert_healthy()


def test_a_client_joining_mid_run_gets_the_snapshot_then_every_later_event_once(daemon: Daemon) -> None:
    async def attempt() -> bool:
        async with await daemon.client() as first:
            await first.call("run", {"all": True})
            seen = await first.until(lambda m: m["method"] == "run/started")
            run_id = seen[-1]["params"]["runId"]
            seen += await first.until(
                lambda m: len(notifications_of(first.received, "test/finished", run_id)) >= 10
            )
            async with await daemon.client() as late:
                snapshot = late.snapshot
                assert snapshot is not None
                later = await late.until(is_run_finished(run_id), timeout=60)
            seen += await first.until(is_run_finished(run_id), timeout=60)
        if snapshot["run"] is None or snapshot["run"]["runId"] != run_id:
            return False  # the run ended before the late client joined: try again
        cut = snapshot["seq"]
        in_progress = snapshot["run"]
        # The late client's stream starts right after its snapshot, with no gap and no repeat...
        assert_contiguous(later, cut)
        # ...and is exactly what the first client saw after that point.
        assert later == [m for m in first.received if m["params"]["seq"] > cut][: len(later)]
        # The snapshot holds exactly what happened up to its seq.
        before = [m for m in first.received if m["params"]["seq"] <= cut]
        finished_before = {
            m["params"]["nodeId"]: m["params"]["outcome"]
            for m in notifications_of(before, "test/finished", run_id)
        }
        assert in_progress["finished"] == finished_before
        assert len(finished_before) > 0, "joined before any test finished"
        started_before = {m["params"]["nodeId"] for m in notifications_of(before, "test/started", run_id)}
        assert set(in_progress["started"]) == started_before - set(finished_before)
        outcomes = {n["nodeId"]: n["outcome"] for n in snapshot["nodes"]}
        for node_id, outcome in finished_before.items():
            assert outcomes[node_id] == outcome
        # Every test of the run finished exactly once across the snapshot and the later stream.
        finished_later = [m["params"]["nodeId"] for m in notifications_of(later, "test/finished", run_id)]
        assert len(set(finished_later)) == len(finished_later)
        assert not set(finished_later) & set(finished_before), "an event was repeated after the snapshot"
        everything = [
            m["params"]["nodeId"] for m in notifications_of(first.received, "test/finished", run_id)
        ]
        assert sorted(everything) == sorted([*finished_before, *finished_later])
        assert len(finished_later) > 0, "joined after the last test finished"
        counts = later[-1]["params"]["counts"]
        assert sum(counts.values()) == len(everything) == len(snapshot["nodes"])
        return True

    async def scenario() -> None:
        for _ in range(3):
            if await attempt():
                return
        raise AssertionError("three runs all finished before the late client joined")

    run(scenario(), timeout=120)
    daemon.assert_healthy()


def test_disconnects_mid_run_are_harmless(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client() as observer:
            node_count = len(observer.snapshot["nodes"])
            driver = await daemon.client()
            # initialized, never reads, leaves politely mid-run (its closing handshake cannot finish)
            silent = await daemon.client(close_timeout=0.2)
            await driver.call("run", {"all": True})
            started = await observer.until(lambda m: m["method"] == "run/started")
            run_id = started[-1]["params"]["runId"]
            await driver.until(lambda m: m["method"] == "test/finished")
            driver.ws.transport.abort()  # the one that started the run vanishes without a close frame
            uninitialized = await Client.open(daemon.url)  # connects mid-run, never initializes
            await observer.until(
                lambda m: len(notifications_of(observer.received, "test/finished", run_id)) >= 20
            )
            await silent.close()
            await uninitialized.close()
            for _ in range(5):  # come and go mid-run
                joiner = await daemon.client()
                joiner.ws.transport.abort()
            finished = await observer.until(is_run_finished(run_id), timeout=60)
            params = finished[-1]["params"]
            assert not params["cancelled"]
            assert sum(params["counts"].values()) == node_count
            assert params["counts"]["crashed"] == 0
            errors = [
                m
                for m in notifications_of(observer.received, "window/logMessage")
                if m["params"]["level"] == "error"
            ]
            assert not errors, errors
        # A new client is served as before.
        async with await daemon.client() as later:
            assert later.snapshot["run"] is None
            _, messages = await later.run_to_end({"source": "msgraph"})
            assert notifications_of(messages, "test/finished")

    run(scenario(), timeout=90)
    daemon.assert_healthy()


def test_cancel_mid_run(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client() as client:
            assert (await client.call("cancel")) == {"cancelled": False}  # nothing to cancel
            await client.call("run", {"all": True})
            started = await client.until(lambda m: m["method"] == "run/started")
            run_id = started[-1]["params"]["runId"]
            await client.until(lambda m: m["method"] == "test/finished")
            assert (await client.call("cancel")) == {"cancelled": True}
            finished = await client.until(is_run_finished(run_id), timeout=60)
            assert finished[-1]["params"]["cancelled"]
            snapshot = await client.call("snapshot")
            assert snapshot["run"] is None

    run(scenario())
    daemon.assert_healthy()
