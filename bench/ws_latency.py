"""WebSocket delivery: latency from the engine to connected clients, memory with a stalled client.

    .venv/bin/python bench/ws_latency.py                      # 1, 10, 50 clients; 10,000-event floods
    .venv/bin/python bench/ws_latency.py --clients 1,10 --events 200 --flood 2000   # quicker

The daemon side is a real ``Engine`` (not started: no workers, nothing else emits) behind a real
``DaemonServer``, in a subprocess of its own (``--harness``), driven over stdin: it emits
``window/logMessage`` events whose text starts with ``time.monotonic_ns()``, taken just before
``engine.emit``. The clients (``websockets``, in this process) take ``time.monotonic_ns()`` when a
message is handed to them; CLOCK_MONOTONIC is one clock for the whole machine, so the difference
is the delivery latency: emit, JSON encoding, outbox, send, loopback, frame parsing.

Memory: a fresh harness per scenario floods 10,000 events of about 1 KB (the size of a
``test/finished`` with a diagnostic) in bursts of 100, with one client reading everything, and then
again with one more client that connected, initialized and never reads (a bare socket: a slow or
hung editor). Reported: the daemon's RSS before, at its highest (sampled every burst) and after;
the Python heap (tracemalloc, in a second run of each scenario, as it slows the process down); the
longest outbox; what was dropped; and, after the flood, whether the stalled client, reading again,
gets its ``$/resync``.

Prints a table and writes every figure to ``bench/results/ws_latency.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "bench" / "results" / "ws_latency.json"
WORKSPACE_PARTS = ("sources", "simulator", "tests")
IGNORE = shutil.ignore_patterns("__pycache__", "cassettes", ".connector-watch", "*.pyc", ".pytest_cache")


# ---------------------------------------------------------------------------- the daemon side


def _memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024
    return found


async def harness(root: Path, trace: bool) -> None:
    import gc
    import tracemalloc

    from connector_watch.daemon import events as ev
    from connector_watch.daemon.engine import Engine
    from connector_watch.daemon.server import OUTBOX_LIMIT, DaemonServer

    if trace:
        tracemalloc.start()
    engine = Engine(root)
    server = DaemonServer(engine)
    await server.start()
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)

    def reply(**values: Any) -> None:
        print(json.dumps(values), flush=True)

    def clients() -> list[dict[str, Any]]:
        return [
            {
                "port": c.connection.remote_address[1],
                "outbox": len(c.outbox),
                "sent": c.sent,
                "dropped": c.dropped,
                "resyncPending": c.resync is not None,
                "writeBuffer": c.connection.transport.get_write_buffer_size(),
            }
            for c in server.clients
        ]

    reply(port=server.port, token=server.token, pid=os.getpid(), outboxLimit=OUTBOX_LIMIT)
    while line := await commands.readline():
        command = json.loads(line)
        kind = command["cmd"]
        if kind == "emit":  # paced events, for latency
            pad = "x" * command["size"]
            cost = 0
            for _ in range(command["count"]):
                start = time.monotonic_ns()
                engine.emit(ev.LogMessage("info", f"{start} {pad}"))
                cost += time.monotonic_ns() - start
                await asyncio.sleep(command["interval"])
            reply(seq=engine.seq, emitMicros=cost / command["count"] / 1000)
        elif kind == "flood":  # bursts, for memory
            pad = "x" * command["size"]
            gc.collect()
            if trace:
                tracemalloc.reset_peak()
            before = _memory()
            traced_before = tracemalloc.get_traced_memory()[0] if trace else None
            peak_rss = before["VmRSS"]
            longest = longest_bytes = buffered = 0
            emitted = 0
            while emitted < command["count"]:
                for _ in range(min(command["burst"], command["count"] - emitted)):
                    engine.emit(ev.LogMessage("info", f"{time.monotonic_ns()} {pad}"))
                    emitted += 1
                for c in server.clients:
                    longest = max(longest, len(c.outbox))
                    longest_bytes = max(longest_bytes, sum(map(len, c.outbox)))
                    buffered = max(buffered, c.connection.transport.get_write_buffer_size())
                peak_rss = max(peak_rss, _memory()["VmRSS"])
                await asyncio.sleep(command["pause"])
            after = _memory()
            traced = tracemalloc.get_traced_memory() if trace else None
            reply(
                seq=engine.seq,
                rssBefore=before["VmRSS"],
                rssPeak=peak_rss,
                rssAfter=after["VmRSS"],
                tracedBefore=traced_before,
                tracedAfter=traced[0] if traced else None,
                tracedPeak=traced[1] if traced else None,
                longestOutbox=longest,
                longestOutboxBytes=longest_bytes,
                largestWriteBuffer=buffered,
                clients=clients(),
            )
        elif kind == "stats":
            reply(seq=engine.seq, clients=clients(), memory=_memory())
        elif kind == "quit":
            break
    await server.stop()


# ---------------------------------------------------------------------------- the client side


class Harness:
    """The daemon-side subprocess and its stdin/stdout command channel."""

    def __init__(self, root: Path, trace: bool = False) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--harness", str(root)]
        if trace:
            command.append("--tracemalloc")
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, bufsize=1
        )
        self.info = self._read()
        self.port = self.info["port"]
        self.token = self.info["token"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the harness exited with {self.proc.wait()}")
        return json.loads(line)

    async def command(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return await asyncio.to_thread(self._read)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Reader:
    """A ``websockets`` client that reads everything and notes when each log line arrived."""

    def __init__(self, port: int, token: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws?token={token}"
        self.latencies: list[int] = []
        self.seq = 0
        self.resyncs = 0
        self.arrived = asyncio.Event()
        self.target = 0

    async def start(self) -> Reader:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, max_size=None, proxy=None, compression=None)
        await self.ws.send(
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "1.0"}}
            )
        )
        self.seq = json.loads(await self.ws.recv())["result"]["snapshot"]["seq"]
        self.task = asyncio.create_task(self._loop())
        return self

    async def _loop(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                now = time.monotonic_ns()
                message = json.loads(raw)
                method = message.get("method")
                if method == "window/logMessage":
                    self.latencies.append(now - int(message["params"]["message"].split(" ", 1)[0]))
                elif method == "$/resync":
                    self.resyncs += 1
                self.seq = message["params"]["seq"]
                if self.seq >= self.target:
                    self.arrived.set()

    async def until(self, seq: int, timeout: float = 120) -> None:
        self.target = seq
        while self.seq < seq:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), timeout)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)


class Stalled:
    """A bare-socket WebSocket client (websockets' sans-I/O protocol) that stops reading after initialize."""

    async def start(self, port: int, token: str) -> Stalled:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws?token={token}"), max_size=None)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)
        self.port = sock.getsockname()[1]
        self.events: collections.deque[Any] = collections.deque()
        self.proto.send_request(self.proto.connect())
        await self._flush()
        await self._next()  # the handshake response
        self.proto.send_text(
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "1.0"}}
            ).encode()
        )
        await self._flush()
        await self.message()  # the initialize response; from now on nothing is read
        return self

    async def _flush(self) -> None:
        data = b"".join(self.proto.data_to_send())
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def _next(self) -> Any:
        while not self.events:
            data = await asyncio.wait_for(self.reader.read(65536), 60)
            if not data:
                raise ConnectionError("closed")
            self.proto.receive_data(data)
            self.events.extend(self.proto.events_received())
            await self._flush()
        return self.events.popleft()

    async def message(self) -> dict[str, Any]:
        from websockets.frames import Frame, Opcode

        while True:
            event = await self._next()
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                return json.loads(event.data)

    def close(self) -> None:
        self.writer.transport.abort()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_ns: list[int]) -> dict[str, float]:
    ms = [v / 1e6 for v in latencies_ns]
    return {
        "samples": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3),
        "mean": round(statistics.fmean(ms), 3),
    }


