import assert from "node:assert/strict";
import { test } from "node:test";
import type { Snapshot, TestFinishedParams } from "../../src/generated/protocol";
import { RunInfo, RunMirror, RunSink } from "../../src/runs";
import { loadSession } from "../support/session";

class FakeSink implements RunSink {
  events: string[] = [];
  ended = 0;
  constructor(readonly name: string) {}
  enqueued(id: string) { this.events.push(`enqueued ${id}`); }
  started(id: string) { this.events.push(`started ${id}`); }
  finished(p: TestFinishedParams) { this.events.push(`${p.outcome} ${p.nodeId}`); }
  output(text: string) { this.events.push(`output ${text.trim()}`); }
  end() { this.ended++; }
}

function replay(mirror: RunMirror) {
  for (const n of loadSession().notifications) {
    if (n.method === "run/started") mirror.runStarted(n.params);
    if (n.method === "test/started") mirror.testStarted(n.params.runId, n.params.nodeId);
    if (n.method === "test/finished") mirror.testFinished(n.params);
    if (n.method === "run/finished") mirror.runFinished(n.params);
  }
}

test("runs the daemon starts on save get a sink each, which sees the whole run and ends once", () => {
  const created: { run: RunInfo; sink: FakeSink }[] = [];
  const mirror = new RunMirror((run) => {
    const sink = new FakeSink(`run ${run.runId}`);
    created.push({ run, sink });
    return sink;
  });
  replay(mirror);
  assert.equal(created.length, 2, "two saves, two runs");
  assert.deepEqual(created.map((c) => c.run.trigger), ["save", "save"]);
  assert.deepEqual(created[0].run.paths, ["simulator/specs/zendesk/corpus/tickets.json"]);
  const first = created[0].sink;
  assert.equal(first.ended, 1);
  assert.ok(first.events[0].startsWith("output connector-watch run #"));
  assert.ok(first.events.some((e) => e.startsWith("failed ") && e.endsWith("test_read_table[tickets]")));
  assert.match(first.events.at(-1)!, /output run #\d+: 3 passed, 1 failing, 0 skipped/);
  assert.ok(created[1].sink.events.some((e) => e.startsWith("passed ") && e.endsWith("test_read_table[tickets]")));
  assert.equal(mirror.busy, false);
});

test("a claim takes the next run selecting its nodes and resolves when that run finishes", async () => {
  const auto: FakeSink[] = [];
  const mirror = new RunMirror(() => {
    const s = new FakeSink("auto");
    auto.push(s);
    return s;
  });
  const mine = new FakeSink("mine");
  const tickets = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]";
  const claim = mirror.claim([tickets], mine);
  let resolved = false;
  void claim.done.then(() => (resolved = true));
  assert.equal(mirror.busy, true);
  replay(mirror);
  await claim.done;
  assert.equal(resolved, true);
  assert.ok(mine.events.some((e) => e === `failed ${tickets}`), "the first run (which selects the node) went to the claim");
  assert.equal(mine.ended, 1);
  assert.equal(auto.length, 1, "the second run is nobody's claim: a sink of its own");
});

test("a released claim that never attached resolves at once; an unrelated run does not take it", async () => {
  const mirror = new RunMirror(() => new FakeSink("auto"));
  const mine = new FakeSink("mine");
  const claim = mirror.claim(["not::selected"], mine);
  replay(mirror);
  assert.deepEqual(mine.events, []);
  claim.release();
  await claim.done;
  assert.equal(mirror.busy, false);
});

test("a run in progress in a snapshot is mirrored from where it is; reset ends open runs", () => {
  const session = loadSession();
  const nodes = session.initialize.snapshot.nodes;
  const snapshot: Snapshot = {
    ...session.initialize.snapshot,
    run: {
      runId: 7, trigger: "save", paths: ["x"], nodes: nodes.slice(0, 3).map((n) => n.nodeId),
      finished: { [nodes[0].nodeId]: "passed" }, started: [nodes[0].nodeId, nodes[1].nodeId],
    },
  };
  const sinks: FakeSink[] = [];
  const mirror = new RunMirror(() => {
    const s = new FakeSink("snap");
    sinks.push(s);
    return s;
  });
  mirror.snapshotRun(snapshot);
  assert.equal(sinks.length, 1);
  const events = sinks[0].events;
  assert.ok(events.includes(`started ${nodes[1].nodeId}`));
  assert.ok(!events.includes(`started ${nodes[0].nodeId}`), "finished nodes are not restarted");
  assert.ok(events.includes(`passed ${nodes[0].nodeId}`));
  mirror.reset("gone");
  assert.equal(sinks[0].ended, 1);
  assert.match(events.at(-1)!, /interrupted: gone/);
});
