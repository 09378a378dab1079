"""Drive a real daemon engine (watchdog, warm workers, pytest) from synchronous tests.

The engine runs on its own event loop in a background thread; tests save files
on disk exactly as an editor would and wait for the daemon to finish reacting.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.options import EngineOptions


class LiveEngine:
    def __init__(
        self,
        root: Path,
        *,
        node_timeout: float = 20.0,
        jobs: int = 2,
        watch: bool = True,
        mode: str = "simulate",
        spark: bool = False,
        causal: bool = True,
    ) -> None:
        self.root = Path(root)
        self._cwd = os.getcwd()  # the engine chdirs into its workspace; close() comes back
        self.events: list[ev.Event] = []
        self.stamps: list[float] = []  # time.monotonic() at which each event arrived
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.engine: Engine = self.call(self._create(node_timeout, jobs, mode, spark, causal))
        self.call(self.engine.start(watch=watch, initial_run=True))
        self.wait_idle()

    async def _create(self, node_timeout: float, jobs: int, mode: str, spark: bool, causal: bool) -> Engine:
        options = EngineOptions(
            jobs=jobs, node_timeout=node_timeout, debounce=0.05, mode=mode, spark=spark, causal=causal
        )
        engine = Engine(self.root, options)
        engine.subscribe(self._record)
        return engine

    def _record(self, event: ev.Event) -> None:
        with self._changed:
            self.events.append(event)
            self.stamps.append(time.monotonic())
            self._changed.notify_all()

    # ------------------------------------------------------------------ plumbing
    def call(self, coroutine: Any, timeout: float = 120.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def run_in_loop(self, function: Callable[[], Any]) -> Any:
        async def wrapper() -> Any:
            return function()

        return self.call(wrapper())

    def wait_idle(self, timeout: float = 120.0) -> None:
        self.call(self.engine.wait_idle(timeout), timeout + 5)

    def wait_for(
        self, predicate: Callable[[ev.Event], bool], since: int = 0, timeout: float = 30.0
    ) -> ev.Event:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching event within {timeout} s; last: {self.events[-3:]}")
                self._changed.wait(remaining)

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    # ------------------------------------------------------------------ editing like a user
    def save(
        self, relative: str, text: str, *, expect_run: bool = True, timeout: float = 60.0
    ) -> list[ev.Event]:
        """Write a file, wait until the daemon noticed it and finished everything it started."""
        mark = self.mark()
        path = self.root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return []  # the daemon ignores saves that change nothing
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.wait_for(lambda e: isinstance(e, ev.FilesChanged) and relative in e.paths, mark, timeout)
        if expect_run:
            self.wait_for(lambda e: isinstance(e, ev.RunFinished) and not e.cancelled, mark, timeout)
        self.wait_idle(timeout)
        with self._lock:
            return self.events[mark:]

    def delete(self, relative: str, timeout: float = 60.0) -> list[ev.Event]:
        """Remove a file, wait until the daemon noticed it and settled."""
        mark = self.mark()
        (self.root / relative).unlink()
        self.wait_for(lambda e: isinstance(e, ev.FilesChanged) and relative in e.paths, mark, timeout)
        self.wait_idle(timeout)
        with self._lock:
            return self.events[mark:]

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    # ------------------------------------------------------------------ state
    def outcomes(self) -> dict[str, str | None]:
        return self.run_in_loop(lambda: {n: r.outcome for n, r in self.engine.index.nodes.items()})

    def failing(self) -> set[str]:
        return {
            n for n, o in self.outcomes().items() if o in ("failed", "error", "timeout", "crashed")
        } | set(self.run_in_loop(lambda: list(self.engine.results.collect_errors)))

    def node_diagnostics(self, node_id: str) -> list[Diagnostic]:
        return self.run_in_loop(lambda: list(self.engine.results.node_diagnostics.get(node_id, [])))

    def file_diagnostics(self) -> dict[str, list[Diagnostic]]:
        return self.run_in_loop(self.engine.results.file_diagnostics)

    def ran_nodes(self, events: list[ev.Event]) -> set[str]:
        return {e.node_id for e in events if isinstance(e, ev.TestFinished)}

    def close(self) -> None:
        try:
            self.call(self.engine.stop(), 60)
        finally:
            os.chdir(self._cwd)  # a later test must not run in a workspace that will be deleted
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
