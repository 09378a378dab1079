// The extension's copy of the daemon's state, rebuilt from snapshots and kept current by notifications.
// Pure: no `vscode`, no sockets (unit-tested with recorded messages).
import type {
  AnyNotification,
  Diagnostic,
  Node as ProtocolNode,
  Outcome,
  RunFinishedParams,
  Snapshot,
} from "./generated/protocol";

export const FAILING: ReadonlySet<Outcome> = new Set<Outcome>(["failed", "error", "timeout", "crashed"]);

export interface NodeState extends ProtocolNode {
  running?: boolean;
  queued?: boolean;
}

export interface RunState {
  runId: number;
  trigger: string;
  paths: string[];
  nodeIds: string[];
  done: number;
  total: number;
}

export interface Counts {
  total: number;
  passed: number;
  failing: number;
  skipped: number;
  pending: number;
}

export class DaemonState {
  nodes = new Map<string, NodeState>();
  /** Diagnostics per workspace-relative path, as last published (each publish replaces the file's set). */
  files = new Map<string, { uri: string; version: number; diagnostics: Diagnostic[] }>();
  mode = "simulate";
  modes: string[] = [];
  workspace = "";
  workspaceUri = "";
  sources: string[] = [];
  run: RunState | null = null;
  lastRun: RunFinishedParams | null = null;

  applySnapshot(snapshot: Snapshot, modes?: string[]): void {
    this.nodes = new Map(snapshot.nodes.map((n) => [n.nodeId, { ...n }]));
    this.files = new Map(Object.entries(snapshot.diagnostics).map(([path, f]) => [path, { ...f }]));
    this.mode = snapshot.mode;
    if (modes) this.modes = modes;
    this.workspace = snapshot.workspace;
    this.workspaceUri = snapshot.workspaceUri;
    this.sources = snapshot.sources;
    this.run = null;
    if (snapshot.run) {
      const r = snapshot.run;
      this.run = {
        runId: r.runId,
        trigger: r.trigger,
        paths: r.paths,
        nodeIds: r.nodes,
        done: Object.keys(r.finished).length,
        total: r.nodes.length,
      };
      for (const id of r.nodes) {
        const node = this.nodes.get(id);
        if (node && !(id in r.finished)) node.queued = true;
      }
      for (const id of r.started) {
        const node = this.nodes.get(id);
        if (node && !(id in r.finished)) node.running = true;
      }
    }
  }

  /** Apply one notification; returns false for those that change nothing here. */
  apply(n: AnyNotification): boolean {
    switch (n.method) {
      case "run/started": {
        const p = n.params;
        this.mode = p.mode;
        this.run = {
          runId: p.runId,
          trigger: p.trigger,
          paths: p.paths,
          nodeIds: p.nodes.map((x) => x.nodeId),
          done: 0,
          total: p.nodes.length,
        };
        for (const x of p.nodes) {
          const node = this.nodes.get(x.nodeId);
          if (node) node.queued = true;
        }
        return true;
      }
      case "test/started": {
        const node = this.nodes.get(n.params.nodeId);
        if (node) node.running = true;
        return true;
      }
      case "test/finished": {
        const p = n.params;
        let node = this.nodes.get(p.nodeId);
        if (!node) {
          // A file that failed to collect is a node whose ID is the file path.
          node = collectionNode(p.nodeId);
          this.nodes.set(p.nodeId, node);
        }
        Object.assign(node, {
          outcome: p.outcome,
          durationMs: p.durationMs,
          diagnostics: p.diagnostics,
          message: p.message,
          running: false,
          queued: false,
        });
        if (this.run && this.run.runId === p.runId) this.run.done += 1;
        return true;
      }
      case "test/revised": {
        // The causal verdict: the node's diagnostics, revised after its test finished.
        const node = this.nodes.get(n.params.nodeId);
        if (node) node.diagnostics = n.params.diagnostics;
        return true;
      }
      case "$/progress":
        if (this.run && this.run.runId === n.params.runId) {
          this.run.done = n.params.done;
          this.run.total = n.params.total;
        }
        return true;
      case "run/finished":
        this.lastRun = n.params;
        if (this.run && this.run.runId === n.params.runId) this.run = null;
        for (const node of this.nodes.values()) {
          node.running = false;
          node.queued = false;
        }
        return true;
      case "nodes/changed":
        for (const id of n.params.removed) this.nodes.delete(id);
        for (const added of n.params.added) {
          const previous = this.nodes.get(added.nodeId);
          this.nodes.set(added.nodeId, { ...previous, ...added });
        }
        return true;
      case "textDocument/publishDiagnostics": {
        const p = n.params;
        if (p.diagnostics.length) this.files.set(p.path, { uri: p.uri, version: p.version, diagnostics: p.diagnostics });
        else this.files.delete(p.path);
        return true;
      }
      case "$/resync":
        this.applySnapshot(n.params.snapshot);
        return true;
      default:
        return false;
    }
  }

  counts(): Counts {
    const c: Counts = { total: 0, passed: 0, failing: 0, skipped: 0, pending: 0 };
    for (const node of this.nodes.values()) {
      c.total++;
      if (node.outcome === "passed") c.passed++;
      else if (node.outcome === "skipped") c.skipped++;
      else if (node.outcome && FAILING.has(node.outcome)) c.failing++;
      else c.pending++;
    }
    return c;
  }

  failingNodes(): NodeState[] {
    return [...this.nodes.values()].filter((n) => n.outcome && FAILING.has(n.outcome));
  }
}

export function collectionNode(nodeId: string): NodeState {
  const file = nodeId.split("::")[0];
  const match = /(?:^|\/)sources\/([^/]+)\//.exec(file);
  return {
    nodeId,
    file,
    testClass: null,
    name: null,
    table: null,
    source: match ? match[1] : null,
    line: null,
    outcome: null,
    durationMs: null,
    kind: "collection",
  };
}

export interface StatusView {
  text: string;
  tooltip: string;
  kind: "connected" | "running" | "failing" | "disconnected" | "starting";
}

/** What the status bar says: connected / running / N failing (the `$(…)` icons are VS Code codicons). */
export function statusView(connection: string, state: DaemonState, detail?: string): StatusView {
  if (connection === "starting") {
    return { text: "$(loading~spin) connector-watch: starting", tooltip: "Starting `connector-watch serve`…", kind: "starting" };
  }
  if (connection !== "connected") {
    const tooltip = detail ? `Not connected: ${detail}. Click to open the panel.` : "Not connected to the daemon.";
    const text = connection === "searching" || connection === "connecting" ? "connecting…" : "disconnected";
    return { text: `$(debug-disconnect) connector-watch: ${text}`, tooltip, kind: "disconnected" };
  }
  const c = state.counts();
  if (c.total === 0) {
    return { text: "$(plug) connector-watch: connected", tooltip: "Connected; the daemon is collecting the tests.", kind: "connected" };
  }
  const summary = `${c.total} tests: ${c.passed} passed, ${c.failing} failing, ${c.skipped} skipped (mode ${state.mode})`;
  if (state.run) {
    return {
      text: `$(sync~spin) connector-watch: running ${state.run.done}/${state.run.total}`,
      tooltip: `Run #${state.run.runId} (${state.run.trigger}). ${summary}`,
      kind: "running",
    };
  }
  if (c.failing) {
    return { text: `$(error) connector-watch: ${c.failing} failing`, tooltip: summary, kind: "failing" };
  }
  return { text: `$(pass) connector-watch: ${c.passed} passed`, tooltip: `Connected. ${summary}`, kind: "connected" };
}
