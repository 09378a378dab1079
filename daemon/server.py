"""``connector-watch serve``: the engine behind a WebSocket endpoint, plus the browser panel.

Security (a local socket is an attack surface):

- binds 127.0.0.1 only;
- a random token is required at the WebSocket upgrade (``?token=`` on the URL or
  ``Authorization: Bearer``), compared in constant time; a restarted ``serve`` reuses the
  last one's port and token (``.connector-watch/session.json``, 0600) so open panels reconnect;
- the ``Host`` header must name the loopback address and our port (DNS
  rebinding), and a browser ``Origin`` must be our own page or a VS Code webview;
- no method writes files or runs commands; ``run`` accepts only known node IDs;
  paths from clients must resolve inside the workspace; ``file/excerpt`` only reads
  (never ``.connector-watch/`` or ``.git/``);
- ``.connector-watch/daemon.json`` (mode 0600) tells local clients where we are.

Robustness: every client has a bounded outbox; a client that does not read
loses its backlog and receives a ``$/resync`` with a fresh snapshot instead, so
memory stays bounded. A client connecting mid-run gets the snapshot and then
the live stream, with nothing lost or repeated (both are taken in one step).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import mimetypes
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector_watch.daemon import events as ev
from connector_watch.daemon import protocol
from connector_watch.daemon.discovery import DISCOVERY_FILE, Discovery, Session, pid_alive
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.excerpt import DEFAULT_CONTEXT, MAX_FILE_BYTES, excerpt
from connector_watch.daemon.impact import Change, SpecChange
from connector_watch.daemon.options import engine_options
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as websocket_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

PANEL_DIR = Path(__file__).with_name("panel")
SERVER_NAME = "connector-watch"
SERVER_VERSION = "0.1.0"
MAX_MESSAGE_BYTES = 1 << 20  # what a request may be; larger gets a JSON-RPC error
FRAME_LIMIT = 8 << 20  # what the transport accepts before closing the connection
OUTBOX_LIMIT = 2000
VSCODE_WEBVIEW = "vscode-webview://"
#: Workspace folders no client may read through ``file/excerpt`` (the token lives in the first).
PRIVATE_DIRS = (".connector-watch", ".git")


# ---------------------------------------------------------------------------- clients


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass(eq=False)
class Client:
    connection: ServerConnection
    outbox: collections.deque[str] = field(default_factory=collections.deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    initialized: bool = False
    resync: str | None = None
    sent: int = 0
    dropped: int = 0

    def offer(self, message: str) -> None:
        if not self.initialized:
            return
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.dropped += len(self.outbox)
            self.outbox.clear()
            self.resync = f"client fell {OUTBOX_LIMIT} messages behind"
        elif self.resync is None:
            self.outbox.append(message)
        self.wake.set()


class DaemonServer:
    def __init__(
        self, engine: Engine, *, port: int = 0, token: str | None = None, reuse_session: bool = False
    ) -> None:
        self.engine = engine
        self.requested_port = port
        self.port = 0
        self.session = Session.for_workspace(engine.workspace.root)
        previous = self.session.read() if reuse_session and token is None else None
        self.port_from_session = previous is not None and port == 0
        if self.port_from_session:
            self.requested_port = previous[0]  # the last daemon's address: open panels reconnect
        self.token = token or (previous[1] if previous else secrets.token_urlsafe(32))
        self.clients: set[Client] = set()
        self.server: Server | None = None
        self.stopped = asyncio.Event()
        self.discovery = Discovery.for_workspace(engine.workspace.root)
        engine.subscribe(self._broadcast)

    # ------------------------------------------------------------------ addresses
    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def panel_url(self) -> str:
        """The page, with the token in the fragment: never sent to a server, never in a log."""
        return f"{self.http_url}#token={self.token}"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        try:
            self.server = await self._listen(self.requested_port)
        except OSError:
            if not self.port_from_session:
                raise
            self.server = await self._listen(0)  # the last session's port is taken: any port will do
        sock = next(iter(self.server.sockets))
        self.port = sock.getsockname()[1]
        self.session.write(self.port, self.token)
        self.discovery.write(
            {
                "url": self.ws_url,
                "httpUrl": self.http_url,
                "port": self.port,
                "token": self.token,
                "pid": os.getpid(),
                "protocolVersion": protocol.protocol_version(),
                "workspace": str(self.engine.workspace.root),
                "startedAt": time.time(),
            }
        )

    async def _listen(self, port: int) -> Server:
        return await websocket_serve(
            self._handle,
            "127.0.0.1",
            port,
            process_request=self._process_request,
            max_size=FRAME_LIMIT,
            max_queue=64,
            write_limit=1 << 20,
            server_header=f"{SERVER_NAME}/{SERVER_VERSION}",
            ping_interval=20,
            ping_timeout=60,
        )

    async def stop(self) -> None:
        self.discovery.remove(os.getpid())
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), timeout=5)
        self.stopped.set()

    # ------------------------------------------------------------------ HTTP + upgrade checks
    def _allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"[::1]:{self.port}"}

    def _allowed_origin(self, origin: str) -> bool:
        return origin in (
            f"http://127.0.0.1:{self.port}",
            f"http://localhost:{self.port}",
        ) or origin.startswith(VSCODE_WEBVIEW)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        hosts = request.headers.get_all("Host")
        if len(hosts) != 1 or hosts[0] not in self._allowed_hosts():
            return _response(HTTPStatus.MISDIRECTED_REQUEST, "unexpected Host header")
        url = urlsplit(request.path)
        if url.path == "/ws":
            origins = request.headers.get_all("Origin")
            if len(origins) > 1 or (origins and not self._allowed_origin(origins[0])):
                return _response(HTTPStatus.FORBIDDEN, "origin not allowed")
            offered = parse_qs(url.query).get("token", [""])[0]
            authorization = (request.headers.get_all("Authorization") or [""])[0]
            if authorization.lower().startswith("bearer "):
                offered = authorization[7:].strip()
            if not offered or not hmac.compare_digest(offered.encode(), self.token.encode()):
                return _response(HTTPStatus.UNAUTHORIZED, "a valid token is required")
            return None
        return self._static(url.path)

    def _static(self, path: str) -> Response:
        if path == "/favicon.ico":
            return Response(HTTPStatus.NO_CONTENT, "No Content", Headers({"Content-Length": "0"}), b"")
        name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
        if "/" in name or name.startswith(".") or not (PANEL_DIR / name).is_file():
            return _response(HTTPStatus.NOT_FOUND, "not found")
        body = (PANEL_DIR / name).read_bytes()
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = Headers(
            {
                "Content-Type": f"{content_type}; charset=utf-8"
                if content_type.startswith("text/") or name.endswith(".js")
                else content_type,
                "Content-Length": str(len(body)),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": (
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    f"connect-src ws://127.0.0.1:{self.port} ws://localhost:{self.port}; frame-ancestors 'none'; "
                    "base-uri 'none'; form-action 'none'"
                ),
            }
        )
        return Response(HTTPStatus.OK, "OK", headers, body)

    # ------------------------------------------------------------------ connections
    async def _handle(self, connection: ServerConnection) -> None:
        client = Client(connection)
        self.clients.add(client)
        sender = asyncio.create_task(self._sender(client))
        try:
            async for message in connection:
                reply = await self._on_message(client, message)
                if reply is not None:
                    await connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _sender(self, client: Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await client.wake.wait()
                client.wake.clear()
                if client.resync is not None:
                    reason, client.resync = client.resync, None
                    client.outbox.clear()
                    message = self._resync_message(reason)  # built now: consistent with what follows
                    await client.connection.send(message)
                while client.outbox and client.resync is None:
                    await client.connection.send(client.outbox.popleft())
                    client.sent += 1

    def _resync_message(self, reason: str) -> str:
        snapshot = self.engine.snapshot()
        return json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "$/resync",
                "params": {"seq": snapshot["seq"], "reason": reason, "snapshot": snapshot},
            }
        )

    def _broadcast(self, event: ev.Event) -> None:
        if not self.clients:
            return
        message = json.dumps(event.to_message(self.engine.wire))
        for client in list(self.clients):
            client.offer(message)

    # ------------------------------------------------------------------ JSON-RPC
    async def _on_message(self, client: Client, raw: str | bytes) -> dict[str, Any] | None:
        # The limit is in bytes: a text message of N characters is up to 4 N bytes of UTF-8.
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode())
        if size > MAX_MESSAGE_BYTES:
            return _error(
                None,
                protocol.MESSAGE_TOO_LARGE,
                f"message of {size} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes",
            )
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(None, protocol.PARSE_ERROR, f"parse error: {exc}")
        except RecursionError:
            return _error(None, protocol.PARSE_ERROR, "parse error: JSON nested too deeply")
        if (
            not isinstance(message, dict)
            or message.get("jsonrpc") != "2.0"
            or not isinstance(message.get("method"), str)
        ):
            return _error(
                message.get("id") if isinstance(message, dict) and _valid_id(message.get("id")) else None,
                protocol.INVALID_REQUEST,
                "invalid request: expected a JSON-RPC 2.0 object with a method",
            )
        if "id" in message and not _valid_id(message["id"]):
            # The schema's ids are integers or strings; echoing anything else would break the reply.
            return _error(
                None, protocol.INVALID_REQUEST, "invalid request: id must be an integer or a string"
            )
        request_id = message.get("id")
        method = message["method"]
        params = message.get("params", {})
        is_notification = "id" not in message
        try:
            result = await self._dispatch(client, method, params)
        except RpcError as exc:
            return None if is_notification else _error(request_id, exc.code, exc.message, exc.data)
        except Exception as exc:  # a bug in one request must not drop the connection
            self.engine.log("error", f"{method} failed: {exc!r}")
            return (
                None
                if is_notification
                else _error(request_id, protocol.INTERNAL_ERROR, f"internal error: {exc}")
            )
        return None if is_notification else {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _dispatch(self, client: Client, method: str, params: Any) -> Any:
        if method not in protocol.requests():
            raise RpcError(protocol.METHOD_NOT_FOUND, f"method not found: {method}")
        if not isinstance(params, dict):
            raise RpcError(protocol.INVALID_PARAMS, "params must be an object")
        errors = protocol.params_errors(method, params)
        if errors:
            raise RpcError(protocol.INVALID_PARAMS, f"invalid params for {method}: {'; '.join(errors[:3])}")
        if method == "initialize":
            return self._initialize(client, params)
        if not client.initialized:
            raise RpcError(protocol.NOT_INITIALIZED, "call initialize first")
        handler = {
            "run": self._run,
            "cancel": self._cancel,
            "setMode": self._set_mode,
            "impact": self._impact,
            "snapshot": lambda p: self.engine.snapshot(),
            "file/excerpt": self._excerpt,
            "shutdown": self._shutdown,
        }[method]
        return handler(params)

    def _initialize(self, client: Client, params: dict[str, Any]) -> dict[str, Any]:
        version = params["protocolVersion"]
        if version.split(".")[0] != protocol.protocol_version().split(".")[0]:
            raise RpcError(
                protocol.UNSUPPORTED_VERSION,
                f"protocol {version} is not supported; the daemon speaks {protocol.protocol_version()}",
            )
        snapshot = self.engine.snapshot()  # taken in the same step as subscribing: nothing lost or repeated
        client.initialized = True
        return {
            "protocolVersion": protocol.protocol_version(),
            "serverInfo": {"name": SERVER_NAME, "version": SERVER_VERSION, "pid": os.getpid()},
            "capabilities": {
                "modes": self._modes(),
                "methods": protocol.requests(),
                "maxMessageBytes": MAX_MESSAGE_BYTES,
            },
            "snapshot": snapshot,
        }

    def _modes(self) -> list[str]:
        modes = ["simulate", "hybrid"]
        cassettes = any(
            self.engine.workspace.layout.cassette_dir(s).is_dir() for s in self.engine.workspace.sources()
        )
        if cassettes:
            modes.insert(1, "replay")
        if os.environ.get("CONNECTOR_TEST_CONFIG_JSON") or os.environ.get("CONNECTOR_TEST_CONFIG_PATH"):
            modes.append("record")
        return modes

    def _run(self, params: dict[str, Any]) -> dict[str, Any]:
        engine = self.engine
        for flag in ("all", "failed"):
            if params.get(flag) is False:  # the schema allows a boolean; only true selects anything
                raise RpcError(protocol.INVALID_PARAMS, f"{flag!r} must be true (or use another selection)")
        if params.get("all"):
            engine.rerun_all()
            return {"accepted": True, "nodeIds": sorted(engine.index.nodes)}
        if params.get("failed"):
            failing = engine.index.failing() + sorted(engine.results.collect_errors)
            engine.rerun_failed()
            return {"accepted": bool(failing), "nodeIds": failing}
        if "source" in params:
            source = params["source"]
            if source not in engine.workspace.sources():
                raise RpcError(protocol.INVALID_PARAMS, f"unknown source {source!r}")
            nodes = engine.index.nodes_of_source(source)
            files = engine.workspace.test_files_of(source)
            engine.run_nodes([*nodes, *files])
            return {"accepted": True, "nodeIds": sorted(nodes) or files}
        node_ids = params["nodeIds"]
        known = set(engine.index.nodes) | set(engine.results.collect_errors) | set(engine.results.spark_nodes)
        unknown = [n for n in node_ids if n not in known]
        if unknown:
            raise RpcError(
                protocol.UNKNOWN_NODE, f"unknown node ID(s): {unknown[:5]}", {"unknown": unknown[:50]}
            )
        engine.run_nodes(node_ids)
        return {"accepted": bool(node_ids), "nodeIds": list(node_ids)}

    def _cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"cancelled": self.engine.cancel()}

    def _set_mode(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params["mode"]
        if mode not in self._modes():
            raise RpcError(
                protocol.MODE_UNAVAILABLE,
                f"mode {mode!r} is not available here (available: "
                f"{self._modes()}); record needs CONNECTOR_TEST_CONFIG_JSON or _PATH, replay a cassette",
            )
        self.engine.set_mode(mode)
        return {"mode": mode}

    def _impact(self, params: dict[str, Any]) -> dict[str, Any]:
        workspace = self.engine.workspace
        changes, spec_changes = [], {}
        for raw in params["paths"]:
            try:
                path = workspace.inside(raw)
            except ValueError as exc:
                raise RpcError(protocol.PATH_OUTSIDE_WORKSPACE, str(exc), {"path": raw}) from None
            kind = workspace.classify(path)
            changes.append(Change(path, kind))
            if kind.kind == "spec":
                spec_changes[path] = SpecChange(self.engine.specs.get(path), self.engine.specs.get(path))
        selection = self.engine.impact(changes, spec_changes)
        nodes = selection.reasons_by_node(self.engine.index)
        return {
            "nodes": [{"nodeId": n, "reasons": r} for n, r in sorted(nodes.items())],
            "restartPool": selection.restart_pool,
        }

    def _excerpt(self, params: dict[str, Any]) -> dict[str, Any]:
        """Read-only lines around a location, confined to the workspace (never its private folders)."""
        workspace = self.engine.workspace
        try:
            path = workspace.inside(params["path"])
        except ValueError:
            raise RpcError(protocol.PATH_OUTSIDE_WORKSPACE, f"path {params['path']!r} is outside the workspace")
        if path.split("/", 1)[0] in PRIVATE_DIRS:
            raise RpcError(protocol.PATH_OUTSIDE_WORKSPACE, f"{path} is not readable by clients")
        absolute = workspace.root / path
        try:
            size = absolute.stat().st_size if absolute.is_file() else None
        except OSError:
            size = None
        if size is None:
            raise RpcError(protocol.FILE_NOT_READABLE, f"{path} is not a file in the workspace")
        if size > MAX_FILE_BYTES:
            raise RpcError(protocol.FILE_NOT_READABLE, f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB")
        text = self.engine.view.text(path)
        if text is None:
            raise RpcError(protocol.FILE_NOT_READABLE, f"{path} is not readable as UTF-8 text")
        return excerpt(path, text, params["line"], params.get("context", DEFAULT_CONTEXT))

    def _shutdown(self, params: dict[str, Any]) -> dict[str, Any]:
        asyncio.get_running_loop().call_later(0.05, self.stopped.set)
        return {}


def _response(status: HTTPStatus, text: str) -> Response:
    body = (text + "\n").encode()
    return Response(
        status.value,
        status.phrase,
        Headers({"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}),
        body,
    )


def _valid_id(request_id: Any) -> bool:
    return isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool))


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


# ---------------------------------------------------------------------------- command


def serve_command(args: Any) -> int:
    root = Path(args.workspace)
    running = Discovery.for_workspace(root).live()
    if running is not None:
        print(
            f"connector-watch is already serving {root} (pid {running['pid']}) at {running['httpUrl']}\n"
            f"  clients: read {root / DISCOVERY_FILE} for the URL and token",
            flush=True,
        )
        return 0

    async def go() -> None:
        options = engine_options(args)
        engine = Engine(root, options)
        server = DaemonServer(engine, port=args.port, reuse_session=True)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stopped.set)
        engine.subscribe(report_failures)
        if not args.quiet:
            print(startup_banner(server, root, to_terminal=sys.stdout.isatty()), flush=True)
        await engine.start(initial_run=not args.no_initial_run)
        await server.stopped.wait()
        await server.stop()
        await engine.stop()

    asyncio.run(go())
    return 0


def startup_banner(server: DaemonServer, root: Path, *, to_terminal: bool) -> str:
    """Where to find the daemon. The panel URL carries the session token: it is printed only to a
    terminal, never into a file or a pipe (a log anyone may read); otherwise the token stays in the
    0600 discovery file."""
    discovery = root / DISCOVERY_FILE
    panel = server.panel_url if to_terminal else f"{server.http_url}#token=<token from {discovery}>"
    return f"connector-watch serving {root}\n  panel: {panel}\n  socket: {server.ws_url} (token in {discovery})"


def report_failures(event: ev.Event) -> None:
    """A part of the daemon that failed or came back (the watcher, the workers) is said on stderr
    too: clients see it as a ``window/logMessage``, whoever started ``serve`` sees it here."""
    if isinstance(event, ev.LogMessage) and event.component is not None and event.level != "debug":
        print(f"connector-watch: {event.level}: {event.component}: {event.message}", file=sys.stderr, flush=True)


__all__ = ["DISCOVERY_FILE", "DaemonServer", "Discovery", "pid_alive", "serve_command"]
