"""Run ``pytest`` in a real subprocess with the daemon's plugin loaded, and collect its events.

The plugin streams JSON lines to a Unix socket named by ``CONNECTOR_WATCH_EVENTS`` (as under the
daemon's xdist runner); this helper listens on one, runs pytest to completion and returns every
event it sent, in order.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from connector_watch.daemon import plugin


def run_with_plugin(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """``python -m pytest -p connector_watch.daemon.plugin ARGS`` in ``root``: (events, process)."""
    folder = tempfile.mkdtemp(prefix="cw-events-")
    path = os.path.join(folder, "events.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    server.settimeout(timeout)
    lines: list[bytes] = []
    readers: list[threading.Thread] = []

    def accept() -> None:
        try:
            while True:
                connection, _ = server.accept()
                reader = threading.Thread(target=lambda c=connection: lines.extend(c.makefile("rb").read().splitlines()))
                reader.start()
                readers.append(reader)
        except OSError:
            return

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    child_env = {
        **os.environ,
        **(env or {}),
        plugin.ENV_EVENTS: path,
        plugin.ENV_ROOT: str(root),
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        process = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "connector_watch.daemon.plugin", "-p", "no:xdist",
             "-p", "no:cacheprovider", "-q", *args],
            cwd=root,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        server.close()
        for reader in readers:
            reader.join(timeout=10)
    return [json.loads(line) for line in lines if line.strip()], process


def finished(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``test_finished`` events by the test's name (the node ID's last part)."""
    return {e["nodeId"].split("::")[-1]: e for e in events if e.get("event") == "test_finished"}