async def latency(
    root: Path, counts: list[int], events: int, interval: float, size: int
) -> list[dict[str, Any]]:
    results = []
    harness_process = Harness(root)
    try:
        for count in counts:
            readers = [
                await Reader(harness_process.port, harness_process.token).start() for _ in range(count)
            ]
            warm = await harness_process.command(cmd="emit", count=20, interval=interval, size=size)
            await asyncio.gather(*(r.until(warm["seq"]) for r in readers))
            for r in readers:
                r.latencies.clear()
            done = await harness_process.command(cmd="emit", count=events, interval=interval, size=size)
            await asyncio.gather(*(r.until(done["seq"]) for r in readers))
            samples = [v for r in readers for v in r.latencies]
            row = {
                "clients": count,
                "events": events,
                "intervalMs": interval * 1000,
                **summary(samples),
                "emitMicros": round(done["emitMicros"], 1),
                "resyncs": sum(r.resyncs for r in readers),
                "perClientP50": [round(percentile([v / 1e6 for v in r.latencies], 50), 3) for r in readers],
            }
            results.append(row)
            print(
                f"  {count:>3} clients: p50 {row['p50']:.2f} ms, p95 {row['p95']:.2f} ms "
                f"({row['samples']} deliveries)",
                file=sys.stderr,
            )
            await asyncio.gather(*(r.close() for r in readers))
    finally:
        harness_process.close()
    return results


