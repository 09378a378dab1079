// A real editor, end to end (issue 7): the packaged .vsix installed into code-server (real VS Code),
// driven by Debian's chromium through playwright-core. The extension starts the daemon by itself; the
// test only edits files on disk and looks at what a user sees: the status bar, the Test Explorer, the
// Problems panel, the Test Results view and the panel webview. Screenshots go to artifacts/.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import support from "../../out/test/support/realDaemon.js";
import { ARTIFACTS, REPO_ROOT, artifact, launchChromium } from "../support/browser.mjs";
import { CodeServer, VSIX, checkTools, killSync, onInterrupt, stopWorkspaceDaemon, sweep } from "../support/codeServer.mjs";

const { connectorWatchCommand, copyExamples, editFile, readDaemonInfo } = support;
const CORPUS = "simulator/specs/zendesk/corpus/tickets.json";
const SPEC = "simulator/specs/zendesk/endpoints.yaml";
const SPEC_KEY = "  - path: /api/v2/incremental/tickets/cursor.json";
const SPEC_KEY_BROKEN = "  - path: /api/v2/incremental/tickets/cursors.json";
const RECORDS_KEY = "        records_key: tickets\n";
const RECORDS_KEY_BROKEN = "        records_key: ticket\n";
const FIX_TITLE = "Verified fix: change `records_key: ticket` back to `records_key: tickets`";
const STATUS = '[id="connector-watch.connector-watch.connectorWatch.status"]';
const CONNECTOR = "sources/zendesk/zendesk.py";
const HARNESS = join(REPO_ROOT, "tests", "unit", "sources", "test_suite.py");
/** One-based line of the first line of `file` matching `pattern`. */
const lineOf = (file, pattern) => readFileSync(file, "utf8").split("\n").findIndex((l) => pattern.test(l)) + 1;

let root, workspace, codeServer, browser, page, disarm, panelFrame; // eslint-disable-line no-unused-vars
let shot = 0;

before(async () => {
  checkTools();
  // Screenshots are numbered per run: drop an earlier run's, so artifacts/ shows this run only.
  for (const name of existsSync(ARTIFACTS) ? readdirSync(ARTIFACTS) : []) {
    if (/^e2e-.*\.png$/.test(name)) rmSync(join(ARTIFACTS, name));
  }
  root = mkdtempSync(join(tmpdir(), "cw-e2e-"));
  workspace = copyExamples(`cw-e2e-ws-`);
  // If this process is interrupted (or dies) before `after` runs: kill code-server's group, the
  // daemon and anything else running from our directories, synchronously.
  disarm = onInterrupt(() => {
    const daemon = readDaemonInfo(workspace);
    killSync(root, [codeServer?.child?.pid, daemon?.pid].filter(Boolean));
    killSync(workspace);
  });
  // Like a connector author's checkout: the project's venv in the workspace, so the extension finds
  // .venv/bin/connector-watch by itself (no setting). Here it is the repo's venv, linked in.
  symlinkSync(dirname(dirname(connectorWatchCommand())), join(workspace, ".venv"));
  codeServer = new CodeServer(root, {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": false,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "workbench.tips.enabled": false,
    "chat.disableAIFeatures": true,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "testing.automaticallyOpenTestResults": "neverOpen",
    "testing.automaticallyOpenPeekView": "never",
    "files.autoSave": "off", // a Quick Fix is applied, then saved by the test (code-server saves by itself otherwise)
  });
  const installed = codeServer.installExtension(VSIX);
  assert.match(installed, /successfully installed/);
  const url = await codeServer.start(workspace);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(url);
  await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await codeServer?.stop();
  if (workspace) await stopWorkspaceDaemon(workspace);
  const leftovers = [...(root ? await sweep(root) : []), ...(workspace ? await sweep(workspace) : [])];
  if (workspace) rmSync(workspace, { recursive: true, force: true });
  if (root) rmSync(root, { recursive: true, force: true });
  disarm?.(); // cleaned up: the PIDs must not be signalled again (they could be reused)
  assert.deepEqual(leftovers, [], "every process the test started is gone");
});

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: artifact(`e2e-${String(shot).padStart(2, "0")}-${name}.png`) });
}

/** Run a step; on failure keep a screenshot of what the editor showed. */
async function step(name, body) {
  try {
    await body();
  } catch (error) {
    await page?.screenshot({ path: artifact(`e2e-FAILED-${name}.png`) }).catch(() => undefined);
    throw error;
  }
}

