// The Debug profile: the selected tests run under pytest in the daemon's simulator mode, inside
// debugpy (from the workspace's Python), so breakpoints in a connector stop there. The adapter is
// debugpy's own (`python -m debugpy.adapter`), contributed as the `connector-watch-debugpy` debug
// type; no other Python extension is needed. Results come back from pytest's verbose output.
import { spawnSync } from "node:child_process";
import * as vscode from "vscode";
import { DEBUG_TYPE, DebugLaunch, debugLaunch, debugOutcomes } from "../mapping/debug";
import { isSparkNodeId, resultKind } from "../mapping/tests";
import type { DaemonState } from "../state";
import { pythonFor } from "./daemonProcess";

export interface DebugTarget {
  readonly controller: vscode.TestController;
  item(nodeId: string): vscode.TestItem | undefined;
  selectedNodeIds(request: vscode.TestRunRequest): string[];
  /** The daemon's messages for a failed node (blame at the blamed range, the diff), if it has them. */
  daemonMessages(nodeId: string): vscode.TestMessage[];
}

interface Session {
  output: string;
  exitCode?: number;
  ended: () => void;
}

export class DebugProfile implements vscode.Disposable {
  readonly profile: vscode.TestRunProfile;
  private readonly sessions = new Map<string, Session>();
  private readonly disposables: vscode.Disposable[] = [];
  private counter = 0;

  constructor(
    private readonly folder: vscode.WorkspaceFolder,
    private readonly target: DebugTarget,
    private readonly state: DaemonState,
    private readonly log: (message: string) => void,
  ) {
    this.profile = target.controller.createRunProfile(
      "Debug in connector-watch (debugpy)",
      vscode.TestRunProfileKind.Debug,
      (request, token) => this.run(request, token),
      true,
    );
    this.disposables.push(
      this.profile,
      vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
        createDebugAdapterDescriptor: (session) => {
          const python = (session.configuration as DebugLaunch).python?.[0] ?? "python3";
          return new vscode.DebugAdapterExecutable(python, ["-m", "debugpy.adapter"], { cwd: this.folder.uri.fsPath });
        },
      }),
      vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
        createDebugAdapterTracker: (session) => {
          const entry = this.sessions.get(String(session.configuration.connectorWatchRun));
          if (!entry) return undefined;
          return {
            onDidSendMessage: (message: any) => {
              if (message?.type !== "event") return;
              if (message.event === "output" && typeof message.body?.output === "string" && message.body.category !== "telemetry") {
                entry.output += message.body.output;
              } else if (message.event === "exited" && typeof message.body?.exitCode === "number") {
                entry.exitCode = message.body.exitCode;
              }
            },
          };
        },
      }),
      vscode.debug.onDidTerminateDebugSession((session) => {
        this.sessions.get(String(session.configuration.connectorWatchRun))?.ended();
      }),
    );
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const nodeIds = this.target.selectedNodeIds(request).filter((id) => !isSparkNodeId(id));
    const run = this.target.controller.createTestRun(request, "connector-watch debug", false);
    if (!nodeIds.length) {
      run.appendOutput("connector-watch: nothing to debug (a Spark read runs only inside the daemon)\r\n");
      run.end();
      return;
    }
    const root = this.folder.uri.fsPath;
    const python = pythonFor(root, vscode.workspace.getConfiguration("connectorWatch", this.folder.uri));
    const probe = spawnSync(python, ["-c", "import debugpy, pytest"], { cwd: root, encoding: "utf8", timeout: 30_000 });
    if (probe.status !== 0) {
      const why = `${python} cannot import debugpy and pytest (${(probe.stderr || probe.error?.message || "").trim().split("\n").pop()})`;
      run.appendOutput(`connector-watch: ${why}\r\n`);
      void vscode.window.showErrorMessage(`connector-watch: debugging needs debugpy: ${why}. Install it into that environment: pip install debugpy`);
      run.end();
      return;
    }
    const items = nodeIds.map((id) => this.target.item(id)).filter((i): i is vscode.TestItem => !!i);
    for (const item of items) run.started(item);
    const runKey = `${process.pid}-${++this.counter}`;
    const config = debugLaunch({ nodeIds, root, python, mode: this.state.mode, runKey });
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const session: Session = { output: "", ended };
    this.sessions.set(runKey, session);
    this.log(`debug: ${python} -m pytest ${config.args.join(" ")} (mode ${this.state.mode})`);
    const cancel = token.onCancellationRequested(() => {
      const active = vscode.debug.activeDebugSession;
      if (active && active.configuration.connectorWatchRun === runKey) void vscode.debug.stopDebugging(active);
      ended();
    });
    try {
      const started = await vscode.debug.startDebugging(this.folder, config, { testRun: run, suppressSaveBeforeStart: true });
      if (!started) {
        run.appendOutput("connector-watch: the debug session did not start (see the Debug Console)\r\n");
        ended();
      }
      await done;
    } finally {
      cancel.dispose();
      this.sessions.delete(runKey);
    }
    run.appendOutput(session.output.replace(/\r?\n/g, "\r\n"));
    const outcomes = debugOutcomes(session.output, nodeIds, session.exitCode);
    for (const [id, result] of outcomes) {
      const item = this.target.item(id);
      if (!item) continue;
      const own = new vscode.TestMessage(result.message ?? `${result.outcome} under the debugger (see the Debug Console)`);
      const message = [own, ...this.target.daemonMessages(id)];
      switch (resultKind(result.outcome)) {
        case "passed":
          run.passed(item);
          break;
        case "skipped":
          run.skipped(item);
          break;
        case "failed":
          run.failed(item, message);
          break;
        default:
          run.errored(item, message);
      }
    }
    run.end();
  }

  dispose(): void {
    for (const session of this.sessions.values()) session.ended();
    for (const d of this.disposables) d.dispose();
  }
}
