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
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon import stages
from connector_watch.daemon.baselines import Baselines, GitBase
from connector_watch.daemon.bytecode import forget_bytecode
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.dependencies import Dependencies
from connector_watch.daemon.drift_fixes import DriftFixes
from connector_watch.daemon.execution import RunExecutor
from connector_watch.daemon.file_history import ABSENT, FileHistory, digest_of
from connector_watch.daemon.impact import Change, Selection, SpecChange, select_in
from connector_watch.daemon.index import Index
from connector_watch.daemon.options import EngineOptions
from connector_watch.daemon.outcomes import NodeOutcomes
from connector_watch.daemon.overlay import SharedOverlay
from connector_watch.daemon.results import Results
from connector_watch.daemon.resume import IndexSaver, changed_since, index_document, read_saved
from connector_watch.daemon.run_state import (
    OUTCOMES,
    Run,
    carried_over,
    merge_selection,
    passed_nodes_and_files,
)
from connector_watch.daemon.schema_probe import reports_schemas
from connector_watch.daemon.snapshot import build_snapshot
from connector_watch.daemon.sources_view import FileView
from connector_watch.daemon.state_dir import state_dir
from connector_watch.daemon.static_checks import StaticResult, check_file
from connector_watch.daemon.static_fixes import StaticFixes
from connector_watch.daemon.static_service import StaticService
from connector_watch.daemon.watcher import Debouncer, WatchService
from connector_watch.daemon.workers import WorkerPool
from connector_watch.daemon.workspace import Workspace
from connector_watch.simulator.spec import Spec

__all__ = ["OUTCOMES", "Engine", "EngineOptions", "Run"]

