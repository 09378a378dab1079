"""Every rejection of daemon/PROTOCOL.md, against a real ``connector-watch serve``.

Refused upgrades get the documented HTTP status; bad messages get the documented JSON-RPC error
and the connection keeps answering; whatever happens, the daemon survives (each test ends with a
fresh client that initializes and gets a snapshot).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import pytest
from connector_watch.daemon import protocol
from connector_watch.tests.server.support import Client, Daemon, raw_http, run
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.slow  # a real `connector-watch serve` subprocess

GITHUB_TESTS = "tests/unit/sources/github/test_github_lakeflow_connect.py"


async def survives(daemon: Daemon) -> None:
    """The daemon still accepts a client that initializes (and so gets a snapshot)."""
    async with await daemon.client() as client:
        assert client.snapshot is not None and client.snapshot["nodes"]
    daemon.assert_healthy()


def host(daemon: Daemon) -> tuple[str, str]:
    return ("Host", f"127.0.0.1:{daemon.port}")


# ---------------------------------------------------------------------------- the upgrade


def test_no_token_is_401(daemon: Daemon) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await Client.open(daemon.info["url"])
        assert refused.value.response.status_code == 401
        await survives(daemon)

    run(scenario())
    assert raw_http(daemon.port, "/ws", [host(daemon)])[0] == 401
    assert raw_http(daemon.port, "/ws?token=", [host(daemon)])[0] == 401
    assert raw_http(daemon.port, "/ws", [host(daemon), ("Authorization", "Bearer ")])[0] == 401


@pytest.mark.parametrize(
    "how", ["query", "bearer", "prefix", "longer", "case", "bearer overrides a good query", "basic"]
)
def test_wrong_token_is_401(daemon: Daemon, how: str) -> None:
    token = daemon.token
    path, headers = "/ws", [host(daemon)]
    if how == "query":
        path += "?token=" + "A" * len(token)
    elif how == "bearer":
        headers.append(("Authorization", "Bearer " + "A" * len(token)))
    elif how == "prefix":
        path += "?token=" + token[:-1]
    elif how == "longer":
        path += "?token=" + token + "A"
    elif how == "case":
        path += "?token=" + token.swapcase()
    elif how == "bearer overrides a good query":
        path += "?token=" + token
        headers.append(("Authorization", "Bearer wrong"))
    elif how == "basic":
        headers.append(("Authorization", "Basic " + token))
    status, _, body = raw_http(daemon.port, path, headers)
    assert status == 401
    assert token.encode() not in body
    run(survives(daemon))


def test_the_token_is_accepted_on_the_url_or_as_a_bearer(daemon: Daemon) -> None:
    assert raw_http(daemon.port, f"/ws?token={daemon.token}", [host(daemon)])[0] == 101
    bearer = ("Authorization", f"Bearer {daemon.token}")
    assert raw_http(daemon.port, "/ws", [host(daemon), bearer])[0] == 101

    async def scenario() -> None:
        client = await Client.open(daemon.info["url"], additional_headers={"Authorization": bearer[1]})
        async with client:
            await client.initialize()
            await client.works()

    run(scenario())


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://evil.example",
        "null",
        "http://127.0.0.1",
        "http://127.0.0.1:1",
        "https://127.0.0.1:{port}",
        "http://localhost.evil.example:{port}",
        "http://127.0.0.1:{port}.evil.example",
        "file://",
        "chrome-extension://abcdefghijklmnop",
    ],
)
def test_foreign_origin_is_403_even_with_the_token(daemon: Daemon, origin: str) -> None:
    origin = origin.format(port=daemon.port)

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await Client.open(daemon.url, origin=origin)
        assert refused.value.response.status_code == 403
        await survives(daemon)

    run(scenario())


def test_two_origins_are_403(daemon: Daemon) -> None:
    good = ("Origin", f"http://127.0.0.1:{daemon.port}")
    status, _, _ = raw_http(
        daemon.port, f"/ws?token={daemon.token}", [host(daemon), good, ("Origin", "http://evil.example")]
    )
    assert status == 403
    run(survives(daemon))


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:{port}", "http://localhost:{port}", "vscode-webview://1234abcd"]
)
def test_own_page_and_vscode_webviews_are_allowed(daemon: Daemon, origin: str) -> None:
    async def scenario() -> None:
        async with await Client.open(daemon.url, origin=origin.format(port=daemon.port)) as client:
            await client.initialize()
            await client.works()

    run(scenario())


@pytest.mark.parametrize(
    "hosts",
    [
        ["evil.example:{port}"],
        ["127.0.0.1.nip.io:{port}"],
        ["attacker.test"],
        ["127.0.0.1"],
        ["localhost"],
        ["127.0.0.1:1"],
        ["0.0.0.0:{port}"],
        ["127.0.0.2:{port}"],
        ["127.0.0.1:{port}", "evil.example:{port}"],
        [],
    ],
    ids=lambda hosts: "+".join(hosts) or "none",
)
@pytest.mark.parametrize("path", ["/ws", "/"])
def test_rebinding_host_is_421_even_with_the_token(daemon: Daemon, hosts: list[str], path: str) -> None:
    headers = [("Host", h.format(port=daemon.port)) for h in hosts]
    headers.append(("Origin", f"http://127.0.0.1:{daemon.port}"))  # what a rebound page would send
    status, _, body = raw_http(daemon.port, f"{path}?token={daemon.token}", headers, upgrade=path == "/ws")
    assert status == 421
    assert b"<html" not in body.lower()
    run(survives(daemon))


@pytest.mark.parametrize("name", ["localhost:{port}", "[::1]:{port}", "127.0.0.1:{port}"])
def test_loopback_hosts_are_allowed(daemon: Daemon, name: str) -> None:
    status, _, _ = raw_http(
        daemon.port, f"/ws?token={daemon.token}", [("Host", name.format(port=daemon.port))]
    )
    assert status == 101


@pytest.mark.parametrize(
    "path",
    [
        "/../.connector-watch/daemon.json",
        "/.connector-watch/daemon.json",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e%2fserver.py",
        "/..\\server.py",
        "/panel/../server.py",
        "//etc/passwd",
        "/server.py",
        "/protocol.schema.json",
        "/.",
        "/..",
        "/ws/../daemon.json",
        "/index.html/../../server.py",
    ],
)
def test_path_traversal_is_404(daemon: Daemon, path: str) -> None:
    status, _, body = raw_http(daemon.port, path, [host(daemon)], upgrade=False)
    assert status == 404
    assert daemon.token.encode() not in body
    assert b"import" not in body and b"root:" not in body
    run(survives(daemon))


def test_garbage_on_the_socket_is_harmless(daemon: Daemon) -> None:
    port = daemon.port
    host_line = f"Host: 127.0.0.1:{port}\r\n".encode()
    upgrade = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    cases = {
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200): None,  # a TLS hello
        os.urandom(4096): None,
        b"\r\n\r\n": None,
        b"GET / HTTP/1.1\r\n" + host_line + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n": 431,
        b"GET /ws?token=" + daemon.token.encode() + b" HTTP/1.1\r\n" + host_line + upgrade + b"\r\n": 400,
    }
    for data, status in cases.items():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            try:
                sock.sendall(data)
                answer = sock.recv(200)
            except (ConnectionResetError, BrokenPipeError):
                continue  # hanging up on garbage, even mid-send, is harmless too
            if status is not None:
                assert answer.startswith(f"HTTP/1.1 {status} ".encode()), (data[:40], answer)
    run(survives(daemon))


def test_the_panel_is_served_without_the_token(daemon: Daemon) -> None:
    status, headers, body = raw_http(daemon.port, "/", [host(daemon)], upgrade=False)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert daemon.token.encode() not in body
    for asset in ("panel.js", "panel.css"):
        status, _, body = raw_http(daemon.port, f"/{asset}", [host(daemon)], upgrade=False)
        assert status == 200 and body
        assert daemon.token.encode() not in body


# ---------------------------------------------------------------------------- JSON-RPC errors

# (what is sent, the id of the error response, the code)
MALFORMED: dict[str, tuple[str | bytes, Any, int]] = {
    "not JSON": ("{not json", None, protocol.PARSE_ERROR),
    "truncated JSON": ('{"jsonrpc": "2.0", "id": 1, "method": "snapshot"', None, protocol.PARSE_ERROR),
    "empty message": ("", None, protocol.PARSE_ERROR),
    "binary, not UTF-8": (b"\xff\xfe\x00", None, protocol.PARSE_ERROR),
    "NaN": (
        '{"jsonrpc": "2.0", "id": 1, "method": "snapshot", "params": {"x": NaN',
        None,
        protocol.PARSE_ERROR,
    ),
    "an array": ("[]", None, protocol.INVALID_REQUEST),
    "a batch": ('[{"jsonrpc": "2.0", "id": 7, "method": "snapshot"}]', None, protocol.INVALID_REQUEST),
    "a number": ("42", None, protocol.INVALID_REQUEST),
    "a string": ('"snapshot"', None, protocol.INVALID_REQUEST),
    "null": ("null", None, protocol.INVALID_REQUEST),
    "no jsonrpc member": ('{"id": 8, "method": "snapshot"}', 8, protocol.INVALID_REQUEST),
    "JSON-RPC 1.0": ('{"jsonrpc": "1.0", "id": 9, "method": "snapshot"}', 9, protocol.INVALID_REQUEST),
    "method not a string": ('{"jsonrpc": "2.0", "id": 10, "method": 5}', 10, protocol.INVALID_REQUEST),
    "no method": ('{"jsonrpc": "2.0", "id": 11}', 11, protocol.INVALID_REQUEST),
    "id an object": (
        '{"jsonrpc": "2.0", "id": {"a": 1}, "method": "snapshot"}',
        None,
        protocol.INVALID_REQUEST,
    ),
    "id an array": ('{"jsonrpc": "2.0", "id": [1], "method": "snapshot"}', None, protocol.INVALID_REQUEST),
    "id a boolean": ('{"jsonrpc": "2.0", "id": true, "method": "snapshot"}', None, protocol.INVALID_REQUEST),
    "id null": ('{"jsonrpc": "2.0", "id": null, "method": "snapshot"}', None, protocol.INVALID_REQUEST),
    "id a fraction": ('{"jsonrpc": "2.0", "id": 1.5, "method": "snapshot"}', None, protocol.INVALID_REQUEST),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, None, protocol.PARSE_ERROR),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_messages_get_an_error_and_the_connection_survives(daemon: Daemon, case: str) -> None:
    data, error_id, code = MALFORMED[case]

    async def scenario() -> None:
        async with await daemon.client() as client:
            await client.send_raw(data)
            response = await client.response(error_id)
            assert response["error"]["code"] == code, response
            await client.works()
        await survives(daemon)

    run(scenario())


# (method, params, code)
BAD_REQUESTS: dict[str, tuple[str, Any, int]] = {
    "unknown method": ("frobnicate", {}, protocol.METHOD_NOT_FOUND),
    "a notification's method": ("test/finished", {}, protocol.METHOD_NOT_FOUND),
    "an LSP method": ("textDocument/didSave", {}, protocol.METHOD_NOT_FOUND),
    "params an array": ("snapshot", [], protocol.INVALID_PARAMS),
    "params a string": ("run", "all", protocol.INVALID_PARAMS),
    "unexpected params": ("snapshot", {"deep": True}, protocol.INVALID_PARAMS),
    "run: nothing": ("run", {}, protocol.INVALID_PARAMS),
    "run: two selections": ("run", {"all": True, "failed": True}, protocol.INVALID_PARAMS),
    "run: all false": ("run", {"all": False}, protocol.INVALID_PARAMS),
    "run: failed false": ("run", {"failed": False}, protocol.INVALID_PARAMS),
    "run: all a string": ("run", {"all": "yes"}, protocol.INVALID_PARAMS),
    "run: nodeIds a string": ("run", {"nodeIds": GITHUB_TESTS}, protocol.INVALID_PARAMS),
    "run: unknown source": ("run", {"source": "../github"}, protocol.INVALID_PARAMS),
    "run: unknown key": ("run", {"command": "rm -rf /"}, protocol.INVALID_PARAMS),
    "setMode: unknown mode": ("setMode", {"mode": "turbo"}, protocol.INVALID_PARAMS),
    "setMode: live": ("setMode", {"mode": "live"}, protocol.INVALID_PARAMS),
    "setMode: replay without cassettes": ("setMode", {"mode": "replay"}, protocol.MODE_UNAVAILABLE),
    "setMode: record without credentials": ("setMode", {"mode": "record"}, protocol.MODE_UNAVAILABLE),
    "impact: no paths": ("impact", {"paths": []}, protocol.INVALID_PARAMS),
    "impact: paths not strings": ("impact", {"paths": [1]}, protocol.INVALID_PARAMS),
    "initialize: no version": ("initialize", {}, protocol.INVALID_PARAMS),
    "initialize: version 2": ("initialize", {"protocolVersion": "2.0"}, protocol.UNSUPPORTED_VERSION),
    "initialize: version 0": ("initialize", {"protocolVersion": "0.9"}, protocol.UNSUPPORTED_VERSION),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_their_error_code_and_the_connection_survives(daemon: Daemon, case: str) -> None:
    method, params, code = BAD_REQUESTS[case]

    async def scenario() -> None:
        async with await daemon.client() as client:
            response = await client.request(method, params)
            assert response["error"]["code"] == code, response
            snapshot = await client.call("snapshot")  # the connection works, and nothing changed
            assert snapshot["run"] is None, "a rejected request started a run"
            assert snapshot["mode"] == "simulate"
        await survives(daemon)

    run(scenario())


def test_a_bad_notification_gets_no_answer(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client() as client:
            await client.send_raw(json.dumps({"jsonrpc": "2.0", "method": "frobnicate"}))
            await client.send_raw(json.dumps({"jsonrpc": "2.0", "method": "run", "params": {"all": 1}}))
            await client.works()  # raises if the next response is not the snapshot's

    run(scenario())


def test_requests_before_initialize_are_32002(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client(initialize=False) as client:
            requests = {
                "run": {"all": True},
                "cancel": {},
                "setMode": {"mode": "hybrid"},
                "impact": {"paths": ["pyproject.toml"]},
                "snapshot": {},
                "file/excerpt": {"path": "pyproject.toml", "line": 0},
                "shutdown": {},
            }
            assert set(requests) == set(protocol.requests()) - {"initialize"}
            for method, params in requests.items():
                error = await client.error(method, params)
                assert error["code"] == protocol.NOT_INITIALIZED, (method, error)
            with pytest.raises(TimeoutError):
                await client.recv(timeout=0.3)  # nothing is sent before initialize, not even events
            await client.initialize()
            await client.works()
        await survives(daemon)

    run(scenario())


def test_unknown_node_ids_are_32010_and_nothing_runs(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client() as client:
            known = sorted(n["nodeId"] for n in client.snapshot["nodes"] if n["source"] == "github")[0]
            unknown = [
                f"{GITHUB_TESTS}::TestNope::test_nothing",
                "../../etc/passwd",
                "tests/unit/sources/github/test_github_lakeflow_connect.py --collect-only",
                "-p no:cacheprovider",
            ]
            error = await client.error("run", {"nodeIds": [known, *unknown]})
            assert error["code"] == protocol.UNKNOWN_NODE
            assert error["data"]["unknown"] == unknown
            # nothing ran: the next run is exactly the one asked for next
            _, messages = await client.run_to_end({"nodeIds": [known]})
            assert [n["nodeId"] for n in messages[0]["params"]["nodes"]] == [known]
            finished = [m["params"]["nodeId"] for m in messages if m["method"] == "test/finished"]
            assert finished == [known]
        await survives(daemon)

    run(scenario())


def test_an_empty_selection_is_not_accepted_and_starts_nothing(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client() as client:
            assert await client.call("run", {"nodeIds": []}) == {"accepted": False, "nodeIds": []}
            with pytest.raises(TimeoutError):
                await client.recv(timeout=0.5)  # no run/started
            assert (await client.call("snapshot"))["run"] is None

    run(scenario())


def test_paths_outside_the_workspace_are_32011(daemon: Daemon) -> None:
    root = daemon.root
    escape = root / ".connector-watch" / "escape"
    if not escape.is_symlink():
        os.symlink("/", escape)
    outside = [
        "../outside.py",
        "sources/../../outside.py",
        "/etc/passwd",
        str(root.parent / (root.name + "-evil") / "sources" / "x.py"),  # a sibling sharing the prefix
        ".connector-watch/escape/etc/passwd",  # a symlink out
        "tests/\x00/../../..",
    ]

    async def scenario() -> None:
        async with await daemon.client() as client:
            for path in outside:
                error = await client.error("impact", {"paths": ["sources/github/github.py", path]})
                assert error["code"] == protocol.PATH_OUTSIDE_WORKSPACE, (path, error)
            corpus = sorted((root / "simulator" / "specs" / "github" / "corpus").glob("*.json"))[0]
            for path in (corpus.relative_to(root).as_posix(), str(corpus)):
                result = await client.call("impact", {"paths": [path]})
                assert result["nodes"], f"a corpus change selects nothing: {path}"
                assert all(n["nodeId"].startswith("tests/unit/sources/github/") for n in result["nodes"])
        await survives(daemon)

    run(scenario())


def test_oversize_messages_are_32013_and_the_connection_survives(daemon: Daemon) -> None:
    limit = 1 << 20

    def padded(request_id: int, pad: str) -> str:
        return json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": "snapshot", "params": {}, "pad": pad},
            ensure_ascii=False,
        )

    async def scenario() -> None:
        async with await daemon.client() as client:
            assert client.capabilities["maxMessageBytes"] == limit
            # just under the limit is served
            under = padded(1000, "")
            under = padded(1000, "x" * (limit - len(under.encode())))
            assert len(under.encode()) == limit
            await client.send_raw(under, 1000, "snapshot")
            assert "result" in await client.response(1000)
            for pad in ("x" * 2 * limit, "€" * (limit // 2)):  # 2 MiB; 1.5 MiB in 0.5 Mi characters
                message = padded(1001, pad)
                assert len(message.encode()) > limit
                await client.send_raw(message)
                response = await client.response(None)
                assert response["error"]["code"] == protocol.MESSAGE_TOO_LARGE, response["error"]
                await client.works()
        await survives(daemon)

    run(scenario())


def test_frames_above_8_mib_close_with_1009_and_the_daemon_survives(daemon: Daemon) -> None:
    async def scenario() -> None:
        client = await daemon.client()
        await client.send_raw("x" * (9 << 20))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await client.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await survives(daemon)

    run(scenario())
