// The manifest: every contributed command is implemented, yamlValidation points at the built schema,
// activation covers the workspaces the issue names.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { EXTENSION_ROOT, REPO_ROOT } from "../support/paths";

const manifest = JSON.parse(readFileSync(join(EXTENSION_ROOT, "package.json"), "utf8"));
const extensionSource = readFileSync(join(EXTENSION_ROOT, "src", "extension.ts"), "utf8");

test("every contributed command is registered by the extension", () => {
  const commands: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
  assert.ok(commands.length >= 10);
  for (const command of commands) assert.match(extensionSource, new RegExp(`registerCommand\\("${command.replace(".", "\\.")}"`), command);
});

test("yamlValidation ships the simulator's endpoints.yaml schema (copied at build time)", () => {
  const [entry] = manifest.contributes.yamlValidation;
  assert.ok(entry.fileMatch.includes("endpoints.yaml"));
  const built = join(EXTENSION_ROOT, entry.url);
  assert.ok(existsSync(built), `${entry.url} exists after npm run build`);
  assert.equal(readFileSync(built, "utf8"), readFileSync(join(REPO_ROOT, "simulator", "endpoints.schema.json"), "utf8"));
});

test("the panel in dist/ is the daemon's page, byte for byte", () => {
  for (const name of ["index.html", "panel.js", "panel.css"]) {
    assert.equal(
      readFileSync(join(EXTENSION_ROOT, "dist", "panel", name), "utf8"),
      readFileSync(join(REPO_ROOT, "daemon", "panel", name), "utf8"),
      `dist/panel/${name} is a copy of daemon/panel/${name}`,
    );
  }
});

test("activation: connector sources, endpoints.yaml files, or a running daemon", () => {
  assert.deepEqual(manifest.activationEvents.sort(), [
    "workspaceContains:**/endpoints.yaml",
    "workspaceContains:.connector-watch/daemon.json",
    "workspaceContains:sources/*/*.py",
  ]);
  assert.equal(manifest.main, "./dist/extension.js");
  assert.ok(existsSync(join(EXTENSION_ROOT, "dist", "extension.js")));
});

test("the merge command's default is the same in the manifest and the code", () => {
  const fromManifest = manifest.contributes.configuration.properties["connectorWatch.mergeCommand"].default;
  assert.equal(fromManifest, "${python} -m connector_watch.simulator.tools.merge_source ${source}");
  assert.ok(readFileSync(join(EXTENSION_ROOT, "src", "vscode", "workflow.ts"), "utf8").includes(JSON.stringify(fromManifest)));
});

test("the Debug profile's debug type is contributed, with breakpoints in Python files", () => {
  const [debuggerEntry] = manifest.contributes.debuggers;
  assert.equal(debuggerEntry.type, "connector-watch-debugpy");
  assert.ok(readFileSync(join(EXTENSION_ROOT, "src", "mapping", "debug.ts"), "utf8").includes(`"${debuggerEntry.type}"`));
  assert.deepEqual(manifest.contributes.breakpoints, [{ language: "python" }]);
});