async def memory(root: Path, flood: int, size: int, stalled: bool, trace: bool) -> dict[str, Any]:
    harness_process = Harness(root, trace=trace)
    try:
        reader = await Reader(harness_process.port, harness_process.token).start()
        hung = await Stalled().start(harness_process.port, harness_process.token) if stalled else None
        result = await harness_process.command(cmd="flood", count=flood, size=size, burst=100, pause=0.001)
        await reader.until(result["seq"])
        result["reader"] = {"received": len(reader.latencies), "resyncs": reader.resyncs}
        if hung is not None:
            (side,) = [c for c in result["clients"] if c["port"] == hung.port]
            overflowed = side["dropped"] > 0 or side["resyncPending"]
            started = time.monotonic()
            backlog = 0
            while True:  # read again: what is on the wire, then (if it overflowed) one resync
                message = await hung.message()
                if message.get("method") == "$/resync" or message["params"]["seq"] >= result["seq"]:
                    break
                backlog += 1
            resynced = message.get("method") == "$/resync"
            assert resynced == overflowed, (resynced, side)
            result["stalledClient"] = {
                "overflowed": overflowed,
                "backlogBeforeResync": backlog,
                "resyncSeq": message["params"]["seq"] if resynced else None,
                "resyncBytes": len(json.dumps(message)) if resynced else None,
                "secondsToCatchUp": round(time.monotonic() - started, 3),
            }
            hung.close()
        await reader.close()
        return result
    finally:
        harness_process.close()


