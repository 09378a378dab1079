"""Drive a real daemon engine from synchronous code and time what one save makes it do.

Mirrors ``tests/support/live_engine.py`` (the engine on its own event loop in a background
thread, files saved on disk as an editor would), with two differences that matter for a
benchmark: every event is stamped with ``time.perf_counter()`` in the subscriber, as the engine
emits it, and events are kept only while a measurement is in progress (a thousand runs must not
grow the benchmark's own memory).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.options import EngineOptions

#: Events a measurement needs (TestStarted and Progress are many and say nothing new here).
KEPT = (ev.FilesChanged, ev.DiagnosticsPublished, ev.RunStarted, ev.TestFinished, ev.TestRevised, ev.RunFinished)


@dataclass
class SaveTiming:
    """What one save made the daemon do, in milliseconds after the write started."""

    path: str
    files_changed_ms: float | None = None  # the watcher saw it and the debouncer let it through
    run_started_ms: float | None = None  # static checks and impact done, run planned
    first_diagnostic_ms: float | None = None  # a diagnostic for the file, or a test's blamed failure
    first_diagnostic_from: str | None = None  # "static" (before the run), "published" (during it), "test"
    first_test_diagnostic_ms: float | None = None  # first test of the run reported with a diagnostic
    diagnostics_cleared_ms: float | None = None  # the file's diagnostics published empty
    first_result_ms: float | None = None  # first test of the run finished
    first_failure_ms: float | None = None  # first test of the run that failed (with its merits blame)
    causal_verdict_ms: float | None = None  # that test's causal verdict (test/revised)
    run_finished_ms: float | None = None
    run_id: int | None = None
    run_cancelled: bool = False
    nodes_selected: int = 0
    tests_finished: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    engine_run_ms: float | None = None  # RunFinished.duration_ms (the engine's own clock)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DaemonDriver:
    def __init__(
        self,
        root: Path,
        options: EngineOptions | None = None,
        *,
        initial_run: bool = True,
        start_timeout: float = 900.0,
    ) -> None:
        self.root = Path(root).resolve()
        self._cwd = os.getcwd()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._recording = False
        self._events: list[tuple[float, ev.Event]] = []
        self.emitted = 0
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[str] = []  # exceptions nobody handled on the engine's loop
        self.loop.set_exception_handler(self._on_loop_error)
        self._thread = threading.Thread(target=self.loop.run_forever, name="engine-loop", daemon=True)
        self._thread.start()
        started = time.perf_counter()
        self.engine: Engine = self.call(self._create(options or EngineOptions()))
        self.call(self.engine.start(watch=True, initial_run=initial_run), start_timeout)
        self.workers_ready_s = time.perf_counter() - started
        self.wait_idle(start_timeout)
        self.startup_s = time.perf_counter() - started

    async def _create(self, options: EngineOptions) -> Engine:
        engine = Engine(self.root, options)
        engine.subscribe(self._record)
        return engine

    def _record(self, event: ev.Event) -> None:
        now = time.perf_counter()
        self.emitted += 1
        if not self._recording or not isinstance(event, KEPT):
            return
        with self._changed:
            self._events.append((now, event))
            self._changed.notify_all()

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exception = context.get("exception")
        self.loop_errors.append(f"{context.get('message')}: {exception!r}" if exception else str(context))

    # ------------------------------------------------------------------ plumbing
    def call(self, coroutine: Any, timeout: float = 300.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def in_loop(self, function: Any) -> Any:
        async def wrapper() -> Any:
            return function()

        return self.call(wrapper())

    def wait_idle(self, timeout: float = 300.0) -> None:
        self.call(self.engine.wait_idle(timeout), timeout + 5)

    def _wait_for(self, predicate: Any, timeout: float) -> tuple[float, ev.Event]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for stamped in self._events:
                    if predicate(stamped[1]):
                        return stamped
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = [type(e).__name__ for _, e in self._events[-5:]]
                    raise TimeoutError(f"no matching event within {timeout} s; last: {recent}")
                self._changed.wait(remaining)

    # ------------------------------------------------------------------ measurements
    def save(self, relative: str, text: str, *, timeout: float = 300.0) -> SaveTiming:
        """Write ``text`` to ``relative`` like an editor and time the daemon's reaction until idle."""
        path = self.root / relative
        with self._changed:
            self._events = []
            self._recording = True
        try:
            t0 = time.perf_counter()
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            self._wait_for(lambda e: isinstance(e, ev.FilesChanged) and relative in e.paths, timeout)
            # FilesChanged is emitted inside the batch handler, which queues the run before it
            # returns: from here on the engine is busy until the run it queued has finished.
            self.wait_idle(timeout)
        finally:
            with self._changed:
                events, self._events = self._events, []
                self._recording = False
        return _timing(relative, t0, events)

    def run_nodes(self, node_ids: list[str], timeout: float = 300.0) -> None:
        """Run some nodes (as a client's ``run`` request does) and wait until the run is over."""

        async def run() -> None:
            self.engine.run_nodes(node_ids)
            await self.engine.wait_idle(timeout)

        self.call(run(), timeout + 5)

    def test_files(self) -> list[str]:
        return self.in_loop(self.engine.workspace.test_files)

    def node_ids(self) -> list[str]:
        return self.in_loop(lambda: sorted(self.engine.index.nodes))

    def failing(self) -> list[str]:
        def collect() -> list[str]:
            bad = ("failed", "error", "timeout", "crashed")
            nodes = [n for n, r in self.engine.index.nodes.items() if r.outcome in bad]
            return sorted(nodes + list(self.engine.results.collect_errors))

        return self.in_loop(collect)

    def outcomes(self) -> dict[str, int]:
        def count() -> dict[str, int]:
            result: dict[str, int] = {}
            for record in self.engine.index.nodes.values():
                result[str(record.outcome)] = result.get(str(record.outcome), 0) + 1
            return result

        return self.in_loop(count)

    def close(self) -> None:
        try:
            self.call(self.engine.stop(), 60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            os.chdir(self._cwd)  # the engine chdirs into its workspace


def _timing(relative: str, t0: float, events: list[tuple[float, ev.Event]]) -> SaveTiming:
    timing = SaveTiming(relative)

    def ms(stamp: float) -> float:
        return round((stamp - t0) * 1000.0, 3)

    first_failed: str | None = None
    for stamp, event in events:
        if isinstance(event, ev.TestRevised) and event.node_id == first_failed and timing.causal_verdict_ms is None:
            timing.causal_verdict_ms = ms(stamp)
        if isinstance(event, ev.FilesChanged) and relative in event.paths and timing.files_changed_ms is None:
            timing.files_changed_ms = ms(stamp)
        elif isinstance(event, ev.RunStarted) and relative in event.paths and timing.run_id is None:
            timing.run_id = event.run_id
            timing.run_started_ms = ms(stamp)
            timing.nodes_selected = len(event.nodes)
        elif isinstance(event, ev.DiagnosticsPublished) and event.path == relative:
            if event.diagnostics and timing.first_diagnostic_ms is None:
                timing.first_diagnostic_ms = ms(stamp)
                timing.first_diagnostic_from = "static" if timing.run_id is None else "published"
            elif not event.diagnostics and timing.diagnostics_cleared_ms is None:
                timing.diagnostics_cleared_ms = ms(stamp)
        elif isinstance(event, ev.TestFinished) and event.run_id == timing.run_id:
            timing.tests_finished += 1
            if timing.first_result_ms is None:
                timing.first_result_ms = ms(stamp)
            if event.outcome in ("failed", "error") and first_failed is None:
                first_failed = event.node_id
                timing.first_failure_ms = ms(stamp)
            if event.diagnostics and timing.first_test_diagnostic_ms is None:
                timing.first_test_diagnostic_ms = ms(stamp)
            if event.diagnostics and timing.first_diagnostic_ms is None:
                timing.first_diagnostic_ms = ms(stamp)
                timing.first_diagnostic_from = "test"
        elif isinstance(event, ev.RunFinished) and event.run_id == timing.run_id:
            timing.run_finished_ms = ms(stamp)
            timing.run_cancelled = event.cancelled
            timing.counts = {k: v for k, v in event.counts.items() if v}
            timing.engine_run_ms = round(event.duration_ms, 3)
    return timing
