import assert from "node:assert/strict";
import { test } from "node:test";
import { DaemonState, statusView } from "../../src/state";
import { loadSession } from "../support/session";

const TICKETS = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]";
const CORPUS = "simulator/specs/zendesk/corpus/tickets.json";

function replayUntil(state: DaemonState, count: number) {
  const session = loadSession();
  for (const n of session.notifications.slice(0, count)) state.apply(n);
  return session;
}

test("a snapshot gives nodes, diagnostics, mode and sources", () => {
  const session = loadSession();
  const state = new DaemonState();
  state.applySnapshot(session.initialize.snapshot, session.initialize.capabilities.modes);
  assert.equal(state.nodes.size, session.initialize.snapshot.nodes.length);
  assert.equal(state.mode, "simulate");
  assert.deepEqual(state.modes, session.initialize.capabilities.modes);
  assert.ok(state.sources.includes("zendesk"));
  const c = state.counts();
  assert.equal(c.failing, 0);
  assert.equal(c.passed + c.skipped, c.total);
});

test("the corpus break: run/started queues, test/finished fails the node with corpus blame, run/finished clears the run", () => {
  const session = loadSession();
  const state = new DaemonState();
  state.applySnapshot(session.initialize.snapshot);
  const firstRunEnd = session.notifications.findIndex((n) => n.method === "run/finished");
  const runStart = session.notifications.findIndex((n) => n.method === "run/started");
  replayUntil(state, runStart + 1);
  assert.ok(state.run, "a run is in progress after run/started");
  assert.equal(state.nodes.get(TICKETS)?.queued, true);
  assert.equal(statusView("connected", state).kind, "running");
  for (const n of session.notifications.slice(runStart + 1, firstRunEnd + 1)) state.apply(n);
  assert.equal(state.run, null);
  const node = state.nodes.get(TICKETS)!;
  assert.equal(node.outcome, "failed");
  assert.equal(node.queued, false);
  assert.ok(node.diagnostics!.some((d) => d.code === "corpus" && d.data.path === CORPUS));
  assert.equal(state.counts().failing, 1);
  const status = statusView("connected", state);
  assert.equal(status.kind, "failing");
  assert.match(status.text, /1 failing/);
  assert.ok(state.files.get(CORPUS)!.diagnostics.length >= 1, "the corpus file has published diagnostics");
});

test("the fix: the node passes again and the corpus file's diagnostics are cleared (publish replaces)", () => {
  const session = loadSession();
  const state = new DaemonState();
  state.applySnapshot(session.initialize.snapshot);
  for (const n of session.notifications) state.apply(n);
  assert.equal(state.nodes.get(TICKETS)?.outcome, "passed");
  assert.equal(state.files.has(CORPUS), false);
  assert.equal(state.counts().failing, 0);
  assert.equal(statusView("connected", state).kind, "connected");
});

test("nodes/changed adds and removes nodes; an unknown failing file becomes a collection node", () => {
  const state = new DaemonState();
  state.applySnapshot(loadSession().initialize.snapshot);
  const before = state.nodes.size;
  const removed = [...state.nodes.keys()][0];
  state.apply({ method: "nodes/changed", params: { seq: 1, added: [], removed: [removed] } });
  assert.equal(state.nodes.size, before - 1);
  state.apply({
    method: "test/finished",
    params: {
      seq: 2, runId: 9, nodeId: "tests/unit/sources/zendesk/test_broken.py", outcome: "error", durationMs: 1,
      diagnostics: [], message: "SyntaxError: invalid syntax",
    },
  });
  const node = state.nodes.get("tests/unit/sources/zendesk/test_broken.py")!;
  assert.equal(node.kind, "collection");
  assert.equal(node.source, "zendesk");
  assert.equal(node.outcome, "error");
});

test("the status bar says disconnected / connecting / starting before a connection", () => {
  const state = new DaemonState();
  assert.match(statusView("waiting", state, "connection refused").text, /disconnected/);
  assert.match(statusView("waiting", state, "connection refused").tooltip, /connection refused/);
  assert.match(statusView("connecting", state).text, /connecting/);
  assert.equal(statusView("starting", state).kind, "starting");
  assert.match(statusView("connected", state).text, /connector-watch: connected$/, "no nodes yet: connected, not '0 passed'");
});

test("test/revised replaces a finished node's diagnostics with the causal verdict", () => {
  const session = loadSession();
  const state = new DaemonState();
  state.applySnapshot(session.initialize.snapshot);
  const firstRunEnd = session.notifications.findIndex((n) => n.method === "run/finished");
  for (const n of session.notifications.slice(0, firstRunEnd + 1)) state.apply(n);
  const before = state.nodes.get(TICKETS)!.diagnostics![0];
  const revised = {
    ...before,
    message: `${before.message} — caused by the corpus edit at ${CORPUS} line 4`,
    data: { ...before.data, causal: { status: "trigger" as const, base: "HEAD", triggers: [], trials: 1, note: "passes with it reverted" } },
  };
  assert.equal(state.apply({ method: "test/revised", params: { seq: 9999, runId: 2, nodeId: TICKETS, diagnostics: [revised] } }), true);
  assert.deepEqual(state.nodes.get(TICKETS)!.diagnostics, [revised]);
  assert.equal(state.nodes.get(TICKETS)!.outcome, "failed", "the outcome stays");
});