def copy_workspace(destination: Path) -> Path:
    for name in WORKSPACE_PARTS:
        shutil.copytree(REPO / name, destination / name, ignore=IGNORE)
    shutil.copy(REPO / "pyproject.toml", destination / "pyproject.toml")
    return destination


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f}"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import websockets

    counts = [int(c) for c in args.clients.split(",")]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cw-ws-") as tmp:
        root = copy_workspace(Path(tmp) / "workspace")
        print(f"latency: {args.events} events, one per {args.interval * 1000:g} ms", file=sys.stderr)
        rows = await latency(root, counts, args.events, args.interval, args.size)
        print(f"memory: {args.flood} events of {args.flood_size} characters", file=sys.stderr)
        scenarios = {}
        for name, stalled in (("baseline", False), ("stalled", True)):
            plain = await memory(root, args.flood, args.flood_size, stalled, trace=False)
            traced = await memory(root, args.flood, args.flood_size, stalled, trace=True)
            scenarios[name] = {"rss": plain, "tracemalloc": traced}
            print(f"  {name}: done", file=sys.stderr)
    message_bytes = len(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "window/logMessage",
                "params": {
                    "type": 3,
                    "level": "info",
                    "message": f"{time.monotonic_ns()} " + "x" * args.flood_size,
                    "seq": 10000,
                },
            }
        )
    )
    return {
        "benchmark": "ws_latency",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "websockets": websockets.__version__,
            "platform": platform.platform(),
            "loadavgBefore": [round(v, 2) for v in load_before],
            "loadavgAfter": [round(v, 2) for v in os.getloadavg()],
        },
        "latency": {"unit": "ms", "messageCharacters": args.size, "rows": rows},
        "memory": {
            "events": args.flood,
            "messageBytes": message_bytes,
            "unboundedBacklogBytes": message_bytes * args.flood,
            "scenarios": scenarios,
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"load average {result['machine']['loadavgBefore']} → {result['machine']['loadavgAfter']} "
        f"on {result['machine']['cpus']} CPUs",
        "",
        "event delivery latency, engine.emit → client receives (ms)",
        f"{'clients':>7} {'deliveries':>10} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'emit µs':>8} {'resyncs':>7}",
    ]
    for row in result["latency"]["rows"]:
        lines.append(
            f"{row['clients']:>7} {row['samples']:>10} {row['p50']:>7.2f} {row['p95']:>7.2f} {row['p99']:>7.2f} "
            f"{row['max']:>7.2f} {row['emitMicros']:>8.1f} {row['resyncs']:>7}"
        )
    memory_result = result["memory"]
    lines += [
        "",
        f"daemon memory over {memory_result['events']:,} events of {memory_result['messageBytes']:,} bytes "
        f"(an unbounded backlog would be {mb(memory_result['unboundedBacklogBytes'])} MB)",
        f"{'scenario':<22} {'RSS before':>10} {'peak':>6} {'after':>6} {'Δpeak':>6} {'heap Δpeak':>10} "
        f"{'outbox max':>10} {'dropped':>8} {'reader resyncs':>14}",
    ]
    for name, label in (("baseline", "1 reading client"), ("stalled", "+1 stalled client")):
        scenario = memory_result["scenarios"][name]
        plain, traced = scenario["rss"], scenario["tracemalloc"]
        dropped = sum(c["dropped"] for c in plain["clients"])
        lines.append(
            f"{label:<22} {mb(plain['rssBefore']):>10} {mb(plain['rssPeak']):>6} {mb(plain['rssAfter']):>6} "
            f"{mb(plain['rssPeak'] - plain['rssBefore']):>6} {mb(traced['tracedPeak'] - traced['tracedBefore']):>10} "
            f"{plain['longestOutbox']:>10} {dropped:>8} {plain['reader']['resyncs']:>14}"
        )
    stalled = memory_result["scenarios"]["stalled"]["rss"].get("stalledClient")
    if stalled and stalled["overflowed"]:
        lines.append(
            f"the stalled client, reading again: {stalled['backlogBeforeResync']:,} messages already on the "
            f"wire, then $/resync (seq {stalled['resyncSeq']}, {stalled['resyncBytes']:,} bytes), "
            f"{stalled['secondsToCatchUp']} s"
        )
    elif stalled:
        lines.append(
            "the stalled client never overflowed its outbox: the kernel's socket buffers held the flood"
        )
    lines.append("(MB = 10^6 bytes; heap = tracemalloc, in a separate run of the same scenario)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="1,10,50", help="client counts for the latency runs")
    parser.add_argument("--events", type=int, default=500, help="events per latency run")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between events (latency)")
    parser.add_argument("--size", type=int, default=200, help="characters of each latency event's text")
    parser.add_argument("--flood", type=int, default=10_000, help="events of the memory runs")
    parser.add_argument("--flood-size", type=int, default=1000, help="characters of each memory event's text")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--harness", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.harness:
        asyncio.run(harness(arguments.harness, arguments.tracemalloc))
        sys.exit(0)
    outcome = asyncio.run(main(arguments))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
    print(table(outcome))
    print(f"\nwritten: {arguments.output}", file=sys.stderr)
