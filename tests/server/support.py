"""Helpers for the server tests: a workspace copy, a daemon subprocess, and clients that check the schema.

Every message a client here receives is validated against ``daemon/protocol.schema.json``
(notifications by method, responses by the method of the request they answer, error responses by
the envelope). A violation is recorded in :data:`VIOLATIONS` and raised at once; an autouse fixture
in ``conftest.py`` also fails the test if anything was recorded.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from connector_watch.daemon import protocol
from connector_watch.tests.support.workspace import copy_examples
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

REPO = Path(__file__).resolve().parents[2]
DISCOVERY = Path(".connector-watch") / "daemon.json"

#: Every schema violation seen by any client in this process (the autouse fixture clears and checks it).
VIOLATIONS: list[str] = []


def copy_workspace(destination: Path) -> Path:
    """The example workspace (connectors, specs, corpora, tests, pyproject) copied into ``destination``."""
    return copy_examples(destination)


# ---------------------------------------------------------------------------- schema checks


@functools.lru_cache(maxsize=1024)
def _notification_errors(text: str) -> tuple[str, ...]:
    return tuple(protocol.message_errors(json.loads(text)))


def violations(message: Any, method_of: Callable[[Any], str | None] = lambda _id: None) -> list[str]:
    """What is wrong with one message the daemon sent (empty when it follows the schema)."""
    return schema_violations(message, method_of)


def schema_violations(message: Any, method_of: Callable[[Any], str | None] = lambda _id: None) -> list[str]:
    """Every schema violation of one message, the known engine bug included."""
    if not isinstance(message, dict):
        return [f"not a JSON object: {message!r:.200}"]
    if "method" in message:
        params = message.get("params")
        if isinstance(params, dict) and "seq" in params:
            # Validated once per distinct content: the seq apart, 10,000 log lines are one message.
            seq = params["seq"]
            if type(seq) is not int or seq < 0:
                return [f"params: seq {seq!r} is not a non-negative integer"]
            return list(_notification_errors(json.dumps({**message, "params": {**params, "seq": 0}})))
        return protocol.message_errors(message)
    if "error" in message:
        return [e.message for e in protocol.validator("ErrorResponse").iter_errors(message)]
    if "result" in message:
        errors = [e.message for e in protocol.validator("Response").iter_errors(message)]
        request_id = message.get("id")
        method = method_of(request_id) if isinstance(request_id, (int, str)) else None
        if method is not None:
            errors += protocol.result_errors(method, message["result"])
        return errors
    return [f"neither a notification nor a response: {message!r:.200}"]


def check(message: Any, method_of: Callable[[Any], str | None] = lambda _id: None) -> None:
    """Record and raise any schema violation of one message the daemon sent."""
    errors = violations(message, method_of)
    if errors:
        what = (
            message.get("method") or f"response {message.get('id')!r}" if isinstance(message, dict) else "?"
        )
        report = f"{what}: {errors[:5]}"
        VIOLATIONS.append(report)
        raise AssertionError(f"the daemon sent a message the schema rejects: {report}")


def request_message(request_id: Any, method: str, params: Any = None) -> str:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {} if params is None else params}
    )


# ---------------------------------------------------------------------------- WebSocket client


class Client:
    """A JSON-RPC client over ``websockets``; notifications are queued, every message validated."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = iter(range(1, 1 << 30))
        self.methods: dict[Any, str] = {}
        self.inbox: collections.deque[dict[str, Any]] = collections.deque()
        self.received: list[dict[str, Any]] = []  # every notification, in order
        self.snapshot: dict[str, Any] | None = None
        self.capabilities: dict[str, Any] | None = None

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Client:
        kwargs.setdefault("max_size", None)
        kwargs.setdefault("proxy", None)
        return cls(await connect(url, **kwargs))

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.close(), 5)

    # -------------------------------------------------------------- receiving
    async def recv(self, timeout: float = 20) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message = json.loads(raw)
        check(message, self.methods.get)
        if "method" in message:
            self.received.append(message)
        return message

    async def notification(self, timeout: float = 20) -> dict[str, Any]:
        if self.inbox:
            return self.inbox.popleft()
        while True:
            message = await self.recv(timeout)
            if "method" in message:
                return message
            raise AssertionError(f"unexpected response {message!r:.300}")

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> list[dict[str, Any]]:
        """Notifications up to and including the first one ``predicate`` accepts."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            message = await self.notification(max(0.01, deadline - time.monotonic()))
            seen.append(message)
            if predicate(message):
                return seen

    async def response(self, request_id: Any, timeout: float = 20) -> dict[str, Any]:
        """The response to ``request_id``; notifications that come first are queued."""
        while True:
            message = await self.recv(timeout)
            if "method" in message:
                self.inbox.append(message)
            elif message.get("id") == request_id:
                return message
            else:
                raise AssertionError(f"response to another request: {message!r:.300}")

    # -------------------------------------------------------------- requests
    async def send_raw(self, data: str | bytes, request_id: Any = None, method: str | None = None) -> None:
        if method is not None:
            self.methods[request_id] = method
        await self.ws.send(data)

    async def request(self, method: str, params: Any = None, timeout: float = 20) -> dict[str, Any]:
        request_id = next(self.ids)
        self.methods[request_id] = method
        await self.ws.send(request_message(request_id, method, params))
        return await self.response(request_id, timeout)

    async def call(self, method: str, params: Any = None, timeout: float = 20) -> Any:
        response = await self.request(method, params, timeout)
        assert "error" not in response, f"{method} failed: {response['error']}"
        return response["result"]

    async def error(self, method: str, params: Any = None) -> dict[str, Any]:
        response = await self.request(method, params)
        assert "error" in response, f"{method} should have failed: {response!r:.300}"
        return response["error"]

    async def initialize(self) -> dict[str, Any]:
        result = await self.call("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "tests"}})
        self.snapshot = result["snapshot"]
        self.capabilities = result["capabilities"]
        return result

    async def works(self) -> None:
        """The connection still answers requests (a cheap one, with no effect: a file no node uses)."""
        result = await self.call("impact", {"paths": ["README.md"]})
        assert result == {"nodes": [], "restartPool": False}

    async def run_to_end(
        self, params: dict[str, Any], timeout: float = 60
    ) -> tuple[int, list[dict[str, Any]]]:
        """Start a run and read until its ``run/finished``: (runId, notifications of the run)."""
        result = await self.call("run", params)
        assert result["accepted"], result
        started = await self.until(lambda m: m["method"] == "run/started", timeout)
        run_id = started[-1]["params"]["runId"]
        rest = await self.until(
            lambda m: m["method"] == "run/finished" and m["params"]["runId"] == run_id, timeout
        )
        return run_id, started[-1:] + rest


# ---------------------------------------------------------------------------- raw clients


def raw_http(
    port: int, path: str, headers: dict[str, str] | Iterable[tuple[str, str]], *, upgrade: bool = True
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with exactly the headers given (none added): (status, headers, body)."""
    lines = [f"GET {path} HTTP/1.1"]
    items = headers.items() if isinstance(headers, dict) else headers
    lines += [f"{k}: {v}" for k, v in items]
    if upgrade:
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
        head, _, body = buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        response_headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        length = int(response_headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, response_headers, body


class RawClient:
    """A WebSocket client on a bare socket (websockets' sans-I/O protocol): it reads only when told.

    Its receive buffer is small, so a server that keeps sending soon finds the socket full: a
    client that stops reading really stalls, the kernel and the library buffer almost nothing.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, proto: ClientProtocol):
        self.reader = reader
        self.writer = writer
        self.proto = proto
        self.messages: collections.deque[dict[str, Any]] = collections.deque()
        self.events: collections.deque[Any] = collections.deque()
        self.ids = iter(range(1, 1 << 30))
        self.methods: dict[Any, str] = {}

    @classmethod
    async def open(cls, port: int, token: str, *, rcvbuf: int = 4096) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf)
        proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws?token={token}"), max_size=None)
        proto.send_request(proto.connect())
        client = cls(reader, writer, proto)
        await client._flush()
        while not isinstance(await client._event(), Response):
            pass
        if proto.handshake_exc is not None:
            raise proto.handshake_exc
        return client

    @property
    def local_port(self) -> int:
        return self.writer.get_extra_info("sockname")[1]

    async def _flush(self) -> None:
        data = b"".join(self.proto.data_to_send())
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def _event(self, timeout: float = 20) -> Any:
        while not self.events:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                self.proto.receive_eof()
                raise ConnectionError("the daemon closed the connection")
            self.proto.receive_data(data)
            self.events.extend(self.proto.events_received())
            await self._flush()  # answers pings
        return self.events.popleft()

    async def recv(self, timeout: float = 20) -> dict[str, Any]:
        if self.messages:
            return self.messages.popleft()
        while True:
            event = await self._event(timeout)
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                assert event.fin, "the daemon fragments nothing"
                message = json.loads(event.data)
                check(message, self.methods.get)
                return message

    async def send(self, method: str, params: Any = None) -> Any:
        request_id = next(self.ids)
        self.methods[request_id] = method
        self.proto.send_text(request_message(request_id, method, params).encode())
        await self._flush()
        return request_id

    async def call(self, method: str, params: Any = None) -> Any:
        request_id = await self.send(method, params)
        while True:
            message = await self.recv()
            if message.get("id") == request_id:
                assert "error" not in message, message
                return message["result"]
            self.messages.append(message)

    def abort(self) -> None:
        self.writer.transport.abort()


# ---------------------------------------------------------------------------- daemon subprocess


def connector_watch() -> list[str]:
    script = Path(sys.executable).with_name("connector-watch")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from connector_watch.daemon.cli import main; sys.exit(main())"]


class Daemon:
    """``connector-watch serve`` on a workspace, as a subprocess of the test."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.log = root / ".server-test.log"

    @property
    def discovery(self) -> Path:
        return self.root / DISCOVERY

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def token(self) -> str:
        return str(self.info["token"])

    @property
    def url(self) -> str:
        return f"{self.info['url']}?token={self.token}"

    def start(self, timeout: float = 60) -> Daemon:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [*connector_watch(), "serve", "--workspace", str(self.root), "--quiet", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its workers are in its process group: teardown ends them all
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(self.discovery.read_text(encoding="utf-8"))
                if info.get("pid") == self.proc.pid:
                    self.info = info
                    return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"no {DISCOVERY} after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float = 15) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for the whole process group (the daemon and its workers)."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def client(self, *, initialize: bool = True, **kwargs: Any) -> Client:
        client = await Client.open(self.url, **kwargs)
        if initialize:
            await client.initialize()
        return client

    async def wait_idle(self, timeout: float = 60) -> dict[str, Any]:
        """Until the daemon knows its nodes and no run is in progress; the snapshot then."""
        async with await self.client() as client:
            deadline = time.monotonic() + timeout
            while True:
                snapshot = await client.call("snapshot")
                if snapshot["nodes"] and snapshot["run"] is None:
                    return snapshot
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the daemon is still busy: {snapshot['run']}")
                await asyncio.sleep(0.1)

    def assert_healthy(self) -> None:
        """Alive, and nothing went wrong in its log."""
        assert self.alive(), f"the daemon died:\n{self.output()}"
        assert "Traceback" not in self.output(), self.output()


def run(coroutine: Any, timeout: float = 60) -> Any:
    """Run one scenario in a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def notifications_of(
    messages: Iterable[dict[str, Any]], method: str, run_id: int | None = None
) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m.get("method") == method and (run_id is None or m["params"].get("runId") == run_id)
    ]


def assert_contiguous(messages: list[dict[str, Any]], after: int) -> None:
    """Notification ``seq`` numbers go ``after + 1, after + 2, ...`` with no gap and no repeat."""
    seqs = [m["params"]["seq"] for m in messages]
    assert seqs == list(range(after + 1, after + 1 + len(seqs))), (
        f"seq not contiguous after {after}: {seqs[:10]}...; gaps/repeats at "
        f"{[b for a, b in zip([after, *seqs], seqs, strict=False) if b != a + 1][:10]}"
    )
