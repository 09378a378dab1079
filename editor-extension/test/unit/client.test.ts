import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { afterEach, test } from "node:test";
import type { AnyNotification } from "../../src/generated/protocol";
import { ConnectionState, DaemonClient, RpcError, SnapshotEvent } from "../../src/protocol/client";
import { FakeDaemon, tempWorkspace, waitFor } from "../support/fakeDaemon";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: Partial<ConstructorParameters<typeof DaemonClient>[0]> = {}) {
  const workspace = tempWorkspace();
  const daemon = await new FakeDaemon(workspace).start();
  const client = new DaemonClient({ workspace, backoff: { initialMs: 20, maxMs: 100 }, ...options });
  const snapshots: SnapshotEvent[] = [];
  const notifications: AnyNotification[] = [];
  const states: ConnectionState["kind"][] = [];
  client.onSnapshot((s) => snapshots.push(s));
  client.onNotification((n) => notifications.push(n));
  client.onDidChangeState((s) => states.push(s.kind));
  cleanups.push(() => rmSync(workspace, { recursive: true, force: true }));
  cleanups.push(() => daemon.stop().catch(() => undefined));
  cleanups.push(() => client.stop());
  return { workspace, daemon, client, snapshots, notifications, states };
}

test("connects with the bearer token, initializes first, and hands out the snapshot", async () => {
  const { daemon, client, snapshots, states } = await setup({ clientInfo: { name: "test", version: "1" } });
  client.start();
  await waitFor(() => client.connected, "connected");
  assert.equal(daemon.received[0].method, "initialize");
  assert.deepEqual(daemon.received[0].params, { protocolVersion: "1.0", clientInfo: { name: "test", version: "1" } });
  assert.equal(daemon.received[0].authorization, "Bearer secret-token");
  assert.equal(snapshots.length, 1);
  assert.equal(snapshots[0].reason, "initialize");
  assert.equal(snapshots[0].snapshot.seq, 100);
  assert.deepEqual(states.slice(0, 3), ["searching", "connecting", "connected"]);
});

test("requests resolve with results and reject with the daemon's JSON-RPC errors", async () => {
  const { daemon, client } = await setup();
  daemon.handler = ((base) => (method: string, params: any) => {
    if (method === "run" && params.nodeIds) throw Object.assign(new Error("unknown node ID(s): ['x']"), { code: -32010 });
    return base(method, params);
  })(daemon.handler);
  client.start();
  await waitFor(() => client.connected, "connected");
  assert.deepEqual(await client.request("run", { all: true }), { accepted: true, nodeIds: [] });
  await assert.rejects(client.request("run", { nodeIds: ["x"] }), (e: RpcError) => e.code === -32010 && /unknown node/.test(e.message));
});

test("notifications in seq order; those already in the snapshot are dropped", async () => {
  const { daemon, client, notifications } = await setup();
  client.start();
  await waitFor(() => client.connected, "connected");
  daemon.notify("workspace/filesChanged", { paths: ["old"] }, 99); // before the snapshot (seq 100)
  daemon.notify("workspace/filesChanged", { paths: ["a"] }, 101);
  daemon.notify("workspace/filesChanged", { paths: ["b"] }, 102);
  await waitFor(() => notifications.length === 2, "two notifications");
  assert.deepEqual(notifications.map((n) => n.params.seq), [101, 102]);
});

test("a gap in seq fetches a fresh snapshot, then applies what is newer", async () => {
  const { daemon, client, notifications, snapshots } = await setup();
  client.start();
  await waitFor(() => client.connected, "connected");
  daemon.seq = 105; // the daemon's state moved on; the snapshot it now gives includes 101..105
  daemon.notify("workspace/filesChanged", { paths: ["lost-before"] }, 103);
  await waitFor(() => snapshots.length === 2, "a gap snapshot");
  assert.equal(snapshots[1].reason, "gap");
  assert.equal(snapshots[1].snapshot.seq, 105);
  assert.ok(daemon.received.some((r) => r.method === "snapshot"));
  assert.equal(notifications.length, 0, "103 is inside the new snapshot");
  daemon.notify("workspace/filesChanged", { paths: ["next"] }, 106);
  await waitFor(() => notifications.length === 1, "the next notification");
  assert.equal(notifications[0].params.seq, 106);
});

