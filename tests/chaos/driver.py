"""Drive a live daemon through chaos and hold it to its invariant.

**Once the daemon is idle, every node's outcome and diagnostics equal what a cold
``connector-watch run`` reports for the same files.**

- :func:`save` writes a file the way editors do (in place, temp + rename, backup + rename as vim
  does, truncate + write);
- :class:`LiveDaemon` is ``connector-watch serve`` in a subprocess (a real process, loopback only),
  with one WebSocket :class:`Session` that validates every message against the protocol schema;
  it can SIGKILL the daemon, its zygote or a worker and start the daemon again;
- :func:`cold_run` copies the workspace as it is on disk and runs ``connector-watch run --json``
  on the copy (so the cold run writes nothing into the daemon's workspace);
- :func:`divergences` compares the two, node by node: outcome, and each diagnostic's place, blame,
  check, message and fix.

Used by ``tests/chaos`` (the quick tier) and ``bench/chaos.py`` / ``bench/soak.py`` (long runs).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.tests.server.support import DISCOVERY, Daemon, check, connector_watch, request_message
from connector_watch.tests.support.workspace import copy_examples
from websockets.asyncio.client import ClientConnection, connect

#: How editors write a file.
EDITOR_SAVES = ("in_place", "temp_rename", "backup_rename", "truncate_write")

GITHUB_ISSUES = "simulator/specs/github/corpus/issues.json"
GITHUB_CONNECTOR = "sources/github/github.py"
GITHUB_SPEC = "simulator/specs/github/endpoints.yaml"
GITHUB_TESTS = "tests/unit/sources/github/test_github_lakeflow_connect.py"


# ---------------------------------------------------------------------------- the workspace


def chaos_workspace(destination: Path, sources: tuple[str, ...] | None = ("github",)) -> Path:
    """A copy of the examples as a git checkout whose ``HEAD`` is that copy.

    The daemon compares a failing node with the files it last passed with; a cold ``run`` compares
    with git ``HEAD``. Committing the starting state gives both the same history, so a verdict that
    rests on what changed (causal blame) is one a cold run can reach too.
    """
    copy_examples(destination, sources=sources)
    env = {**os.environ, "GIT_AUTHOR_NAME": "chaos", "GIT_AUTHOR_EMAIL": "chaos@localhost",
           "GIT_COMMITTER_NAME": "chaos", "GIT_COMMITTER_EMAIL": "chaos@localhost"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the examples"]):
        subprocess.run(["git", "-C", str(destination), *command], check=True, env=env, capture_output=True)
    return destination


# ---------------------------------------------------------------------------- saving like editors


def save(path: Path, data: bytes, how: str = "temp_rename") -> None:
    """Write ``data`` to ``path`` the way an editor does.

    - ``in_place``: open the existing file for update, write over it, cut what is left (no moment
      with an empty file, two events);
    - ``temp_rename``: write a temporary file beside it, then ``os.replace`` (VS Code, JetBrains,
      most "atomic save" editors);
    - ``backup_rename``: vim's default on Linux: probe with a ``4913`` file, rename the original
      to ``name~``, write a new file under the name, delete the backup;
    - ``truncate_write``: ``open(path, "w")`` then write: for a moment the file is empty.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "in_place" and path.exists():
        with open(path, "r+b") as handle:
            handle.write(data)
            handle.truncate()
    elif how in ("truncate_write", "in_place"):
        with open(path, "wb") as handle:
            handle.flush()
            os.fsync(handle.fileno())  # the empty file is on disk (and seen) before the content
            handle.write(data)
    elif how == "temp_rename":
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    elif how == "backup_rename":
        probe = path.with_name("4913")
        probe.write_bytes(b"")
        probe.unlink()
        backup = path.with_name(path.name + "~")
        existed = path.exists()
        if existed:
            os.rename(path, backup)
        path.write_bytes(data)
        if existed:
            backup.unlink()
    else:
        raise ValueError(f"unknown way to save: {how}")


# ---------------------------------------------------------------------------- the WebSocket session


