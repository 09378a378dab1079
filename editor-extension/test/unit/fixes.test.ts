// Verified fixes → Quick Fixes and the panel's fix references, against a recorded real session in
// which zendesk's `records_key: tickets` became `ticket` and the daemon verified the fix (see
// test/fixtures/record_session.py, scenario spec-fix).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Diagnostic, PublishDiagnosticsParams, VerifiedFix } from "../../src/generated/protocol";
import { mapFileDiagnostics } from "../../src/mapping/diagnostics";
import { findFix, fixEdits, fixRef, fixTitle, parseFixRef, quickFixes, workspaceRelative } from "../../src/mapping/fixes";
import { DaemonState } from "../../src/state";
import { applyEdits } from "../support/edits";
import { REPO_ROOT } from "../support/paths";
import { schemaErrors } from "../support/schema";
import { loadSession } from "../support/session";

const SPEC = "simulator/specs/zendesk/endpoints.yaml";
const session = loadSession("session-spec-fix.json");
const TABLE = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]";
const MATCHES = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_matches_corpus[tickets]";

/** Index of the spec's last publication before the restore (its run is the session's second). */
function lastFixedIndex(): number {
  const runs = session.notifications.flatMap((n, i) => (n.method === "run/started" ? [i] : []));
  assert.equal(runs.length, 2, "the break's run, then the restore's");
  let found = -1;
  session.notifications.slice(0, runs[1]).forEach((n, i) => {
    if (n.method === "textDocument/publishDiagnostics" && n.params.path === SPEC) found = i;
  });
  assert.ok(found >= 0, "the spec was published before the restore");
  return found;
}

function published(): PublishDiagnosticsParams {
  const n = session.notifications[lastFixedIndex()];
  assert.equal(n.method, "textDocument/publishDiagnostics");
  return n.params as PublishDiagnosticsParams;
}

function fixed(): Diagnostic[] {
  return published().diagnostics.filter((d) => d.data.fixes?.length);
}

const BROKEN = readFileSync(join(REPO_ROOT, SPEC), "utf8").replace("records_key: tickets\n", "records_key: ticket\n");

test("the recorded fixes are what the schema describes: verified, with workspace-relative edits", () => {
  const p = published();
  assert.deepEqual(schemaErrors("PublishDiagnosticsParams", p), []);
  assert.equal(p.path, SPEC);
  const ds = fixed();
  assert.ok(ds.length >= 2, "both failing tickets tests carry the fix");
  for (const d of ds) {
    const fix = d.data.fixes![0];
    assert.deepEqual(fix.verified.nodeIds.length, 1);
    assert.match(fix.verified.note, /pass with it applied/);
    assert.equal(fix.edits[0].path, SPEC);
  }
});

test("one Quick Fix for the two diagnostics the same edit fixes: preferred, titled with what ran, applying it restores the spec", () => {
  const mapped = mapFileDiagnostics(published().diagnostics);
  const entries = mapped.map((m, i) => ({ fixes: m.fixes, item: i }));
  const offered = quickFixes(entries);
  assert.equal(offered.length, 1, "the same edit is offered once");
  const q = offered[0];
  assert.equal(q.isPreferred, true);
  assert.match(q.title, /^Verified fix: change `records_key: ticket` back to `records_key: tickets` \(1 test\(s\) pass with it applied \(rerun on a private copy, \d+ ms\)\)$/);
  assert.deepEqual(q.diagnostics, mapped.flatMap((m, i) => (m.fixes.length ? [i] : [])), "it names every diagnostic it resolves");
  assert.equal(q.diagnostics.length, 2);
  assert.deepEqual([...q.nodeIds].sort(), [MATCHES, TABLE]);
  assert.deepEqual(q.edits.map((e) => [e.path, e.range.start.line]), [[SPEC, 26]]);
  assert.equal(applyEdits(BROKEN, q.edits), readFileSync(join(REPO_ROOT, SPEC), "utf8"), "the edit turns the broken spec back into the original");
});

test("a diagnostic without verified fixes offers none: the `fix` sentence never becomes an edit", () => {
  const d = published().diagnostics.find((x) => !x.data.fixes?.length)!;
  assert.ok(d, "the recorded set has a diagnostic without fixes");
  const sentence = { ...d, data: { ...d.data, fix: "change records_key back to tickets" } };
  assert.deepEqual(quickFixes(mapFileDiagnostics([sentence]).map((m) => ({ fixes: m.fixes, item: m }))), []);
});

test("fixes with different edits are offered in the daemon's order; only the first is preferred", () => {
  const base = fixed()[0].data.fixes![0];
  const other: VerifiedFix = { ...base, title: "another", edits: [{ ...base.edits[0], newText: "        records_key: results\n" }] };
  const offered = quickFixes([{ fixes: [base, other], item: "d" }]);
  assert.deepEqual(offered.map((q) => [q.title.startsWith(`Verified fix: ${base.title}`), q.isPreferred]), [[true, true], [false, false]]);
  assert.equal(offered[1].title, `Verified fix: another (${base.verified.note})`);
  assert.equal(fixTitle({ ...base, verified: { ...base.verified, note: "" } }), `Verified fix: ${base.title}`);
});

