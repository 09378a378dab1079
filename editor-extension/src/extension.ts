// connector-watch for VS Code: the daemon's diagnostics in the Problems panel (with its verified fixes
// as Quick Fixes), its test nodes in the Test Explorer, its panel in a webview, and the workflow steps
// as commands. It speaks only the
// daemon protocol (daemon/PROTOCOL.md); types come from its JSON Schema (src/generated/protocol.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { rebaser, UriRebaser } from "./mapping/diagnostics";
import { findFix } from "./mapping/fixes";
import { ConnectionState, DaemonClient } from "./protocol/client";
import { DaemonState, statusView } from "./state";
import { DaemonProcess } from "./vscode/daemonProcess";
import { DebugProfile } from "./vscode/debug";
import { VerifiedFixProvider, applyVerifiedFix } from "./vscode/fixes";
import { PanelController } from "./vscode/panel";
import { ProblemsView } from "./vscode/problems";
import { TestExplorer } from "./vscode/testing";
import { Workflow } from "./vscode/workflow";

/** What the extension exposes to other extensions and to its end-to-end test. */
export interface ConnectorWatchApi {
  readonly client: DaemonClient;
  readonly state: DaemonState;
  readonly folder: vscode.Uri;
}

let deactivateHook: (() => Promise<void>) | undefined;

async function pickFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  for (const folder of folders) {
    const root = folder.uri.fsPath;
    if (existsSync(join(root, ".connector-watch", "daemon.json")) || existsSync(join(root, "simulator", "specs"))) return folder;
  }
  for (const folder of folders) {
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, "**/endpoints.yaml"), "**/node_modules/**", 1);
    if (found.length || existsSync(join(folder.uri.fsPath, "sources"))) return folder;
  }
  return undefined;
}

