"""Flow control, in process: the engine and the server in the test's event loop, events emitted by hand.

A stalled client is a bare socket with a small receive buffer that stops reading: the server's
transport buffer fills, then its outbox, which must never exceed ``OUTBOX_LIMIT``; when the client
reads again it gets what was already on the wire, one ``$/resync`` with a fresh snapshot, then the
live stream from the snapshot's ``seq`` on.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from connector_watch.daemon import events as ev
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.server import OUTBOX_LIMIT, DaemonServer
from connector_watch.tests.server.support import Client, RawClient, assert_contiguous, notifications_of, run

EVENTS = 10_000
PAYLOAD = "x" * 1000  # about the size of a test/finished with a diagnostic
WRITE_LIMIT = 1 << 20  # the server's transport buffer limit (websockets' write_limit)


@asynccontextmanager
async def serving(workspace: Path) -> AsyncIterator[tuple[Engine, DaemonServer]]:
    engine = Engine(workspace)  # not started: no workers, events come from the test
    server = DaemonServer(engine)
    await server.start()
    try:
        yield engine, server
    finally:
        await server.stop()


async def client_of(server: DaemonServer) -> Client:
    return await Client.open(f"{server.ws_url}?token={server.token}")


def server_side(server: DaemonServer, client: RawClient) -> Any:
    """The server's record of ``client``, its socket's send buffer made small.

    With the kernel's buffers auto-tuned (megabytes on loopback) a client could sit on thousands
    of messages before the server noticed; a small, fixed buffer makes the stall come early on
    any machine.
    """
    (found,) = [c for c in server.clients if c.connection.remote_address[1] == client.local_port]
    found.connection.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    return found


async def until(condition: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.slow  # 10,000 events through two clients
def test_a_stalled_client_has_a_bounded_outbox_then_resyncs(workspace: Path) -> None:
    async def scenario() -> None:
        async with serving(workspace) as (engine, server):
            reader = await client_of(server)
            await reader.initialize()
            stalled = await RawClient.open(server.port, server.token)
            base = (await stalled.call("initialize", {"protocolVersion": "1.0"}))["snapshot"]["seq"]
            assert base == reader.snapshot["seq"]
            side = server_side(server, stalled)
            longest = buffered = 0
            for _ in range(EVENTS // 100):
                for _ in range(100):
                    engine.emit(ev.LogMessage("info", PAYLOAD))
                    longest = max(longest, len(side.outbox))
                target = engine.seq
                await reader.until(lambda m, target=target: m["params"]["seq"] == target)
                longest = max(longest, len(side.outbox))
                buffered = max(buffered, side.connection.transport.get_write_buffer_size())
            assert engine.seq == base + EVENTS
            # It did stall, and the server kept at most OUTBOX_LIMIT messages (plus one transport buffer).
            assert side.dropped > 0 and side.resync is not None
            assert longest <= OUTBOX_LIMIT
            assert buffered <= WRITE_LIMIT + 2 * len(PAYLOAD)
            assert sum(map(len, side.outbox)) <= OUTBOX_LIMIT * (len(PAYLOAD) + 200)
            # The client that reads got every event, in order, and no resync.
            assert_contiguous(reader.received, base)
            assert len(reader.received) == EVENTS
            assert not notifications_of(reader.received, "$/resync")

            # The stalled client reads again: what was already on the wire, then one resync.
            backlog = []
            while (message := await stalled.recv())["method"] != "$/resync":
                backlog.append(message)
            assert backlog, "nothing at all was delivered before the stall"
            assert_contiguous(backlog, base)
            assert len(backlog) < EVENTS
            resync = message["params"]
            assert resync["seq"] == resync["snapshot"]["seq"] == engine.seq
            assert resync["snapshot"]["run"] is None
            # Then the live stream, right after the snapshot's seq, and no second resync.
            for i in range(5):
                engine.emit(ev.LogMessage("info", f"after {i}"))
            after = [await stalled.recv() for _ in range(5)]
            assert_contiguous(after, resync["seq"])
            assert [m["params"]["message"] for m in after] == [f"after {i}" for i in range(5)]
            assert side.resync is None and not side.outbox
            await reader.close()

    run(scenario(), timeout=120)


def test_a_burst_faster_than_any_client_stays_bounded(workspace: Path) -> None:
    """10,000 events without yielding: even a reading client falls behind and is resynced."""

    async def scenario() -> None:
        async with serving(workspace) as (engine, server), await client_of(server) as client:
            await client.initialize()
            (side,) = server.clients
            longest = 0
            for _ in range(EVENTS):
                engine.emit(ev.LogMessage("info", "x"))
                longest = max(longest, len(side.outbox))
            assert longest <= OUTBOX_LIMIT
            messages = await client.until(lambda m: m["method"] == "$/resync")
            resync = messages[-1]["params"]
            assert resync["snapshot"]["seq"] == engine.seq
            engine.emit(ev.LogMessage("info", "live"))
            (live,) = await client.until(lambda m: True)
            assert live["params"]["seq"] == resync["seq"] + 1

    run(scenario())


def test_a_stalled_client_that_disconnects_is_forgotten(workspace: Path) -> None:
    async def scenario() -> None:
        async with serving(workspace) as (engine, server), await client_of(server) as reader:
            await reader.initialize()
            stalled = await RawClient.open(server.port, server.token)
            await stalled.call("initialize", {"protocolVersion": "1.0"})
            side = server_side(server, stalled)
            for _ in range(20):
                for _ in range(100):
                    engine.emit(ev.LogMessage("info", PAYLOAD))
                target = engine.seq
                await reader.until(lambda m, target=target: m["params"]["seq"] == target)
            assert side.dropped > 0 or side.outbox, "the client did not stall"
            stalled.abort()
            await until(lambda: side not in server.clients)
            engine.emit(ev.LogMessage("info", "still here"))
            (message,) = await reader.until(lambda m: True)
            assert message["params"]["message"] == "still here"
            assert len(server.clients) == 1

    run(scenario())