test("paths must stay inside the workspace: a fix naming anything else is never offered", () => {
  assert.equal(workspaceRelative("simulator/specs/x/endpoints.yaml"), "simulator/specs/x/endpoints.yaml");
  assert.equal(workspaceRelative("./sources//x.py"), "sources/x.py");
  assert.equal(workspaceRelative("sources/../tests/t.py"), "tests/t.py");
  for (const bad of ["/etc/passwd", "../outside.yaml", "a/../../outside", "..", ".", "", "file:///etc/passwd", "C:\\x", "a\\..\\..\\b", "a\0b", "dir/", 3]) {
    assert.equal(workspaceRelative(bad), undefined, JSON.stringify(bad));
  }
  const good = fixed()[0].data.fixes![0];
  const escaping: VerifiedFix = { ...good, title: "escape", edits: [{ ...good.edits[0], path: "../../etc/cron.d/x" }] };
  assert.match((fixEdits(escaping) as { error: string }).error, /not a path inside the workspace/);
  const inverted: VerifiedFix = { ...good, edits: [{ ...good.edits[0], range: { start: { line: 3, character: 0 }, end: { line: 2, character: 0 } } }] };
  assert.match((fixEdits(inverted) as { error: string }).error, /invalid range/);
  const offered = quickFixes([{ fixes: [escaping, inverted, good], item: 0 }]);
  assert.deepEqual(offered.map((q) => q.edits[0].path), [SPEC], "only the fix with a sound edit");
  assert.equal(offered[0].isPreferred, true);
});

test("the panel's reference names a fix the extension finds in its own state, and nothing else", () => {
  const state = new DaemonState();
  state.applySnapshot(session.initialize.snapshot);
  const last = lastFixedIndex();
  for (const n of session.notifications.slice(0, last + 1)) state.apply(n);
  const d = fixed()[0];
  const ref = fixRef(d, 0);
  assert.deepEqual(findFix(state, ref), d.data.fixes![0]);
  // What the webview posts goes through parseFixRef; edits it might add are dropped, never used.
  const posted = parseFixRef(JSON.parse(JSON.stringify({ ...ref, edits: [{ path: "/etc/passwd", newText: "x" }] })));
  assert.ok(posted && !("edits" in posted));
  assert.deepEqual(findFix(state, posted), d.data.fixes![0]);
  for (const wrong of [
    { ...ref, title: "something else" },
    { ...ref, index: 1 },
    { ...ref, nodeIds: [] },
    { ...ref, code: "corpus" as const },
    { ...ref, range: { ...ref.range, start: { line: 25, character: 0 } } },
    { ...ref, path: "simulator/specs/github/endpoints.yaml" },
  ]) {
    assert.equal(findFix(state, wrong), undefined, JSON.stringify(wrong));
  }
  for (const bad of [null, "x", { ...ref, path: "../x" }, { ...ref, index: -1 }, { ...ref, index: 0.5 }, { ...ref, nodeIds: [1] }, { ...ref, range: null }, { ...ref, title: undefined }]) {
    assert.equal(parseFixRef(bad), undefined, JSON.stringify(bad));
  }
  // Once the spec is restored the daemon withdraws the diagnostics: the fix is no longer there to apply.
  for (const n of session.notifications.slice(last + 1)) state.apply(n);
  assert.equal(findFix(state, ref), undefined);
});

test("a file's identical diagnostics are shown once with the fixes of all of them", () => {
  const d = fixed()[0];
  const fix = d.data.fixes![0];
  const other: VerifiedFix = { ...fix, title: "other", edits: [{ ...fix.edits[0], newText: "x\n" }] };
  const twin: Diagnostic = { ...d, data: { ...d.data, fixes: [fix, other] } };
  const mapped = mapFileDiagnostics([d, twin]);
  assert.equal(mapped.length, 1);
  assert.deepEqual(mapped[0].fixes.map((f) => f.title), [fix.title, "other"]);
});

test("each edit carries the digest of the file the daemon verified the fix against, when it says", () => {
  const base: VerifiedFix = {
    title: "change `records_key: ticket` back to `records_key: tickets`",
    edits: [{ path: SPEC, range: { start: { line: 26, character: 0 }, end: { line: 27, character: 0 } }, newText: "        records_key: tickets\n" }],
    verified: { nodeIds: [TABLE], note: "1 test(s) pass with it applied" },
  };
  const without = fixEdits(base);
  assert.ok("edits" in without);
  assert.equal(without.edits[0].against, undefined);
  const digest = "ab".repeat(32);
  const withDigest = fixEdits({ ...base, verified: { ...base.verified, against: { [SPEC]: digest } } });
  assert.ok("edits" in withDigest);
  assert.equal(withDigest.edits[0].against, digest);
});
