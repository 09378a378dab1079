// The workflow commands' command lines, run for real (bash, the repo's Python) in a copy of the examples:
// what the extension types into a terminal must work.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { bootstrapCommand, connectorClassIn, mergeCommand, testClassIn } from "../../src/mapping/workflow";
import { connectorWatchCommand, copyExamples, removeWorkspace } from "../support/realDaemon";

let workspace: string;
const python = join(dirname(connectorWatchCommand()), "python");

before(() => {
  workspace = copyExamples("cw-workflow-");
});
after(() => removeWorkspace(workspace));

function run(commandLine: string) {
  const result = spawnSync("bash", ["-c", commandLine], { cwd: workspace, encoding: "utf8", timeout: 120_000 });
  assert.equal(result.status, 0, `${commandLine}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

test("bootstrap: corpus_from_schema with the test class's stand-in credentials writes a corpus", () => {
  const connectorClass = connectorClassIn(readFileSync(join(workspace, "sources/zendesk/zendesk.py"), "utf8"))!;
  const testClass = testClassIn(readFileSync(join(workspace, "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py"), "utf8"));
  const output = "simulator/specs/zendesk/corpus-bootstrapped";
  const stdout = run(
    bootstrapCommand({
      python,
      connectorModule: "sources.zendesk.zendesk",
      connectorClass,
      testModule: "tests.unit.sources.zendesk.test_zendesk_lakeflow_connect",
      testClass,
      output,
      records: 3,
    }),
  );
  assert.match(stdout, /corpus files? written/);
  const files = readdirSync(join(workspace, output)).filter((f) => f.endsWith(".json"));
  assert.ok(files.includes("tickets.json"), `tickets.json among ${files}`);
  assert.equal(JSON.parse(readFileSync(join(workspace, output, "tickets.json"), "utf8")).length, 3);
});

test("merge: the default merge command writes the merged connector file", () => {
  const template = "${python} -m connector_watch.simulator.tools.merge_source ${source}";
  run(mergeCommand(template, { python, source: "zendesk", workspaceFolder: workspace }));
  assert.ok(existsSync(join(workspace, "sources/zendesk/_generated_zendesk_python_source.py")));
});
