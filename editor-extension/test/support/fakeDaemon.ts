// A scripted stand-in for the daemon's socket, for the protocol client's unit tests (the real daemon
// is the integration test's job). It writes daemon.json like the daemon and checks the token.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { Snapshot } from "../../src/generated/protocol";
import { loadSession } from "./session";

export function tempWorkspace(): string {
  return mkdtempSync(join(tmpdir(), "cw-unit-"));
}

export function snapshot(seq: number): Snapshot {
  return { ...loadSession().initialize.snapshot, seq, run: null };
}

export class FakeDaemon {
  readonly received: { method: string; params: unknown; authorization?: string }[] = [];
  readonly sockets = new Set<WebSocket>();
  private server!: WebSocketServer;
  port = 0;
  seq = 100;
  /** Answers a request; default: initialize → snapshot at `seq`, snapshot → snapshot at `seq`. */
  handler: (method: string, params: any) => unknown = (method) => {
    if (method === "initialize") {
      const init = loadSession().initialize;
      return { ...init, snapshot: snapshot(this.seq) };
    }
    if (method === "snapshot") return snapshot(this.seq);
    if (method === "run") return { accepted: true, nodeIds: [] };
    throw Object.assign(new Error(`method not found: ${method}`), { code: -32601 });
  };

  constructor(
    readonly workspace: string,
    readonly token = "secret-token",
  ) {}

  async start(port = 0): Promise<this> {
    this.server = new WebSocketServer({
      host: "127.0.0.1",
      port,
      verifyClient: (info, done) => {
        const ok = info.req.headers.authorization === `Bearer ${this.token}`;
        done(ok, ok ? undefined : 401, ok ? undefined : "a valid token is required");
      },
    });
    await new Promise<void>((resolve) => this.server.once("listening", () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    this.server.on("connection", (socket, request) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("message", (data) => {
        const message = JSON.parse(data.toString());
        this.received.push({ method: message.method, params: message.params, authorization: request.headers.authorization });
        let reply: unknown;
        try {
          reply = { jsonrpc: "2.0", id: message.id, result: this.handler(message.method, message.params) };
        } catch (error) {
          const e = error as Error & { code?: number };
          reply = { jsonrpc: "2.0", id: message.id, error: { code: e.code ?? -32603, message: e.message } };
        }
        socket.send(JSON.stringify(reply));
      });
    });
    this.writeDiscovery();
    return this;
  }

  writeDiscovery(pid = process.pid): void {
    mkdirSync(join(this.workspace, ".connector-watch"), { recursive: true });
    writeFileSync(
      join(this.workspace, ".connector-watch", "daemon.json"),
      JSON.stringify({
        url: `ws://127.0.0.1:${this.port}/ws`, httpUrl: `http://127.0.0.1:${this.port}/`, port: this.port,
        token: this.token, pid, protocolVersion: "1.0", workspace: this.workspace,
      }),
    );
  }

  /** Send a notification to every client; `seq` defaults to the next one. */
  notify(method: string, params: Record<string, unknown>, seq = ++this.seq): void {
    const text = JSON.stringify({ jsonrpc: "2.0", method, params: { ...params, seq } });
    for (const s of this.sockets) s.send(text);
  }

  async stop(removeDiscovery = true): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (removeDiscovery) rmSync(join(this.workspace, ".connector-watch"), { recursive: true, force: true });
  }
}

/** Resolve when `predicate` holds (polled), or fail with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
