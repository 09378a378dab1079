"""The typed event stream every front end consumes.

The engine publishes these; the terminal renderer, the CI report and the
WebSocket server subscribe. Each event knows its JSON-RPC notification method
and its ``params``, which ``daemon/protocol.schema.json`` describes (a test
validates every event against it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.utf16 import Utf16Positions


@dataclass(frozen=True)
class Wire:
    """How events are rendered on the wire: diagnostics as LSP ``Diagnostic`` objects with URIs,
    their columns (and their fixes' edits') in UTF-16 code units, as editors count them."""

    root: Path
    positions: Utf16Positions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", Utf16Positions(self.root))

    def uri(self, path: str) -> str:
        return (self.root / path).as_uri()

    def diagnostic(self, diagnostic: Diagnostic) -> dict[str, Any]:
        return self.positions.diagnostic(diagnostic).to_lsp(self.uri)

    def diagnostics(self, diagnostics: list[Diagnostic]) -> list[dict[str, Any]]:
        return [self.diagnostic(d) for d in diagnostics]


@dataclass
class Event:
    method: ClassVar[str] = ""
    seq: int = field(default=0, init=False, repr=False, compare=False)

    def params(self, wire: Wire) -> dict[str, Any]:
        raise NotImplementedError

    def to_message(self, wire: Wire) -> dict[str, Any]:
        params = self.params(wire)
        params["seq"] = self.seq
        return {"jsonrpc": "2.0", "method": self.method, "params": params}


@dataclass
class SelectedNode:
    node_id: str
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"nodeId": self.node_id, "reasons": self.reasons}


@dataclass
class RunStarted(Event):
    method: ClassVar[str] = "run/started"
    run_id: int
    trigger: str  # "startup" | "save" | "request" | "rerun-all" | "rerun-failed"
    paths: list[str]
    nodes: list[SelectedNode]
    mode: str

    def params(self, wire: Wire) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "trigger": self.trigger,
            "paths": self.paths,
            "nodes": [n.to_dict() for n in self.nodes],
            "mode": self.mode,
        }


@dataclass
class TestStarted(Event):
    method: ClassVar[str] = "test/started"
    run_id: int
    node_id: str

    def params(self, wire: Wire) -> dict[str, Any]:
        return {"runId": self.run_id, "nodeId": self.node_id}


@dataclass
class TestFinished(Event):
    method: ClassVar[str] = "test/finished"
    run_id: int
    node_id: str
    outcome: str  # passed | failed | error | skipped | timeout | crashed
    duration_ms: float
    diagnostics: list[Diagnostic] = field(default_factory=list)
    message: str | None = None  # failure text or skip reason

    def params(self, wire: Wire) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "nodeId": self.node_id,
            "outcome": self.outcome,
            "durationMs": round(self.duration_ms, 2),
            "diagnostics": wire.diagnostics(self.diagnostics),
            "message": self.message,
        }


@dataclass
class TestRevised(Event):
    """A finished node's diagnostics, revised (the causal verdict); they replace the earlier ones."""

    method: ClassVar[str] = "test/revised"
    run_id: int
    node_id: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def params(self, wire: Wire) -> dict[str, Any]:
        return {"runId": self.run_id, "nodeId": self.node_id, "diagnostics": wire.diagnostics(self.diagnostics)}


@dataclass
class RunFinished(Event):
    method: ClassVar[str] = "run/finished"
    run_id: int
    counts: dict[str, int]
    cancelled: bool
    duration_ms: float

    def params(self, wire: Wire) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "counts": self.counts,
            "cancelled": self.cancelled,
            "durationMs": round(self.duration_ms, 2),
        }


@dataclass
class DiagnosticsPublished(Event):
    """Every diagnostic of one file, replacing the previous set (LSP semantics)."""

    method: ClassVar[str] = "textDocument/publishDiagnostics"
    path: str
    uri: str
    version: int
    diagnostics: list[Diagnostic]

    def params(self, wire: Wire) -> dict[str, Any]:
        return {
            "path": self.path,
            "uri": self.uri,
            "version": self.version,
            "diagnostics": wire.diagnostics(self.diagnostics),
        }


@dataclass
class NodesChanged(Event):
    """The set of known test nodes changed (new tables, removed tests, first collection)."""

    method: ClassVar[str] = "nodes/changed"
    added: list[dict[str, Any]]
    removed: list[str]

    def params(self, wire: Wire) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed}


@dataclass
class Progress(Event):
    method: ClassVar[str] = "$/progress"
    run_id: int
    done: int
    total: int

    def params(self, wire: Wire) -> dict[str, Any]:
        return {"runId": self.run_id, "done": self.done, "total": self.total}


@dataclass
class LogMessage(Event):
    method: ClassVar[str] = "window/logMessage"
    level: str  # error | warning | info | debug
    message: str
    #: The part of the daemon that speaks ("watcher", "workers"): a failure of one of them means
    #: results may be stale until it is restarted, so clients show it beyond a log line.
    component: str | None = None

    def params(self, wire: Wire) -> dict[str, Any]:
        params = {
            "type": {"error": 1, "warning": 2, "info": 3, "debug": 4}.get(self.level, 3),
            "level": self.level,
            "message": self.message,
        }
        if self.component is not None:
            params["component"] = self.component
        return params


@dataclass
class FilesChanged(Event):
    """A debounced batch of saves the engine is acting on."""

    method: ClassVar[str] = "workspace/filesChanged"
    paths: list[str]

    def params(self, wire: Wire) -> dict[str, Any]:
        return {"paths": self.paths}
