"""One daemon per workspace: the discovery file, a second ``serve``, stale files, loopback only, stopping."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from connector_watch.daemon import protocol
from connector_watch.daemon.server import Discovery, pid_alive
from connector_watch.tests.server.support import Daemon, connector_watch, copy_workspace, run

pytestmark = pytest.mark.slow  # a real `connector-watch serve` subprocess


def non_loopback_addresses() -> list[str]:
    """This machine's addresses other than loopback (IPv4), best effort."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        found.add(probe.getsockname()[0])
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    return child.pid


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def answers(daemon: Daemon) -> None:
    async with await daemon.client() as client:
        await client.works()


@pytest.fixture(scope="module")
def idle_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(copy_workspace(tmp_path_factory.mktemp("discovery") / "workspace"), "--no-initial-run")
    try:
        yield daemon.start()
    finally:
        daemon.stop()


def test_the_discovery_file_is_private_and_complete(idle_daemon: Daemon) -> None:
    daemon = idle_daemon
    mode = stat.S_IMODE(daemon.discovery.stat().st_mode)
    assert mode == 0o600, oct(mode)
    info = daemon.info
    assert info["pid"] == daemon.proc.pid
    assert info["url"] == f"ws://127.0.0.1:{info['port']}/ws"
    assert info["httpUrl"] == f"http://127.0.0.1:{info['port']}/"
    assert info["protocolVersion"] == protocol.protocol_version()
    assert Path(info["workspace"]) == daemon.root.resolve()
    assert len(info["token"]) >= 32
    assert not list(daemon.discovery.parent.glob("*.tmp")), "a temporary file was left behind"
    run(answers(daemon))


def test_only_loopback_is_listening(idle_daemon: Daemon) -> None:
    daemon = idle_daemon
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5):
        pass
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address")
    for address in addresses:
        with pytest.raises(OSError), socket.create_connection((address, daemon.port), timeout=2):
            pass
    run(answers(daemon))


def test_a_second_serve_finds_the_first_and_exits(idle_daemon: Daemon) -> None:
    first = idle_daemon
    before = first.discovery.read_bytes()
    second = subprocess.run(
        [*connector_watch(), "serve", "--workspace", str(first.root), "--no-initial-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0, second.stderr
    assert first.info["httpUrl"] in second.stdout
    assert str(first.info["pid"]) in second.stdout
    assert first.token not in second.stdout + second.stderr, "the token was printed"
    assert first.discovery.read_bytes() == before, "the second serve touched the discovery file"
    assert first.alive()
    run(answers(first))


def test_discovery_tells_a_live_daemon_from_a_stale_file(idle_daemon: Daemon, tmp_path: Path) -> None:
    discovery = Discovery(tmp_path / "daemon.json")
    assert discovery.live() is None  # no file
    stale = {
        "not JSON": "{not json",
        "no pid": json.dumps({"port": idle_daemon.port}),
        "pid not a number": json.dumps({"port": idle_daemon.port, "pid": "1"}),
        "dead pid": json.dumps({"port": idle_daemon.port, "pid": dead_pid()}),
        "live pid, closed port": json.dumps({"port": closed_port(), "pid": os.getpid()}),
    }
    for why, text in stale.items():
        discovery.path.write_text(text, encoding="utf-8")
        assert discovery.live() is None, why
    assert Discovery(idle_daemon.discovery).live() == idle_daemon.info


@pytest.mark.parametrize(
    ("stale", "stop"), [("dead pid", "shutdown request"), ("live pid, closed port", "SIGTERM")]
)
def test_a_stale_discovery_file_is_replaced_and_removed_at_stop(
    start_daemon: Callable[..., Daemon], workspace: Path, stale: str, stop: str
) -> None:
    discovery = workspace / ".connector-watch" / "daemon.json"
    discovery.parent.mkdir(parents=True, exist_ok=True)
    port = closed_port()
    pid = dead_pid() if stale == "dead pid" else os.getpid()  # alive, but no daemon on that port
    record = {"url": f"ws://127.0.0.1:{port}/ws", "httpUrl": f"http://127.0.0.1:{port}/", "port": port}
    discovery.write_text(json.dumps({**record, "token": "old", "pid": pid}), encoding="utf-8")
    daemon = start_daemon("--no-initial-run", root=workspace)
    assert daemon.info["pid"] == daemon.proc.pid
    assert daemon.info["token"] != "old"
    assert stat.S_IMODE(discovery.stat().st_mode) == 0o600
    run(answers(daemon))

    if stop == "shutdown request":

        async def shutdown() -> None:
            async with await daemon.client() as client:
                assert await client.call("shutdown") == {}

        run(shutdown())
    else:
        daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    assert not discovery.exists(), "the discovery file outlived the daemon"
    assert "Traceback" not in daemon.output()


def test_a_restarted_daemon_comes_back_at_the_same_address_with_the_same_token(
    start_daemon: Callable[..., Daemon], workspace: Path
) -> None:
    first = start_daemon("--no-initial-run", root=workspace)
    url, port, token = first.url, first.port, first.token
    session = workspace / ".connector-watch" / "session.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    first.stop()
    assert not first.discovery.exists()
    assert session.exists(), "the session outlives the daemon: a restart reuses it"

    second = start_daemon("--no-initial-run", root=workspace)
    assert (second.port, second.token) == (port, token)
    assert second.url == url, "an open panel reconnects to the new daemon with what it had"
    run(answers(second))
    second.stop()

    # A session file others could read or write is not trusted: a fresh token, any port.
    os.chmod(session, 0o644)
    third = start_daemon("--no-initial-run", root=workspace)
    assert third.token != token
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    run(answers(third))


def test_the_last_sessions_port_in_use_means_another_port_not_a_failure(
    start_daemon: Callable[..., Daemon], workspace: Path
) -> None:
    first = start_daemon("--no-initial-run", root=workspace)
    port, token = first.port, first.token
    first.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        second = start_daemon("--no-initial-run", root=workspace)
        assert second.port != port
        assert second.token == token
        run(answers(second))