test("$/resync replaces the state with its snapshot", async () => {
  const { daemon, client, snapshots, notifications } = await setup();
  client.start();
  await waitFor(() => client.connected, "connected");
  const resync = { reason: "client fell 2000 messages behind", snapshot: { ...snapshots[0].snapshot, seq: 5000 } };
  daemon.notify("$/resync", resync, 5000);
  await waitFor(() => snapshots.length === 2, "resync");
  assert.equal(snapshots[1].reason, "resync");
  assert.equal(snapshots[1].detail, "client fell 2000 messages behind");
  daemon.notify("test/started", { runId: 1, nodeId: "x" }, 5001);
  await waitFor(() => notifications.length === 1, "a notification after the resync");
});

test("reconnects with backoff when the daemon restarts (new port, new token)", async () => {
  const { workspace, daemon, client, snapshots, states } = await setup();
  client.start();
  await waitFor(() => client.connected, "connected");
  await daemon.stop();
  await waitFor(() => !client.connected, "disconnected");
  await assert.rejects(client.request("snapshot", {}), /not connected/);
  await new Promise((r) => setTimeout(r, 150)); // a few failed attempts while no daemon runs
  const second = await new FakeDaemon(workspace, "another-token").start();
  cleanups.push(() => second.stop().catch(() => undefined));
  await waitFor(() => client.connected, "reconnected", 5_000);
  assert.equal(second.received[0].authorization, "Bearer another-token");
  assert.equal(snapshots.length, 2);
  assert.ok(states.includes("waiting"));
});

/** A client whose `startDaemon` starts a fake daemon in `workspace`; `starts()` counts the calls. */
function startingClient(workspace: string): { client: DaemonClient; starts: () => number } {
  let daemon: FakeDaemon | undefined;
  let starts = 0;
  const client = new DaemonClient({
    workspace,
    backoff: { initialMs: 20, maxMs: 50 },
    startDaemon: async () => {
      starts++;
      daemon = await new FakeDaemon(workspace).start();
    },
  });
  cleanups.push(() => daemon?.stop().catch(() => undefined));
  cleanups.push(() => client.stop());
  return { client, starts: () => starts };
}

test("no running daemon: startDaemon is called once, and the client connects to what it started", async () => {
  const workspace = tempWorkspace();
  cleanups.push(() => rmSync(workspace, { recursive: true, force: true }));
  const { client, starts } = startingClient(workspace);
  client.start();
  await waitFor(() => client.connected, "connected to the started daemon");
  assert.equal(starts(), 1);
});

test("a stale daemon.json (its pid is gone) counts as no daemon", async () => {
  const { daemon, client, states } = await setup();
  daemon.writeDiscovery(2 ** 22 + 12345); // no such process
  client.start();
  await waitFor(() => states.includes("waiting"), "waiting");
  assert.equal(client.connected, false);
  assert.equal(daemon.received.length, 0);
  daemon.writeDiscovery();
  client.reconnectNow();
  await waitFor(() => client.connected, "connected once the record is live");
});

test("a wrong token is reported as the daemon's refusal, and the client keeps retrying", async () => {
  const { daemon, client } = await setup();
  const reasons: string[] = [];
  client.onDidChangeState((s) => s.kind === "waiting" && reasons.push(s.reason));
  (daemon as { token: string }).token = "rotated";
  client.start();
  await waitFor(() => reasons.length >= 2, "two refused attempts");
  assert.match(reasons[0], /refused the connection: HTTP 401/);
});

test("a daemon.json whose pid is alive but whose port is closed is stale: the client starts a daemon", async () => {
  const workspace = tempWorkspace();
  cleanups.push(() => rmSync(workspace, { recursive: true, force: true }));
  const dead = await new FakeDaemon(workspace).start();
  await dead.stop(false); // the record stays, naming this (live) process and a port nobody listens on
  const { client, starts } = startingClient(workspace);
  client.start();
  await waitFor(() => client.connected, "connected to the daemon it started");
  assert.equal(starts(), 1);
});

test("a notification in the same read as the initialize answer is delivered, not dropped", async () => {
  const { daemon, client, notifications } = await setup();
  daemon.handler = ((base) => (method: string, params: any) => {
    const result = base(method, params);
    if (method === "initialize") {
      // Sent right behind the answer: both reach the client in one read.
      setImmediate(() => daemon.notify("run/finished", { runId: 1, counts: {}, cancelled: false, durationMs: 1 }, 101));
    }
    return result;
  })(daemon.handler);
  client.start();
  await waitFor(() => notifications.length === 1, "the notification right behind initialize");
  assert.equal(notifications[0].method, "run/finished");
  assert.equal(notifications[0].params.seq, 101);
});
