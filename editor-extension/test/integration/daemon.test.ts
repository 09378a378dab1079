// The protocol client, state, mappings and run mirror against a real `connector-watch serve`
// on a copy of the bundled examples: no fakes between the extension's code and the daemon.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { AnyNotification, Snapshot } from "../../src/generated/protocol";
import { mapFileDiagnostics } from "../../src/mapping/diagnostics";
import { findFix, fixRef, quickFixes } from "../../src/mapping/fixes";
import { DaemonClient, RpcError } from "../../src/protocol/client";
import { RunMirror, RunSink } from "../../src/runs";
import { DaemonState, FAILING } from "../../src/state";
import { applyEdits } from "../support/edits";
import { RealDaemon, copyExamples, editFile, removeWorkspace, waitUntil } from "../support/realDaemon";

const CORPUS = "simulator/specs/zendesk/corpus/tickets.json";
const SPEC = "simulator/specs/zendesk/endpoints.yaml";
const TICKETS = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]";
const TICKETS_MATCH = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_matches_corpus[tickets]";

let workspace: string;
let daemon: RealDaemon;
let client: DaemonClient;
const state = new DaemonState();
const notifications: AnyNotification[] = [];
const arrivals: number[] = []; // when each notification arrived (performance.now())
const snapshots: Snapshot[] = [];
let mirror: RunMirror;

before(async () => {
  workspace = copyExamples("cw-integration-");
  daemon = new RealDaemon(workspace);
  await daemon.start();
  client = new DaemonClient({ workspace, clientInfo: { name: "integration-test", version: "0" }, backoff: { initialMs: 100, maxMs: 500 } });
  mirror = new RunMirror(() => undefined);
  client.onSnapshot(({ snapshot }) => {
    snapshots.push(snapshot);
    state.applySnapshot(snapshot);
    mirror.reset("snapshot");
  });
  client.onNotification((n) => {
    notifications.push(n);
    arrivals.push(performance.now());
    state.apply(n);
    if (n.method === "run/started") mirror.runStarted(n.params);
    if (n.method === "test/started") mirror.testStarted(n.params.runId, n.params.nodeId);
    if (n.method === "test/finished") mirror.testFinished(n.params);
    if (n.method === "run/finished") mirror.runFinished(n.params);
  });
  client.start();
  await waitUntil(() => client.connected, "the client to connect", 30_000);
});

after(async () => {
  await client?.stop();
  await daemon?.stop();
  if (workspace) removeWorkspace(workspace);
});

/** Until the daemon is idle and every node has a result (the startup run is over). */
async function settled(what: string) {
  await waitUntil(() => !state.run && state.nodes.size > 0 && [...state.nodes.values()].every((n) => n.outcome), what, 120_000);
}

test("initialize: a snapshot of every example source; the startup run turns all nodes green", async () => {
  assert.ok(snapshots.length >= 1);
  assert.deepEqual([...state.sources].sort(), ["github", "hubspot", "msgraph", "zendesk"]);
  await settled("the startup run");
  const counts = state.counts();
  assert.equal(counts.failing, 0, `failing: ${state.failingNodes().map((n) => n.nodeId).join(", ")}`);
  assert.ok(counts.passed > 50, `${counts.passed} passed`);
  assert.ok(state.nodes.get(TICKETS), "the zendesk tickets node exists");
});

test("a broken corpus record: diagnostics at the record with corpus blame, linked to the connector; the fix clears them", async () => {
  await settled("idle before the edit");
  const from = notifications.length;
  editFile(workspace, CORPUS, '"id": 10551,', '"id": "not-a-number",');
  try {
    await waitUntil(() => state.nodes.get(TICKETS)?.outcome === "failed" && !state.run, "the tickets node to fail", 60_000);
    const node = state.nodes.get(TICKETS)!;
    const blamed = node.diagnostics!.find((d) => d.code === "corpus");
    assert.ok(blamed, `corpus blame on the node (got ${node.diagnostics!.map((d) => d.code)})`);
    assert.equal(blamed.data.path, CORPUS);
    assert.equal(blamed.range.start.line, 3, "the record's id line (zero-based)");
    const published = state.files.get(CORPUS);
    assert.ok(published, "the corpus file has diagnostics");
    const mapped = mapFileDiagnostics(published.diagnostics).filter((m) => m.origin === "run");
    assert.equal(mapped[0].severity, "error");
    assert.match(mapped[0].related[0].uri, /\/sources\/zendesk\/[^/]+\.py$/, "linked to the connector's schema");
    const runs = notifications.slice(from).filter((n) => n.method === "run/started");
    assert.ok(runs.some((n) => n.method === "run/started" && n.params.trigger === "save" && n.params.paths.includes(CORPUS)));
    assert.equal(state.counts().failing, 1, "only the node that reads the record fails");
  } finally {
    editFile(workspace, CORPUS, '"id": "not-a-number",', '"id": 10551,');
  }
  await waitUntil(() => state.nodes.get(TICKETS)?.outcome === "passed" && !state.run, "the node to pass again", 60_000);
  await waitUntil(() => !state.files.has(CORPUS), "the corpus diagnostics to clear", 10_000);
});