export async function activate(context: vscode.ExtensionContext): Promise<ConnectorWatchApi | undefined> {
  const output = vscode.window.createOutputChannel("connector-watch");
  context.subscriptions.push(output);
  const log = (message: string) => output.appendLine(`[${new Date().toISOString().slice(11, 23)}] ${message}`);

  const folder = await pickFolder();
  if (!folder) {
    log("no workspace folder with connector sources or endpoints.yaml: staying idle");
    return undefined;
  }
  const root = folder.uri.fsPath;
  log(`workspace ${root}`);

  const daemon = new DaemonProcess(root, output);
  const config = () => vscode.workspace.getConfiguration("connectorWatch", folder.uri);
  const client = new DaemonClient({
    workspace: root,
    clientInfo: { name: "vscode", version: String(context.extension.packageJSON.version ?? "0") },
    startDaemon: config().get<boolean>("autoStart", true) ? () => daemon.start() : undefined,
    log: (level, message) => {
      if (level !== "debug") log(`${level}: ${message}`);
    },
  });
  const state = new DaemonState();
  let rebase: UriRebaser = (u) => u;
  const problems = new ProblemsView(folder.uri, rebase);
  const explorer = new TestExplorer(folder.uri, client, state, () => rebase, log);
  const debugProfile = new DebugProfile(folder, explorer, state, log);
  // The panel's Apply button names a fix; it is looked up in this window's copy of the daemon's state.
  const panel = new PanelController(context.extensionUri, folder.uri, client, log, async (ref) => {
    const fix = findFix(state, ref);
    if (!fix) return { ok: false, message: "the daemon no longer offers this fix (a newer result replaced it)" };
    return applyVerifiedFix(folder.uri, fix);
  });
  const workflow = new Workflow(folder.uri, () => state.sources);

  // ------------------------------------------------------------------ status bar
  const status = vscode.window.createStatusBarItem("connectorWatch.status", vscode.StatusBarAlignment.Left, 50);
  status.name = "connector-watch";
  status.command = "connectorWatch.openPanel";
  let connection: ConnectionState = client.state;
  const renderStatus = () => {
    const detail = connection.kind === "waiting" ? connection.reason : undefined;
    const view = statusView(connection.kind, state, detail);
    status.text = view.text;
    status.tooltip = view.tooltip;
    status.backgroundColor =
      view.kind === "failing" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  };
  renderStatus();
  status.show();

  // ------------------------------------------------------------------ daemon → views
  context.subscriptions.push(
    client.onDidChangeState((s) => {
      const wasConnected = connection.kind === "connected";
      connection = s;
      if (s.kind === "connected") {
        state.modes = s.result.capabilities.modes;
        log(`connected to the daemon (pid ${s.result.serverInfo.pid ?? "?"}, ${s.info.url})`);
      } else if (wasConnected) {
        log(`disconnected (${s.kind === "waiting" ? s.reason : s.kind}); reconnecting`);
        explorer.disconnected("the daemon disconnected");
      }
      renderStatus();
    }),
    client.onSnapshot(({ snapshot, reason, detail }) => {
      if (reason !== "initialize") log(`resync (${reason}${detail ? `: ${detail}` : ""})`);
      rebase = rebaser(snapshot.workspaceUri, folder.uri.toString());
      problems.setRebaser(rebase);
      state.applySnapshot(snapshot);
      problems.applySnapshot(snapshot);
      explorer.applySnapshot(snapshot);
      renderStatus();
    }),
    client.onNotification((n) => {
      state.apply(n);
      switch (n.method) {
        case "textDocument/publishDiagnostics":
          problems.publish(n.params);
          break;
        case "window/logMessage":
          log(`daemon ${n.params.level}: ${n.params.message}`);
          break;
        default:
          explorer.onNotification(n);
      }
      renderStatus();
    }),
  );

  // ------------------------------------------------------------------ commands
  const requireConnected = () => {
    if (client.connected) return true;
    void vscode.window.showWarningMessage("connector-watch: not connected to the daemon yet");
    return false;
  };
  const report = (what: string) => (error: Error) =>
    void vscode.window.showErrorMessage(`connector-watch: ${what} failed: ${error.message}`);
  context.subscriptions.push(
    vscode.commands.registerCommand("connectorWatch.openPanel", () => panel.show()),
    vscode.commands.registerCommand("connectorWatch.rerunAll", () => {
      if (requireConnected()) return client.request("run", { all: true }).catch(report("rerun all"));
    }),
    vscode.commands.registerCommand("connectorWatch.rerunFailed", async () => {
      if (!requireConnected()) return;
      const result = await client.request("run", { failed: true }).catch(report("rerun failed"));
      if (result && !result.accepted) void vscode.window.showInformationMessage("connector-watch: nothing is failing");
    }),
    vscode.commands.registerCommand("connectorWatch.switchMode", async () => {
      if (!requireConnected()) return;
      const picked = await vscode.window.showQuickPick(
        state.modes.map((m) => ({ label: m, description: m === state.mode ? "current" : undefined })),
        { title: "Simulator mode (rerun all in it)" },
      );
      if (picked && picked.label !== state.mode) {
        await client.request("setMode", { mode: picked.label as "simulate" }).catch(report("switch mode"));
      }
    }),
    vscode.commands.registerCommand("connectorWatch.openCassetteReport", () => workflow.openCassetteReport()),
    vscode.commands.registerCommand("connectorWatch.bootstrapCorpus", () => workflow.bootstrapCorpus()),
    vscode.commands.registerCommand("connectorWatch.reseedCorpus", () => workflow.reseedCorpus()),
    vscode.commands.registerCommand("connectorWatch.mergeSource", () => workflow.mergeSource()),
    vscode.commands.registerCommand("connectorWatch.showOutput", () => output.show()),
    vscode.commands.registerCommand("connectorWatch.restartDaemon", async () => {
      if (daemon.pid) await daemon.stop();
      else if (client.connected) await client.request("shutdown", {}).catch(() => undefined);
      client.dropConnection();
      client.reconnectNow();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("connectorWatch")) log("settings changed: they apply when the daemon next starts");
    }),
  );
  context.subscriptions.push(VerifiedFixProvider.register(folder.uri, problems));
  context.subscriptions.push(problems, explorer, debugProfile, panel, status, { dispose: () => client.dispose() });

  deactivateHook = async () => {
    await client.stop();
    await daemon.stop(); // only the daemon this window started; one found running is left alone
  };
  client.start();
  return { client, state, folder: folder.uri };
}

export async function deactivate(): Promise<void> {
  await deactivateHook?.();
}
