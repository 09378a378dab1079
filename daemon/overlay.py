"""An overlay: a private copy of the workspace where files can hold other versions, with warm workers.

Counterfactual reruns ("does this test pass with that change reverted?") and, later, verified
fixes ("does it pass with this edit applied?") run here, never in the user's files. The copy is
made once (the watcher's ignore rules apply: no .git, virtualenvs, caches), kept in step with
every save, and a trial writes its versions over it, runs, and puts the current files back.

The overlay's worker pool is rooted at the copy, with the copy's import roots first on the
Python path, so the copy's connectors, specs and tests are the ones imported, even when the
user's checkout is installed in editable mode (``src/`` layouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from connector_watch.daemon.bytecode import forget_bytecode
from connector_watch.daemon.workers import WorkerPool
from connector_watch.daemon.workspace import Workspace

#: What a trial sees of each file: its content, or None for "absent".
Contents = Mapping[str, bytes | None]
#: A trial's per-test timeout: tests against a simulator take milliseconds, and a test that hangs
#: in every trial must not cost the full timeout each time (a trial past it is not "the same failure"
#: unless the failure was a hang, and then it is).
TRIAL_TIMEOUT = 8.0


class Overlay:
    def __init__(
        self,
        workspace: Workspace,
        *,
        node_timeout: float,
        log_dir: Path,
        pool_factory: Callable[[Path, list[str]], WorkerPool] | None = None,
    ) -> None:
        self.workspace = workspace
        self.root = Path(tempfile.mkdtemp(prefix="connector-watch-overlay-")).resolve()
        self._node_timeout = node_timeout
        self._log_dir = log_dir
        self._pool_factory = pool_factory
        self.pool: WorkerPool | None = None
        self._built = False
        #: Saves made while the copy was being made (it may have read them half-written, or before).
        self._unsynced: set[str] = set()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Copy the workspace (off the event loop) and start the overlay's warm workers."""
        if self._built:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._copy_workspace)
        self._built = True
        self.sync(sorted(self._unsynced))  # before the workers preload anything
        self._unsynced.clear()
        import_paths = [str(self.root / p) for p in self.workspace.layout.import_roots()]
        if self._pool_factory is not None:
            self.pool = self._pool_factory(self.root, import_paths)
        else:
            self.pool = WorkerPool(
                self.root,
                node_timeout=self._node_timeout,
                log_dir=self._log_dir,
                import_paths=import_paths,
                preload_shared=False,  # trials swap shared files: each child imports them as written
            )
        await self.pool.start()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        shutil.rmtree(self.root, ignore_errors=True)

    def _copy_workspace(self) -> None:
        source = self.workspace.root
        for directory, dirnames, filenames in os.walk(source):
            rel_dir = os.path.relpath(directory, source)
            rel_dir = "" if rel_dir == "." else rel_dir
            dirnames[:] = [
                d
                for d in dirnames
                if not self.workspace.ignored(f"{rel_dir}/{d}/x" if rel_dir else f"{d}/x")
                and not os.path.islink(os.path.join(directory, d))
            ]
            target_dir = self.root / rel_dir
            target_dir.mkdir(parents=True, exist_ok=True)
            for name in filenames:
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if self.workspace.ignored(rel):
                    continue
                with contextlib.suppress(OSError):
                    shutil.copyfile(os.path.join(directory, name), target_dir / name)

    # ------------------------------------------------------------------ keeping in step
    def sync(self, paths: list[str]) -> None:
        """Copy these workspace files' current content (or their absence) into the overlay (while
        the copy is being made: once it is made)."""
        if not self._built:
            self._unsynced.update(paths)
            return
        for path in paths:
            self._write(path, _read(self.workspace.absolute(path)))

    def _write(self, path: str, data: bytes | None) -> None:
        target = self.root / path
        forget_bytecode(target)
        if data is None:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                target.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.cw-tmp")
        temporary.write_bytes(data)
        temporary.replace(target)

    # ------------------------------------------------------------------ trials
    async def run(
        self,
        node_ids: list[str],
        contents: Contents,
        env: dict[str, str] | None = None,
        timeout: float | None = TRIAL_TIMEOUT,
    ) -> dict[str, dict[str, Any]]:
        """Run ``node_ids`` with the files of ``contents`` swapped in; their ``test_finished`` events.

        One trial at a time. The swapped files are put back to the workspace's current content
        afterwards, whatever happened.
        """
        async with self._lock:
            if not self._built or self.pool is None:
                await self.start()
            assert self.pool is not None
            finished: dict[str, dict[str, Any]] = {}
            collect_errors: dict[str, dict[str, Any]] = {}

            def collect(event: dict[str, Any]) -> None:
                if event.get("event") == "test_finished":
                    finished[event["nodeId"]] = event
                elif event.get("event") == "collect_error":
                    path = event.get("path") or event.get("nodeId")
                    collect_errors[path] = {"outcome": "error", "failure": {"chain": event.get("chain", [])}}

            try:
                for path, data in contents.items():
                    self._write(path, data)
                env = {**(env or {}), "CONNECTOR_WATCH_WORKSPACE": str(self.root)}
                await self.pool.run(list(node_ids), collect, env=env, timeout=timeout)
            finally:
                self.sync(list(contents))
            return {**finished, **_file_results(node_ids, finished, collect_errors)}

    async def cancel(self) -> None:
        """Stop the trial in progress (a newer save made it moot)."""
        if self.pool is not None:
            for job in self.pool.jobs():
                await self.pool.kill(job)



class SharedOverlay:
    """The engine's one overlay, started in the background once (when the daemon starts watching,
    so the first verdict does not wait for the copy) and shared by every counterfactual rerun."""

    def __init__(self, workspace: Workspace, *, node_timeout: float, log_dir: Path) -> None:
        self._workspace = workspace
        self._node_timeout = node_timeout
        self._log_dir = log_dir
        self._overlay: Overlay | None = None
        self._starting: asyncio.Task[Overlay] | None = None

    def warm(self) -> None:
        if self._starting is None:
            self._overlay = Overlay(self._workspace, node_timeout=self._node_timeout, log_dir=self._log_dir)
            self._starting = asyncio.create_task(self._start(self._overlay))

    async def ready(self) -> Overlay:
        self.warm()
        assert self._starting is not None
        return await asyncio.shield(self._starting)

    def sync(self, paths: list[str]) -> None:
        """Saves reach the copy (before it is warmed there is none: it will be made from them)."""
        if self._overlay is not None:
            self._overlay.sync(paths)

    async def close(self) -> None:
        if self._starting is not None:
            with contextlib.suppress(BaseException):
                await self._starting
        if self._overlay is not None:
            await self._overlay.close()

    async def _start(self, overlay: Overlay) -> Overlay:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        await overlay.start()
        return overlay


def _file_results(
    node_ids: list[str], finished: dict[str, dict[str, Any]], collect_errors: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """A whole test file asked for (a file that did not collect before) as one result: its
    collection error, else its first failing test, else passed."""
    results = {}
    for file in (n for n in node_ids if "::" not in n):
        if file in collect_errors:
            results[file] = collect_errors[file]
            continue
        tests = [e for node, e in finished.items() if node.split("::")[0] == file]
        failing = [e for e in tests if e.get("outcome") not in ("passed", "skipped")]
        results[file] = failing[0] if failing else {"outcome": "passed" if tests else "missing"}
    return results


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError:
        return None
