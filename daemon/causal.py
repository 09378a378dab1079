"""The counterfactual scheduler: investigate failing nodes on the overlay while the daemon serves.

A node that fails is blamed at once on its merits, marked ``pending``; the scheduler then groups
the pending nodes by baseline, asks :func:`~connector_watch.daemon.counterfactual.find_triggers`
which change makes them fail (trials run on the overlay's warm workers), and hands the verdict
back to the engine, which re-blames the nodes and publishes the revision. A newer save cancels the
investigation in progress; the nodes it covered are investigated again once the new run is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from connector_watch.daemon.baselines import Baseline, Baselines
from connector_watch.daemon.blame.causality import CausalEvidence
from connector_watch.daemon.counterfactual import (
    FileChange,
    Outcome,
    find_triggers,
    trial_outcomes,
)
from connector_watch.daemon.diagnostics import VerifiedFix
from connector_watch.daemon.file_history import MAX_KEPT_BYTES
from connector_watch.daemon.fix_check import verify
from connector_watch.daemon.fixes import CandidateFix
from connector_watch.daemon.overlay import Overlay
from connector_watch.daemon.workspace import Workspace

#: The engine's callback: these nodes' causal evidence is known.
Verdict = Callable[[dict[str, CausalEvidence]], None]
#: The engine's candidate fixes for some failing nodes: each candidate with the nodes it should turn green.
FixCandidates = Callable[[list[str]], list[tuple[CandidateFix, list[str]]]]
#: The engine's callback: a candidate was verified.
FixVerified = Callable[[VerifiedFix], None]


@dataclass
class Pending:
    node_id: str
    signature: tuple[str, str]
    baseline: Baseline


class CausalScheduler:
    def __init__(
        self,
        workspace: Workspace,
        baselines: Baselines,
        overlay: Callable[[], Awaitable[Overlay]],
        on_verdict: Verdict,
        log: Callable[[str, str], None],
        env: Callable[[], dict[str, str]] = dict,
        fix_candidates: FixCandidates | None = None,
        on_fix: FixVerified | None = None,
    ) -> None:
        self.workspace = workspace
        self.baselines = baselines
        self._overlay = overlay
        self._on_verdict = on_verdict
        self._log = log
        self._env = env
        self._fix_candidates = fix_candidates
        self._on_fix = on_fix
        self._queue: dict[str, Pending] = {}
        #: Failing nodes with no counterfactual to run whose fixes are still to be tried.
        self._fix_queue: set[str] = set()
        #: Other overlay work (verifying a static finding's fix), run after the investigations.
        self._jobs: list[Callable[[Overlay], Awaitable[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._working: dict[str, Pending] = {}
        #: Nodes under investigation that ran again (or failed anew) meanwhile: the verdict being
        #: worked out is about a failure that is no longer theirs, and is dropped.
        self._stale: set[str] = set()
        self.trials_run = 0

    # ------------------------------------------------------------------ from the engine
    def evidence_now(self, node_id: str) -> tuple[CausalEvidence, Baseline | None]:
        """What can be said of a failing node at once, and the baseline to investigate it against."""
        baseline = self.baselines.for_node(node_id, self._tracked)
        if baseline is None:
            return CausalEvidence("no-history", "none", note=self.baselines.unavailable_reason()), None
        if baseline.unkept and not baseline.before:
            return self._unkept(baseline), None
        if not baseline.before:
            status = "not-caused" if baseline.passed else "pre-existing"
            return (
                CausalEvidence(status, baseline.label, note=f"fails with no workspace file changed since the {baseline.label}"),
                None,
            )
        return CausalEvidence("pending", baseline.label, note="counterfactual reruns scheduled"), baseline

    def schedule(self, node_id: str, signature: tuple[str, str], baseline: Baseline) -> None:
        if node_id in self._working:
            self._stale.add(node_id)
        self._queue[node_id] = Pending(node_id, signature, baseline)

    def start(self) -> None:
        """Begin (or continue) investigating what is queued."""
        if (self._queue or self._fix_queue or self._jobs) and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._work())

    def trial_env(self) -> dict[str, str]:
        """The environment trials run with (the daemon's mode)."""
        return self._env()

    def schedule_job(self, job: Callable[[Overlay], Awaitable[None]]) -> None:
        """Run ``job`` with the overlay once the investigations queued before it are done."""
        self._jobs.append(job)

    def schedule_fixes(self, node_id: str) -> None:
        """Try fixes for a node that gets no counterfactual reruns (no history, not caused)."""
        if self._fix_candidates is not None:
            self._fix_queue.add(node_id)

    def start_soon(self) -> None:
        """Start once the current batch of worker events is handled (failures that arrive together
        are investigated together)."""
        asyncio.get_running_loop().call_soon(self.start)

    def forget(self, node_id: str) -> None:
        """The node is about to run again (or is gone): its verdict would be stale."""
        self._queue.pop(node_id, None)
        if node_id in self._working:
            self._stale.add(node_id)
        self._fix_queue.discard(node_id)

    @staticmethod
    def _unkept(baseline: Baseline) -> CausalEvidence:
        files = ", ".join(baseline.unkept)
        return CausalEvidence(
            "inconclusive",
            baseline.label,
            note=f"{files} changed since the {baseline.label}, and its content then was too large to keep "
            f"(over {MAX_KEPT_BYTES // 2**20} MiB): the change cannot be reverted to test it",
        )

    async def cancel(self) -> None:
        """A newer save: stop the trial in progress; its nodes wait in the queue for the next start."""
        task, self._task = self._task, None
        for node_id, pending in self._working.items():
            if node_id not in self._stale:
                self._queue.setdefault(node_id, pending)
        self._stale -= set(self._working)
        self._working = {}
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._fix_queue or self._jobs) or (
            self._task is not None and not self._task.done()
        )

    async def wait(self) -> None:
        """Until no investigation runs. A cancelled investigation ends the wait like a finished one;
        cancelling the waiter itself (the engine stopping) is not swallowed."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    # ------------------------------------------------------------------ the work
    def _tracked(self, path: str) -> bool:
        return not self.workspace.ignored(path)

    async def _work(self) -> None:
        while self._queue or self._fix_queue or self._jobs:
            self._working, self._queue = self._queue, {}
            groups: dict[Any, list[Pending]] = {}
            for pending in self._working.values():
                groups.setdefault(pending.baseline.key(), []).append(pending)
            for group in groups.values():
                verdicts = await self._investigate(group)
                for pending in group:
                    self._working.pop(pending.node_id, None)
                fresh = {node: verdict for node, verdict in verdicts.items() if node not in self._stale}
                self._stale -= {p.node_id for p in group}
                if fresh:
                    self._on_verdict(fresh)
                await self._fixes_or_requeue([p.node_id for p in group])
            self._working = {}
            if self._fix_queue:
                nodes, self._fix_queue = sorted(self._fix_queue), set()
                await self._fixes_or_requeue(nodes)
            while self._jobs and not self._queue:
                job = self._jobs.pop(0)
                try:
                    await job(await self._overlay())
                except asyncio.CancelledError:
                    self._jobs.insert(0, job)  # a newer save interrupted it: it runs again after
                    raise
                except Exception as exc:
                    self._log("error", f"overlay work failed: {exc!r}")

    async def _fixes_or_requeue(self, node_ids: list[str]) -> None:
        """Try these nodes' fixes; interrupted by a newer save, they wait in the queue (a node that
        runs again is forgotten there, like any other)."""
        try:
            await self._try_fixes(node_ids)
        except asyncio.CancelledError:
            self._fix_queue.update(node_ids)
            raise

    async def _try_fixes(self, node_ids: list[str]) -> None:
        """Verify the candidate fixes of these nodes on the overlay; report the ones that hold."""
        if self._fix_candidates is None or self._on_fix is None:
            return
        try:
            candidates = self._fix_candidates(node_ids)
        except Exception as exc:  # a fix builder's bug must not stop the investigations
            self._log("error", f"building fixes failed: {exc!r}")
            return
        if not candidates:
            return
        try:
            overlay = await self._overlay()
        except Exception as exc:
            self._log("warning", f"verified fixes are unavailable: the overlay could not start ({exc!r})")
            return
        for candidate, nodes in candidates:
            try:
                fixed = await verify(overlay, self.workspace, candidate, nodes, env=self._env())
            except asyncio.CancelledError:
                await overlay.cancel()
                raise
            except Exception as exc:
                self._log("error", f"verifying a fix failed: {exc!r}")
                continue
            self.trials_run += 1
            if fixed is not None:
                self._on_fix(fixed)

    async def _investigate(self, group: list[Pending]) -> dict[str, CausalEvidence]:
        """Each node's trigger: one search per node, sharing trials (each trial runs them all)."""
        baseline = group[0].baseline
        changes = []
        for path, before in sorted(baseline.before.items()):
            after = _read(self.workspace, path)
            if after == before:
                continue
            changes.append(FileChange(path, self.workspace.classify(path).kind, before, after))
        expected = {p.node_id: p.signature for p in group}

        def inconclusive(note: str) -> dict[str, CausalEvidence]:
            return {node: CausalEvidence("inconclusive", baseline.label, note=note) for node in expected}

        try:
            overlay = await self._overlay()
        except Exception as exc:
            self._log("warning", f"causal reruns are unavailable: {exc!r}")
            return inconclusive(f"the overlay could not start ({exc})")

        async def trial(contents: dict[str, bytes | None]) -> dict[str, Outcome]:
            self.trials_run += 1
            finished = await overlay.run(sorted(expected), contents, env=self._env())
            return trial_outcomes(expected, finished)

        try:
            verdicts = await find_triggers(
                changes, trial, sorted(expected), base=baseline.label, base_passed=baseline.passed
            )
            if baseline.unkept:  # failing with the rest reverted proves nothing: those were not
                verdicts = {
                    node: self._unkept(baseline) if verdict.status in ("not-caused", "pre-existing") else verdict
                    for node, verdict in verdicts.items()
                }
            return verdicts
        except asyncio.CancelledError:
            await overlay.cancel()
            raise
        except Exception as exc:  # an investigation must never take the daemon down
            self._log("error", f"causal reruns failed: {exc!r}")
            return inconclusive(f"the reruns failed ({exc})")


def _read(workspace: Workspace, path: str) -> bytes | None:
    try:
        return workspace.absolute(path).read_bytes()
    except OSError:
        return None