test("a broken spec key: spec blame at that key, related to the connector's request line", async () => {
  await settled("idle before the edit");
  const key = "  - path: /api/v2/incremental/tickets/cursor.json";
  editFile(workspace, SPEC, key, "  - path: /api/v2/incremental/tickets/cursors.json");
  try {
    await waitUntil(() => state.files.get(SPEC)?.diagnostics.some((d) => d.code === "spec") && !state.run, "spec diagnostics", 60_000);
    const d = state.files.get(SPEC)!.diagnostics.find((x) => x.code === "spec")!;
    assert.equal(d.range.start.line, 9, "the endpoint's `path:` line (zero-based)");
    assert.ok(d.relatedInformation.some((r) => /\/sources\/zendesk\/[^/]+\.py$/.test(r.location.uri)), "linked to the connector");
  } finally {
    editFile(workspace, SPEC, "  - path: /api/v2/incremental/tickets/cursors.json", key);
  }
  await waitUntil(() => !state.files.has(SPEC) && !state.run && state.counts().failing === 0, "the spec problem to clear", 60_000);
});

test("a broken records_key gets a verified fix; its edit, applied to the file on disk, turns the failing nodes green", async (t) => {
  await settled("idle before the edit");
  const from = notifications.length;
  const original = readFileSync(join(workspace, SPEC), "utf8");
  editFile(workspace, SPEC, "        records_key: tickets\n", "        records_key: ticket\n");
  try {
    const published = await waitUntil(() => {
      const file = state.files.get(SPEC);
      return file?.diagnostics.some((d) => d.data.fixes?.length) ? file : undefined;
    }, "a diagnostic with data.fixes on the spec", 60_000);
    // The red result first, the fix after it (the rerun on the daemon's private copy).
    const red = notifications.findIndex((n, i) => i >= from && n.method === "test/finished" && n.params.nodeId === TICKETS && n.params.outcome === "failed");
    const offered = notifications.findIndex((n, i) => i >= from && n.method === "textDocument/publishDiagnostics" && n.params.diagnostics.some((d) => d.data.fixes?.length));
    assert.ok(red >= 0 && offered > red, "the fix arrives after the red result");
    t.diagnostic(`verified fix offered ${Math.round(arrivals[offered] - arrivals[red])} ms after the red result`);
    const failing = state.failingNodes().map((n) => n.nodeId).sort();
    assert.deepEqual(failing, [TICKETS_MATCH, TICKETS].sort(), "the tickets tests fail");

    const withFix = published.diagnostics.find((d) => d.data.fixes?.length)!;
    assert.equal(withFix.code, "spec");
    assert.equal(withFix.range.start.line, 26, "on the records_key line (zero-based)");
    const fix = withFix.data.fixes![0];
    assert.match(fix.title, /records_key: tickets/);
    assert.ok(fix.verified.nodeIds.every((id) => failing.includes(id)), "verified on the failing nodes");
    assert.deepEqual(findFix(state, fixRef(withFix, 0)), fix, "the panel's reference finds it in the state");
    const [quickFix] = quickFixes(mapFileDiagnostics(published.diagnostics).map((m) => ({ fixes: m.fixes, item: m })));
    assert.ok(quickFix?.isPreferred, "offered as the preferred Quick Fix");
    assert.deepEqual(quickFix.edits.map((e) => e.path), [SPEC]);

    // Apply it as an editor would, save, and the daemon reruns: green, and the file is as it was.
    const text = readFileSync(join(workspace, SPEC), "utf8");
    writeFileSync(join(workspace, SPEC), applyEdits(text, quickFix.edits));
    assert.equal(readFileSync(join(workspace, SPEC), "utf8"), original);
    await waitUntil(
      () => failing.every((id) => state.nodes.get(id)?.outcome === "passed") && !state.run && !state.files.has(SPEC),
      "the failing nodes to pass with the fix applied",
      60_000,
    );
  } finally {
    writeFileSync(join(workspace, SPEC), original);
  }
  await waitUntil(() => !state.run && state.counts().failing === 0, "all green", 60_000);
});

test("run {nodeIds}: a claimed run reports exactly that node and resolves when it finishes", async () => {
  await settled("idle");
  const events: string[] = [];
  const sink: RunSink = {
    enqueued: (id) => events.push(`enqueued ${id}`),
    started: (id) => events.push(`started ${id}`),
    finished: (p) => events.push(`${p.outcome} ${p.nodeId}`),
    output: () => undefined,
    end: () => events.push("end"),
  };
  const claim = mirror.claim([TICKETS], sink);
  const result = await client.request("run", { nodeIds: [TICKETS] });
  assert.deepEqual(result, { accepted: true, nodeIds: [TICKETS] });
  await claim.done;
  assert.deepEqual(events, [`enqueued ${TICKETS}`, `started ${TICKETS}`, `passed ${TICKETS}`, "end"]);
});

test("errors: unknown node IDs and an unavailable mode are the daemon's JSON-RPC errors", async () => {
  await assert.rejects(client.request("run", { nodeIds: ["tests/nope.py::x"] }), (e: RpcError) => e.code === -32010);
  await assert.rejects(client.request("setMode", { mode: "record" }), (e: RpcError) => e.code === -32012);
  const impact = await client.request("impact", { paths: [CORPUS] });
  assert.ok(impact.nodes.some((n) => n.nodeId === TICKETS), "impact names the node that reads the corpus");
});

test("the daemon restarts: the client reconnects by itself and starts from a fresh snapshot", async () => {
  await settled("idle");
  const before = snapshots.length;
  await daemon.stop();
  await waitUntil(() => !client.connected, "the client to notice", 10_000);
  daemon = new RealDaemon(workspace);
  await daemon.start();
  await waitUntil(() => client.connected && snapshots.length > before, "the client to reconnect", 30_000);
  await settled("the new daemon's startup run");
  assert.ok(state.nodes.size > 50, "the new daemon's nodes arrive (snapshot, then nodes/changed and the run)");
  assert.equal([...state.nodes.values()].filter((n) => n.outcome && FAILING.has(n.outcome)).length, 0);
});
