// The Debug profile's launch configuration and how pytest's output becomes outcomes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEBUG_TYPE, debugLaunch, debugOutcomes } from "../../src/mapping/debug";

const A = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_matches_corpus[groups]";
const B = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_list_tables";

test("the nodes run under pytest in debugpy, in the daemon's mode, from the workspace", () => {
  const simulate = debugLaunch({ nodeIds: [A], root: "/w", python: "/w/.venv/bin/python", mode: "simulate", runKey: "k" });
  assert.equal(simulate.type, DEBUG_TYPE);
  assert.equal(simulate.module, "pytest");
  assert.deepEqual(simulate.args.slice(0, 2), [A, "-v"]);
  assert.deepEqual(simulate.python, ["/w/.venv/bin/python"]);
  assert.equal(simulate.cwd, "/w");
  assert.equal(simulate.env.CONNECTOR_TEST_MODE, undefined, "simulate is the harness's default");
  assert.equal(simulate.name, "Debug test_read_matches_corpus[groups] (simulate)");
  const replay = debugLaunch({ nodeIds: [A, B], root: "/w", python: "python3", mode: "replay", runKey: "k" });
  assert.equal(replay.env.CONNECTOR_TEST_MODE, "replay");
  assert.equal(replay.name, "Debug 2 tests (replay)");
});

test("outcomes come from pytest's verbose lines, failure text from its summary", () => {
  const output = [
    `${A} FAILED                    [ 50%]`,
    `${B} PASSED                    [100%]`,
    "=========================== short test summary info ============================",
    `FAILED ${A} - HarnessFailure: 12 corpus record(s) sit on pages the connector never requested`,
  ].join("\n");
  const outcomes = debugOutcomes(output, [A, B], 1);
  assert.deepEqual(outcomes.get(A), { outcome: "failed", message: "HarnessFailure: 12 corpus record(s) sit on pages the connector never requested" });
  assert.deepEqual(outcomes.get(B), { outcome: "passed" });
});

test("nodes pytest never names take the exit code's word", () => {
  assert.deepEqual(debugOutcomes("", [A], 0).get(A), { outcome: "passed" });
  assert.equal(debugOutcomes("", [A], 2).get(A)?.outcome, "error");
  assert.match(debugOutcomes("", [A], undefined).get(A)!.message!, /ended before pytest reported/);
});