async function command(title) {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  try {
    await row.waitFor({ timeout: 10_000 });
  } catch {
    const offered = await page.locator(".quick-input-list .monaco-list-row").allTextContents();
    throw new Error(`no command "${title}" in the command palette (offered: ${JSON.stringify(offered)})`);
  }
  await page.keyboard.press("Enter");
}

/** The element is on screen in the webview as it is (nothing scrolled). */
async function visibleInFrame(frame, locator, what) {
  const { top, bottom, scrolled, height } = await locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, scrolled: window.scrollY, height: window.innerHeight };
  });
  assert.equal(scrolled, 0, "the webview is not scrolled");
  assert.ok(top >= 0 && bottom <= height, `${what} is visible without scrolling (${top}-${bottom} of ${height})`);
}

async function findPanelFrame() {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const f of page.frames()) {
      if (await f.$('#connection[data-state="connected"]').catch(() => null)) return f;
    }
    if (Date.now() > deadline) throw new Error("the panel webview did not connect within 30 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function statusText() {
  return (await page.locator(STATUS).textContent()).trim();
}

/** The Test Explorer's visible rows: tree level, label text, and the state VS Code announces. */
async function testExplorerRows() {
  return page.locator(".test-explorer .monaco-list-row[aria-level]").evaluateAll((rows) =>
    rows.map((r) => ({
      level: Number(r.getAttribute("aria-level")),
      label: r.querySelector(".label")?.firstChild?.textContent, // the item's label, without its description
      state: /\((Passed|Failed|Errored|Skipped|Queued|Running|Not yet run|Unset)\)/.exec(r.getAttribute("aria-label") || "")?.[1],
    })),
  );
}

/** The Test Explorer's result summary ("129/130 tests passed…"), as VS Code draws it above the tree. */
async function testSummary() {
  await command("Testing: Focus on Test Explorer View");
  const locator = page.locator(".result-summary-container .result-summary, .result-summary").first();
  await locator.waitFor({ timeout: 15_000 });
  // Its leaves: an icon, "107/108", the run's duration; keep them apart.
  return (await locator.evaluate((el) => [...el.querySelectorAll("*")].filter((e) => !e.children.length).map((e) => e.textContent.trim()).filter(Boolean))).join(" ");
}

/** Until the four sources are the tree's roots and all of them passed. */
async function allSourcesGreen(timeout) {
  await page.waitForFunction(
    () => {
      const roots = [...document.querySelectorAll('.test-explorer .monaco-list-row[aria-level="1"]')].map((r) => r.getAttribute("aria-label"));
      return roots.length === 4 && roots.every((l) => / \(Passed\)/.test(l));
    },
    undefined,
    { timeout },
  );
}

async function filterTests(text) {
  await command("Testing: Focus on Test Explorer View");
  const filter = page.locator(".testing-filter-action-item, .testing-filter").first();
  await filter.click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Backspace");
  if (text) await page.keyboard.type(text);
}

async function problems() {
  await command("View: Focus Problems");
  await page.locator(".markers-panel").waitFor();
  return page.locator(".markers-panel .monaco-list-row");
}

async function problemTexts() {
  const rows = await problems();
  return Promise.all((await rows.all()).map((r) => r.textContent()));
}

test("the extension starts the daemon by itself; the Test Explorer shows every node green", () =>
  step("green", async () => {
    await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 120_000 });
    const info = readDaemonInfo(workspace);
    assert.ok(info, "the extension started a daemon for the workspace (daemon.json)");
    const cmdline = readFileSync(`/proc/${info.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    assert.ok(cmdline.includes(join(workspace, ".venv", "bin", "connector-watch")), `started from the workspace's venv: ${cmdline.join(" ")}`);
    assert.deepEqual(cmdline.slice(-4), ["serve", "--workspace", workspace, "--quiet"]);
    await command("Testing: Focus on Test Explorer View");
    await allSourcesGreen(60_000);
    const roots = (await testExplorerRows()).filter((r) => r.level === 1);
    assert.deepEqual(roots.map((r) => [r.label, r.state]), [
      ["github", "Passed"], ["hubspot", "Passed"], ["msgraph", "Passed"], ["zendesk", "Passed"],
    ]);
    assert.match(await statusText(), /^connector-watch: \d+ passed$/);
    await screenshot("all-green");
  }));