class Session:
    """One initialized connection: requests matched by id; notifications counted and time-stamped.

    Every message is checked against ``daemon/protocol.schema.json`` (a violation is raised at the
    next request). Notifications are kept in a bounded deque, so a long soak does not grow here.
    """

    def __init__(self, ws: ClientConnection, keep: int = 5000) -> None:
        self.ws = ws
        self.ids = iter(range(1, 1 << 30))
        self.methods: dict[int, str] = {}
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.notifications: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.counts: collections.Counter[str] = collections.Counter()
        self.component_logs: list[dict[str, Any]] = []  # window/logMessage with a component
        self.last_notification = time.monotonic()
        self.problems: list[str] = []
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str) -> Session:
        session = cls(await connect(url, max_size=None, proxy=None, open_timeout=30))
        await session.call("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "chaos"}})
        return session

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                message = json.loads(raw)
                try:
                    check(message, self.methods.get)
                except AssertionError as exc:
                    self.problems.append(str(exc))
                if "method" in message:
                    self.last_notification = time.monotonic()
                    self.counts[message["method"]] += 1
                    self.notifications.append(message)
                    params = message.get("params") or {}
                    if message["method"] == "window/logMessage" and params.get("component"):
                        self.component_logs.append(params)
                else:
                    future = self.waiting.pop(message.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(message)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the daemon closed the connection"))

    async def request(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        request_id = next(self.ids)
        self.methods[request_id] = method
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        await self.ws.send(request_message(request_id, method, params))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.methods.pop(request_id, None)

    async def call(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        if self.problems:
            raise AssertionError(f"the daemon sent messages the schema rejects: {self.problems[:3]}")
        response = await self.request(method, params, timeout)
        if "error" in response:
            raise AssertionError(f"{method} failed: {response['error']}")
        return response["result"]

    async def settle(self, quiet: float = 0.4, timeout: float = 180) -> dict[str, Any]:
        """The snapshot once the daemon is idle and has said nothing for ``quiet`` seconds, counted
        from now at the earliest: a file written just before has then reached the daemon (the
        watcher's event takes a moment), and was acted on or was a save that changed nothing."""
        called = time.monotonic()
        deadline = called + timeout
        await asyncio.sleep(quiet)
        while True:
            snapshot = await self.call("snapshot")
            quiet_for = time.monotonic() - max(self.last_notification, called)
            if snapshot.get("idle") and snapshot["run"] is None and quiet_for >= quiet:
                return snapshot
            if time.monotonic() > deadline:
                raise TimeoutError(f"the daemon is not idle after {timeout} s: run {snapshot['run']}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.reader


# ---------------------------------------------------------------------------- the daemon process


class LiveDaemon(Daemon):
    """``connector-watch serve`` on ``root``; SIGKILLs of it, its zygote and its workers."""

    def __init__(self, root: Path, *args: str) -> None:
        super().__init__(root, *args)
        self.log = root.parent / f"{root.name}.serve.log"  # outside the workspace: not a save
        self.session: Session | None = None

    async def connect(self) -> Session:
        self.session = await Session.open(self.url)
        return self.session

    async def settle(self, quiet: float = 0.4, timeout: float = 180) -> dict[str, Any]:
        assert self.session is not None
        return await self.session.settle(quiet, timeout)

    async def disconnect(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    # -------------------------------------------------------------- processes
    def processes(self) -> dict[str, list[int]]:
        """The daemon's zygote and its forked workers (pids), read from /proc."""
        assert self.proc is not None
        zygotes, workers = [], []
        marker = f"connector_watch.daemon.zygote\x00{self.root}".encode()
        table = _process_table()
        for pid, (ppid, cmdline) in table.items():
            if marker in cmdline:
                (zygotes if ppid == self.proc.pid else workers).append(pid)
        workers = [pid for pid in workers if table[pid][0] in zygotes]
        return {"zygote": sorted(zygotes), "workers": sorted(workers)}

    def kill_workers(self) -> list[int]:
        killed = self.processes()["workers"]
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return killed

    def kill_zygote(self) -> list[int]:
        killed = self.processes()["zygote"]
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return killed

    def sigkill(self) -> None:
        """SIGKILL the daemon and everything in its process group, as an OOM killer would."""
        assert self.proc is not None
        leftovers = self.processes()["workers"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for pid in leftovers:  # forked workers lead their own groups
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        workers = self.processes()["workers"] if self.proc is not None and self.proc.poll() is None else []
        super().stop()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def tracebacks(self) -> list[str]:
        """Python tracebacks the daemon printed (none is the healthy answer)."""
        text = self.output()
        return [chunk[:2000] for chunk in text.split("Traceback (most recent call last):")[1:]]


def _process_table() -> dict[int, tuple[int, bytes]]:
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        table[int(entry)] = (ppid, cmdline)
    return table


# ---------------------------------------------------------------------------- the cold run

COPY_IGNORE = shutil.ignore_patterns(".connector-watch", "__pycache__", "*.pyc", ".pytest_cache")


def cold_run(root: Path, *args: str, timeout: float = 600) -> dict[str, Any]:
    """``connector-watch run --json`` on a copy of ``root`` as it is on disk now."""
    copy = root.parent / f"{root.name}.cold"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True, ignore=COPY_IGNORE)
    try:
        result = subprocess.run(
            [*connector_watch(), "run", "--json", "--workspace", str(copy), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if not result.stdout.strip():
            raise RuntimeError(f"run --json printed nothing (exit {result.returncode}):\n{result.stderr[-3000:]}")
        document = json.loads(result.stdout)
        document["root"] = str(copy)
        return document
    finally:
        shutil.rmtree(copy, ignore_errors=True)


# ---------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class NodeState:
    outcome: str | None
    diagnostics: frozenset[tuple[Any, ...]] = field(default_factory=frozenset)
    #: Not run because an earlier test of its file hung in the same process: which tests that
    #: leaves unrun depends on how tests were spread over processes, not on the files.
    blocked: bool = False


def _blocked(outcome: str | None, message: str | None) -> bool:
    return outcome == "skipped" and "hung past the timeout" in (message or "")


def _normal(text: str | None, roots: tuple[str, ...]) -> str | None:
    if text is None:
        return None
    for root in roots:
        text = text.replace(root, "<workspace>")
    return text


def _key(path: str, rng: dict[str, Any], blame: str, check: str | None, message: str, fix: str | None,
         roots: tuple[str, ...]) -> tuple[Any, ...]:
    start, end = rng["start"], rng["end"]
    return (path, start["line"], start["character"], end["line"], end["character"], blame, check,
            _normal(message, roots), _normal(fix, roots))


def daemon_states(snapshot: dict[str, Any]) -> dict[str, NodeState]:
    """Node states from a daemon snapshot (LSP-shaped diagnostics)."""
    roots = (snapshot["workspace"],)
    states = {}
    for node in snapshot["nodes"]:
        if node.get("kind") == "spark":
            continue
        keys = frozenset(
            _key(d["data"]["path"], d["range"], d["code"], d["data"].get("check"), d["message"],
                 d["data"].get("fix"), roots)
            for d in node.get("diagnostics") or []
        )
        states[node["nodeId"]] = NodeState(node.get("outcome"), keys, _blocked(node.get("outcome"), node.get("message")))
    return states


def cold_states(document: dict[str, Any]) -> dict[str, NodeState]:
    """Node states from ``run --json`` (CI-shaped diagnostics)."""
    roots = (document.get("root", "\x00"),)
    states = {}
    for result in document["results"]:
        keys = frozenset(
            _key(d["location"]["path"], d["location"]["range"], d["blame"], d.get("code"), d["message"],
                 d.get("fix"), roots)
            for d in result.get("diagnostics") or []
        )
        states[result["nodeId"]] = NodeState(result["outcome"], keys, _blocked(result["outcome"], result.get("message")))
    return states


def divergences(daemon: dict[str, NodeState], cold: dict[str, NodeState]) -> list[str]:
    """Every way the daemon's idle state differs from the cold run, one line each (empty: none).

    A node one side left unrun because another test of its file hung while the other ran it (see
    ``NodeState.blocked``) is not compared: :func:`not_compared` counts them."""
    found = []
    for node_id in sorted(set(daemon) | set(cold)):
        mine, theirs = daemon.get(node_id), cold.get(node_id)
        if mine is not None and theirs is not None and mine.blocked != theirs.blocked:
            continue
        if mine is None:
            found.append(f"{node_id}: missing in the daemon (cold: {theirs.outcome})")  # type: ignore[union-attr]
        elif theirs is None:
            found.append(f"{node_id}: the daemon still shows it ({mine.outcome}); the cold run has no such node")
        elif mine.outcome != theirs.outcome:
            found.append(f"{node_id}: outcome {mine.outcome} in the daemon, {theirs.outcome} cold")
        elif mine.diagnostics != theirs.diagnostics:
            only_daemon = sorted(mine.diagnostics - theirs.diagnostics, key=repr)
            only_cold = sorted(theirs.diagnostics - mine.diagnostics, key=repr)
            found.append(f"{node_id}: diagnostics differ; daemon only {only_daemon}; cold only {only_cold}")
    return found


def not_compared(daemon: dict[str, NodeState], cold: dict[str, NodeState]) -> list[str]:
    """Nodes :func:`divergences` skipped: left unrun on one side only, because a test of their file hung."""
    return sorted(n for n in set(daemon) & set(cold) if daemon[n].blocked != cold[n].blocked)


def outcome_counts(states: dict[str, NodeState]) -> dict[str, int]:
    return dict(collections.Counter(s.outcome or "none" for s in states.values()))


__all__ = [
    "DISCOVERY",
    "EDITOR_SAVES",
    "LiveDaemon",
    "NodeState",
    "Session",
    "cold_run",
    "cold_states",
    "daemon_states",
    "divergences",
    "save",
]
