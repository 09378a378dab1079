"""Executing a run: the selection split over the warm workers, their events dispatched, and no
test lost whatever the workers do.

A worker that dies under a test reruns the rest of its chunk (a test under two deaths is
``crashed``); a test past the hard timeout is ``timeout``; pytest stopping before it reports (a
broken ``conftest.py``) or hanging while importing turns the files it was given into located
``error`` nodes. Every result goes to :class:`~connector_watch.daemon.outcomes.NodeOutcomes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.daemon.impact import Selection
from connector_watch.daemon.index import Index
from connector_watch.daemon.outcomes import NodeOutcomes
from connector_watch.daemon.pytest_output import (
    PYTEST_STOPPED,
    output_tail,
    pytest_output_location,
    pytest_stopped_message,
    read_log,
)
from connector_watch.daemon.run_state import (
    Run,
    answered,
    crashed_under,
    death_status,
    files_of,
    files_reported,
)
from connector_watch.daemon.static_checks import blame_for_kind
from connector_watch.daemon.workers import Job, WorkerPool
from connector_watch.daemon.workspace import Workspace


class RunExecutor:
    def __init__(
        self,
        pool: WorkerPool,
        index: Callable[[], Index],
        workspace: Workspace,
        outcomes: NodeOutcomes,
        emit: Callable[[ev.Event], None],
        mode: Callable[[], str],
        jobs: int,
    ) -> None:
        self.pool = pool
        self._index = index
        self.workspace = workspace
        self.outcomes = outcomes
        self.emit = emit
        self.mode = mode
        self.jobs = jobs
        #: Completes a worker event before it is applied (the engine matches its requests to spec
        #: endpoints: :meth:`connector_watch.daemon.dependencies.Dependencies.annotate`).
        self.annotate: Callable[[dict[str, Any]], None] = lambda event: None

    @property
    def index(self) -> Index:
        return self._index()

    async def execute(self, run: Run, selection: Selection) -> None:
        """Run the selection's tests; returns when every started test has a result (or the run was cancelled)."""
        await self._run_chunks(run, self._plan(selection))
        await self._recover_lost_nodes(run)
        if not run.cancelled:
            self._report_silent(run)

    async def cancel(self, run: Run, carry_over: bool = True) -> None:
        if run.cancelled:
            return
        run.cancelled = True
        run.carry_over = carry_over
        await asyncio.gather(*(self.pool.cancel(job) for job in self.pool.jobs()), return_exceptions=True)

    def unfinished(self, run: Run) -> list[str]:
        return self._unfinished(run)

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
        jobs = 1 if getattr(self.pool, "spreads_jobs", False) else self.jobs
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
        env = {"CONNECTOR_TEST_MODE": self.mode()} if self.mode() != "simulate" else {}
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
                self.outcomes.drop_node(node_id)
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
        if not hung and not job.streams and not run.startup_retried and not run.cancelled:
            # No pytest process ever reported (a machine too loaded to start them in time, or a
            # conftest.py that hangs): try once more before calling every file an error.
            run.startup_retried = True
            await self._run_chunk(run, silent, env)
            return
        if not hung:
            message = f"pytest did not get to collecting tests within {limit} (a conftest.py or plugin hung?)"
            evidence = output_tail(read_log(job.log_path))
            for path in files_of(silent):
                self.outcomes.file_error(run, path, [self._hang_diagnostic(path, message, evidence)], message)
            return
        for path in hung:
            message = (
                f"importing {path} did not finish within {limit}; the worker was killed (a loop, a "
                "blocking call or a subprocess at module level?)"
            )
            self.outcomes.file_error(run, path, [self._hang_diagnostic(path, message, [])], message)
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
            self.outcomes.file_error(run, path, [diagnostic], message, {"modules": [location_path]})

    # ------------------------------------------------------------------ worker events
    def _on_worker_event(self, run: Run, event: dict[str, Any], args: list[str]) -> None:
        kind = event.get("event")
        self.annotate(event)
        if kind == "collected":
            whole = {a for a in args if "::" not in a}
            added, removed = self.index.collected(event, whole)
            for path, info in event.get("files", {}).items():
                if path in self.outcomes.results.collect_errors and not info.get("collectError"):
                    del self.outcomes.results.collect_errors[path]
                    self.outcomes.results.set_node(path, [])
                    self.emit(ev.NodesChanged([], [path]))
            for node_id in removed:
                self.outcomes.drop_node(node_id)
            for item in event.get("nodes", []):
                if item["file"] in whole:
                    run.expected.add(item["nodeId"])
            if added or removed:
                self.emit(ev.NodesChanged([r.describe() for r in added], removed))
        elif kind == "collect_error":
            self.outcomes.collect_error(run, event)
        elif kind == "test_started":
            run.started_nodes.add(event["nodeId"])
            self.emit(ev.TestStarted(run.id, event["nodeId"]))
        elif kind == "test_finished":
            self.outcomes.test_finished(run, event)


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
                    self.outcomes.node_lost(run, node_id, "crashed", death_status(dead))
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
            self.outcomes.node_lost(run, node_id, "crashed", death_status(run.jobs))

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
            self.outcomes.results.set_node(node_id, [diagnostic])
            self.outcomes.results.node_messages[node_id] = message
            self.emit(ev.TestFinished(run.id, node_id, "error", 0.0, [diagnostic], message))

    def _report_timeouts(self, run: Run, jobs: list[Job]) -> None:
        for job in jobs:
            for node_id in job.timed_out_nodes:
                if node_id not in run.finished:
                    self.outcomes.node_lost(run, node_id, "timeout", job.status)