test("running a source from the Test Explorer goes through the daemon; continuous run can be turned on", () =>
  step("run-from-explorer", async () => {
    await filterTests("");
    await allSourcesGreen(30_000);
    const zendesk = page.locator('.test-explorer .monaco-list-row[aria-level="1"]', { hasText: "zendesk" });
    await zendesk.hover();
    await zendesk.locator('.action-label[aria-label="Run Test"]').click();
    // The profile's run is named "connector-watch" (a daemon run nobody asked for would be "connector-watch #N (…)").
    await command("Focus on Test Results View");
    const run = page.locator(".monaco-list-row", { hasText: /^connector-watch$/ }).first();
    await run.waitFor({ timeout: 30_000 });
    await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 60_000 });
    await command("Testing: Focus on Test Explorer View");
    await allSourcesGreen(30_000);
    await zendesk.hover();
    const continuous = zendesk.locator('.action-label[aria-label="Turn on Continuous Run"]');
    await continuous.click();
    await zendesk.hover();
    await zendesk.locator('.action-label[aria-label="Turn off Continuous Run"]').waitFor({ timeout: 10_000 });
    await screenshot("run-from-explorer-continuous-on");
  }));

test("a broken corpus record: the Problems panel and the Test Explorer show the failure with corpus blame", () =>
  step("corpus", async () => {
    editFile(workspace, CORPUS, '"id": 10551,', '"id": "not-a-number",');
    await page.waitForSelector(`${STATUS}:has-text("1 failing")`, { timeout: 60_000 });

    // Problems: at the record (line 4), blamed on the corpus, linked to the connector's schema line.
    await problems();
    await page.waitForFunction(
      () => [...document.querySelectorAll(".markers-panel .monaco-list-row")].some((r) => r.textContent.includes("does not fit the connector's schema")),
      undefined,
      { timeout: 30_000 },
    );
    const texts = await problemTexts();
    const blamed = texts.find((t) => t.includes("corpus value 'not-a-number' of 'id' does not fit the connector's schema"));
    assert.ok(blamed, `a Problems entry for the failing test (got ${JSON.stringify(texts)})`);
    // The row reads "… connector-watch(corpus) [Ln 4, Col 11]" (the parentheses are drawn by CSS); once the causal reruns
    // name the edit that caused it, the range is that edit's (line 4 from its first column).
    assert.match(blamed, /connector-watch\(?corpus\)?\s*\[Ln 4, Col \d+\]/, "blamed on the corpus, at the record's line");
    assert.ok(
      texts.some((t) => /zendesk\S*\.py\s*\[Ln \d+, Col \d+\]:\s*the schema declares the type here/.test(t)),
      `related information links the connector's schema line (${JSON.stringify(texts)})`,
    );
    const ariaError = await (await problems()).filter({ hasText: "corpus value 'not-a-number'" }).first().getAttribute("aria-label");
    assert.match(ariaError, /^Error: /, "an error (the daemon is confident: confidence 0.8)");
    await screenshot("corpus-problems");

    // Test Explorer: the node fails (source → class → test → table).
    await filterTests("@failed");
    await page.waitForFunction(
      () => [...document.querySelectorAll('.test-explorer .monaco-list-row[aria-level="4"]')].some(
        (r) => r.textContent.startsWith("tickets") && / \(Failed\)/.test(r.getAttribute("aria-label")),
      ),
      undefined,
      { timeout: 30_000 },
    );
    const rows = await testExplorerRows();
    assert.deepEqual(
      rows.map((r) => [r.level, r.label, r.state]),
      [[1, "zendesk", "Failed"], [2, "TestZendeskConnector", "Failed"], [3, "test_read_table", "Failed"], [4, "tickets", "Failed"]],
      "source → test class → test → table, failed",
    );
    await screenshot("corpus-test-explorer");

    // The header counts the whole tree, not only the tests the save reran.
    const summary = await testSummary();
    const counted = /\b(\d+)\/(\d+)\b/.exec(summary); // "107/108": passed of all that ran or were carried over
    assert.ok(counted, `a summary of counts (${summary})`);
    assert.equal(Number(counted[2]) - Number(counted[1]), 1, `one test failing (${summary})`);
    assert.ok(Number(counted[2]) > 100, `the header counts every test, not the four a save reran (${summary})`);

    // "Go to Test" on an inherited test lands on the harness method; on a table, on its parametrisation.
    // (The table first: a click on its parent also folds the parent.)
    for (const [label, level, line] of [
      ["tickets", 4, lineOf(HARNESS, /^\s+def test_read_table\(/) - 1],
      ["test_read_table", 3, lineOf(HARNESS, /^\s+def test_read_table\(/)],
    ]) {
      await command("Testing: Focus on Test Explorer View");
      const row = page.locator(`.test-explorer .monaco-list-row[aria-level="${level}"]`, { hasText: label }).first();
      await row.click();
      await page.keyboard.press("Alt+Enter"); // "Go to Test" on the focused item
      await page.locator(".tabs-container .tab.active", { hasText: "test_suite.py" }).waitFor({ timeout: 15_000 });
      await page.locator(".statusbar-item", { hasText: `Ln ${line},` }).first().waitFor({ timeout: 15_000 });
    }
    assert.match(readFileSync(HARNESS, "utf8").split("\n")[lineOf(HARNESS, /^\s+def test_read_table\(/) - 2], /@for_tables\(/);
    await screenshot("corpus-go-to-test-harness");

    // Test Results: the failure's message carries the blame.
    await command("Focus on Test Results View");
    const result = page.locator(".monaco-list-row", { hasText: "corpus blame" }).first(); // under the item "tickets"
    await result.waitFor({ timeout: 30_000 });
    assert.match(await result.textContent(), /corpus blame \(confidence 80%\)/);
    await screenshot("corpus-test-results");
  }));

test("the panel renders in a webview: the node red with its corpus blame; a link opens the record", () =>
  step("panel", async () => {
    await command("connector-watch: Open Panel");
    const frame = await findPanelFrame();
    panelFrame = frame;
    const failing = frame.locator('#problems li.node-ref[data-status="failed"]', { hasText: "test_read_table[tickets]" });
    await failing.waitFor({ timeout: 30_000 });
    await visibleInFrame(frame, failing, "the failing test in the webview");
    const entry = frame.locator("#problems .problem").first();
    assert.equal(await entry.getAttribute("data-blame"), "corpus");
    assert.equal(await frame.locator('details.source[data-source="zendesk"]').getAttribute("data-status"), "failed");
    assert.match(await frame.locator("#summary").textContent(), /1 failing/);
    const actions = await frame.locator("a.cw-action").allTextContents();
    assert.deepEqual(actions, ["Reports…", "Mode…"], "the extension's header actions");
    await screenshot("panel-webview");

    await entry.locator('a.loc[data-path="simulator/specs/zendesk/corpus/tickets.json"]').first().click();
    await page.locator(".tabs-container .tab.active", { hasText: "tickets.json" }).waitFor({ timeout: 15_000 });
    await page.locator(".statusbar-item", { hasText: "Ln 4, Col " }).first().waitFor({ timeout: 15_000 });
    await screenshot("panel-link-opened-record");
  }));

test("fixing the record turns everything green again and clears the Problems entry", () =>
  step("corpus-fixed", async () => {
    editFile(workspace, CORPUS, '"id": "not-a-number",', '"id": 10551,');
    await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 60_000 });
    const rows = await problems();
    await page.waitForFunction(() => document.querySelectorAll(".markers-panel .monaco-list-row").length === 0, undefined, { timeout: 30_000 });
    assert.equal(await rows.count(), 0);
    await command("connector-watch: Open Panel");
    const frame = await findPanelFrame();
    await frame.locator('#problems .problem[data-severity="error"]').waitFor({ state: "detached", timeout: 30_000 });
    assert.equal(await frame.locator('details.source[data-status="failed"]').count(), 0);
    await screenshot("panel-webview-fixed");
    await filterTests("");
    await allSourcesGreen(30_000);
    await screenshot("test-explorer-fixed");
  }));

test("a connector that stops paging: the webview shows the diff; the Debug profile stops at a breakpoint in the connector", () =>
  step("connector-debug", async () => {
    const file = join(workspace, CONNECTOR);
    const original = readFileSync(file, "utf8");
    const broken = original.replace("            page += 1\n", "            return  # stop paging\n");
    assert.notEqual(broken, original);
    writeFileSync(file, broken);
    const line = broken.split("\n").findIndex((l) => l.includes("return  # stop paging")) + 1;
    try {
      await page.waitForSelector(`${STATUS}:has-text("failing")`, { timeout: 60_000 });

      // The panel: the newest root cause first, its expected-vs-actual diff on screen.
      await command("connector-watch: Open Panel");
      const frame = await findPanelFrame();
      const entry = frame.locator('#problems .problem[data-blame="connector"]').first();
      await entry.locator(".diff").waitFor({ timeout: 60_000 });
      assert.equal(await frame.locator("#problems .problem").first().getAttribute("data-blame"), "connector");
      await visibleInFrame(frame, entry.locator(".diff-head"), "the diff in the webview");
      assert.match(await entry.locator(".diff-line.del", { hasText: "groups[" }).first().textContent(), /^- groups\[\d+\] key \d+: returned$/);
      await screenshot("connector-panel-webview-diff");

      // A breakpoint on the line that stops paging, then Debug on the failing test's table.
      // The panel's link opens the connector (at the blamed range); then to the line that stops paging.
      await entry.locator(`a.loc[data-path="${CONNECTOR}"]`).first().click();
      await page.locator(".tabs-container .tab.active", { hasText: "zendesk.py" }).waitFor({ timeout: 15_000 });
      await command("Go to Line/Column");
      await page.keyboard.type(String(line));
      await page.keyboard.press("Enter");
      await page.locator(".statusbar-item", { hasText: `Ln ${line},` }).first().waitFor({ timeout: 15_000 });
      await command("Debug: Toggle Breakpoint");
      await page.locator(".monaco-editor .codicon-debug-breakpoint").first().waitFor({ timeout: 10_000 });

      // The failing node: test_read_matches_corpus → groups (test_read_table[groups] passes).
      await filterTests("");
      const matches = page.locator('.test-explorer .monaco-list-row[aria-level="3"]', { hasText: "test_read_matches_corpus" }).first();
      await matches.waitFor({ timeout: 30_000 });
      if ((await matches.getAttribute("aria-expanded")) !== "true") {
        await matches.click();
        await page.keyboard.press("ArrowRight");
        await page.waitForFunction(
          () => [...document.querySelectorAll('.test-explorer .monaco-list-row[aria-level="3"]')].some(
            (r) => r.textContent.startsWith("test_read_matches_corpus") && r.getAttribute("aria-expanded") === "true"),
          undefined,
          { timeout: 10_000 },
        );
      }
      const rows = await testExplorerRows();
      const parent = rows.findIndex((r) => r.level === 3 && r.label === "test_read_matches_corpus");
      const index = rows.findIndex((r, i) => i > parent && r.level === 4 && r.label === "groups");
      assert.ok(parent >= 0 && index > parent && rows.slice(parent + 1, index).every((r) => r.level === 4), JSON.stringify(rows));
      assert.equal(rows[index].state, "Failed");
      const groups = page.locator(".test-explorer .monaco-list-row[aria-level]").nth(index);
      await groups.hover();
      await groups.locator('.action-label[aria-label="Debug Test"]').click();
      // Stopped: the debug toolbar is up and the editor marks the breakpoint's line as the current frame.
      await page.locator(".debug-toolbar").waitFor({ timeout: 60_000 });
      await page.locator(".monaco-editor .debug-top-stack-frame-line").first().waitFor({ timeout: 60_000 });
      await page.locator(".tabs-container .tab.active", { hasText: "zendesk.py" }).waitFor({ timeout: 15_000 });
      await page.locator(".statusbar-item", { hasText: `Ln ${line},` }).first().waitFor({ timeout: 15_000 });
      await page.getByText("Paused on breakpoint").first().waitFor({ timeout: 15_000 });
      await page.locator(".monaco-list-row", { hasText: "_read_groups" }).first().waitFor({ timeout: 15_000 });
      await screenshot("connector-debug-stopped-at-breakpoint");
      await page.locator(".repl, .debug-console", { hasText: "test_read_matches_corpus[groups]" }).first().waitFor({ timeout: 15_000 });

      // Let it finish: the debugged run reports the test failed.
      await command("Remove All Breakpoints");
      await command("Debug: Continue");
      await page.locator(".debug-toolbar").waitFor({ state: "hidden", timeout: 60_000 });
      await command("Testing: Focus on Test Explorer View");
      await page.waitForFunction(
        () => [...document.querySelectorAll('.test-explorer .monaco-list-row[aria-level="4"]')].some(
          (r) => r.textContent.startsWith("groups") && / \(Failed\)/.test(r.getAttribute("aria-label") || ""),
        ),
        undefined,
        { timeout: 30_000 },
      );
      await screenshot("connector-debug-finished");
    } finally {
      writeFileSync(file, original);
    }
    await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 90_000 });
  }));

