// The daemon's JSON-RPC 2.0 client over a WebSocket (daemon/PROTOCOL.md), independent of `vscode`.
//
// - finds the daemon through `.connector-watch/daemon.json`, or asks `startDaemon` to start one;
// - sends `initialize` first and hands out its snapshot;
// - keeps the event stream consistent: notifications carry `seq`; one at or below the last snapshot's
//   is already in it and is dropped; a gap (a lost notification) fetches a fresh `snapshot`, and
//   `$/resync` replaces local state, exactly as the protocol says;
// - reconnects with exponential backoff when the daemon goes away (restarts, crashes, shutdown).
import WebSocket from "ws";
import {
  AnyNotification,
  InitializeResult,
  NOTIFICATION_METHODS,
  PROTOCOL_VERSION,
  RequestMap,
  RequestMethod,
  Snapshot,
} from "../generated/protocol";
import { Emitter, delay } from "../util/emitter";
import { DiscoveryInfo, readLiveDiscovery } from "./discovery";

export type ConnectionState =
  | { kind: "stopped" }
  | { kind: "searching" }
  | { kind: "starting" }
  | { kind: "connecting"; info: DiscoveryInfo }
  | { kind: "connected"; info: DiscoveryInfo; result: InitializeResult }
  | { kind: "waiting"; retryInMs: number; reason: string };

export type SnapshotReason = "initialize" | "resync" | "gap";

export interface SnapshotEvent {
  snapshot: Snapshot;
  reason: SnapshotReason;
  detail?: string;
}

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface ClientOptions {
  /** The workspace folder whose `.connector-watch/daemon.json` names the daemon. */
  workspace: string;
  clientInfo?: { name: string; version: string };
  /** Start a daemon when none is running (e.g. spawn `connector-watch serve`); omit to only wait. */
  startDaemon?: () => Promise<void>;
  /** After a daemon went away, how long it may stay away before we start one ourselves (default 2 s). */
  restartGraceMs?: number;
  /** How long to wait for `daemon.json` after `startDaemon` (default 60 s: the first run warms up). */
  startTimeoutMs?: number;
  backoff?: Partial<Backoff>;
  requestTimeoutMs?: number;
  log?: (level: "debug" | "info" | "warning" | "error", message: string) => void;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 10_000, factor: 2 };
const NOTIFICATIONS = new Set<string>(NOTIFICATION_METHODS);

export class DaemonClient {
  private readonly stateEmitter = new Emitter<ConnectionState>();
  private readonly snapshotEmitter = new Emitter<SnapshotEvent>();
  private readonly notificationEmitter = new Emitter<AnyNotification>();
  /** Connection state changes: searching → (starting →) connecting → connected → waiting → … */
  readonly onDidChangeState = this.stateEmitter.event;
  /** A snapshot that replaces all local state: after `initialize`, `$/resync`, or a detected gap. */
  readonly onSnapshot = this.snapshotEmitter.event;
  /** Every notification newer than the last snapshot, in `seq` order, each exactly once. */
  readonly onNotification = this.notificationEmitter.event;

  private currentState: ConnectionState = { kind: "stopped" };
  private socket: WebSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastSeq = -1;
  private resyncing = false;
  private buffered: AnyNotification[] = [];
  /** Notifications that arrived before the `initialize` answer was applied (the same read can hold both). */
  private early: AnyNotification[] = [];
  private abort: AbortController | undefined;
  private loopDone: Promise<void> | undefined;
  private readonly backoff: Backoff;
  /** Set by `reconnectNow()` to skip the current backoff wait. */
  private wake: AbortController | undefined;

  constructor(private readonly options: ClientOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get connected(): boolean {
    return this.currentState.kind === "connected";
  }

  /** The discovery record of the daemon we are (or were last) connected to. */
  get info(): DiscoveryInfo | undefined {
    const s = this.currentState;
    return s.kind === "connected" || s.kind === "connecting" ? s.info : undefined;
  }

  /** Start connecting (idempotent); reconnects until `stop()`. */
  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    this.loopDone = this.loop(this.abort.signal);
  }

  /** Close the connection and stop reconnecting. */
  async stop(): Promise<void> {
    const abort = this.abort;
    if (!abort) return;
    this.abort = undefined;
    abort.abort();
    this.wake?.abort();
    this.socket?.close(1000, "client stopping");
    await this.loopDone;
    this.setState({ kind: "stopped" });
  }

