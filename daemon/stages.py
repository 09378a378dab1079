"""Stages that follow a run's tests: the Spark read, the cassette rerun, and record mode's drift.

Each takes the engine (its workspace, index, pool and results) and the finished run; they add
nodes or revise diagnostics, never outcomes of the run's own tests.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from connector_watch.daemon import events as ev
from connector_watch.daemon.blame import differential_verdict
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.drift import drift_diagnostics
from connector_watch.daemon.index import Index
from connector_watch.daemon.results import Results
from connector_watch.daemon.run_state import Run
from connector_watch.daemon.workers import WorkerPool
from connector_watch.daemon.workspace import Workspace
from connector_watch.simulator.spec import Spec


class Engine(Protocol):
    """What the stages use of the engine."""

    workspace: Workspace
    index: Index
    pool: WorkerPool
    results: Results
    specs: dict[str, Spec | None]
    spark_stage: Any
    options: Any
    drift_fixes: Any

    @property
    def replays(self) -> dict[str, dict[str, Any]]: ...
    def emit(self, event: ev.Event) -> None: ...
    def log(self, level: str, message: str) -> None: ...


async def spark_check(engine: Engine, run: Run) -> None:
    """The end-to-end stage: each source whose tests all pass is read through Spark, table by table."""
    sources = sorted({engine.index.nodes[n].source for n in run.finished if n in engine.index.nodes} - {None})
    ready = [
        s
        for s in sources
        if not any(engine.index.nodes[n].failing for n in engine.index.nodes_of_source(s))
        and not any(engine.workspace.classify(p).source == s for p in engine.results.collect_errors)
    ]
    if not ready:
        return
    if engine.spark_stage is None:
        from connector_watch.daemon.spark_stage import SparkStage

        engine.spark_stage = SparkStage(
            engine.workspace.root,
            engine.options.spark_master,
            log_path=engine.workspace.root / ".connector-watch" / "logs" / "spark.log",
        )
    for source in ready:
        if run.cancelled:
            return
        started = time.monotonic()
        try:
            await engine.spark_stage.start()
            results = await engine.spark_stage.check_source(source)
        except Exception as exc:  # the stage is optional: report and keep serving
            engine.log("error", f"spark stage for {source} failed: {exc}")
            continue
        for result in results:
            node_id = f"spark::{source}::{result.get('table') or '(source)'}"
            diagnostics = [
                Diagnostic.from_dict({**d, "nodeIds": [node_id]})
                for problem in result.get("problems", [])
                for d in problem.get("diagnostics", [])
            ]
            outcome = result.get("outcome", "error")
            duration = result.get("durationMs") or (time.monotonic() - started) * 1000
            message = "; ".join(p.get("message", "") for p in result.get("problems", [])) or result.get(
                "note"
            )
            is_new = node_id not in engine.results.spark_nodes
            engine.results.spark_nodes[node_id] = {
                "nodeId": node_id,
                "file": engine.workspace.relative(engine.workspace.layout.connector_file(source)),
                "testClass": None,
                "name": "spark_read",
                "table": result.get("table"),
                "source": source,
                "line": None,
                "outcome": outcome,
                "durationMs": duration,
                "kind": "spark",
                "message": message,
            }
            if is_new:
                engine.emit(ev.NodesChanged([dict(engine.results.spark_nodes[node_id])], []))
            engine.results.set_node(node_id, diagnostics)
            run.finished[node_id] = outcome
            engine.emit(ev.TestFinished(run.id, node_id, outcome, duration, diagnostics, message))


async def differential(engine: Engine, run: Run) -> None:
    """Rerun failed nodes against their class's cassette (recorded live traffic), when one exists.

    Passing there but failing on spec + corpus says the spec or corpus is wrong; failing on both
    says the connector. Results update the nodes' diagnostics; they are not outcomes of the run.
    """
    candidates = []
    for node_id, outcome in run.finished.items():
        record = engine.index.nodes.get(node_id)
        if outcome != "failed" or record is None or not record.test_class:
            continue
        cassette = engine.workspace.absolute(record.file).parent / "cassettes" / f"{record.test_class}.json"
        if cassette.is_file():
            candidates.append(node_id)
    if not candidates:
        return
    replayed: dict[str, dict[str, Any]] = {}

    def collect(event: dict[str, Any]) -> None:
        if event.get("event") == "test_finished":
            replayed[event["nodeId"]] = event

    # Strict replay: an answer derived through the spec would not be recorded truth.
    env = {"CONNECTOR_TEST_MODE": "replay", "CONNECTOR_TEST_REPLAY_STRICT": "1"}
    await engine.pool.run(candidates, collect, env=env)
    for node_id in candidates:
        event = replayed.get(node_id)
        if event is None or run.cancelled:
            continue
        engine.replays[node_id] = event
        revised = differential_verdict(engine.results.node_diagnostics.get(node_id, []), event, node_id)
        engine.results.set_node(node_id, revised)


def collect_drift(engine: Engine, run: Run) -> None:
    """Record mode: the validation reports the run wrote, as drift diagnostics on nodes and files."""
    files = {engine.index.nodes[n].file for n in run.finished if n in engine.index.nodes}
    wall_started = time.time() - (time.monotonic() - run.started)
    for test_file in sorted(files):
        directory = engine.workspace.absolute(test_file).parent / "cassettes"
        for report_file in sorted(directory.glob("*.json.validation.json")) if directory.is_dir() else []:
            if report_file.stat().st_mtime < wall_started - 1:
                continue
            try:
                report = json.loads(report_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                engine.log("warning", f"cannot read {report_file}: {exc}")
                continue
            source = engine.workspace.classify(test_file).source
            spec_file = (
                engine.workspace.relative(engine.workspace.layout.spec_file(source)) if source else None
            )
            nodes = [engine.index.nodes[n] for n in engine.index.nodes_of_file(test_file)]
            diagnostics = drift_diagnostics(
                report,
                engine.workspace.relative(report_file),
                engine.specs.get(spec_file) if spec_file else None,
                nodes,
            )
            report_path = engine.workspace.relative(report_file)
            engine.results.replace_drift(report_path, diagnostics)
            if engine.options.causal:
                engine.drift_fixes.schedule(report_path, diagnostics)
            for diagnostic in diagnostics:
                for node_id in diagnostic.node_ids:
                    if run.finished.get(node_id) in ("failed", "error"):
                        existing = engine.results.node_diagnostics.get(node_id, [])
                        if diagnostic.key() not in {d.key() for d in existing}:
                            engine.results.set_node(node_id, [diagnostic, *existing])

