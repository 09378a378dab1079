"""Starting a live server in its own process, and talking to its control API.

```python
from connector_watch.simulator.live_servers.process import start

with start("github", drifts=["extra_field"]) as server:
    server.config          # the connector config: base_url + credentials
    server.set_drift("changed_type")
```

The server is a separate Python process on 127.0.0.1 and a free port. It is
terminated when the ``with`` block (or :meth:`LiveServerProcess.stop`) ends,
and exits by itself if its parent dies. Control calls use ``http.client``
directly, so they are never recorded by an active simulator.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector_watch.simulator.live_servers import app_class
from connector_watch.simulator.live_servers.__main__ import ENV_CONTROL_TOKEN, ENV_CREDENTIALS
from connector_watch.simulator.live_servers.framework import CONTROL_HEADER

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 20.0
CONTROL_TIMEOUT = 10.0


class LiveServerError(RuntimeError):
    """The live server could not be started or controlled."""


@dataclass
class LiveServerProcess:
    source: str
    base_url: str
    config: dict[str, str]
    credentials: dict[str, str]
    control_token: str
    process: subprocess.Popen[bytes]
    workdir: Path
    drifts: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LiveServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        path = self.workdir / "stderr.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    # ------------------------------------------------------------------ control API
    def control(self, method: str, action: str, body: Any = None) -> dict[str, Any]:
        parts = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONTROL_TIMEOUT)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {CONTROL_HEADER: self.control_token, "Content-Type": "application/json"}
            connection.request(method, f"/_live/{action}", body=payload, headers=headers)
            response = connection.getresponse()
            data = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        if response.status != 200:
            raise LiveServerError(f"control {action} failed: HTTP {response.status}: {data}")
        return data

    def set_drift(self, *drifts: str) -> dict[str, Any]:
        """Replace the server's drift (none: serve the corpus as it is)."""
        self.drifts = list(drifts)
        return self.control("POST", "drift", {"drift": list(drifts)})

    def reset(self) -> dict[str, Any]:
        """Reload the corpus (drops writes) and clear call counts."""
        return self.control("POST", "reset")

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")


def start(
    source: str,
    *,
    drifts: Iterable[str] = (),
    rate_limit: str = "off",
    delay: float = 0.0,
    credentials: dict[str, str] | None = None,
    corpus_dir: str | Path | None = None,
    port: int = 0,
    python: str | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> LiveServerProcess:
    """Start ``source``'s live server in a new process; returns once it accepts connections."""
    cls = app_class(source)  # validates the name before spawning
    creds = {name: make() for name, make in cls.CREDENTIALS.items()}
    creds.update(credentials or {})
    control_token = secrets.token_urlsafe(16)
    workdir = Path(tempfile.mkdtemp(prefix=f"live-{source}-"))
    config_path = workdir / "connector-config.json"
    command = [
        python or sys.executable,
        "-m",
        "connector_watch.simulator.live_servers",
        source,
        "--port",
        str(port),
        "--rate-limit",
        rate_limit,
        "--delay",
        str(delay),
        "--config-out",
        str(config_path),
        "--exit-with-parent",
    ]
    for drift in drifts:
        command += ["--drift", drift]
    if corpus_dir is not None:
        command += ["--corpus", str(corpus_dir)]
    env = dict(os.environ)
    env[ENV_CREDENTIALS] = json.dumps(creds)
    env[ENV_CONTROL_TOKEN] = control_token
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    stderr = (workdir / "stderr.log").open("wb")
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=env, cwd=REPO_ROOT
        )
    finally:
        stderr.close()
    lines: queue.Queue[bytes] = queue.Queue()

    def read_first_line() -> None:
        assert process.stdout is not None
        lines.put(process.stdout.readline())

    threading.Thread(target=read_first_line, daemon=True).start()
    try:
        line = lines.get(timeout=startup_timeout).decode().strip()
    except queue.Empty:
        line = ""
    server = LiveServerProcess(source, line, {}, creds, control_token, process, workdir, list(drifts))
    if not line.startswith("http://"):
        log = server.log()
        server.stop()
        raise LiveServerError(
            f"the {source} live server did not start within {startup_timeout:g} s"
            + (f":\n{log.strip()}" if log.strip() else "")
        )
    server.config = json.loads(config_path.read_text(encoding="utf-8"))
    return server
