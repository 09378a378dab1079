import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createHash } from "node:crypto";
import { fileInside, holds } from "../../src/util/inside";

const base = mkdtempSync(join(tmpdir(), "cw-inside-"));
after(() => rmSync(base, { recursive: true, force: true }));

test("a verified fix may only edit real files inside the workspace, symbolic links resolved", () => {
  const root = join(base, "ws");
  mkdirSync(join(root, "simulator", "specs", "x"), { recursive: true });
  writeFileSync(join(root, "simulator", "specs", "x", "endpoints.yaml"), "endpoints: []\n");
  writeFileSync(join(base, "secret.txt"), "outside\n");
  symlinkSync(join(base, "secret.txt"), join(root, "link-out.txt"));
  symlinkSync(join(root, "simulator"), join(root, "sim"));
  const ok = fileInside(root, "simulator/specs/x/endpoints.yaml");
  assert.deepEqual(ok, { file: realpathSync(join(root, "simulator", "specs", "x", "endpoints.yaml")) });
  assert.ok("file" in fileInside(root, "sim/specs/x/endpoints.yaml"), "a link that stays inside is fine");
  assert.match((fileInside(root, "link-out.txt") as { error: string }).error, /leads outside the workspace/);
  assert.match((fileInside(root, "../secret.txt") as { error: string }).error, /not a path inside the workspace/);
  assert.match((fileInside(root, join(base, "secret.txt")) as { error: string }).error, /not a path inside the workspace/);
  assert.match((fileInside(root, "simulator/specs/x/missing.yaml") as { error: string }).error, /does not exist/);
  assert.match((fileInside(root, "simulator/specs") as { error: string }).error, /is not a file/);
  assert.match((fileInside(join(base, "nope"), "a.yaml") as { error: string }).error, /workspace folder .* is not there/);
});

test("a fix applies only to the bytes it was verified against: a save since (the fix itself) stops it", () => {
  const file = join(base, "endpoints.yaml");
  writeFileSync(file, "records_key: ticket\n");
  const verifiedAgainst = createHash("sha256").update("records_key: ticket\n").digest("hex");
  assert.equal(holds(file, verifiedAgainst), true);
  writeFileSync(file, "records_key: tickets\n"); // applied and saved: offering it again would apply it twice
  assert.equal(holds(file, verifiedAgainst), false);
  assert.equal(holds(join(base, "gone.yaml"), verifiedAgainst), false);
});