  /** Skip the backoff wait: try to connect now (e.g. after the user restarted the daemon). */
  reconnectNow(): void {
    this.wake?.abort();
  }

  /** Close the current socket; the loop reconnects (to a new daemon if one replaced it). */
  dropConnection(): void {
    this.socket?.close(1000, "client reconnecting");
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
    this.snapshotEmitter.dispose();
    this.notificationEmitter.dispose();
  }

  /** A JSON-RPC request; rejects with `RpcError` for an error response, `Error` when not connected. */
  request<M extends RequestMethod>(
    method: M,
    params: RequestMap[M]["params"],
    timeoutMs = this.options.requestTimeoutMs ?? 30_000,
  ): Promise<RequestMap[M]["result"]> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || (method !== "initialize" && !this.connected)) {
      return Promise.reject(new Error(`connector-watch daemon is not connected (${this.currentState.kind})`));
    }
    return this.send(socket, method, params, timeoutMs) as Promise<RequestMap[M]["result"]>;
  }

  // ------------------------------------------------------------------ connection loop
  private async loop(signal: AbortSignal): Promise<void> {
    let wait = this.backoff.initialMs;
    let startedDaemon = false;
    let everConnected = false;
    let absentSince: number | undefined;
    while (!signal.aborted) {
      let reason: string;
      try {
        this.setState({ kind: "searching" });
        let info = await readLiveDiscovery(this.options.workspace);
        if (info) absentSince = undefined;
        else absentSince ??= Date.now();
        // Start a daemon at most once per outage (one that dies at once is not respawned in a loop),
        // and after a disconnect only once the old one has stayed away for a grace period: a
        // daemon the user restarts from a terminal must not race a second one started by us.
        const grace = this.options.restartGraceMs ?? 2_000;
        if (
          !info &&
          this.options.startDaemon &&
          !startedDaemon &&
          (!everConnected || Date.now() - (absentSince ?? 0) >= grace)
        ) {
          startedDaemon = true;
          this.setState({ kind: "starting" });
          await this.options.startDaemon();
          info = await this.waitForDiscovery(this.options.startTimeoutMs ?? 60_000, signal);
          if (!info && !signal.aborted) throw new Error("the daemon did not start (see the connector-watch output)");
        }
        if (signal.aborted) break;
        if (!info) throw new Error("no connector-watch daemon is running for this workspace");
        const wasConnected = await this.connectOnce(info, signal);
        if (wasConnected) {
          everConnected = true;
          wait = this.backoff.initialMs;
          startedDaemon = false;
          absentSince = undefined;
        }
        reason = "the daemon closed the connection";
      } catch (error) {
        reason = (error as Error).message;
        this.log("debug", `connect failed: ${reason}`);
      }
      if (signal.aborted) break;
      this.setState({ kind: "waiting", retryInMs: wait, reason });
      this.wake = new AbortController();
      await delay(wait, signal, this.wake.signal);
      wait = Math.min(this.backoff.maxMs, Math.round(wait * this.backoff.factor));
    }
  }

  private async waitForDiscovery(timeoutMs: number, signal: AbortSignal): Promise<DiscoveryInfo | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!signal.aborted && Date.now() < deadline) {
      const info = await readLiveDiscovery(this.options.workspace);
      if (info) return info;
      await delay(100, signal);
    }
    return undefined;
  }

  /** Connect, initialize, and stay until the socket closes; true when `initialize` succeeded. */
  private connectOnce(info: DiscoveryInfo, signal: AbortSignal): Promise<boolean> {
    this.setState({ kind: "connecting", info });
    return new Promise<boolean>((resolve, reject) => {
      let initialized = false;
      const socket = new WebSocket(info.url, {
        headers: { Authorization: `Bearer ${info.token}` },
        maxPayload: 256 * 1024 * 1024,
        handshakeTimeout: 10_000,
      });
      this.socket = socket;
      const onAbort = () => socket.close(1000, "client stopping");
      signal.addEventListener("abort", onAbort, { once: true });
      socket.on("open", async () => {
        this.early = [];
        try {
          const result = (await this.send(socket, "initialize", {
            protocolVersion: PROTOCOL_VERSION,
            ...(this.options.clientInfo ? { clientInfo: this.options.clientInfo } : {}),
          }, 30_000)) as InitializeResult;
          initialized = true;
          this.lastSeq = result.snapshot.seq;
          this.resyncing = false;
          this.buffered = [];
          this.setState({ kind: "connected", info, result });
          this.snapshotEmitter.fire({ snapshot: result.snapshot, reason: "initialize" });
          const early = this.early;
          this.early = [];
          for (const n of early) this.onNotificationMessage(n); // the snapshot's seq drops what it holds
        } catch (error) {
          this.log("error", `initialize failed: ${(error as Error).message}`);
          socket.close(1000, "initialize failed");
        }
      });
      socket.on("message", (data) => this.onMessage(socket, data.toString()));
      socket.on("unexpected-response", (_request, response) => {
        // 401 (token), 421 (Host), 403 (Origin): say which, the daemon's reason is in the body.
        reject(new Error(`the daemon refused the connection: HTTP ${response.statusCode} ${response.statusMessage}`));
        socket.terminate();
      });
      socket.on("error", (error) => {
        if (!initialized) reject(error);
        else this.log("warning", `socket error: ${error.message}`);
      });
      socket.on("close", (code, why) => {
        signal.removeEventListener("abort", onAbort);
        if (this.socket === socket) this.socket = undefined;
        this.failPending(new Error(`connection closed (${code}${why.length ? `: ${why.toString()}` : ""})`));
        if (initialized) resolve(true);
        else reject(new Error(`connection closed before initialize (${code})`));
      });
    });
  }

  private send(socket: WebSocket, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from the daemon within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }), (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  private failPending(error: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.pending.delete(id);
    }
  }

  // ------------------------------------------------------------------ messages
  private onMessage(socket: WebSocket, raw: string): void {
    let message: any;
    try {
      message = JSON.parse(raw);
    } catch {
      this.log("error", `the daemon sent a message that is not JSON: ${raw.slice(0, 200)}`);
      return;
    }
    if (message && message.id !== undefined && message.id !== null && !("method" in message)) {
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      clearTimeout(p.timer);
      if (message.error) p.reject(new RpcError(message.error.code, `${p.method}: ${message.error.message}`, message.error.data));
      else p.resolve(message.result);
      return;
    }
    if (!message || typeof message.method !== "string" || !NOTIFICATIONS.has(message.method)) {
      if (message && typeof message.method === "string") this.log("debug", `ignoring unknown notification ${message.method}`);
      return;
    }
    if (socket !== this.socket) return;
    if (!this.connected) {
      this.early.push(message as AnyNotification);
      return;
    }
    this.onNotificationMessage(message as AnyNotification);
  }

  private onNotificationMessage(n: AnyNotification): void {
    if (n.method === "$/resync") {
      // The daemon dropped our backlog: everything before this snapshot is void.
      this.lastSeq = n.params.snapshot.seq;
      this.resyncing = false;
      this.buffered = [];
      this.snapshotEmitter.fire({ snapshot: n.params.snapshot, reason: "resync", detail: n.params.reason });
      return;
    }
    const seq = n.params.seq;
    if (this.resyncing) {
      this.buffered.push(n);
      return;
    }
    if (seq <= this.lastSeq) return; // already in the snapshot we hold
    if (seq > this.lastSeq + 1) {
      this.log("warning", `missed notifications ${this.lastSeq + 1}..${seq - 1}: fetching a fresh snapshot`);
      this.resyncing = true;
      this.buffered = [n];
      void this.fetchSnapshot(`missed notifications ${this.lastSeq + 1}..${seq - 1}`);
      return;
    }
    this.lastSeq = seq;
    this.notificationEmitter.fire(n);
  }

  private async fetchSnapshot(detail: string): Promise<void> {
    try {
      const snapshot = await this.request("snapshot", {});
      const buffered = this.buffered;
      this.buffered = [];
      this.resyncing = false;
      this.lastSeq = snapshot.seq;
      this.snapshotEmitter.fire({ snapshot, reason: "gap", detail });
      buffered.sort((a, b) => a.params.seq - b.params.seq);
      for (const n of buffered) this.onNotificationMessage(n);
    } catch (error) {
      this.log("error", `could not fetch a snapshot: ${(error as Error).message}; reconnecting`);
      this.resyncing = false;
      this.dropConnection();
    }
  }

  private setState(state: ConnectionState): void {
    this.currentState = state;
    this.stateEmitter.fire(state);
  }

  private log(level: "debug" | "info" | "warning" | "error", message: string): void {
    this.options.log?.(level, message);
  }
}
