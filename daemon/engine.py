"""The engine: saves in, typed events out. ``watch``, ``run``, ``serve`` (and ``lsp``) are front ends of it.

Data flow for one batch of saves::

    paths ─► content changed? ─► static checks (publish at once) ─► impact ─► run plan
          ─► warm workers (pytest + plugin) ─► per-node events ─► blame ─► state ─► events
          ─► counterfactual reruns on the overlay ─► causal verdict ─► revised diagnostics

Runs are serialized: a newer batch cancels the run in progress (teardown still runs in the child;
late results are ignored) and the next run covers the new selection plus whatever the cancelled
run had not finished. The engine only orchestrates: the state it publishes lives in
:mod:`~connector_watch.daemon.results`, file contents over time in
:mod:`~connector_watch.daemon.file_history`, the counterfactual reruns in
:mod:`~connector_watch.daemon.causal`, the stages after a run in :mod:`~connector_watch.daemon.stages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon import stages
from connector_watch.daemon.baselines import Baselines, GitBase
from connector_watch.daemon.blame import FailureInput, blame, differential_verdict
from connector_watch.daemon.blame.causality import CausalEvidence
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.corpus_lint import TableContext
from connector_watch.daemon.counterfactual import signature
from connector_watch.daemon.dependencies import Dependencies
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.daemon.file_history import FileHistory
from connector_watch.daemon.impact import Change, Selection, SpecChange, future_by_corpus, select_in
from connector_watch.daemon.index import Index, NodeRecord
from connector_watch.daemon.overlay import Overlay
from connector_watch.daemon.pytest_output import (
    PYTEST_STOPPED,
    output_tail,
    pytest_output_location,
    pytest_stopped_message,
    read_log,
)
from connector_watch.daemon.results import Results
from connector_watch.daemon.run_state import (
    OUTCOMES,
    Run,
    answered,
    crashed_under,
    death_status,
    files_of,
    files_reported,
    merge_selection,
)
from connector_watch.daemon.sources_view import FileView
from connector_watch.daemon.static_checks import (
    blame_for_kind,
    check_file,
    corpus_tables,
    not_utf8_diagnostic,
)
from connector_watch.daemon.watcher import Debouncer, Watcher
from connector_watch.daemon.workers import Job, WorkerPool
from connector_watch.daemon.workspace import Workspace
from connector_watch.simulator.spec import Spec

__all__ = ["OUTCOMES", "Engine", "EngineOptions", "Run"]

Subscriber = Callable[[ev.Event], None]
FAILING = ("failed", "error", "timeout", "crashed")


@dataclass
class EngineOptions:
    jobs: int = max(1, min(os.cpu_count() or 1, 8))
    node_timeout: float = 30.0
    debounce: float = 0.02
    mode: str = "simulate"
    log_dir: str | None = None
    #: Read every table of a source through Spark after its unit tests pass (``--spark``, or
    #: ``spark = true`` under ``[tool.connector-watch]`` in pyproject.toml).
    spark: bool = False
    spark_master: str | None = None
    #: Counterfactual reruns of failing nodes (causal blame).
    causal: bool = True
    #: The git revision a node without a pass in this session is compared with (``run --base``).
    base: str = "HEAD"
    #: Compare only these files with the git base (``run --changed`` without ``--base``).
    base_paths: list[str] | None = None
    #: Keep the last pass of every node in memory (the daemon); one-shot runs use git alone.
    history: bool = True


class Engine:
    def __init__(
        self,
        root: str | Path,
        options: EngineOptions | None = None,
        *,
        runner: Callable[[Path, Path], WorkerPool] | None = None,
    ) -> None:
        self.workspace = Workspace(root)
        self.options = options or EngineOptions()
        self.mode = self.options.mode
        self.index = Index()
        self.view = FileView(self.workspace.root)
        self.log_dir = (
            Path(self.options.log_dir)
            if self.options.log_dir
            else self.workspace.root / ".connector-watch" / "logs"
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pool = (
            runner(self.workspace.root, self.log_dir)
            if runner is not None
            else WorkerPool(self.workspace.root, node_timeout=self.options.node_timeout, log_dir=self.log_dir)
        )
        self.subscribers: list[Subscriber] = []
        self.results = Results()
        self.history = FileHistory(self._read)
        self.specs: dict[str, Spec | None] = {}
        #: The static import graph and request matching (impact's inputs beside the index).
        self.dependencies = Dependencies(self.workspace, lambda: self.index, self.specs.get)
        self.spark_stage: Any = None
        self.current: Run | None = None
        self.runs_completed = 0
        self._pending: Selection | None = None
        self._pending_trigger: tuple[str, list[str]] = ("save", [])
        self._wake = asyncio.Event()
        self._run_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.seq = 0
        self.wire = ev.Wire(self.workspace.root)
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._debouncer: Debouncer | None = None
        self._watcher: Watcher | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = False
        self._index_save: asyncio.TimerHandle | None = None
        # Causal blame: what each failing node was blamed from, and the overlay its reruns use.
        self._failures: dict[str, tuple[int, FailureInput]] = {}
        self.replays: dict[str, dict[str, Any]] = {}  # node → its cassette rerun (differential)
        self._overlay: Overlay | None = None
        self._overlay_started: asyncio.Task[Overlay] | None = None
        git = GitBase(self.workspace.root, self.options.base, self.options.base_paths)
        self.causal = CausalScheduler(
            self.workspace,
            Baselines(self.history if self.options.history else None, git),
            self._overlay_ready,
            self._on_causal_verdict,
            self.log,
            env=lambda: {"CONNECTOR_TEST_MODE": self.mode} if self.mode != "simulate" else {},
        )

    # ------------------------------------------------------------------ compatibility views of the state
    @property
    def static(self) -> dict[str, list[Diagnostic]]:
        return self.results.static

    @property
    def node_diagnostics(self) -> dict[str, list[Diagnostic]]:
        return self.results.node_diagnostics

    @property
    def node_messages(self) -> dict[str, str | None]:
        return self.results.node_messages

    @property
    def collect_errors(self) -> dict[str, str]:
        return self.results.collect_errors

    @property
    def spark_nodes(self) -> dict[str, dict[str, Any]]:
        return self.results.spark_nodes

    @property
    def published(self) -> dict[str, tuple[int, list[dict[str, Any]]]]:
        return self.results.published

    @property
    def hashes(self) -> dict[str, str]:
        return self.history.digests

    def file_diagnostics(self) -> dict[str, list[Diagnostic]]:
        return self.results.file_diagnostics()

    # ------------------------------------------------------------------ subscribers
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self.subscribers.append(subscriber)
        return lambda: self.subscribers.remove(subscriber) if subscriber in self.subscribers else None

    def emit(self, event: ev.Event) -> None:
        event.seq = next(self._seq)
        self.seq = event.seq
        for subscriber in list(self.subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # a broken front end must not stop the engine
                if not isinstance(event, ev.LogMessage):
                    self.emit(ev.LogMessage("error", f"subscriber failed on {event.method}: {exc!r}"))

    def log(self, level: str, message: str) -> None:
        self.emit(ev.LogMessage(level, message))

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, watch: bool = True, initial_run: bool = True) -> None:
        os.chdir(self.workspace.root)
        await self.pool.start()
        self.log(
            "info",
            f"workers ready (zygote preloaded {len(self.pool.preloaded)} workspace modules in "
            f"{self.pool.import_ms:.0f} ms)",
        )
        self.history.seed(self.workspace.watched_files())
        for spec_file in self.workspace.spec_files():
            self._static_check(spec_file)
        for test_file in self.workspace.test_files():
            self._static_check(test_file)
        for source in self.workspace.sources():
            connector = self.workspace.relative(self.workspace.layout.connector_file(source))
            if self.workspace.absolute(connector).is_file():
                self._static_check(connector)
        self._publish_changed()
        self._tasks.append(asyncio.create_task(self._runner()))
        # Parse the workspace's imports off the loop: a first shared-code save (or a later
        # ``impact``, which reuses them from the saved index) then needs no parsing.
        self._warming = asyncio.get_running_loop().run_in_executor(None, self.dependencies.warm)
        if watch:
            self._debouncer = Debouncer(quiet=self.options.debounce)
            loop = asyncio.get_running_loop()
            debouncer = self._debouncer
            self._watcher = Watcher(
                self.workspace, lambda path: loop.call_soon_threadsafe(self._on_watch_event, debouncer, path)
            )
            self._watcher.start()
            self._tasks.append(asyncio.create_task(self._watch_loop()))
            if self.options.causal:  # warm the overlay now: the first verdict should not wait for it
                self._overlay_started = asyncio.create_task(self._start_overlay())
        self._started = True
        if initial_run:
            selection = Selection()
            for test_file in self.workspace.test_files():
                selection.add_file(test_file, "first run")
            self.request(selection, "startup", [])

    async def stop(self) -> None:
        if self.spark_stage is not None:
            with contextlib.suppress(Exception):
                await self.spark_stage.stop()
        if self._index_save is not None:
            self._index_save.cancel()
            self._index_save = None
            with contextlib.suppress(OSError):
                self.save_index()
        if self._watcher is not None:
            self._watcher.stop()
        await self.causal.cancel()
        if self.current is not None:
            await self._cancel_run(self.current)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.pool.close()
        if self._overlay_started is not None:
            with contextlib.suppress(BaseException):
                await self._overlay_started
        if self._overlay is not None:
            await self._overlay.close()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until no run is in progress or pending, no noticed save is waiting out its debounce and
        no counterfactual rerun is going on."""
        await asyncio.wait_for(self._idle.wait(), timeout=timeout)

    def _on_watch_event(self, debouncer: Debouncer, path: str) -> None:
        self._idle.clear()
        debouncer.add(path)

    def _settle(self) -> None:
        """Idle once nothing is running, queued, being debounced or investigated."""
        debouncing = self._debouncer is not None and self._debouncer.pending
        if self._pending is None and self.current is None and not debouncing and not self.causal.busy:
            self._idle.set()

    # ------------------------------------------------------------------ requests from front ends
    def request(self, selection: Selection, trigger: str, paths: list[str]) -> None:
        """Queue a run; a run in progress is cancelled and its unfinished nodes carried over."""
        if self._pending is None:
            self._pending = selection
            self._pending_trigger = (trigger, list(paths))
        else:
            merge_selection(self._pending, selection)
            self._pending_trigger = (trigger, sorted(set(self._pending_trigger[1]) | set(paths)))
        self._idle.clear()
        if self.current is not None and not self.current.cancelled:
            self._spawn(self._cancel_run(self.current))
        self._spawn(self.causal.cancel())
        self._wake.set()

    def rerun_all(self) -> None:
        selection = Selection()
        for test_file in self.workspace.test_files():
            selection.add_file(test_file, "rerun all requested")
        self.request(selection, "rerun-all", [])

    def rerun_failed(self) -> None:
        selection = Selection()
        for node_id in self.index.failing():
            selection.add_node(node_id, "rerun failed requested")
        for path in self.results.collect_errors:
            selection.add_file(path, "rerun failed requested")
        if not selection.empty():
            self.request(selection, "rerun-failed", [])

    def run_nodes(self, node_ids: Iterable[str], trigger: str = "request") -> None:
        selection = Selection()
        for node_id in node_ids:
            if node_id in self.results.spark_nodes:  # a Spark read reruns its source's tests, then the stage
                source = self.results.spark_nodes[node_id]["source"]
                for test_file in self.workspace.test_files_of(source):
                    selection.add_file(test_file, f"{node_id} requested")
            elif node_id in self.index.nodes:
                selection.add_node(node_id, "requested")
            elif node_id in self.results.collect_errors or node_id in self.workspace.test_files():
                selection.add_file(node_id, "requested")
        if not selection.empty():
            self.request(selection, trigger, [])

    def cancel(self) -> bool:
        if self.current is None or self.current.cancelled:
            return False
        self._spawn(self._cancel_run(self.current, carry_over=False))
        return True

    def _spawn(self, work: Any) -> None:
        """Run ``work`` in the background, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.rerun_all()

    # ------------------------------------------------------------------ saves
    async def _watch_loop(self) -> None:
        assert self._debouncer is not None
        while True:
            paths, _ = await self._debouncer.next_batch()
            try:
                self.on_paths_changed(paths)
            except Exception as exc:  # keep watching whatever one batch did
                self.log("error", f"handling changes to {paths[:5]} failed: {exc!r}")
            self._settle()

    def on_paths_changed(self, paths: Iterable[str], trigger: str = "save") -> Selection:
        """A batch of saves: static checks now, then queue the affected nodes."""
        changed = []
        for path in sorted(set(paths)):
            self.workspace.notice_change(path)
            if self.history.update(path):
                changed.append(path)
        if not changed:
            return Selection()
        if self._overlay is not None:
            self._overlay.sync(changed)
        self.emit(ev.FilesChanged(changed))
        spec_changes: dict[str, SpecChange] = {}
        changes = []
        for path in changed:
            kind = self.workspace.classify(path)
            changes.append(Change(path, kind))
            before = self.specs.get(path)
            result = self._static_check(path)
            if kind.kind == "spec":
                spec_changes[path] = SpecChange(before=before, after=result)
        self._publish_changed()
        selection = self.impact(changes, spec_changes)
        # Deleted test files: forget their nodes (and a collection error) instead of running them.
        for path in list(selection.files):
            if not self.workspace.absolute(path).is_file():
                del selection.files[path]
                removed = self.index.forget_file(path)
                if self.results.collect_errors.pop(path, None) is not None:
                    removed.append(path)
                for node_id in removed:
                    self._drop_node(node_id)
                if removed:
                    self.emit(ev.NodesChanged([], removed))
        if not selection.empty():
            self.request(selection, trigger, changed)
        elif self.causal.busy:  # what is being investigated changed under it: start again
            self._spawn(self._restart_investigations())
        return selection

    async def _restart_investigations(self) -> None:
        await self.causal.cancel()
        self.causal.start()

    def impact(self, changes: list[Change], spec_changes: dict[str, SpecChange]) -> Selection:
        """What these changes rerun, given the warm workers and the mode."""
        self.dependencies.changed(c.path for c in changes)
        return select_in(
            self.workspace,
            changes,
            self.index,
            spec_changes=spec_changes,
            preloaded=self.pool.preloaded,
            mode=self.mode,
            importers=self.dependencies.importers,
            unloadable=self.dependencies.unloadable(changes, lambda p: self.specs.get(p) is not None),
        )

    def _read(self, path: str) -> bytes | None:
        try:
            return self.workspace.absolute(path).read_bytes()
        except OSError:
            return None

    def _static_check(self, path: str) -> Spec | None:
        kind = self.workspace.classify(path)
        absolute = self.workspace.absolute(path)
        try:
            text = absolute.read_text(encoding="utf-8") if absolute.is_file() else None
        except UnicodeDecodeError as exc:
            self.results.replace_static(path, {path: [not_utf8_diagnostic(path, kind.kind, exc)]})
            if kind.kind == "spec":
                self.specs[path] = None
            return None
        except OSError as exc:
            self.log("warning", f"cannot read {path}: {exc}")
            return None
        try:
            result = check_file(self.workspace, path, text, kind, tables_for_corpus=self._tables_for_corpus)
        except Exception as exc:  # a checker bug must not take the daemon down
            self.log("error", f"static check of {path} failed: {exc!r}")
            return None
        self.results.replace_static(path, result.diagnostics)
        if result.spec_checked:
            self.specs[path] = result.spec
            return result.spec
        return None

    def _tables_for_corpus(self, corpus_path: str) -> list[TableContext]:
        source = self.workspace.classify(corpus_path).source
        spec = (
            self.specs.get(self.workspace.relative(self.workspace.layout.spec_file(source)))
            if source
            else None
        )
        return corpus_tables(self.index, spec, corpus_path)

    # ------------------------------------------------------------------ runs
    async def _runner(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending is not None:
                selection, self._pending = self._pending, None
                trigger, paths = self._pending_trigger
                try:
                    await self._execute(selection, trigger, paths)
                except Exception as exc:
                    self.log("error", f"run failed: {exc!r}")
            self.causal.start()
            self._settle()
            if self.causal.busy:
                await self.causal.wait()
                self._settle()

    async def _execute(self, selection: Selection, trigger: str, paths: list[str]) -> None:
        if selection.restart_pool:
            self.log("info", "shared code changed: restarting the workers")
            await self.pool.restart()
            if self.spark_stage is not None:  # it holds the toolkit in its Python workers too
                await self.spark_stage.stop()
        run = Run(next(self._run_ids), trigger, paths, selection)
        run.generation = self.history.generation
        self.current = run
        reasons = selection.reasons_by_node(self.index)
        run.expected = set(reasons)
        for node_id in reasons:
            self.causal.forget(node_id)
        self.emit(
            ev.RunStarted(
                run.id, trigger, paths, [ev.SelectedNode(n, r) for n, r in sorted(reasons.items())], self.mode
            )
        )
        chunks = self._plan(selection)
        await self._run_chunks(run, chunks)
        await self._recover_lost_nodes(run)
        if not run.cancelled:
            self._report_silent(run)
        if run.cancelled and run.carry_over:
            carried = Selection()
            for node_id in self._unfinished(run):
                carried.add_node(node_id, "interrupted by a newer change")
            if not carried.empty():
                if self._pending is None:
                    self._pending = carried
                else:
                    merge_selection(self._pending, carried)
        if not run.cancelled:
            self.history.passed(
                [n for n, outcome in run.finished.items() if outcome in ("passed", "skipped")], run.generation
            )
        if self.mode in ("record", "live") and not run.cancelled:
            stages.collect_drift(self, run)
        if self.mode == "simulate" and not run.cancelled:
            await stages.differential(self, run)
        if self.options.spark and self.mode == "simulate" and not run.cancelled:
            await stages.spark_check(self, run)
        self._publish_changed()
        self.emit(ev.RunFinished(run.id, run.counts(), run.cancelled, (time.monotonic() - run.started) * 1000))
        self.current = None
        self.runs_completed += 1
        self._schedule_index_save()

    async def _recover_lost_nodes(self, run: Run) -> None:
        """Workers that died or were killed under a test.

        A node the watchdog killed is a timeout (never rerun). A worker that died: the test it was
        running is suspect and the rest of its chunk reruns; a test that was running when a worker
        died twice is reported as crashed. Whatever happens, no test that started goes unreported.
        """
        crashes: dict[str, int] = {}
        jobs_seen = 0
        while not run.cancelled:
            jobs, jobs_seen = run.jobs[jobs_seen:], len(run.jobs)
            self._report_timeouts(run, jobs)
            for node_id in crashed_under(jobs):
                crashes[node_id] = crashes.get(node_id, 0) + 1
            dead = [j for j in jobs if j.lost_nodes or j.status not in (0, 1, 2, 5, None)]
            if not dead or not self._unfinished(run) or run.crash_retries >= 3:
                break
            for node_id, count in crashes.items():
                if count >= 2 and node_id not in run.finished:
                    self._node_lost(run, node_id, "crashed", death_status(dead))
            retry = Selection()
            for node_id in self._unfinished(run):
                retry.add_node(node_id, "rerun after the worker died")
            if retry.empty():
                break
            run.crash_retries += 1
            await self._run_chunks(run, self._plan(retry))
        if run.cancelled:
            return
        for node_id in sorted((set(crashes) | run.started_nodes) - set(run.finished)):
            self._node_lost(run, node_id, "crashed", death_status(run.jobs))

    def _report_silent(self, run: Run) -> None:
        """Selected nodes pytest said nothing about (deselected by a hook, lost between collection
        and running): each is an ``error`` located at its test, never silently dropped."""
        for node_id in self._unfinished(run):
            record = self.index.nodes[node_id]
            message = (
                "selected, but pytest reported no result for it (deselected by a plugin or conftest "
                "hook, or lost between collection and running)"
            )
            diagnostic = Diagnostic(
                "test",
                message,
                Location(record.file, Range.lines(max(0, (record.line or 1) - 1))),
                0.5,
                node_ids=[node_id],
                code="run.no_result",
                fix=f"run pytest on {node_id} to see what happens to it",
            )
            record.outcome = "error"
            run.finished[node_id] = "error"
            self.results.set_node(node_id, [diagnostic])
            self.results.node_messages[node_id] = message
            self.emit(ev.TestFinished(run.id, node_id, "error", 0.0, [diagnostic], message))

    def _report_timeouts(self, run: Run, jobs: list[Job]) -> None:
        for job in jobs:
            for node_id in job.timed_out_nodes:
                if node_id not in run.finished:
                    self._node_lost(run, node_id, "timeout", job.status)

    # ------------------------------------------------------------------ index on disk
    def _index_document(self) -> dict[str, Any]:
        """The index as saved for one-shot commands, with each spec's future-time directives."""
        from connector_watch.daemon.index import dump

        self.dependencies.keep()
        self.index.spec_future = {
            path: {corpus: list(directive) for corpus, directive in future_by_corpus(spec).items()}
            for path, spec in self.specs.items()
            if spec is not None
        }
        return dump(self.index)

    def save_index(self) -> None:
        """Write ``.connector-watch/index.json`` for one-shot commands (``impact``, ``run --changed``)."""
        _write_json(self.workspace.root / ".connector-watch" / "index.json", self._index_document())

    def _schedule_index_save(self) -> None:
        """Save the index a little after runs settle; the JSON is written off the event loop."""
        if self._index_save is not None and not self._index_save.cancelled():
            return
        loop = asyncio.get_running_loop()

        def save() -> None:
            self._index_save = None
            document = self._index_document()
            target = self.workspace.root / ".connector-watch" / "index.json"
            future = loop.run_in_executor(None, _write_json, target, document)
            future.add_done_callback(
                lambda f: f.exception() and self.log("warning", f"cannot save the index: {f.exception()}")
            )

        self._index_save = loop.call_later(2.0, save)

    def _unfinished(self, run: Run) -> list[str]:
        return sorted(n for n in run.expected if n not in run.finished and n in self.index.nodes)

    def _plan(self, selection: Selection) -> list[list[str]]:
        """Split the selection over the workers, keeping each test file in one chunk."""
        by_file: dict[str, list[str] | None] = {}
        for path in selection.files:
            by_file[path] = None  # whole file
        for node_id in selection.nodes:
            record = self.index.nodes.get(node_id)
            file = record.file if record else node_id.split("::")[0]
            if file in by_file and by_file[file] is None:
                continue
            by_file.setdefault(file, []).append(node_id)  # type: ignore[union-attr]
        costs = []
        for file, nodes in by_file.items():
            ids = self.index.nodes_of_file(file) if nodes is None else nodes
            cost = 150.0 + sum(
                (self.index.nodes[n].duration_ms or 50.0) if n in self.index.nodes else 50.0 for n in ids
            )
            costs.append((int(selection.follow_up_only(file, nodes)), cost, file, nodes))
        # A pool that spreads one job over its own workers (xdist) gets one job: every worker then
        # collects every file in pytest's order, as a plain run does.
        jobs = 1 if getattr(self.pool, "spreads_jobs", False) else self.options.jobs
        primary = sum(1 for c in costs if not c[0])
        # What the change reached is dealt out first; the reruns of what failed before join those
        # jobs (they never take a core from the change's own tests), or have the workers to
        # themselves when nothing else runs. Each job runs the change's tests first, files in
        # pytest's own order within each group.
        workers = max(1, min(jobs, primary or len(costs)))
        buckets: list[tuple[float, list[tuple[int, str]]]] = [(0.0, []) for _ in range(workers)]
        for follow_up, cost, file, nodes in sorted(costs, key=lambda c: (c[0], -c[1])):
            i = min(range(workers), key=lambda k: buckets[k][0])
            total, args = buckets[i]
            args.extend((follow_up, a) for a in ([file] if nodes is None else nodes))
            buckets[i] = (total + cost, args)
        return [
            [a for _, a in sorted(args, key=lambda x: (x[0], x[1].split("::")[0]))] for _, args in buckets if args
        ]

    async def _run_chunks(self, run: Run, chunks: list[list[str]]) -> None:
        env = {"CONNECTOR_TEST_MODE": self.mode} if self.mode != "simulate" else {}
        await asyncio.gather(*(self._run_chunk(run, args, env) for args in chunks))

    async def _run_chunk(self, run: Run, args: list[str], env: dict[str, str]) -> None:
        job, seen = await self._run_job(run, args, env)
        if job.status == 4 and not run.cancelled and not any(a.endswith(".py") for a in args):
            # pytest rejected the arguments (a node that no longer exists): run the files whole.
            args = self._existing_files(args)
            if not args:
                return
            job, seen = await self._run_job(run, args, env)
        if run.cancelled:
            return
        silent = [a for a in args if not answered(a, seen)]
        if job.stalled_collecting is not None:
            await self._on_collection_hang(run, job, silent, env)
        elif job.status in PYTEST_STOPPED and silent:
            self._on_pytest_stopped(run, job, silent)

    def _existing_files(self, args: list[str]) -> list[str]:
        """The test files of ``args`` that still exist; deleted ones are forgotten with their nodes."""
        existing = []
        for path in files_of(args):
            if self.workspace.absolute(path).is_file():
                existing.append(path)
                continue
            for node_id in self.index.forget_file(path):
                self._drop_node(node_id)
        return existing

    async def _run_job(self, run: Run, args: list[str], env: dict[str, str]) -> tuple[Job, set[str]]:
        """One pytest job; also returns the files (and folders) it reported anything about."""
        seen: set[str] = set()

        def handler(event: dict[str, Any]) -> None:
            seen.update(files_reported(event))
            if run.cancelled and event.get("event") != "collected":
                return
            self._on_worker_event(run, event, args)

        job = await self.pool.run(args, handler, env=env)
        run.jobs.append(job)
        if not run.cancelled:  # which requests the tests of each class share (made once, first)
            self.index.learn_shared({a for a in args if "::" not in a and a.endswith(".py")})
        return job, seen

    async def _on_collection_hang(self, run: Run, job: Job, silent: list[str], env: dict[str, str]) -> None:
        """The watchdog killed a job that hung before running tests: blame the module being
        imported then, and run the files it kept from running without it."""
        hung = [path for path in job.stalled_collecting or [] if path in {a.split("::")[0] for a in silent}]
        limit = f"{self.pool.hard_timeout:.0f} s"
        if not hung:
            message = f"pytest did not get to collecting tests within {limit} (a conftest.py or plugin hung?)"
            evidence = output_tail(read_log(job.log_path))
            for path in files_of(silent):
                self._mark_file_error(run, path, [self._hang_diagnostic(path, message, evidence)], message)
            return
        for path in hung:
            message = (
                f"importing {path} did not finish within {limit}; the worker was killed (a loop, a "
                "blocking call or a subprocess at module level?)"
            )
            self._mark_file_error(run, path, [self._hang_diagnostic(path, message, [])], message)
        rest = [a for a in silent if a.split("::")[0] not in hung]
        if rest and not run.cancelled:
            await self._run_chunk(run, rest, env)

    def _hang_diagnostic(self, path: str, message: str, evidence: list[str]) -> Diagnostic:
        return Diagnostic(
            "test",
            message,
            Location(path, Range.lines(0)),
            0.6,
            evidence=evidence,
            node_ids=[path],
            code="collect.timeout",
            fix="move slow or blocking work out of module level (into a fixture or the test)",
        )

    def _on_pytest_stopped(self, run: Run, job: Job, silent: list[str]) -> None:
        """pytest stopped before reporting on these files (a broken conftest.py, a usage error):
        each becomes an error saying what pytest said, located where its traceback points."""
        output = read_log(job.log_path)
        located = pytest_output_location(output, str(self.workspace.root))
        message = pytest_stopped_message(output, job.status, str(self.workspace.root))
        for path in files_of(silent):
            location_path, line = located or (path, 0)
            diagnostic = Diagnostic(
                blame_for_kind(self.workspace.classify(location_path).kind) if located else "environment",
                message,
                Location(location_path, Range.lines(line)),
                0.7,
                evidence=output_tail(output),
                node_ids=[path],
                code="pytest.stopped",
                fix="run pytest on this file to see the whole output",
            )
            self._mark_file_error(run, path, [diagnostic], message, {"modules": [location_path]})

    async def _cancel_run(self, run: Run, carry_over: bool = True) -> None:
        if run.cancelled:
            return
        run.cancelled = True
        run.carry_over = carry_over
        await asyncio.gather(*(self.pool.cancel(job) for job in self.pool.jobs()), return_exceptions=True)

    # ------------------------------------------------------------------ worker events
    def _on_worker_event(self, run: Run, event: dict[str, Any], args: list[str]) -> None:
        kind = event.get("event")
        self.dependencies.annotate(event)
        if kind == "collected":
            whole = {a for a in args if "::" not in a}
            added, removed = self.index.collected(event, whole)
            for path, info in event.get("files", {}).items():
                if path in self.results.collect_errors and not info.get("collectError"):
                    del self.results.collect_errors[path]
                    self.results.set_node(path, [])
                    self.emit(ev.NodesChanged([], [path]))
            for node_id in removed:
                self._drop_node(node_id)
            for item in event.get("nodes", []):
                if item["file"] in whole:
                    run.expected.add(item["nodeId"])
            if added or removed:
                self.emit(ev.NodesChanged([r.describe() for r in added], removed))
        elif kind == "collect_error":
            self._on_collect_error(run, event)
        elif kind == "test_started":
            run.started_nodes.add(event["nodeId"])
            self.emit(ev.TestStarted(run.id, event["nodeId"]))
        elif kind == "test_finished":
            self._on_test_finished(run, event)

    def _on_collect_error(self, run: Run, event: dict[str, Any]) -> None:
        path = event.get("path") or event.get("nodeId")
        recent_changes = self._recent_for_file(path)  # before its nodes, and their change sets, go
        source = self.workspace.classify(path).source
        failure = FailureInput(
            node_id=path,
            outcome="error",
            failure={"when": "collect", "chain": event.get("chain", [])},
            trace=(event.get("trace") or {}).get("entries", []),
            test_file=path,
            test_line=1,
            source=source,
            message=event.get("longrepr"),
            recent_changes=recent_changes,
            static=self.results.static,
        )
        self._mark_file_error(run, path, self._blame(failure), event.get("longrepr"), event)

    def _mark_file_error(
        self,
        run: Run,
        path: str,
        diagnostics: list[Diagnostic],
        message: str | None,
        collect_event: dict[str, Any] | None = None,
    ) -> None:
        """A test file that did not collect: its nodes go, one ``error`` node for the file stands in.

        ``collect_event`` carries what the file imported and requested, when the worker said.
        """
        removed = self.index.collect_error(path, collect_event or {})
        for node_id in removed:
            self._drop_node(node_id)
        source = self.workspace.classify(path).source
        is_new = path not in self.results.collect_errors
        self.results.collect_errors[path] = "error"
        self.results.set_node(path, diagnostics)
        self.results.node_messages[path] = message
        run.finished[path] = "error"
        if is_new or removed:
            self.emit(ev.NodesChanged([self._collection_node(path, source)], removed))
        self.emit(ev.TestFinished(run.id, path, "error", 0.0, diagnostics, message))
        self._publish_changed()

    def _collection_node(self, path: str, source: str | None) -> dict[str, Any]:
        return {
            "nodeId": path,
            "file": path,
            "testClass": None,
            "name": None,
            "table": None,
            "source": source,
            "line": 1,
            "outcome": "error",
            "durationMs": None,
            "kind": "collection",
        }

    def _on_test_finished(self, run: Run, event: dict[str, Any]) -> None:
        record = self.index.finished(event)
        node_id = event["nodeId"]
        outcome = event.get("outcome", "failed")
        run.finished[node_id] = outcome
        diagnostics: list[Diagnostic] = []
        self._failures.pop(node_id, None)
        self.replays.pop(node_id, None)
        if outcome in FAILING:
            failure = self._failure_input(record, node_id, outcome, event)
            self._attach_causal(failure, run, signature(event))
            diagnostics = self._blame(failure)
        self.results.set_node(node_id, diagnostics)
        self.results.node_messages[node_id] = event.get("message")
        self.emit(
            ev.TestFinished(
                run.id, node_id, outcome, event.get("durationMs") or 0.0, diagnostics, event.get("message")
            )
        )
        self.emit(ev.Progress(run.id, len(run.finished), len(run.expected)))
        self._publish_changed()

    def _node_lost(self, run: Run, node_id: str, outcome: str, status: int | None) -> None:
        """A node whose worker died under it ("crashed") or was killed by the watchdog ("timeout")."""
        record = self.index.nodes.get(node_id)
        failure = self._failure_input(record, node_id, outcome, {})
        failure.crash_status = status
        diagnostics = self._blame(failure)
        if record is not None:
            record.outcome = outcome
        run.finished[node_id] = outcome
        self.results.set_node(node_id, diagnostics)
        message = (
            f"killed after {self.pool.hard_timeout:.0f} s without progress"
            if outcome == "timeout"
            else "the worker process died"
        )
        self.emit(ev.TestFinished(run.id, node_id, outcome, 0.0, diagnostics, message))

    def _failure_input(
        self, record: NodeRecord | None, node_id: str, outcome: str, event: dict[str, Any]
    ) -> FailureInput:
        return FailureInput(
            node_id=node_id,
            outcome=outcome,
            failure=event.get("failure"),
            trace=(event.get("trace") or {}).get("entries", []),
            test_file=record.file if record else node_id.split("::")[0],
            test_line=record.line if record else None,
            source=record.source if record else None,
            table=record.table if record else None,
            message=event.get("message"),
            recent_changes=self._changes_of(node_id),
            static=self.results.static,
        )

    def _blame(self, failure: FailureInput) -> list[Diagnostic]:
        # Blame weighs corpus findings (future dates, duplicate keys); a corpus nobody has saved
        # since the daemon started has not been linted yet, so lint the ones this failure read.
        for entry in failure.trace:
            corpus = entry.get("corpusFile")
            if corpus and corpus not in self.results.static_by_origin and entry.get("outcome") == "served":
                self._static_check(corpus)
        try:
            return blame(failure, self.workspace.layout, self.view)
        except Exception as exc:
            self.log("error", f"blame failed for {failure.node_id}: {exc!r}")
            return [
                Diagnostic(
                    "test",
                    (failure.message or failure.outcome).splitlines()[0]
                    if failure.message
                    else failure.outcome,
                    Location(failure.test_file or ".", Range.lines(0)),
                    0.2,
                    node_ids=[failure.node_id],
                    code="blame.error",
                )
            ]

    # ------------------------------------------------------------------ causal blame
    def _attach_causal(self, failure: FailureInput, run: Run, failed_as: tuple[str, str]) -> None:
        """Say at once what is known of the failure's cause, and schedule the counterfactual reruns."""
        if not self.options.causal:
            return
        evidence, baseline = self.causal.evidence_now(failure.node_id)
        failure.causal = evidence
        self._failures[failure.node_id] = (run.id, failure)
        if baseline is not None:
            self.causal.schedule(failure.node_id, failed_as, baseline)

    def _on_causal_verdict(self, verdicts: dict[str, CausalEvidence]) -> None:
        for node_id, evidence in verdicts.items():
            known = self._failures.get(node_id)
            if known is None:
                continue
            run_id, failure = known
            failure.causal = evidence
            diagnostics = self._blame(failure)
            replay = self.replays.get(node_id)
            if replay is not None:
                diagnostics = differential_verdict(diagnostics, replay, node_id)
            self.results.set_node(node_id, diagnostics)
            self.emit(ev.TestRevised(run_id, node_id, diagnostics))
        self._publish_changed()

    async def _start_overlay(self) -> Overlay:
        overlay = Overlay(self.workspace, node_timeout=self.options.node_timeout, log_dir=self.log_dir / "overlay")
        (self.log_dir / "overlay").mkdir(parents=True, exist_ok=True)
        await overlay.start()
        self._overlay = overlay
        return overlay

    async def _overlay_ready(self) -> Overlay:
        if self._overlay_started is None:
            self._overlay_started = asyncio.create_task(self._start_overlay())
        return await asyncio.shield(self._overlay_started)

    async def wait_verdicts(self) -> None:
        """Until the counterfactual reruns scheduled so far have given their verdicts."""
        self.causal.start()
        await self.causal.wait()

    def _changes_of(self, node_id: str) -> set[str]:
        """The files changed since the node last passed (or, before any pass, since the git base)."""
        if self.history.has_passed(node_id) and self.options.history:
            return self.history.changed_since_pass(node_id)
        git = self.causal.baselines.git
        if git is not None and git.available:
            return set(git.changes(lambda path: not self.workspace.ignored(path)))
        return set()

    def _recent_for_file(self, path: str) -> set[str]:
        merged: set[str] = set()
        for node_id in self.index.nodes_of_file(path):
            merged |= self._changes_of(node_id)
        return merged | (set(self.last_batch_paths()) if self.current else set())

    def last_batch_paths(self) -> list[str]:
        return self.current.paths if self.current else []

    def _drop_node(self, node_id: str) -> None:
        self.results.drop_node(node_id)
        self.history.forget(node_id)
        self.causal.forget(node_id)
        self._failures.pop(node_id, None)

    # ------------------------------------------------------------------ publishing
    def _publish_changed(self) -> None:
        """Publish the files whose diagnostics changed (each set replaces the previous one)."""
        for path, version, diagnostics in self.results.changed_files():
            self.emit(ev.DiagnosticsPublished(path, self.workspace.uri(path), version, diagnostics))

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        results = self.results
        nodes = []
        for node_id, record in sorted(self.index.nodes.items()):
            item = record.describe()
            item["diagnostics"] = self.wire.diagnostics(results.node_diagnostics.get(node_id, []))
            item["message"] = results.node_messages.get(node_id)
            item["kind"] = "test"
            nodes.append(item)
        for path in sorted(results.collect_errors):
            nodes.append(
                {
                    **self._collection_node(path, self.workspace.classify(path).source),
                    "diagnostics": self.wire.diagnostics(results.node_diagnostics.get(path, [])),
                    "message": results.node_messages.get(path),
                }
            )
        for node_id, item in sorted(results.spark_nodes.items()):
            nodes.append(
                {**item, "diagnostics": self.wire.diagnostics(results.node_diagnostics.get(node_id, []))}
            )
        current_files = results.file_diagnostics()
        diagnostics = {
            path: {
                "version": version,
                "uri": self.workspace.uri(path),
                "diagnostics": self.wire.diagnostics(current_files.get(path, [])),
            }
            for path, (version, rendered) in sorted(results.published.items())
            if rendered
        }
        current = None
        if self.current is not None:
            current = {
                "runId": self.current.id,
                "trigger": self.current.trigger,
                "paths": self.current.paths,
                "nodes": sorted(self.current.expected),
                "finished": dict(self.current.finished),
                "started": sorted(self.current.started_nodes - set(self.current.finished)),
            }
        return {
            "seq": self.seq,
            "workspace": str(self.workspace.root),
            "workspaceUri": self.workspace.root.as_uri(),
            "mode": self.mode,
            "sources": self.workspace.sources(),
            "nodes": nodes,
            "diagnostics": diagnostics,
            "run": current,
        }


def _write_json(target: Path, document: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    temporary.replace(target)
