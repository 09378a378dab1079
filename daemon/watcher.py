"""Watching the workspace with watchdog, and turning bursts of file events into batches.

Editors save through a temporary file and a rename; formatters write twice. The
:class:`Debouncer` waits until no event arrived for ``quiet`` seconds (at most
``max_wait`` after the first one) and hands over the set of paths once. Events
that arrive while the engine is busy simply start the next batch: nothing is
dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from connector_watch.daemon.workspace import Workspace
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class _Handler(FileSystemEventHandler):
    def __init__(self, workspace: Workspace, emit: Callable[[str], None]) -> None:
        self.workspace = workspace
        self.emit = emit

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path]
        dest = getattr(event, "dest_path", None)
        if dest:
            paths.append(dest)
        for raw in paths:
            path = raw.decode() if isinstance(raw, bytes) else raw
            if event.is_directory and event.event_type != "deleted":
                continue
            if not self.workspace.contains(path) or self.workspace.ignored(path):
                continue
            self.emit(self.workspace.relative(path))


class Watcher:
    """A watchdog observer on the workspace's roots that calls ``emit(relative path)`` from its thread."""

    def __init__(self, workspace: Workspace, emit: Callable[[str], None]) -> None:
        self.workspace = workspace
        self.observer = Observer()
        handler = _Handler(workspace, emit)
        for path, recursive in workspace.watch_roots():
            self.observer.schedule(handler, str(path), recursive=recursive)

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)


class Debouncer:
    """Collects paths; :meth:`next_batch` returns them once the burst is over."""

    def __init__(self, quiet: float = 0.04, max_wait: float = 0.3) -> None:
        self.quiet = quiet
        self.max_wait = max_wait
        self._paths: dict[str, float] = {}
        self._event = asyncio.Event()
        self._first: float | None = None
        self._last = 0.0

    def add(self, path: str) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
        self._last = now
        self._paths[path] = now
        self._event.set()

    @property
    def pending(self) -> bool:
        """Whether paths were noticed that no batch has handed over yet."""
        return bool(self._paths)

    async def next_batch(self) -> tuple[list[str], float]:
        """The next batch of paths and the monotonic time its first event arrived."""
        while True:
            await self._event.wait()
            while True:
                now = time.monotonic()
                assert self._first is not None
                wait = min(self.quiet - (now - self._last), self.max_wait - (now - self._first))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            paths, first = list(self._paths), self._first
            self._paths.clear()
            self._first = None
            self._event.clear()
            if paths:
                return paths, first
