"""Node outcomes: a worker's result for a node (or a test file that did not collect) becomes blamed
state and events, and a causal verdict later revises it.

The engine owns one :class:`NodeOutcomes`; the run executor calls it for every result it hears
of. Blame itself is pure (:mod:`connector_watch.daemon.blame`); here it is fed: the node's record,
the static findings of the moment, the files changed since the node last passed, and what the
counterfactual reruns know (``pending`` at first, the verdict later).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from connector_watch.daemon import events as ev
from connector_watch.daemon import fixes
from connector_watch.daemon.baselines import GitBase
from connector_watch.daemon.blame import FailureInput, blame, differential_verdict
from connector_watch.daemon.blame.causality import CausalEvidence
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.counterfactual import signature
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, VerifiedFix
from connector_watch.daemon.file_history import FileHistory
from connector_watch.daemon.fixes import CandidateFix
from connector_watch.daemon.index import Index, NodeRecord
from connector_watch.daemon.pytest_output import lost_node_failure
from connector_watch.daemon.results import Results
from connector_watch.daemon.run_state import Blocked, Run
from connector_watch.daemon.sources_view import SourceView
from connector_watch.daemon.workspace import Workspace

FAILING = ("failed", "error", "timeout", "crashed")


class Host(Protocol):
    """What node outcomes need from the engine."""

    def emit(self, event: ev.Event) -> None: ...
    def log(self, level: str, message: str) -> None: ...
    def publish_changed(self) -> None: ...
    def static_check(self, path: str) -> Any: ...
    def batch_paths(self) -> list[str]: ...


class NodeOutcomes:
    def __init__(
        self,
        host: Host,
        workspace: Workspace,
        index: Callable[[], Index],
        results: Results,
        history: FileHistory,
        causal: CausalScheduler,
        view: SourceView,
        *,
        use_history: bool,
        causal_blame: bool,
        hard_timeout: Callable[[], float],
    ) -> None:
        self.host = host
        self.workspace = workspace
        self._index = index
        self.results = results
        self.history = history
        self.causal = causal
        self.view = view
        self.use_history = use_history
        self.causal_blame = causal_blame
        self._hard_timeout = hard_timeout
        #: What each failing node was blamed from (to blame it again with the causal verdict).
        self.failures: dict[str, tuple[int, FailureInput]] = {}
        self.replays: dict[str, dict[str, Any]] = {}  # node → its cassette rerun (differential)
        self.blocked = Blocked()  # tests a hung test of their file left unrun

    @property
    def index(self) -> Index:
        return self._index()

    # ------------------------------------------------------------------ results from workers
    def test_finished(self, run: Run, event: dict[str, Any]) -> None:
        self.blocked.finished(event)
        record = self.index.finished(event)
        node_id = event["nodeId"]
        outcome = event.get("outcome", "failed")
        run.finished[node_id] = outcome
        if event.get("blockedBy"):
            run.blocked.add(node_id)
        diagnostics: list[Diagnostic] = []
        self.failures.pop(node_id, None)
        self.replays.pop(node_id, None)
        if outcome in FAILING:
            failure = self.failure_input(record, node_id, outcome, event)
            self._attach_causal(failure, run, signature(event))
            diagnostics = self.blame(failure)
        self.results.set_node(node_id, diagnostics)
        self.results.node_messages[node_id] = event.get("message")
        self.host.emit(
            ev.TestFinished(
                run.id, node_id, outcome, event.get("durationMs") or 0.0, diagnostics, event.get("message")
            )
        )
        self.host.emit(ev.Progress(run.id, len(run.finished), len(run.expected)))
        self.host.publish_changed()

    def node_lost(self, run: Run, node_id: str, outcome: str, status: int | None) -> None:
        """A node whose worker died under it ("crashed") or was killed by the watchdog ("timeout"),
        blamed where its worker's stack dump says it was (see ``stack_dumps.StackDumps``)."""
        record = self.index.nodes.get(node_id)
        dump = next((job.stacks[node_id] for job in reversed(run.jobs) if node_id in job.stacks), None)
        event = {"failure": lost_node_failure(dump, str(self.workspace.root), outcome, self.view)} if dump else {}
        failure = self.failure_input(record, node_id, outcome, event)
        failure.crash_status = status
        diagnostics = self.blame(failure)
        if record is not None:
            record.outcome = outcome
        run.finished[node_id] = outcome
        self.results.set_node(node_id, diagnostics)
        message = (
            f"killed after {self._hard_timeout():.0f} s without progress"
            if outcome == "timeout"
            else "the worker process died"
        )
        self.host.emit(ev.TestFinished(run.id, node_id, outcome, 0.0, diagnostics, message))

    def collect_error(self, run: Run, event: dict[str, Any]) -> None:
        path = event.get("path") or event.get("nodeId")
        recent_changes = self._recent_for_file(path)  # before its nodes, and their change sets, go
        failure = FailureInput(
            node_id=path,
            outcome="error",
            failure={"when": "collect", "chain": event.get("chain", [])},
            trace=(event.get("trace") or {}).get("entries", []),
            test_file=path,
            test_line=1,
            source=self.workspace.classify(path).source,
            message=event.get("longrepr"),
            recent_changes=recent_changes,
            static=self.results.static,
        )
        failed_as = signature({"outcome": "error", "failure": {"chain": event.get("chain", [])}})
        self._attach_causal(failure, run, failed_as)
        self.file_error(run, path, self.blame(failure), event.get("longrepr"), event)

    def file_error(
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
            self.drop_node(node_id)
        source = self.workspace.classify(path).source
        is_new = path not in self.results.collect_errors
        self.results.collect_errors[path] = "error"
        self.results.set_node(path, diagnostics)
        self.results.node_messages[path] = message
        run.finished[path] = "error"
        if is_new or removed:
            self.host.emit(ev.NodesChanged([collection_node(path, source)], removed))
        self.host.emit(ev.TestFinished(run.id, path, "error", 0.0, diagnostics, message))
        self.host.publish_changed()

    def drop_node(self, node_id: str) -> None:
        self.blocked.forget([node_id])
        self.results.drop_node(node_id)
        self.history.forget(node_id)
        self.causal.forget(node_id)
        self.failures.pop(node_id, None)

    # ------------------------------------------------------------------ blame
    def failure_input(
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
            recent_changes=self.changes_of(node_id),
            static=self.results.static,
        )

    def blame(self, failure: FailureInput) -> list[Diagnostic]:
        # Blame weighs corpus findings (future dates, duplicate keys); a corpus nobody has saved
        # since the daemon started has not been linted yet, so lint the ones this failure read.
        for entry in failure.trace:
            corpus = entry.get("corpusFile")
            if corpus and corpus not in self.results.static_by_origin and entry.get("outcome") == "served":
                self.host.static_check(corpus)
        try:
            return blame(failure, self.workspace.layout, self.view)
        except Exception as exc:
            self.host.log("error", f"blame failed for {failure.node_id}: {exc!r}")
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

    def changes_of(self, node_id: str) -> set[str]:
        """The files changed since the node last passed (or, before any pass, since the git base)."""
        if self.use_history and self.history.has_passed(node_id):
            return self.history.changed_since_pass(node_id)
        git: GitBase | None = self.causal.baselines.git
        if git is not None and git.available:
            return set(git.changes(lambda path: not self.workspace.ignored(path)))
        return set()

    def _recent_for_file(self, path: str) -> set[str]:
        merged: set[str] = set()
        for node_id in self.index.nodes_of_file(path):
            merged |= self.changes_of(node_id)
        return merged | set(self.host.batch_paths())

    # ------------------------------------------------------------------ causal blame
    def _attach_causal(self, failure: FailureInput, run: Run, failed_as: tuple[str, str]) -> None:
        """Say at once what is known of the failure's cause, and schedule the counterfactual reruns."""
        if not self.causal_blame:
            return
        evidence, baseline = self.causal.evidence_now(failure.node_id)
        failure.causal = evidence
        self.failures[failure.node_id] = (run.id, failure)
        if baseline is not None:
            self.causal.schedule(failure.node_id, failed_as, baseline)
        else:
            self.causal.schedule_fixes(failure.node_id)
        self.causal.start_soon()  # the first verdict should not wait for the rest of the run

    def causal_verdict(self, verdicts: dict[str, CausalEvidence]) -> None:
        """The counterfactual reruns' verdicts: blame the nodes again and publish the revision."""
        for node_id, evidence in verdicts.items():
            known = self.failures.get(node_id)
            if known is None:
                continue
            run_id, failure = known
            failure.causal = evidence
            diagnostics = self.blame(failure)
            replay = self.replays.get(node_id)
            if replay is not None:
                diagnostics = differential_verdict(diagnostics, replay, node_id)
            self.results.set_node(node_id, diagnostics)
            self.host.emit(ev.TestRevised(run_id, node_id, diagnostics))
        self.host.publish_changed()


    # ------------------------------------------------------------------ verified fixes
    def fix_candidates(self, node_ids: list[str]) -> list[tuple[CandidateFix, list[str]]]:
        """The candidate fixes of these nodes' primary diagnostics, each with the nodes it should fix."""
        grouped: dict[Any, tuple[CandidateFix, set[str]]] = {}
        for node_id in node_ids:
            known = self.failures.get(node_id)
            diagnostics = self.results.node_diagnostics.get(node_id)
            if known is None or not diagnostics:
                continue
            for candidate in fixes.candidates(diagnostics[0], known[1], self.workspace.layout, self.view):
                grouped.setdefault(candidate.key(), (candidate, set()))[1].add(node_id)
        return [(candidate, sorted(nodes)) for candidate, nodes in grouped.values()]

    def fix_verified(self, fix: VerifiedFix) -> None:
        """A fix held: offer it on the primary diagnostic of every node it turned green."""
        for node_id in fix.nodes:
            known = self.failures.get(node_id)
            diagnostics = self.results.node_diagnostics.get(node_id)
            if known is None or not diagnostics or fix in diagnostics[0].fixes:
                continue
            primary = replace(diagnostics[0], fixes=[*diagnostics[0].fixes, fix])
            revised = [primary, *diagnostics[1:]]
            self.results.set_node(node_id, revised)
            self.host.emit(ev.TestRevised(known[0], node_id, revised))
        self.host.publish_changed()


def collection_node(path: str, source: str | None) -> dict[str, Any]:
    """The node standing in for a test file that did not collect."""
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