Subscriber = Callable[[ev.Event], None]
FAILING = ("failed", "error", "timeout", "crashed")


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
            Path(self.options.log_dir) if self.options.log_dir else state_dir(self.workspace.root) / "logs"
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pool = (
            runner(self.workspace.root, self.log_dir)
            if runner is not None
            else WorkerPool(
                self.workspace.root,
                node_timeout=self.options.node_timeout,
                hard_timeout_margin=self.options.kill_after,
                log_dir=self.log_dir,
            )
        )
        self.subscribers: list[Subscriber] = []
        self.pool.report = lambda level, message: self.log(level, message, "workers")
        self.results = Results()
        self.history = FileHistory(self._read)
        self.statics = StaticService(
            self.workspace, self.results, lambda: self.index, self.log, lambda: self.publish_changed()
        )
        #: Each spec file's spec as last checked (shared with the static checks).
        self.specs: dict[str, Spec | None] = self.statics.specs
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
        self._watch: WatchService | None = None
        self._idle = asyncio.Event()  # set by start() once nothing is queued
        #: Saves noticed while a run could be reading the file: never dismissed as unchanged, since
        #: that run may have read a version in between (a storm's A → B → A).
        self._suspect: set[str] = set()
        self._last_run_end = 0  # when the last run ended, in ns since the epoch
        #: Passes of runs that ended, recorded as baselines once the engine is idle: a save whose
        #: event arrives after its run ended (written while it ran) voids them first.
        self._unconfirmed: list[tuple[list[str], int]] = []
        #: The file digests as of the last time the engine was idle: what the outcomes are for.
        self._settled_digests: dict[str, str] = {}
        self._started = False
        self.index_saver = IndexSaver(self.workspace.root, self._index_document, self._idle.is_set, self.log)
        self._learnt_after_run = False
        self.overlay = SharedOverlay(
            self.workspace, node_timeout=self.options.node_timeout, log_dir=self.log_dir / "overlay"
        )
        git = GitBase(self.workspace.root, self.options.base, self.options.base_paths)
        self.causal = CausalScheduler(
            self.workspace,
            Baselines(self.history if self.options.history else None, git),
            self.overlay.ready,
            lambda verdicts: self.outcomes.causal_verdict(verdicts),
            self.log,
            env=lambda: {"CONNECTOR_TEST_MODE": self.mode} if self.mode != "simulate" else {},
            fix_candidates=lambda nodes: self.outcomes.fix_candidates(nodes),
            on_fix=lambda fix: self.outcomes.fix_verified(fix),
        )
        self.outcomes = NodeOutcomes(
            self,
            self.workspace,
            lambda: self.index,
            self.results,
            self.history,
            self.causal,
            self.view,
            use_history=self.options.history,
            causal_blame=self.options.causal,
            hard_timeout=lambda: self.pool.hard_timeout,
        )
        self.static_fixes = StaticFixes(
            self.workspace,
            self.results,
            lambda: self.index,
            self.view,
            self.causal,
            lambda path, text, kind: check_file(
                self.workspace, path, text, kind, tables_for_corpus=self.statics.tables_for_corpus
            ),
            self.publish_changed,
            previous=self.history.previous,
        )
        if self.options.causal:
            self.statics.on_checked = self.static_fixes.schedule
        self.drift_fixes = DriftFixes(self.workspace, self.results, self.causal, self.publish_changed)
        self.executor = RunExecutor(
            self.pool, lambda: self.index, self.workspace, self.outcomes, self.emit, lambda: self.mode, self.options.jobs
        )
        self.executor.annotate = self.dependencies.annotate

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

    def log(self, level: str, message: str, component: str | None = None) -> None:
        self.emit(ev.LogMessage(level, message, component))

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
        self.statics.check_workspace()
        self.publish_changed()
        self._tasks.append(asyncio.create_task(self._runner()))
        # Parse the workspace's imports off the loop: a first shared-code save (or a later
        # ``impact``, which reuses them from the saved index) then needs no parsing.
        self._warming = asyncio.get_running_loop().run_in_executor(None, self.dependencies.warm)
        if watch:
            self._debouncer = Debouncer(quiet=self.options.debounce)
            self._watch = WatchService(
                self.workspace,
                self._debouncer,
                noticed=self._noticed,
                unseen=self._unseen_changes,
                log=lambda level, message: self.log(level, message, "watcher"),
            )
            self._watch.start()
            self._tasks.append(asyncio.create_task(self._watch_loop()))
            self._tasks.append(asyncio.create_task(self._watch.supervise()))
            if self.options.causal:  # warm the overlay now: the first verdict should not wait for it
                self.overlay.warm()
        self._started = True
        if self.options.learn_schemas and watch:
            # Sources whose tests use another harness (the public one) never report schemas: learn
            # theirs now; ours report them as the first run goes (what it misses is learnt after it).
            others = [s for s in self.workspace.sources() if not reports_schemas(self.workspace, s)]
            if others or not initial_run:
                self.learn_schemas_later(None if not initial_run else others)
        if initial_run:
            selection = Selection()
            for test_file in self.workspace.test_files():
                selection.add_file(test_file, "first run")
            self.request(selection, "startup", [])
        elif watch:
            self._resume()
        self._settle()

    def _resume(self) -> None:
        """Without an initial run: load the last session's index, then rerun what changed since it
        was saved and what was failing then (see :mod:`connector_watch.daemon.resume`)."""
        index, saved = read_saved(self.workspace.root)
        if not index.nodes and not index.files:
            return
        self.index = index
        self.emit(ev.NodesChanged([r.describe() for r in index.nodes.values()], []))
        if saved is None:
            self.log("info", "the saved index does not say which files its results are for: rerunning everything")
            self.rerun_all()
            return
        changed = changed_since(saved, self.history.digests)
        self.log("info", f"loaded the last session's index; {len(changed)} file(s) changed since")
        for path in changed:  # let the batch see these as saves made while the daemon was down
            self.history.digests[path] = saved.get(path, ABSENT)
            self.specs.pop(path, None)
        self.on_paths_changed(changed, trigger="startup")
        stale = Selection()
        for node_id in index.failing():
            stale.add_node(node_id, "failing when the daemon stopped (its diagnostics are rebuilt)")
        for node_id, record in index.nodes.items():
            if record.blocked_by:  # never ran: a test of its file hung
                self.outcomes.blocked.by[node_id] = record.blocked_by
                stale.add_node(node_id, f"not run when the daemon stopped: {record.blocked_by.split('::', 1)[-1]} hung")
        for path, record in index.files.items():
            if record.collect_error:
                stale.add_file(path, "did not collect when the daemon stopped")
        if not stale.empty():
            self.request(stale, "startup", [])

    async def stop(self) -> None:
        if self.spark_stage is not None:
            with contextlib.suppress(Exception):
                await self.spark_stage.stop()
        self.index_saver.flush()
        if self._watch is not None:
            self._watch.stop()
        await self.causal.cancel()
        if self.current is not None:
            await self.executor.cancel(self.current)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.pool.close()
        await self.overlay.close()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until no run is in progress or pending, no noticed save is waiting out its debounce and
        no counterfactual rerun is going on."""
        await asyncio.wait_for(self._idle.wait(), timeout=timeout)

    def _noticed(self, path: str) -> None:
        """The watcher saw ``path`` change. If a run is going on (or the write came before the last
        run ended, its event late), the content the run read may be neither the version hashed
        before nor the one hashed next: the save must not be dismissed as "touched, not changed"."""
        self._idle.clear()
        if self.current is not None:
            self.current.disturbed = True
        if self.current is not None or self._pending is not None:
            self._suspect.add(path)
        if self._written_before_last_run_ended(path):  # its event late, the next run may have begun
            self._suspect.add(path)
            self._unconfirmed.clear()  # that run may have read this save: its passes vouch for nothing

    def _written_before_last_run_ended(self, path: str) -> bool:
        try:
            return self.workspace.absolute(path).stat().st_mtime_ns < self._last_run_end
        except OSError:
            return False

    def _unseen_changes(self) -> list[str]:
        """Tracked files whose content differs from what the daemon last saw (after the watcher
        missed events: it died, or the kernel dropped them)."""
        digests = self.history.digests
        paths = set(self.workspace.watched_files()) | {p for p, h in digests.items() if h}
        return [p for p in sorted(paths) if digest_of(self._read(p)) != digests.get(p, ABSENT)]

    def _settle(self) -> None:
        """Idle once nothing is running, queued, being debounced or investigated."""
        debouncing = self._debouncer is not None and self._debouncer.pending
        if self._pending is None and self.current is None and not debouncing and not self.causal.busy:
            for nodes, generation in self._unconfirmed:
                self.history.passed(nodes, generation)
            self._unconfirmed.clear()
            self._idle.set()
            self._settled_digests = dict(self.history.digests)

    # ------------------------------------------------------------------ requests from front ends
    def request(self, selection: Selection, trigger: str, paths: list[str]) -> None:
        """Queue a run; a run in progress is cancelled and its unfinished nodes carried over."""
        self.outcomes.blocked.expand(selection)
        if self._pending is None:
            self._pending = selection
            self._pending_trigger = (trigger, list(paths))
        else:
            merge_selection(self._pending, selection)
            self._pending_trigger = (trigger, sorted(set(self._pending_trigger[1]) | set(paths)))
        self._idle.clear()
        if self.current is not None and not self.current.cancelled:
            self._spawn(self.executor.cancel(self.current))
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
        self._spawn(self.executor.cancel(self.current, carry_over=False))
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
            suspect = path in self._suspect
            self._suspect.discard(path)
            if self.history.update(path) or suspect:
                changed.append(path)
                forget_bytecode(self.workspace.absolute(path))
        if not changed:
            return Selection()
        if self.causal.baselines.git is not None:
            self.causal.baselines.git.forget()
        self.overlay.sync(changed)
        self.emit(ev.FilesChanged(changed))
        spec_changes: dict[str, SpecChange] = {}
        changes = []
        for path in changed:
            kind = self.workspace.classify(path)
            changes.append(Change(path, kind))
            before = self.specs.get(path)
            result = self.static_check(path)
            if kind.kind == "spec":
                spec_changes[path] = SpecChange(before=before, after=result)
        self.publish_changed()
        selection = self.impact(changes, spec_changes)
        # Deleted test files: forget their nodes (and a collection error) instead of running them.
        for path in list(selection.files):
            if not self.workspace.absolute(path).is_file():
                del selection.files[path]
                removed = self.index.forget_file(path)
                if self.results.collect_errors.pop(path, None) is not None:
                    removed.append(path)
                for node_id in removed:
                    self.outcomes.drop_node(node_id)
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

    def static_check(self, path: str) -> Spec | None:
        return self.statics.check(path)

    def check_text(self, path: str, text: str) -> StaticResult:
        """The static checks of ``path`` as if it held ``text`` (an editor's unsaved buffer)."""
        return self.statics.check_text(path, text)

    def learn_schemas_later(self, sources: list[str] | None = None) -> None:
        self._tasks.append(self.statics.learn_later(sources))

    async def schemas_learnt(self) -> None:
        """Until the background learning of schemas started so far is done."""
        await self.statics.learnt_so_far()

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
        await self.executor.execute(run, selection)
        if run.cancelled and run.carry_over:
            carried = carried_over(run, self.index.nodes_of_file, self.executor.unfinished(run))
            if not carried.empty():
                if self._pending is None:
                    self._pending = carried
                else:
                    merge_selection(self._pending, carried)
        if not run.cancelled and not run.disturbed:
            self._unconfirmed.append((passed_nodes_and_files(run), run.generation))
        if self.mode in ("record", "live") and not run.cancelled:
            stages.collect_drift(self, run)
        if self.mode == "simulate" and not run.cancelled:
            await stages.differential(self, run)
        if self.options.spark and self.mode == "simulate" and not run.cancelled:
            await stages.spark_check(self, run)
        self.publish_changed()
        self.emit(ev.RunFinished(run.id, run.counts(), run.cancelled, (time.monotonic() - run.started) * 1000))
        self.current = None
        self._last_run_end = time.time_ns()  # wall clock, as file modification times are
        self.runs_completed += 1
        if not run.cancelled and self.options.learn_schemas and not self._learnt_after_run:
            self._learnt_after_run = True
            self.learn_schemas_later()  # what this run did not report (the public harness reports nothing)
        self.index_saver.schedule()

    # ------------------------------------------------------------------ index on disk
    def _index_document(self) -> dict[str, Any]:
        self.dependencies.keep()
        return index_document(self.index, self.specs, self._settled_digests)

    def save_index(self) -> None:
        """Write ``.connector-watch/index.json`` for one-shot commands (``impact``, ``run --changed``)."""
        self.index_saver.save()

    # ------------------------------------------------------------------ causal verdicts
    async def wait_verdicts(self) -> None:
        """Until the counterfactual reruns scheduled so far have given their verdicts."""
        self.causal.start()
        await self.causal.wait()

    def batch_paths(self) -> list[str]:
        """The files of the batch being run (a collection error is judged against them too)."""
        return self.current.paths if self.current else []

    @property
    def replays(self) -> dict[str, dict[str, Any]]:
        return self.outcomes.replays

    # ------------------------------------------------------------------ publishing
    def publish_changed(self) -> None:
        """Publish the files whose diagnostics changed (each set replaces the previous one)."""
        for path, version, diagnostics in self.results.changed_files():
            self.emit(ev.DiagnosticsPublished(path, self.workspace.uri(path), version, diagnostics))

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        return build_snapshot(
            seq=self.seq,
            workspace=self.workspace,
            mode=self.mode,
            index=self.index,
            results=self.results,
            wire=self.wire,
            current=self.current,
            idle=self._idle.is_set(),
        )
