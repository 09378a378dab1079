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
from connector_watch.daemon.bytecode import forget_bytecode
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.corpus_lint import TableContext
from connector_watch.daemon.dependencies import Dependencies
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.drift_fixes import DriftFixes
from connector_watch.daemon.execution import RunExecutor
from connector_watch.daemon.file_history import FileHistory
from connector_watch.daemon.impact import Change, Selection, SpecChange, future_by_corpus, select_in
from connector_watch.daemon.index import Index
from connector_watch.daemon.outcomes import NodeOutcomes, collection_node
from connector_watch.daemon.overlay import Overlay
from connector_watch.daemon.results import Results
from connector_watch.daemon.run_state import (
    OUTCOMES,
    Run,
    merge_selection,
)
from connector_watch.daemon.schema_probe import reports_schemas
from connector_watch.daemon.sources_view import FileView
from connector_watch.daemon.static_checks import (
    Learnt,
    StaticResult,
    check_file,
    corpus_tables,
    learn_schemas,
    not_utf8_diagnostic,
)
from connector_watch.daemon.static_fixes import StaticFixes
from connector_watch.daemon.watcher import Debouncer, Watcher
from connector_watch.daemon.workers import WorkerPool
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
    #: After the first run, learn the schemas it did not report by importing each connector in a
    #: sandboxed child (:mod:`connector_watch.daemon.schema_probe`), for corpus lint.
    learn_schemas: bool = True
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
        self.learnt: Learnt = {}  # schemas learnt without a run, for the sources no run reported
        self._learning: list[asyncio.Task[None]] = []
        self._learnt_after_run = False
        self._overlay: Overlay | None = None
        self._overlay_started: asyncio.Task[Overlay] | None = None
        git = GitBase(self.workspace.root, self.options.base, self.options.base_paths)
        self.causal = CausalScheduler(
            self.workspace,
            Baselines(self.history if self.options.history else None, git),
            self._overlay_ready,
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
                self.workspace, path, text, kind, tables_for_corpus=self._tables_for_corpus
            ),
            self.publish_changed,
            previous=self.history.previous,
        )
        self.drift_fixes = DriftFixes(self.workspace, self.results, self.causal, self.publish_changed)
        self.executor = RunExecutor(
            self.pool, lambda: self.index, self.workspace, self.outcomes, self.emit, lambda: self.mode, self.options.jobs
        )
        self.executor.annotate = self.dependencies.annotate

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
            self.static_check(spec_file)
        for test_file in self.workspace.test_files():
            self.static_check(test_file)
        for source in self.workspace.sources():
            connector = self.workspace.relative(self.workspace.layout.connector_file(source))
            if self.workspace.absolute(connector).is_file():
                self.static_check(connector)
        self.publish_changed()
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
            await self.executor.cancel(self.current)
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
            if self.history.update(path):
                changed.append(path)
                forget_bytecode(self.workspace.absolute(path))
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
            result = check_file(
                self.workspace,
                path,
                text,
                kind,
                tables_for_corpus=self._tables_for_corpus,
                sent_params=self.index.sent_params,
            )
        except Exception as exc:  # a checker bug must not take the daemon down
            self.log("error", f"static check of {path} failed: {exc!r}")
            return None
        self.results.replace_static(path, result.diagnostics)
        if self.options.causal:
            self.static_fixes.schedule(path, kind, result.diagnostics.get(path, []))
        if result.spec_checked:
            self.specs[path] = result.spec
            return result.spec
        return None

    def check_text(self, path: str, text: str) -> StaticResult:
        """The static checks of ``path`` as if it held ``text`` (an editor's unsaved buffer): the
        file is not read, nothing is stored or published."""
        kind = self.workspace.classify(path)
        return check_file(self.workspace, path, text, kind, tables_for_corpus=self._tables_for_corpus)

    def _tables_for_corpus(self, corpus_path: str) -> list[TableContext]:
        source = self.workspace.classify(corpus_path).source
        spec = (
            self.specs.get(self.workspace.relative(self.workspace.layout.spec_file(source)))
            if source
            else None
        )
        return corpus_tables(self.index, spec, corpus_path, self.learnt)

    def learn_schemas_later(self, sources: list[str] | None = None) -> None:
        """In the background, learn the schemas no run reported (``sources``, default every source's)
        by a sandboxed import of each connector, then check those sources' corpora against them."""
        task = asyncio.create_task(self._learn(sources))
        self._learning.append(task)
        self._tasks.append(task)

    async def schemas_learnt(self) -> None:
        """Until the background learning started so far is done."""
        for task in list(self._learning):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _learn(self, sources: list[str] | None) -> None:
        try:
            learnt, notes = await asyncio.to_thread(learn_schemas, self.workspace, self.index, sources)
        except Exception as exc:  # learning is a bonus: never take the daemon down
            self.log("warning", f"learning connectors' schemas failed: {exc!r}")
            return
        self.learnt = {**self.learnt, **learnt}
        for note in notes:
            self.log("info", note)
        for source in sorted({source for source, _ in learnt if source}):
            for corpus in self.workspace.corpus_files(source):
                self.static_check(corpus)
        self.publish_changed()

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
            carried = Selection()
            for node_id in self.executor.unfinished(run):
                carried.add_node(node_id, "interrupted by a newer change")
            if not carried.empty():
                if self._pending is None:
                    self._pending = carried
                else:
                    merge_selection(self._pending, carried)
        if not run.cancelled:
            self.history.passed(_passed_nodes_and_files(run), run.generation)
        if self.mode in ("record", "live") and not run.cancelled:
            stages.collect_drift(self, run)
        if self.mode == "simulate" and not run.cancelled:
            await stages.differential(self, run)
        if self.options.spark and self.mode == "simulate" and not run.cancelled:
            await stages.spark_check(self, run)
        self.publish_changed()
        self.emit(ev.RunFinished(run.id, run.counts(), run.cancelled, (time.monotonic() - run.started) * 1000))
        self.current = None
        self.runs_completed += 1
        if not run.cancelled and self.options.learn_schemas and not self._learnt_after_run:
            self._learnt_after_run = True
            self.learn_schemas_later()  # what this run did not report (the public harness reports nothing)
        self._schedule_index_save()

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

    # ------------------------------------------------------------------ the overlay (causal reruns)
    async def _start_overlay(self) -> Overlay:
        logs = self.log_dir / "overlay"
        logs.mkdir(parents=True, exist_ok=True)
        overlay = Overlay(self.workspace, node_timeout=self.options.node_timeout, log_dir=logs)
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
                    **collection_node(path, self.workspace.classify(path).source),
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


def _passed_nodes_and_files(run: Run) -> list[str]:
    """The nodes that passed (or skipped) in the run, and the test files all of whose nodes did
    (a file that later fails to collect is compared with the versions it last passed with)."""
    passed = [n for n, outcome in run.finished.items() if outcome in ("passed", "skipped")]
    by_file: dict[str, bool] = {}
    for node_id, outcome in run.finished.items():
        if "::" in node_id:
            file = node_id.split("::")[0]
            by_file[file] = by_file.get(file, True) and outcome in ("passed", "skipped")
    return passed + [file for file, ok in by_file.items() if ok]


def _write_json(target: Path, document: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    temporary.replace(target)
