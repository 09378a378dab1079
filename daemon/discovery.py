"""Where a running daemon is, for local clients, and what a restarted one reuses.

- ``.connector-watch/daemon.json`` (mode 0600) names the running daemon: URLs, port, token, pid.
  It is removed when the daemon stops; a file whose pid is gone (or whose port is closed) is stale.
- ``.connector-watch/session.json`` (mode 0600) keeps the last daemon's port and token after it
  stopped, so a restarted ``serve`` comes back at the same address with the same token and open
  browser panels reconnect by themselves. Delete it for a fresh token.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DISCOVERY_FILE = ".connector-watch/daemon.json"
SESSION_FILE = ".connector-watch/session.json"


def _write_private(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    os.chmod(temporary, 0o600)
    temporary.replace(path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


@dataclass
class Discovery:
    path: Path

    @classmethod
    def for_workspace(cls, root: Path) -> Discovery:
        return cls(root / DISCOVERY_FILE)

    def read(self) -> dict[str, Any] | None:
        return _read(self.path)

    def live(self) -> dict[str, Any] | None:
        """The running daemon's record, or None when there is none (or it is stale)."""
        info = self.read()
        if not info:
            return None
        pid = info.get("pid")
        if not isinstance(pid, int) or not pid_alive(pid):
            return None
        with (
            contextlib.suppress(OSError, ValueError, TypeError),
            socket.create_connection(("127.0.0.1", int(info["port"])), timeout=1),
        ):
            return info
        return None

    def write(self, info: dict[str, Any]) -> None:
        _write_private(self.path, info)

    def remove(self, pid: int) -> None:
        info = self.read()
        if info and info.get("pid") == pid:
            with contextlib.suppress(OSError):
                self.path.unlink()


@dataclass
class Session:
    """The port and token a restarted daemon of this workspace reuses."""

    path: Path

    @classmethod
    def for_workspace(cls, root: Path) -> Session:
        return cls(root / SESSION_FILE)

    def read(self) -> tuple[int, str] | None:
        """(port, token) of the last daemon, when the file is ours, private and well-formed."""
        try:
            status = self.path.stat()
        except OSError:
            return None
        if status.st_uid != os.getuid() or status.st_mode & 0o077:
            return None  # someone else could have read or written it: do not trust it
        document = _read(self.path) or {}
        port, token = document.get("port"), document.get("token")
        if not (isinstance(port, int) and 0 < port < 65536 and isinstance(token, str) and len(token) >= 32):
            return None
        return port, token

    def write(self, port: int, token: str) -> None:
        _write_private(self.path, {"port": port, "token": token})


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
