// The Test Explorer: a TestController mirroring the daemon's nodes (source → class → test → table, each
// at its definition), a run profile with continuous run, a Debug profile (debugpy, see ./debug.ts), and
// every daemon run (including those it starts on save) reported as a TestRun that also carries the
// other tests' latest results, so the explorer's counts are the whole tree's.
import * as vscode from "vscode";
import type { AnyNotification, Snapshot, TestFinishedParams } from "../generated/protocol";
import type { DaemonClient } from "../protocol/client";
import type { UriRebaser } from "../mapping/diagnostics";
import {
  ItemSpec,
  MessageSpec,
  buildTree,
  expandSelection,
  leafNodeIds,
  resultKind,
  runParamsFor,
  sourceOf,
  testMessages,
} from "../mapping/tests";
import { RunInfo, RunMirror, RunSink } from "../runs";
import { DaemonState, collectionNode } from "../state";
import { FileLineLocator } from "./lines";
import { toRange } from "./problems";

interface ContinuousSubscription {
  request: vscode.TestRunRequest;
  /** Node IDs in scope; undefined = the whole tree. */
  nodeIds?: Set<string>;
}

export class TestExplorer implements vscode.Disposable {
  readonly controller: vscode.TestController;
  readonly runProfile: vscode.TestRunProfile;
  readonly mirror: RunMirror;
  private items = new Map<string, vscode.TestItem>();
  private specs = new Map<string, ItemSpec>();
  private roots: ItemSpec[] = [];
  private readonly locator: FileLineLocator;
  private readonly continuous = new Set<ContinuousSubscription>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly folder: vscode.Uri,
    private readonly client: DaemonClient,
    private readonly state: DaemonState,
    private readonly rebase: () => UriRebaser,
    private readonly log: (message: string) => void,
  ) {
    this.locator = new FileLineLocator(folder.fsPath);
    this.controller = vscode.tests.createTestController("connectorWatch", "connector-watch");
    this.controller.refreshHandler = async () => {
      if (!this.client.connected) return;
      const snapshot = await this.client.request("snapshot", {});
      this.state.applySnapshot(snapshot);
      this.sync();
    };
    this.runProfile = this.controller.createRunProfile(
      "Run in connector-watch",
      vscode.TestRunProfileKind.Run,
      (request, token) => this.runHandler(request, token),
      true,
      undefined,
      true, // supportsContinuousRun: the daemon already reruns affected tests on every save
    );
    this.mirror = new RunMirror((run) => this.sinkForDaemonRun(run));
    this.disposables.push(this.controller);
  }

  // ------------------------------------------------------------------ tree
  /** Rebuild the tree from the state's nodes, reusing items (and so their results) by ID. */
  sync(): void {
    const tree = buildTree(this.state.nodes.values(), this.locator);
    const next = new Map<string, vscode.TestItem>();
    const specs = new Map<string, ItemSpec>();
    const materialize = (spec: ItemSpec): vscode.TestItem => {
      const uri = spec.file ? this.uriOf(spec.file) : undefined;
      let item = this.items.get(spec.id);
      if (!item || item.uri?.toString() !== uri?.toString()) item = this.controller.createTestItem(spec.id, spec.label, uri);
      item.label = spec.label;
      item.description = spec.description;
      item.range = spec.line !== undefined ? new vscode.Range(spec.line, 0, spec.line, 0) : undefined;
      item.error = spec.error ? new vscode.MarkdownString().appendCodeblock(spec.error) : undefined;
      item.children.replace(spec.children.map(materialize));
      next.set(spec.id, item);
      specs.set(spec.id, spec);
      return item;
    };
    this.controller.items.replace(tree.map(materialize));
    this.items = next;
    this.specs = specs;
    this.roots = tree;
  }

  private uriOf(file: string): vscode.Uri {
    return file.startsWith("/") ? vscode.Uri.file(file) : vscode.Uri.joinPath(this.folder, file);
  }

  item(nodeId: string): vscode.TestItem | undefined {
    return this.items.get(nodeId);
  }

  /** All node IDs currently in the tree. */
  allNodeIds(): string[] {
    return leafNodeIds(this.roots);
  }

  private nodeIdsOf(items: readonly vscode.TestItem[]): string[] {
    return leafNodeIds(items.map((i) => this.specs.get(i.id)).filter((s): s is ItemSpec => !!s));
  }

  selectedNodeIds(request: vscode.TestRunRequest): string[] {
    const included = request.include ? this.nodeIdsOf(request.include) : this.allNodeIds();
    const excluded = new Set(request.exclude ? this.nodeIdsOf(request.exclude) : []);
    return included.filter((id) => !excluded.has(id));
  }

  // ------------------------------------------------------------------ daemon events
  applySnapshot(snapshot: Snapshot): void {
    this.mirror.reset("the daemon's state was replaced by a snapshot");
    this.sync();
    this.reportSnapshot(snapshot);
    this.mirror.snapshotRun(snapshot);
  }

  /** The results the snapshot holds, as one (not persisted) run, so the tree shows them at once. */
  private reportSnapshot(snapshot: Snapshot): void {
    const inRun = new Set(snapshot.run ? snapshot.run.nodes : []);
    const done = snapshot.nodes.filter((n) => n.outcome && !inRun.has(n.nodeId));
    if (!done.length) return;
    const run = this.controller.createTestRun(new vscode.TestRunRequest(), "connector-watch: latest results", false);
    const sink = this.sink(run);
    for (const n of done) {
      sink.finished({
        seq: snapshot.seq,
        runId: 0,
        nodeId: n.nodeId,
        outcome: n.outcome!,
        durationMs: n.durationMs ?? 0,
        diagnostics: n.diagnostics ?? [],
        message: n.message ?? null,
      });
    }
    sink.end();
  }

  onNotification(n: AnyNotification): void {
    switch (n.method) {
      case "nodes/changed":
        this.sync();
        break;
      case "run/started": {
        const items = n.params.nodes.map((x) => this.items.get(x.nodeId)).filter((i): i is vscode.TestItem => !!i);
        if (items.length) this.controller.invalidateTestResults(items);
        this.mirror.runStarted(n.params);
        break;
      }
      case "test/started":
        this.mirror.testStarted(n.params.runId, n.params.nodeId);
        break;
      case "test/finished":
        if (!this.items.has(n.params.nodeId)) {
          if (!this.state.nodes.has(n.params.nodeId)) this.state.nodes.set(n.params.nodeId, collectionNode(n.params.nodeId));
          this.sync();
        } else if (this.state.nodes.get(n.params.nodeId)?.kind === "collection") {
          this.sync(); // a file that failed to collect: its error text comes with this result
        }
        this.mirror.testFinished(n.params);
        break;
      case "run/finished":
        this.mirror.runFinished(n.params);
        break;
      default:
        break;
    }
  }

  disconnected(reason: string): void {
    this.mirror.reset(reason);
  }

  // ------------------------------------------------------------------ runs
  private sinkForDaemonRun(run: RunInfo): RunSink | undefined {
    const selected = new Set(run.nodeIds);
    const subscription = [...this.continuous].find(
      (s) => !s.nodeIds || [...s.nodeIds].some((id) => selected.has(id)),
    );
    const items = run.nodeIds.map((id) => this.items.get(id)).filter((i): i is vscode.TestItem => !!i);
    const request = subscription
      ? new vscode.TestRunRequest(subscription.request.include, subscription.request.exclude, this.runProfile, true)
      : new vscode.TestRunRequest(items, undefined, this.runProfile);
    const label = `connector-watch #${run.runId} (${run.trigger}${run.paths.length ? `: ${run.paths[0].split("/").pop()}` : ""})`;
    return this.sink(this.controller.createTestRun(request, label, true), true);
  }

  private fallbackLocation(nodeId: string): { uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } } | undefined {
    const item = this.items.get(nodeId);
    if (!item?.uri) return undefined;
    const line = item.range?.start.line ?? 0;
    return { uri: item.uri.toString(), range: { start: { line, character: 0 }, end: { line, character: 0 } } };
  }

  private toMessage(spec: MessageSpec): vscode.TestMessage {
    const markdown = new vscode.MarkdownString(spec.markdown);
    const message =
      spec.expected !== undefined && spec.actual !== undefined
        ? vscode.TestMessage.diff(markdown, spec.expected, spec.actual)
        : new vscode.TestMessage(markdown);
    if (spec.location) message.location = new vscode.Location(vscode.Uri.parse(spec.location.uri), toRange(spec.location.range));
    if (spec.contextValue) message.contextValue = spec.contextValue;
    return message;
  }

  /** The daemon's latest diagnostics of a failing node as test messages (at the blamed range, with the diff). */
  daemonMessages(nodeId: string): vscode.TestMessage[] {
    const node = this.state.nodes.get(nodeId);
    if (!node?.outcome || !node.diagnostics?.length) return [];
    return testMessages({ outcome: node.outcome, diagnostics: node.diagnostics, message: node.message ?? null }, this.rebase())
      .map((m) => this.toMessage(m));
  }

  /**
   * A RunSink over a TestRun (ending twice is harmless). With `carryOver`, the run ends by reporting
   * every test it did not run with that test's latest result: VS Code counts a run's results, and a
   * save reruns four tests of 130, so without them the explorer's header would count four.
   */
  sink(run: vscode.TestRun, carryOver = false): RunSink {
    let ended = false;
    const reported = new Set<string>();
    const report = (p: TestFinishedParams, carried = false) => {
      const item = this.items.get(p.nodeId);
      if (!item || ended) return;
      reported.add(p.nodeId);
      const messages = testMessages(p, this.rebase(), this.fallbackLocation(p.nodeId)).map((m) => this.toMessage(m));
      switch (resultKind(p.outcome)) {
        case "passed":
          run.passed(item, p.durationMs);
          break;
        case "skipped":
          run.skipped(item);
          break;
        case "failed":
          run.failed(item, messages, p.durationMs);
          break;
        case "errored":
          run.errored(item, messages, p.durationMs);
          break;
      }
      if (!carried && p.outcome !== "passed" && p.message) {
        run.appendOutput(`${p.nodeId}: ${p.outcome}\r\n${p.message.replace(/\r?\n/g, "\r\n")}\r\n`, undefined, item);
      }
    };
    return {
      enqueued: (id) => {
        const item = this.items.get(id);
        if (item && !ended) run.enqueued(item);
        reported.add(id);
      },
      started: (id) => {
        const item = this.items.get(id);
        if (item && !ended) run.started(item);
      },
      finished: (p) => report(p),
      output: (text) => {
        if (!ended) run.appendOutput(text);
      },
      end: () => {
        if (ended) return;
        if (carryOver) {
          let carried = 0;
          for (const node of this.state.nodes.values()) {
            if (reported.has(node.nodeId) || !node.outcome || node.running || node.queued) continue;
            report({ seq: 0, runId: 0, nodeId: node.nodeId, outcome: node.outcome, durationMs: node.durationMs ?? 0,
                     diagnostics: node.diagnostics ?? [], message: node.message ?? null }, true);
            carried++;
          }
          if (carried) run.appendOutput(`(${carried} other test result(s) carried over from earlier runs)\r\n`);
        }
        ended = true;
        run.end();
      },
    };
  }

  private async runHandler(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    if (request.continuous) {
      // The daemon reruns affected tests on every save: watching is its job. While this request
      // is active, each daemon run touching its scope is reported as a continuous run.
      const subscription: ContinuousSubscription = {
        request,
        nodeIds: request.include ? new Set(this.selectedNodeIds(request)) : undefined,
      };
      this.continuous.add(subscription);
      this.log(`continuous run on (${subscription.nodeIds ? `${subscription.nodeIds.size} tests` : "all tests"})`);
      await new Promise<void>((resolve) => token.onCancellationRequested(() => resolve()));
      this.continuous.delete(subscription);
      this.log("continuous run off");
      return;
    }
    const selected = this.selectedNodeIds(request);
    const run = this.controller.createTestRun(request, "connector-watch", true);
    const sink = this.sink(run, true);
    if (!this.client.connected) {
      run.appendOutput("connector-watch: not connected to the daemon (see the connector-watch output)\r\n");
      sink.end();
      return;
    }
    for (const id of selected) sink.enqueued(id);
    const bySource = (id: string) => {
      const node = this.state.nodes.get(id);
      return node ? sourceOf(node) : undefined;
    };
    const all = this.allNodeIds();
    const params = runParamsFor(selected, all, bySource);
    // Claim by what is requested as well as what was selected (a Spark node is not in run/started).
    const claim = this.mirror.claim(new Set([...selected, ...expandSelection(selected, all, bySource)]), sink);
    const cancellation = token.onCancellationRequested(() => {
      this.client.request("cancel", {}).catch(() => undefined);
      claim.release();
      sink.end();
    });
    try {
      const result = await this.client.request("run", params);
      if (!result.accepted) {
        run.appendOutput("connector-watch: the daemon had nothing to run\r\n");
        claim.release();
        sink.end();
      }
    } catch (error) {
      run.appendOutput(`connector-watch: run failed: ${(error as Error).message}\r\n`);
      claim.release();
      sink.end();
    }
    await claim.done;
    cancellation.dispose();
    sink.end();
  }

  dispose(): void {
    this.mirror.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
