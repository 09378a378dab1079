// The panel: the daemon's own page (daemon/panel, copied into dist/panel at build time) in a webview.
// The webview never opens a socket: for each open panel the extension holds one WebSocket to the
// daemon and relays JSON-RPC both ways (panel.js's VS Code transport); links open files at the line.
// A verified fix's Apply button sends which fix it means ({type: "applyFix", id, ref}); the extension
// looks that fix up in its own copy of the daemon's state and applies it (never edits the webview sends).
import { readFile } from "node:fs/promises";
import * as vscode from "vscode";
import WebSocket from "ws";
import type { DaemonClient } from "../protocol/client";
import type { DiscoveryInfo } from "../protocol/discovery";
import { FixRef, parseFixRef } from "../mapping/fixes";
import { nonce, webviewHtml } from "../mapping/webview";
import type { ApplyResult } from "./fixes";

export const PANEL_VIEW_TYPE = "connectorWatch.panel";

const ACTIONS = [
  { command: "connectorWatch.openCassetteReport", label: "Reports…", title: "Open a cassette's validation or coverage report" },
  { command: "connectorWatch.switchMode", label: "Mode…", title: "Switch the simulator mode" },
];

export class PanelController implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private relay: WebSocket | undefined;
  private relayInfo: DiscoveryInfo | undefined;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly folder: vscode.Uri,
    private readonly client: DaemonClient,
    private readonly log: (message: string) => void,
    private readonly applyFix: (ref: FixRef) => Promise<ApplyResult>,
  ) {
    const sub = client.onDidChangeState((state) => {
      if (state.kind === "connected" && this.panel && this.ready) this.openRelay(state.info);
    });
    this.disposables.push(sub);
  }

  get isOpen(): boolean {
    return !!this.panel;
  }

  async show(): Promise<vscode.WebviewPanel> {
    if (this.panel) {
      this.panel.reveal(undefined, false);
      return this.panel;
    }
    const panelRoot = vscode.Uri.joinPath(this.extensionUri, "dist", "panel");
    const hostRoot = vscode.Uri.joinPath(this.extensionUri, "dist", "webview");
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, "connector-watch", vscode.ViewColumn.Active, {
      enableScripts: true,
      enableCommandUris: ACTIONS.map((a) => a.command),
      retainContextWhenHidden: true,
      localResourceRoots: [panelRoot, hostRoot],
    });
    this.panel = panel;
    this.ready = false;
    const webview = panel.webview;
    const index = await readFile(vscode.Uri.joinPath(panelRoot, "index.html").fsPath, "utf8");
    webview.onDidReceiveMessage((message) => this.onMessage(message), undefined, this.disposables);
    webview.html = webviewHtml(index, {
      cspSource: webview.cspSource,
      cssUri: webview.asWebviewUri(vscode.Uri.joinPath(panelRoot, "panel.css")).toString(),
      jsUri: webview.asWebviewUri(vscode.Uri.joinPath(panelRoot, "panel.js")).toString(),
      hostCssUri: webview.asWebviewUri(vscode.Uri.joinPath(hostRoot, "host.css")).toString(),
      nonce: nonce(),
      actions: ACTIONS,
    });
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
      this.closeRelay();
    });
    return panel;
  }

  private onMessage(message: any): void {
    switch (message?.type) {
      case "ready": {
        this.ready = true;
        const info = this.client.info;
        if (info && this.client.connected) this.openRelay(info);
        else void this.panel?.webview.postMessage({ type: "disconnected" });
        break;
      }
      case "rpc":
        if (this.relay && this.relay.readyState === WebSocket.OPEN) this.relay.send(JSON.stringify(message.message));
        break;
      case "open":
        void this.openFile(String(message.path), Number(message.line) || 1, Number(message.column) || 1,
          Number(message.endLine) || undefined, Number(message.endColumn) || undefined);
        break;
      case "applyFix":
        void this.onApplyFix(message.id, message.ref);
        break;
      default:
        break;
    }
  }

  private async onApplyFix(id: unknown, value: unknown): Promise<void> {
    const ref = parseFixRef(value);
    let result: ApplyResult;
    if (!ref) result = { ok: false, message: "the panel named no fix the extension can look up" };
    else {
      try {
        result = await this.applyFix(ref);
      } catch (error) {
        result = { ok: false, message: (error as Error).message };
      }
    }
    this.log(`panel: apply fix ${ref ? `"${ref.title}" in ${ref.path}` : "(invalid reference)"}: ${result.message}`);
    if (!result.ok) void vscode.window.showWarningMessage(`connector-watch: fix not applied: ${result.message}`);
    void this.panel?.webview.postMessage({ type: "fixApplied", id: typeof id === "number" || typeof id === "string" ? id : null, ...result });
  }

  /** Opens a file at a range (one-based, from the panel), selecting it; the panel stays open beside. */
  private async openFile(path: string, line: number, column: number, endLine?: number, endColumn?: number): Promise<void> {
    const uri = path.startsWith("/") ? vscode.Uri.file(path) : vscode.Uri.joinPath(this.folder, path);
    const position = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
    const end = endLine ? new vscode.Position(Math.max(0, endLine - 1), Math.max(0, (endColumn ?? 1) - 1)) : position;
    try {
      await vscode.window.showTextDocument(uri, {
        selection: new vscode.Range(position, end.isBefore(position) ? position : end),
        viewColumn: vscode.ViewColumn.One,
        preview: true,
      });
    } catch (error) {
      void vscode.window.showErrorMessage(`connector-watch: cannot open ${path}: ${(error as Error).message}`);
    }
  }

  private openRelay(info: DiscoveryInfo): void {
    if (this.relay && this.relayInfo?.url === info.url && this.relayInfo.token === info.token) return;
    this.closeRelay();
    const socket = new WebSocket(info.url, { headers: { Authorization: `Bearer ${info.token}` }, maxPayload: 256 * 1024 * 1024 });
    this.relay = socket;
    this.relayInfo = info;
    socket.on("open", () => void this.panel?.webview.postMessage({ type: "connected" }));
    socket.on("message", (data) => {
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return;
      }
      void this.panel?.webview.postMessage({ type: "rpc", message });
    });
    socket.on("error", (error) => this.log(`panel relay: ${error.message}`));
    socket.on("close", () => {
      if (this.relay !== socket) return;
      this.relay = undefined;
      this.relayInfo = undefined;
      void this.panel?.webview.postMessage({ type: "disconnected" });
    });
  }

  private closeRelay(): void {
    const relay = this.relay;
    this.relay = undefined;
    this.relayInfo = undefined;
    relay?.close(1000, "panel closed");
  }

  dispose(): void {
    this.closeRelay();
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
