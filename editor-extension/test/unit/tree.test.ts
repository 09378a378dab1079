import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Node } from "../../src/generated/protocol";
import {
  ItemSpec,
  LineLocator,
  buildTree,
  leafNodeIds,
  resultKind,
  runParamsFor,
  sourceOf,
  testMessages,
} from "../../src/mapping/tests";
import { rebaser } from "../../src/mapping/diagnostics";
import { REPO_ROOT } from "../support/paths";
import { loadSession } from "../support/session";

/** A locator over the repo's real test files (what the adapter does through the file system). */
const repoLocator: LineLocator = {
  classLine(file, cls) {
    const i = readFileSync(join(REPO_ROOT, file), "utf8").split("\n").findIndex((l) => l.startsWith(`class ${cls}`));
    return i >= 0 ? i : undefined;
  },
  functionLine(file, name) {
    const i = readFileSync(join(REPO_ROOT, file), "utf8").split("\n").findIndex((l) => new RegExp(`^\\s*def ${name}\\(`).test(l));
    return i >= 0 ? i : undefined;
  },
};

function find(items: ItemSpec[], id: string): ItemSpec | undefined {
  for (const item of items) {
    if (item.id === id) return item;
    const found = find(item.children, id);
    if (found) return found;
  }
  return undefined;
}

test("the tree is source → test class → test → table, sorted, with every node once", () => {
  const nodes = loadSession().initialize.snapshot.nodes;
  const tree = buildTree(nodes, repoLocator);
  assert.deepEqual(tree.map((s) => s.id), ["source:zendesk"]);
  const [source] = tree;
  assert.equal(source.kind, "source");
  assert.deepEqual(source.children.map((c) => [c.kind, c.label]), [["class", "TestZendeskConnector"]]);
  const cls = source.children[0];
  assert.equal(cls.file, "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py");
  assert.equal(cls.line, repoLocator.classLine(cls.file!, "TestZendeskConnector"));
  const labels = cls.children.map((c) => c.label);
  assert.deepEqual(labels, [...labels].sort((a, b) => a.localeCompare(b)));
  const readTable = cls.children.find((c) => c.label === "test_read_table")!;
  assert.equal(readTable.kind, "function");
  assert.equal(readTable.nodeId, undefined, "a test's item stands for its tables");
  const tickets = readTable.children.find((c) => c.label === "tickets")!;
  assert.equal(tickets.kind, "test");
  assert.match(tickets.nodeId!, /::test_read_table\[tickets\]$/);
  const unparametrised = cls.children.find((c) => c.kind === "test");
  assert.ok(unparametrised && !unparametrised.label.includes("["), "a test without tables is a leaf under its class");
  assert.deepEqual(leafNodeIds(tree).sort(), nodes.map((n) => n.nodeId).sort());
  assert.deepEqual(leafNodeIds([readTable]).sort(), nodes.filter((n) => n.name === "test_read_table").map((n) => n.nodeId).sort());
});

test("items sit at their definitions: the harness method for an inherited test, the decorator for its table", () => {
  const nodes = loadSession().initialize.snapshot.nodes.filter((n) => n.name === "test_read_table");
  const harness = "/site-packages/connector_watch/tests/unit/sources/test_suite.py";
  const defined = nodes.map((n) => ({ ...n, definition: { path: harness, line: 419 }, parametrisation: { path: harness, line: 418 } }));
  const fn = buildTree(defined, repoLocator)[0].children[0].children[0];
  assert.deepEqual([fn.label, fn.file, fn.line], ["test_read_table", harness, 419], "Go to Test lands on the harness method");
  for (const table of fn.children) assert.deepEqual([table.file, table.line], [harness, 418], "a table at its parametrisation");
});

test("without the daemon's definitions an inherited test sits at its class line (Node.line points into the base class's file)", () => {
  const nodes = loadSession().initialize.snapshot.nodes;
  const inherited = nodes.find((n) => n.name === "test_read_table")!;
  const cls = repoLocator.classLine(inherited.file, inherited.testClass!);
  const tree = buildTree([inherited], repoLocator);
  assert.equal(find(tree, inherited.nodeId)!.line, cls);
  const own: LineLocator = { classLine: () => 3, functionLine: () => 17 };
  assert.equal(find(buildTree([inherited], own), inherited.nodeId)!.line, 17, "a definition in the node's own file wins");
});

test("a file that does not collect is an item with an error under its source", () => {
  const node: Node = {
    nodeId: "tests/unit/sources/github/test_github_lakeflow_connect.py", file: "tests/unit/sources/github/test_github_lakeflow_connect.py",
    testClass: null, name: null, table: null, source: null, line: null, outcome: "error", durationMs: 3, kind: "collection",
    message: "SyntaxError: invalid syntax",
  };
  const tree = buildTree([node], repoLocator);
  assert.equal(tree[0].id, "source:github");
  assert.equal(tree[0].children[0].kind, "collection");
  assert.equal(tree[0].children[0].error, "SyntaxError: invalid syntax");
  assert.equal(sourceOf(node), "github");
});

