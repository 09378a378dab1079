"""The whole state a client needs on connecting (``session/snapshot``), built from the engine's parts.

A snapshot is what the stream of events has built up so far: every node with its outcome and
diagnostics (tests, collection errors, Spark reads), every file's current diagnostics with their
version, the run in progress and whether the engine is idle. Clients replace their state with it,
then apply the events whose ``seq`` follows.
"""

from __future__ import annotations

from typing import Any

from connector_watch.daemon.events import Wire
from connector_watch.daemon.index import Index
from connector_watch.daemon.outcomes import collection_node
from connector_watch.daemon.results import Results
from connector_watch.daemon.run_state import Run
from connector_watch.daemon.workspace import Workspace


def build_snapshot(
    *,
    seq: int,
    workspace: Workspace,
    mode: str,
    index: Index,
    results: Results,
    wire: Wire,
    current: Run | None,
    idle: bool,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "workspace": str(workspace.root),
        "workspaceUri": workspace.root.as_uri(),
        "mode": mode,
        "sources": workspace.sources(),
        "nodes": _nodes(workspace, index, results, wire),
        "diagnostics": _diagnostics(workspace, results, wire),
        "run": _run(current),
        "idle": idle,
    }


def _nodes(workspace: Workspace, index: Index, results: Results, wire: Wire) -> list[dict[str, Any]]:
    def diagnostics(node_id: str) -> list[dict[str, Any]]:
        return wire.diagnostics(results.node_diagnostics.get(node_id, []))

    nodes = []
    for node_id, record in sorted(index.nodes.items()):
        item = record.describe()
        item["diagnostics"] = diagnostics(node_id)
        item["message"] = results.node_messages.get(node_id)
        item["kind"] = "test"
        nodes.append(item)
    for path in sorted(results.collect_errors):
        nodes.append(
            {
                **collection_node(path, workspace.classify(path).source),
                "diagnostics": diagnostics(path),
                "message": results.node_messages.get(path),
            }
        )
    for node_id, item in sorted(results.spark_nodes.items()):
        nodes.append({**item, "diagnostics": diagnostics(node_id)})
    return nodes


def _diagnostics(workspace: Workspace, results: Results, wire: Wire) -> dict[str, dict[str, Any]]:
    current_files = results.file_diagnostics()
    return {
        path: {
            "version": version,
            "uri": workspace.uri(path),
            "diagnostics": wire.diagnostics(current_files.get(path, [])),
        }
        for path, (version, rendered) in sorted(results.published.items())
        if rendered
    }


def _run(current: Run | None) -> dict[str, Any] | None:
    if current is None:
        return None
    return {
        "runId": current.id,
        "trigger": current.trigger,
        "paths": current.paths,
        "nodes": sorted(current.expected),
        "finished": dict(current.finished),
        "started": sorted(current.started_nodes - set(current.finished)),
    }
