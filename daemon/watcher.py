"""Watching the workspace with watchdog, and turning bursts of file events into batches.

Editors save through a temporary file and a rename; formatters write twice. The
:class:`Debouncer` waits until no event arrived for ``quiet`` seconds (at most
``max_wait`` after the first one) and hands over the set of paths once. Events
that arrive while the engine is busy simply start the next batch: nothing is
dropped.

A watcher that stops seeing saves is worse than none (the panel stays green over a broken file),
so a failure is never silent: an event the handler cannot place (a symlink loop, a path that
vanished) is reported through ``on_error`` and the thread carries on; events the kernel dropped
(an inotify queue overflow) are reported through ``on_lost``; and :meth:`Watcher.failure` says
when the observer or one of its folder watches has died (a watched folder deleted and made again
by a branch switch), so the owner can start a new watcher and rescan what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from connector_watch.daemon.workspace import Workspace
from watchdog.events import EVENT_TYPE_EVENTS_LOST, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

ErrorReport = Callable[[str], None]


def _ignore(message: str) -> None:
    pass


class _Handler(FileSystemEventHandler):
    def __init__(
        self, workspace: Workspace, emit: Callable[[str], None], on_error: ErrorReport, on_lost: ErrorReport
    ) -> None:
        self.workspace = workspace
        self.emit = emit
        self.on_error = on_error
        self.on_lost = on_lost

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Runs in the observer's thread: an exception here would end it, and every later save
        # would go unseen. Whatever one event does, report it and keep watching.
        try:
            self._handle(event)
        except Exception as exc:
            self.on_error(f"the file watcher could not handle {event.event_type} {event.src_path!r}: {exc!r}")

    def _handle(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.event_type == EVENT_TYPE_EVENTS_LOST:
            self.on_lost(f"the kernel dropped file events under {event.src_path!r} (too many at once)")
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
    """A watchdog observer on the workspace's roots that calls ``emit(relative path)`` from its thread.

    ``on_error`` and ``on_lost`` are called from that thread too: an event that could not be
    handled, and events the kernel dropped (the owner should rescan).
    """

    def __init__(
        self,
        workspace: Workspace,
        emit: Callable[[str], None],
        on_error: ErrorReport = _ignore,
        on_lost: ErrorReport = _ignore,
    ) -> None:
        self.workspace = workspace
        self.observer = Observer()
        handler = _Handler(workspace, emit, on_error, on_lost)
        self.roots = workspace.watch_roots()
        for path, recursive in self.roots:
            self.observer.schedule(handler, str(path), recursive=recursive)

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        if self.observer.is_alive():
            self.observer.join(timeout=5)

    def failure(self) -> str | None:
        """Why this watcher no longer sees every save, or None while it does.

        The observer thread ended (it should run until :meth:`stop`); a folder watch ended (watchdog
        stops watching a folder that is deleted, and does not watch it again when it is made anew);
        or a folder that exists now was missing when the watcher started.
        """
        if not self.observer.is_alive():
            return "the file watcher's thread stopped"
        dead = sorted(e.watch.path for e in self.observer.emitters if not e.is_alive())
        if dead:
            return f"watching {', '.join(self.workspace.relative(p) or '.' for p in dead)} stopped"
        appeared = [p for p, recursive in self.workspace.watch_roots() if (p, recursive) not in self.roots]
        if appeared:
            return f"{', '.join(self.workspace.relative(p) for p in appeared)} appeared"
        return None


class WatchService:
    """The watcher, kept alive, feeding a :class:`Debouncer` on the event loop.

    ``noticed(path)`` is called for every path handed to the debouncer. Every ``interval`` seconds it asks the watcher whether it still sees every save; when not, it
    says so through ``log`` (an error: clients and the terminal show it), starts a new watcher and
    rescans. A rescan hands the debouncer every path ``unseen`` returns (the owner's files whose
    content differs from what it last saw), so saves made while nobody watched are not lost.
    """

    def __init__(
        self,
        workspace: Workspace,
        debouncer: Debouncer,
        *,
        noticed: Callable[[str], None],
        unseen: Callable[[], list[str]],
        log: Callable[[str, str], None],
        interval: float = 0.5,
    ) -> None:
        self.workspace = workspace
        self.debouncer = debouncer
        self.noticed = noticed
        self.unseen = unseen
        self.log = log
        self.interval = interval
        self.restarts = 0
        self.watcher: Watcher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rescan_due: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._start_watcher()  # a failure is reported; supervise() tries again

    def stop(self) -> None:
        if self._rescan_due is not None:
            self._rescan_due.cancel()
        if self.watcher is not None:
            self.watcher.stop()

    async def supervise(self) -> None:
        """Restart the watcher whenever it fails or could not start (run as a task): each attempt
        that fails is reported and tried again after ``interval``; saves are never ignored for good."""
        while True:
            await asyncio.sleep(self.interval)
            problem = "the file watcher is not running" if self.watcher is None else self.watcher.failure()
            if problem is None:
                continue
            self.restarts += 1
            self.log("error", f"{problem}: restarting the file watcher and rescanning the workspace")
            old, self.watcher = self.watcher, None
            if old is not None:
                await asyncio.to_thread(old.stop)
            if not self._start_watcher():
                continue
            missed = self.rescan()
            self.log("info", f"the file watcher is running again; {missed} file(s) changed while it was down")

    def _start_watcher(self) -> bool:
        """A new watcher, started; False (reported, ``self.watcher`` left None) when it cannot start:
        a folder vanished between listing and watching, the inotify watch limit, ..."""
        watcher = self._new_watcher()
        try:
            watcher.start()
        except Exception as exc:
            self.log("error", f"cannot start the file watcher: {exc!r} (retrying in {self.interval:g} s)")
            with contextlib.suppress(Exception):
                watcher.stop()
            return False
        self.watcher = watcher
        return True

    def rescan(self) -> int:
        """Hand over every file that changed unseen (now, on the loop); how many did."""
        self._rescan_due = None
        missed = self.unseen()
        for path in missed:
            self.add(path)
        return len(missed)

    def add(self, path: str) -> None:
        self.debouncer.add(path)  # first: whatever the owner's hook does, the save is not lost
        try:
            self.noticed(path)
        except Exception as exc:
            self.log("error", f"noticing a save of {path} failed: {exc!r}")

    def _new_watcher(self) -> Watcher:
        loop = self._loop
        assert loop is not None

        def emit(path: str) -> None:
            loop.call_soon_threadsafe(self.add, path)

        def trouble(level: str) -> ErrorReport:
            return lambda message: loop.call_soon_threadsafe(self._trouble, level, message)

        return Watcher(self.workspace, emit, on_error=trouble("error"), on_lost=trouble("warning"))

    def _trouble(self, level: str, message: str) -> None:
        """An event was lost or could not be handled: say so, and rescan soon (once per burst)."""
        self.log(level, f"{message}; rescanning the workspace")
        if self._rescan_due is None and self._loop is not None:
            self._rescan_due = self._loop.call_later(0.2, self.rescan)


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
