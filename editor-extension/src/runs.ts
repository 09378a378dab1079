// Daemon runs → editor test runs, one for one. Pure: a `RunSink` is the adapter's TestRun.
//
// - A run the user asked for (Test Explorer, panel, command) registers a *claim* before the `run`
//   request; the next daemon run that selects any of the claimed nodes reports into the claim's
//   sink, and the claim resolves when that run finishes.
// - Every other daemon run (a save, another client's request, a mode switch) gets a sink of its own
//   from `createSink`, so runs the daemon starts itself show in the editor too.
import type { Outcome, RunFinishedParams, RunStartedParams, Snapshot, TestFinishedParams } from "./generated/protocol";

export interface RunSink {
  enqueued(nodeId: string): void;
  started(nodeId: string): void;
  finished(result: TestFinishedParams): void;
  /** Free text for the run's output (trigger, counts). */
  output(text: string): void;
  end(): void;
}

export interface RunInfo {
  runId: number;
  trigger: string;
  paths: string[];
  nodeIds: string[];
}

interface Claim {
  nodeIds: Set<string>;
  sink: RunSink;
  resolve: () => void;
  runId?: number;
}

export function describeRun(run: RunInfo): string {
  const what = run.paths.length ? ` (${run.paths.slice(0, 3).join(", ")}${run.paths.length > 3 ? ", …" : ""})` : "";
  return `connector-watch run #${run.runId}: ${run.trigger}${what}, ${run.nodeIds.length} test(s)`;
}

export function describeCounts(p: RunFinishedParams): string {
  const c = p.counts;
  const failing = (c.failed ?? 0) + (c.error ?? 0) + (c.timeout ?? 0) + (c.crashed ?? 0);
  return (
    `run #${p.runId}${p.cancelled ? " cancelled" : ""}: ${c.passed ?? 0} passed, ${failing} failing, ` +
    `${c.skipped ?? 0} skipped in ${Math.round(p.durationMs)} ms`
  );
}

export class RunMirror {
  private readonly claims: Claim[] = [];
  private readonly sinks = new Map<number, { sink: RunSink; claim?: Claim; finished: Set<string> }>();

  constructor(private readonly createSink: (run: RunInfo) => RunSink | undefined) {}

  /**
   * Claim the next daemon run that selects any of `nodeIds` (all nodes when empty). Register it
   * *before* sending `run`: the daemon may announce the run before it answers the request.
   * Returns the claim's completion and a function that releases it (e.g. `run` was refused).
   */
  claim(nodeIds: Iterable<string>, sink: RunSink): { done: Promise<void>; release: () => void } {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const claim: Claim = { nodeIds: new Set(nodeIds), sink, resolve };
    this.claims.push(claim);
    const release = () => {
      const index = this.claims.indexOf(claim);
      if (index >= 0) this.claims.splice(index, 1);
      if (claim.runId !== undefined) return; // attached: ends with its run
      resolve();
    };
    return { done, release };
  }

  /** True while a claim waits for its run or reports into one. */
  get busy(): boolean {
    return this.claims.length > 0 || [...this.sinks.values()].some((s) => s.claim);
  }

  runStarted(p: RunStartedParams): void {
    this.attach({ runId: p.runId, trigger: p.trigger, paths: p.paths, nodeIds: p.nodes.map((n) => n.nodeId) });
  }

  /** A run in progress in a snapshot: mirror it from where it is. */
  snapshotRun(snapshot: Snapshot): void {
    const r = snapshot.run;
    if (!r || this.sinks.has(r.runId)) return;
    const entry = this.attach({ runId: r.runId, trigger: r.trigger, paths: r.paths, nodeIds: r.nodes });
    if (!entry) return;
    for (const id of r.started) if (!(id in r.finished)) entry.sink.started(id);
    const byId = new Map(snapshot.nodes.map((n) => [n.nodeId, n]));
    for (const [id, outcome] of Object.entries(r.finished)) {
      const node = byId.get(id);
      entry.finished.add(id);
      entry.sink.finished({
        seq: snapshot.seq,
        runId: r.runId,
        nodeId: id,
        outcome: outcome as Outcome,
        durationMs: node?.durationMs ?? 0,
        diagnostics: node?.diagnostics ?? [],
        message: node?.message ?? null,
      });
    }
  }

  private attach(run: RunInfo) {
    const selected = new Set(run.nodeIds);
    const claim = this.claims.find((c) => c.nodeIds.size === 0 || [...c.nodeIds].some((id) => selected.has(id)));
    let sink: RunSink | undefined;
    if (claim) {
      this.claims.splice(this.claims.indexOf(claim), 1);
      claim.runId = run.runId;
      sink = claim.sink;
    } else {
      sink = this.createSink(run);
    }
    if (!sink) return undefined;
    const entry = { sink, claim, finished: new Set<string>() };
    this.sinks.set(run.runId, entry);
    sink.output(`${describeRun(run)}\r\n`);
    for (const id of run.nodeIds) sink.enqueued(id);
    return entry;
  }

  testStarted(runId: number, nodeId: string): void {
    this.sinks.get(runId)?.sink.started(nodeId);
  }

  testFinished(p: TestFinishedParams): void {
    const entry = this.sinks.get(p.runId);
    if (!entry) return;
    entry.finished.add(p.nodeId);
    entry.sink.finished(p);
  }

  runFinished(p: RunFinishedParams): void {
    const entry = this.sinks.get(p.runId);
    if (!entry) return;
    this.sinks.delete(p.runId);
    entry.sink.output(`${describeCounts(p)}\r\n`);
    entry.sink.end();
    entry.claim?.resolve();
  }

  /** The connection dropped or state was replaced: end every open run (results so far stay). */
  reset(reason: string): void {
    for (const [runId, entry] of this.sinks) {
      entry.sink.output(`run #${runId} interrupted: ${reason}\r\n`);
      entry.sink.end();
      entry.claim?.resolve();
    }
    this.sinks.clear();
  }

  /** Stop mirroring: end open runs and release waiting claims. */
  dispose(): void {
    this.reset("connector-watch stopped");
    for (const claim of this.claims.splice(0)) {
      claim.sink.end();
      claim.resolve();
    }
  }
}