test("the narrowest run request for a selection", () => {
  const all = ["a::1", "a::2", "b::1"];
  const src = (id: string) => (id.startsWith("a") ? "github" : "zendesk");
  assert.deepEqual(runParamsFor(all, all, src), { all: true });
  assert.deepEqual(runParamsFor(["a::1", "a::2"], all, src), { source: "github" });
  assert.deepEqual(runParamsFor(["a::1"], all, src), { nodeIds: ["a::1"] });
  assert.deepEqual(runParamsFor(["a::1", "b::1"], all, src), { nodeIds: ["a::1", "b::1"] });
});

test("Spark nodes sit under their source's 'Spark read' item and run as their source's tests", () => {
  const nodes = loadSession().initialize.snapshot.nodes;
  const spark: Node = {
    nodeId: "spark::zendesk::tickets", file: "sources/zendesk/zendesk.py", testClass: null, name: "spark_read",
    table: "tickets", source: "zendesk", line: null, outcome: "passed", durationMs: 900, kind: "spark", message: null,
  };
  const tree = buildTree([...nodes, spark], repoLocator);
  const group = find(tree, "spark:zendesk")!;
  assert.equal(group.label, "Spark read");
  assert.deepEqual(group.children.map((c) => [c.label, c.nodeId]), [["spark_read[tickets]", "spark::zendesk::tickets"]]);
  const all = [...nodes.map((n) => n.nodeId), spark.nodeId];
  const src = (id: string) => (id.startsWith("spark::") || id.includes("/zendesk/") ? "zendesk" : "other");
  assert.deepEqual(runParamsFor([spark.nodeId], all, src), { all: true }, "all the requestable nodes are zendesk's here");
  assert.deepEqual(runParamsFor([spark.nodeId], [...all, "tests/unit/sources/github/t.py::T::x"], src), { source: "zendesk" });
  assert.deepEqual(runParamsFor([nodes[0].nodeId, spark.nodeId], all, src), { all: true });
  assert.ok(!runParamsFor([nodes[0].nodeId], [...all, "x"], src).hasOwnProperty("all"));
});

test("outcomes map onto VS Code's result states", () => {
  assert.equal(resultKind("passed"), "passed");
  assert.equal(resultKind("skipped"), "skipped");
  assert.equal(resultKind("failed"), "failed");
  for (const o of ["error", "timeout", "crashed"] as const) assert.equal(resultKind(o), "errored");
});

test("a failure's test message opens at the blamed location with blame, fix, related links and evidence", () => {
  const finished = loadSession().notifications.find((n) => n.method === "test/finished" && n.params.outcome === "failed")!;
  assert.equal(finished.method, "test/finished");
  if (finished.method !== "test/finished") return;
  const messages = testMessages(finished.params, rebaser("file:///tmp/ws", "file:///w"));
  assert.equal(messages.length, finished.params.diagnostics.length);
  const [m] = messages;
  assert.equal(m.location!.uri, "file:///w/simulator/specs/zendesk/corpus/tickets.json");
  assert.deepEqual(m.location!.range, finished.params.diagnostics[0].range);
  assert.equal(m.contextValue, "corpus");
  assert.match(m.markdown, /\*\*corpus\*\* blame \(confidence 80%\)/);
  assert.match(m.markdown, /\*fix:\* give 'id' a bigint value/);
  assert.match(m.markdown, /\[sources\/zendesk\/zendesk\.py:80\]\(file:\/\/\/w\/sources\/zendesk\/zendesk\.py#L80\)/);
  assert.match(m.markdown, /evidence:/);
  assert.equal(m.expected, undefined, "no diff for a parse failure");
  assert.deepEqual(testMessages({ ...finished.params, outcome: "passed" }, (u) => u), []);
});

test("a failure without diagnostics shows the daemon's failure text at the test", () => {
  const messages = testMessages(
    { outcome: "timeout", diagnostics: [], message: "timed out after 30 s" },
    (u) => u,
    { uri: "file:///w/t.py", range: { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } } },
  );
  assert.equal(messages.length, 1);
  assert.match(messages[0].markdown, /timed out after 30 s/);
  assert.equal(messages[0].location!.uri, "file:///w/t.py");
});

test("a ground-truth failure's diagnostics open VS Code's diff: selected corpus records vs. those returned", () => {
  const diagnostic = loadSession().notifications.flatMap((n) => (n.method === "test/finished" ? n.params.diagnostics : []))[0];
  const diff = {
    expected: "24 record(s) in the corpus that the requests selected\ntickets[5] key 10839: returned",
    actual: "0 record(s) returned by the connector\ntickets[5] key 10839: missing (page never requested)",
  };
  const withDiff = { ...diagnostic, data: { ...diagnostic.data, check: "ground_truth.never_requested", diff } };
  const messages = testMessages({ outcome: "failed", message: "read returned 0 record(s)", diagnostics: [withDiff, diagnostic] }, (u) => u);
  assert.equal(messages.length, 2);
  assert.equal(messages[0].expected, diff.expected);
  assert.equal(messages[0].actual, diff.actual);
  assert.equal(messages[1].expected, undefined, "a diagnostic without data.diff shows no diff");
  assert.equal(messages[1].actual, undefined);
});
