// The protocol types are generated from the daemon's JSON Schema: never stale, never hand-written.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { NOTIFICATION_METHODS, PROTOCOL_VERSION, REQUEST_METHODS } from "../../src/generated/protocol";
import { EXTENSION_ROOT, SCHEMA_PATH } from "../support/paths";
import { methods, schemaErrors } from "../support/schema";
import { loadSession } from "../support/session";

test("src/generated/protocol.ts is what the schema generates (run `npm run gen` when this fails)", async () => {
  // A real dynamic import (tsc would turn `import()` into `require`, which cannot load an ES module).
  const importModule = new Function("specifier", "return import(specifier)") as (s: string) => Promise<any>;
  const generator = await importModule(pathToFileURL(join(EXTENSION_ROOT, "scripts", "gen-protocol.mjs")).href);
  const expected: string = await generator.generate();
  const current = readFileSync(join(EXTENSION_ROOT, "src", "generated", "protocol.ts"), "utf8");
  assert.equal(current, expected, "src/generated/protocol.ts is stale: run `npm run gen`");
});

test("`npm run gen:check` passes on the committed file", () => {
  const result = spawnSync(process.execPath, [join(EXTENSION_ROOT, "scripts", "gen-protocol.mjs"), "--check"], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /up to date/);
});

test("the generated method lists match the schema's x-methods and version", () => {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
  assert.equal(PROTOCOL_VERSION, schema["x-protocol-version"]);
  const requests = Object.entries(methods).filter(([, m]) => m.kind === "request").map(([n]) => n);
  const notifications = Object.entries(methods).filter(([, m]) => m.kind === "notification").map(([n]) => n);
  assert.deepEqual([...REQUEST_METHODS], requests);
  assert.deepEqual([...NOTIFICATION_METHODS], notifications);
});

test("the recorded daemon sessions (the unit tests' fixtures) conform to the schema", () => {
  for (const name of ["session-corpus-break.json", "session-spec-fix.json"]) {
    const session = loadSession(name);
    assert.deepEqual(schemaErrors("InitializeResult", session.initialize), [], name);
    assert.ok(session.notifications.length > 10);
    for (const n of session.notifications) {
      const def = methods[n.method];
      assert.ok(def, `${name}: unknown method ${n.method}`);
      assert.deepEqual(schemaErrors(def.params, n.params), [], `${name}: ${n.method} params`);
    }
  }
});
