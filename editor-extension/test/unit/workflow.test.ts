import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  bootstrapCommand,
  connectorClassIn,
  mergeCommand,
  reportKind,
  reseedCommand,
  shellQuote,
  sourceOfCassette,
  testClassIn,
} from "../../src/mapping/workflow";
import { REPO_ROOT } from "../support/paths";

test("shell quoting", () => {
  assert.equal(shellQuote("simulator/specs/zendesk/corpus"), "simulator/specs/zendesk/corpus");
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), `'it'"'"'s'`);
});

test("the connector and test classes of the real examples", () => {
  assert.equal(connectorClassIn(readFileSync(join(REPO_ROOT, "sources/zendesk/zendesk.py"), "utf8")), "ZendeskLakeflowConnect");
  assert.equal(connectorClassIn(readFileSync(join(REPO_ROOT, "sources/github/github.py"), "utf8")), "GithubLakeflowConnect");
  assert.equal(
    testClassIn(readFileSync(join(REPO_ROOT, "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py"), "utf8")),
    "TestZendeskConnector",
  );
});

test("bootstrap runs corpus_from_schema with the test class's stand-in credentials", () => {
  const line = bootstrapCommand({
    python: "/w/.venv/bin/python", connectorModule: "sources.zendesk.zendesk", connectorClass: "ZendeskLakeflowConnect",
    testModule: "tests.unit.sources.zendesk.test_zendesk_lakeflow_connect", testClass: "TestZendeskConnector",
    output: "simulator/specs/zendesk/corpus", force: true,
  });
  assert.equal(
    line,
    "/w/.venv/bin/python -m connector_watch.simulator.tools.corpus_from_schema --connector sources.zendesk.zendesk:ZendeskLakeflowConnect" +
      ` --config "$(/w/.venv/bin/python -c 'import json; from tests.unit.sources.zendesk.test_zendesk_lakeflow_connect import TestZendeskConnector as T; print(json.dumps(getattr(T, "replay_config", {}) or {}))')"` +
      " --output simulator/specs/zendesk/corpus --records 5 --force",
  );
});

test("re-seed runs cassette_to_corpus; merge fills the template", () => {
  assert.equal(
    reseedCommand({ python: "python3", cassette: "tests/unit/sources/zendesk/cassettes/TestZendeskConnector.json", spec: "simulator/specs/zendesk/endpoints.yaml", output: "simulator/specs/zendesk/corpus", dryRun: true }),
    "python3 -m connector_watch.simulator.tools.cassette_to_corpus --cassette tests/unit/sources/zendesk/cassettes/TestZendeskConnector.json --spec simulator/specs/zendesk/endpoints.yaml --output simulator/specs/zendesk/corpus --dry-run",
  );
  assert.equal(
    mergeCommand("${python} tools/merge.py ${source} --root ${workspaceFolder}", { python: "/v/python", source: "zendesk", workspaceFolder: "/my ws" }),
    "/v/python tools/merge.py zendesk --root '/my ws'",
  );
});

test("cassettes and their reports", () => {
  assert.equal(sourceOfCassette("tests/unit/sources/zendesk/cassettes/TestZendeskConnector.json"), "zendesk");
  assert.equal(reportKind("x/cassettes/TestZendeskConnector.json.validation.json"), "validation");
  assert.equal(reportKind("x/cassettes/TestZendeskConnector.json.coverage.json"), "coverage");
  assert.equal(reportKind("x/cassettes/TestZendeskConnector.json"), undefined);
});
