"""``connector-watch lsp`` on the wire, without a client library: Content-Length frames written
and read by hand, so a test can send what no well-behaved client would (bytes that are not JSON,
params of the wrong shape) and see the server answer with errors and keep serving, then leave
cleanly on ``shutdown`` + ``exit``.

The workspace comes from ``--workspace`` here (the client names none) and no first run is made.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

SPEC = "simulator/specs/zendesk/endpoints.yaml"


class Wire:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.notifications: list[dict[str, Any]] = []

    def send_bytes(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = None
        while True:
            line = self.process.stdout.readline()
            assert line, "the server closed its output"
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        return json.loads(self.process.stdout.read(length))

    def reply(self, request_id: Any) -> dict[str, Any]:
        """The response to ``request_id``; notifications and the server's own requests on the way
        are kept (requests get an empty result, as a client would answer)."""
        while True:
            message = self.read()
            if "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)
            elif message.get("id") == request_id:
                return message


@pytest.fixture
def wire(tmp_path: Path):
    root = copy_examples(tmp_path / "ws", sources=("zendesk",))
    process = subprocess.Popen(
        [sys.executable, "-m", "connector_watch.daemon", "lsp", "--workspace", str(root), "--no-initial-run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    session = Wire(process)
    session.root = root  # type: ignore[attr-defined]
    yield session
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def test_malformed_input_gets_errors_then_shutdown_and_exit_stop_the_server(wire: Wire) -> None:
    root: Path = wire.root  # type: ignore[attr-defined]
    wire.send(
        {"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}}
    )
    capabilities = wire.reply(1)["result"]["capabilities"]
    assert capabilities["hoverProvider"] is True
    assert capabilities["codeActionProvider"]["codeActionKinds"] == ["quickfix"]
    assert capabilities["executeCommandProvider"]["commands"] == [
        "connector-watch.rerunAll",
        "connector-watch.rerunFailed",
    ]
    wire.send({"method": "initialized", "params": {}})

    wire.send_bytes(b"{this is not json")
    wire.send({"id": 2, "method": "textDocument/hover", "params": {"textDocument": 42, "position": "top"}})
    assert wire.reply(2)["error"]["code"] == -32602  # invalid params
    wire.send({"id": 3, "method": "connector-watch/format", "params": {}})
    assert wire.reply(3)["error"]["code"] == -32601  # method not found
    wire.send({"id": 4, "method": "workspace/executeCommand", "params": {"command": "rm -rf /"}})
    assert wire.reply(4)["error"]["code"] == -32602

    # Still serving: --workspace named the root (the client named none).
    spec_uri = (root / SPEC).as_uri()
    wire.send(
        {
            "id": 5,
            "method": "textDocument/hover",
            "params": {"textDocument": {"uri": spec_uri}, "position": {"line": 10, "character": 4}},
        }
    )
    hover = wire.reply(5)["result"]
    assert "**GET /api/v2/incremental/tickets/cursor.json**" in hover["contents"]["value"]
    assert "No test hit this endpoint" in hover["contents"]["value"]  # nothing ran (--no-initial-run)
    logged = [n["params"]["message"] for n in wire.notifications if n["method"] == "window/logMessage"]
    assert any("JSON" in m or "Expecting" in m for m in logged), logged  # the garbage was logged, not fatal

    wire.send({"id": 6, "method": "shutdown"})
    assert wire.reply(6)["result"] is None
    wire.send({"method": "exit"})
    assert wire.process.wait(timeout=60) == 0
    assert not list(root.glob("**/*.orig"))  # the daemon wrote nothing into the workspace's files