test("a broken spec key: a Problems entry at that key with spec blame and a link to the connector line; the fix clears it", () =>
  step("spec", async () => {
    editFile(workspace, SPEC, SPEC_KEY, SPEC_KEY_BROKEN);
    try {
      await page.waitForSelector(`${STATUS}:has-text("failing")`, { timeout: 60_000 });
      await problems();
      await page.waitForFunction(
        () => [...document.querySelectorAll(".markers-panel .monaco-list-row")].some((r) => /connector-watch\(?spec/.test(r.textContent)),
        undefined,
        { timeout: 30_000 },
      );
      const texts = await problemTexts();
      const entry = texts.find((t) => /connector-watch\(?spec/.test(t));
      assert.match(entry, /GET \/api\/v2\/incremental\/tickets\/cursor\.json/);
      assert.match(entry, /connector-watch\(?spec\)?\s*\[Ln 10, Col 1\]/, "spec blame at the endpoint's path key (line 10)");
      assert.ok(texts.some((t) => /zendesk\.py\s*\[Ln \d+, Col \d+\]/.test(t)), `linked to the connector line (${JSON.stringify(texts)})`);
      await screenshot("spec-problems");
    } finally {
      editFile(workspace, SPEC, SPEC_KEY_BROKEN, SPEC_KEY);
    }
    await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelectorAll(".markers-panel .monaco-list-row").length === 0, undefined, { timeout: 30_000 });
    await filterTests("");
    await allSourcesGreen(30_000);
    await screenshot("spec-fixed-green");
  }));

/** Ctrl+. in the focused editor until the Quick Fix menu offers `title` (the daemon attaches a fix
 *  some hundreds of milliseconds after the red result); the menu is left open on it. */
async function quickFixMenu(title, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.keyboard.press("Control+.");
    const row = page.locator(".action-widget .monaco-list-row", { hasText: title }).first();
    try {
      await row.waitFor({ timeout: 3_000 });
      return row;
    } catch {
      const offered = await page.locator(".action-widget .monaco-list-row").allTextContents();
      if (Date.now() > deadline) throw new Error(`no Quick Fix "${title}" (offered: ${JSON.stringify(offered)})`);
      await page.keyboard.press("Escape");
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Until the status bar, the Problems panel and the Test Explorer are all green again. */
async function allGreenAgain() {
  await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 60_000 });
  await problems();
  await page.waitForFunction(() => document.querySelectorAll(".markers-panel .monaco-list-row").length === 0, undefined, { timeout: 30_000 });
  await filterTests("");
  await allSourcesGreen(30_000);
}

test("a broken records_key: the verified fix is a Quick Fix on the broken line; applied and saved, the tests go green", () =>
  step("quick-fix", async () => {
    const file = join(workspace, SPEC);
    const original = readFileSync(file, "utf8");
    const line = original.split("\n").indexOf(RECORDS_KEY.trimEnd()) + 1;
    assert.ok(line > 0);
    editFile(workspace, SPEC, RECORDS_KEY, RECORDS_KEY_BROKEN);
    try {
      await page.waitForSelector(`${STATUS}:has-text("2 failing")`, { timeout: 60_000 });
      // Open the spec from its Problems entry (the cursor lands on the broken line), then go to the
      // line's end, as a user reading it would.
      await problems();
      const entry = page.locator(".markers-panel .monaco-list-row", { hasText: `[Ln ${line}, Col 1]` }).first();
      await entry.waitFor({ timeout: 30_000 });
      await entry.dblclick();
      await page.locator(".tabs-container .tab.active", { hasText: "endpoints.yaml" }).waitFor({ timeout: 15_000 });
      // (The entry selects the diagnostic's range, the whole line; End leaves the cursor at its end.)
      await page.locator(".statusbar-item", { hasText: `Ln ${line}, Col ` }).first().waitFor({ timeout: 15_000 });
      await page.locator(".monaco-editor.focused").waitFor({ timeout: 10_000 });
      await page.keyboard.press("End");
      const cursor = new RegExp(`^\\s*Ln ${line}, Col ${RECORDS_KEY_BROKEN.length}\\s*$`); // no selection
      await page.locator(".statusbar-item", { hasText: cursor }).first().waitFor({ timeout: 15_000 });

      const row = await quickFixMenu(FIX_TITLE);
      assert.match(await row.textContent(), /\(1 test\(s\) pass with it applied \(rerun on a private copy, \d+ ms\)\)/, "says what ran");
      const offered = await page.locator(".action-widget .monaco-list-row").allTextContents();
      assert.equal(offered.filter((t) => t.includes("Verified fix")).length, 1, `one verified fix for the two failing tests (${JSON.stringify(offered)})`);
      await screenshot("quick-fix-offered");

      await row.click();
      await row.waitFor({ state: "detached", timeout: 10_000 });
      // Applied in the editor (unsaved): the line reads as before, and nothing is written yet.
      await page.locator(".tabs-container .tab.active.dirty", { hasText: "endpoints.yaml" }).waitFor({ timeout: 10_000 });
      assert.equal(readFileSync(file, "utf8"), original.replace(RECORDS_KEY, RECORDS_KEY_BROKEN), "the editor applies the edit; the daemon never writes the file");
      // Until it is saved the buffer is not what the fix was verified against: the action is disabled
      // (VS Code leaves disabled Quick Fixes out of the Ctrl+. menu).
      await page.keyboard.press("Control+.");
      await page.getByText("No code actions available").first().waitFor({ timeout: 10_000 });
      await page.keyboard.press("Escape");
      await page.locator(".monaco-editor.focused").waitFor({ timeout: 10_000 });
      await page.keyboard.press("Control+s");
      await page.locator(".tabs-container .tab.active.dirty").waitFor({ state: "detached", timeout: 10_000 });
      assert.equal(readFileSync(file, "utf8"), original, "saved: the spec is as it was");
      await allGreenAgain();
      await screenshot("quick-fix-applied-green");
    } finally {
      writeFileSync(file, original);
    }
  }));

test("the panel's Apply button applies the verified fix (the extension looks it up) and saves: the tests go green", () =>
  step("panel-apply", async () => {
    const file = join(workspace, SPEC);
    const original = readFileSync(file, "utf8");
    editFile(workspace, SPEC, RECORDS_KEY, RECORDS_KEY_BROKEN);
    try {
      await page.waitForSelector(`${STATUS}:has-text("2 failing")`, { timeout: 60_000 });
      await command("connector-watch: Open Panel");
      const frame = await findPanelFrame();
      const fix = frame.locator("#problems li.verified-fix", { has: frame.locator("button.apply") }).first();
      await fix.waitFor({ timeout: 60_000 });
      assert.equal(await fix.locator(".fix-title").textContent(), "change `records_key: ticket` back to `records_key: tickets`");
      assert.equal(await fix.locator("xpath=ancestor::article[1]").getAttribute("data-blame"), "spec");
      assert.equal(await fix.locator(".fix-edits").count(), 0, "in VS Code the button, not the text to copy");
      await fix.evaluate((element) => element.scrollIntoView({ block: "nearest" })); // one step: a revision may re-render it
      await screenshot("panel-webview-verified-fix");
      await fix.locator("button.apply").click();
      await page.waitForSelector(`${STATUS}:has-text("passed")`, { timeout: 60_000 });
      assert.equal(readFileSync(file, "utf8"), original, "applied and saved by the extension");
      await frame.locator("#problems li.verified-fix").waitFor({ state: "detached", timeout: 30_000 });
      await screenshot("panel-webview-fix-applied");
      await allGreenAgain();
    } finally {
      writeFileSync(file, original);
    }
  }));

test("a workflow command runs in a terminal the user sees: merge a connector's source", () =>
  step("merge", async () => {
    const merged = join(workspace, "sources", "zendesk", "_generated_zendesk_python_source.py");
    assert.equal(existsSync(merged), false);
    await command("connector-watch: Merge Connector Source…");
    const pick = page.locator(".quick-input-list .monaco-list-row", { hasText: "zendesk" }).first();
    await pick.waitFor({ timeout: 10_000 });
    await pick.click();
    const deadline = Date.now() + 60_000;
    while (!existsSync(merged)) {
      if (Date.now() > deadline) throw new Error("the merge command did not write its file within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.locator(".terminal-wrapper, .xterm").first().waitFor({ timeout: 15_000 });
    const tabs = await page.locator(".terminal-tabs-entry, .single-terminal-tab, .panel .composite.title").allTextContents();
    assert.ok(tabs.some((t) => t.includes("connector-watch")), `a terminal named connector-watch (${JSON.stringify(tabs)})`);
    await screenshot("merge-in-terminal");
  }));
