"""What ``serve`` prints when it starts: the panel URL carries the session token, so it goes only to a
terminal; redirected to a file (a log anyone may read) the token stays in the 0600 discovery file
(issue 14's seventh defect)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest
from connector_watch.tests.server.support import DISCOVERY, connector_watch

pytestmark = pytest.mark.slow


def _serve(root: Path, stdout: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*connector_watch(), "serve", "--workspace", str(root), "--no-initial-run"],
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _token(root: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited"
        try:
            info = json.loads((root / DISCOVERY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        if info.get("pid") == proc.pid:
            assert (root / DISCOVERY).stat().st_mode & 0o777 == 0o600
            return str(info["token"])
        time.sleep(0.05)
    raise TimeoutError("no discovery file")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_the_token_is_not_printed_into_a_file(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with open(log, "wb") as handle:
        proc = _serve(workspace, handle.fileno())
    try:
        token = _token(workspace, proc)
        deadline = time.monotonic() + 20
        while "panel:" not in log.read_text(encoding="utf-8") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        _stop(proc)
    printed = log.read_text(encoding="utf-8")
    assert "panel: http://127.0.0.1:" in printed, printed
    assert token not in printed, printed
    assert str(workspace / DISCOVERY) in printed  # where to find it instead


def test_the_token_is_printed_to_a_terminal(workspace: Path) -> None:
    leader, follower = pty.openpty()
    proc = _serve(workspace, follower)
    os.close(follower)
    printed = b""
    try:
        token = _token(workspace, proc)
        deadline = time.monotonic() + 20
        while token.encode() not in printed and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                printed += os.read(leader, 65536)
    finally:
        _stop(proc)
        os.close(leader)
    assert f"#token={token}".encode() in printed, printed
