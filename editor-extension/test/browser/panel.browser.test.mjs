// The daemon's browser panel in a real headless Chromium (issues 6 and 15): start `connector-watch serve`
// on a copy of the examples, open the page it prints, break things on disk, and check what a person
// sees without scrolling: the failure pinned at the top (one entry per root cause, its tests under it),
// its expected-vs-actual diff, a link that shows the file around the range, filters, collapsible
// sources; then the fix; then a daemon restart, after which the page reconnects and resyncs by itself.
// Screenshots go to artifacts/ at the repo root.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import support from "../../out/test/support/realDaemon.js";
import { ARTIFACTS, artifact, launchChromium } from "../support/browser.mjs";
import { ansiToHtml } from "../support/ansi.mjs";

const { RealDaemon, copyExamples, editFile, removeWorkspace } = support;
const CORPUS = "simulator/specs/zendesk/corpus/tickets.json";
const CONNECTOR = "sources/zendesk/zendesk.py";
const SPEC = "simulator/specs/zendesk/endpoints.yaml";
const TICKETS = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]";
const GROUPS = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_matches_corpus[groups]";
const VIEWPORT = { width: 1280, height: 800 };
const node = (id) => `li.node[data-node-id="${id.replace(/"/g, '\\"')}"]`;
const nodeRef = (id) => `li.node-ref[data-node-id="${id.replace(/"/g, '\\"')}"]`;
const ref = (id) => `#problems ${nodeRef(id)}`;

let workspace, daemon, info, browser, page;
const consoleErrors = [];

before(async () => {
  workspace = copyExamples("cw-panel-");
  daemon = new RealDaemon(workspace);
  info = await daemon.start();
  browser = await launchChromium();
  // Clipboard permissions: the verified fix's "copy" button is checked by reading the clipboard back.
  page = await browser.newPage({ viewport: VIEWPORT, permissions: ["clipboard-read", "clipboard-write"] });
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && !/WebSocket connection/.test(m.text()) && consoleErrors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") && consoleErrors.push(`${r.status()} ${r.url()}`));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await daemon?.stop();
  if (workspace) removeWorkspace(workspace);
});

/** The element is on screen as the page is (nothing scrolled). */
async function visibleWithoutScrolling(locator, what) {
  const scrolled = await page.evaluate(() => window.scrollY);
  assert.equal(scrolled, 0, "the page is not scrolled");
  // Measured in one step in the page: a causal revision arriving meanwhile re-renders the entry
  // (boundingBox on the element it replaced would say "not rendered").
  const box = await locator
    .evaluate((element) => {
      const r = element.getBoundingClientRect();
      return r.width || r.height ? { y: r.y, height: r.height } : null;
    }, undefined, { timeout: 10_000 })
    .catch(() => null);
  assert.ok(box, `${what} is rendered`);
  assert.ok(box.y >= 0 && box.y + Math.min(box.height, 40) <= VIEWPORT.height, `${what} is visible without scrolling (top ${box.y})`);
}

test("the panel connects with the token from the URL fragment and removes it from the address bar", async () => {
  await page.goto(`${info.httpUrl}#token=${info.token}`);
  await page.waitForSelector('#connection[data-state="connected"]', { timeout: 30_000 });
  assert.equal(new URL(page.url()).hash, "", "the token is gone from the address bar");
  for (const source of ["github", "hubspot", "msgraph", "zendesk"]) {
    await page.waitForSelector(`details.source[data-source="${source}"]`, { state: "attached" });
  }
});

test("after the startup run every test is green and the sources are folded", async () => {
  await page.waitForFunction(
    () => {
      const nodes = [...document.querySelectorAll("li.node")];
      return nodes.length > 50 && nodes.every((n) => ["passed", "skipped"].includes(n.dataset.status));
    },
    undefined,
    { timeout: 120_000 },
  );
  assert.equal(await page.locator('details.source[data-status="failed"]').count(), 0);
  assert.equal(await page.locator("details.source[open]").count(), 0, "green sources are folded");
  assert.equal(await page.locator('.problem[data-severity="error"]').count(), 0);
  assert.match(await page.textContent("#summary"), /\d+ tests: \d+ passed, 0 failing/);
  await page.screenshot({ path: artifact("panel-browser-green.png") });
});

test("a broken corpus record: pinned at the top at once, one entry with its test, a link that shows the record", async () => {
  editFile(workspace, CORPUS, '"id": 10551,', '"id": "not-a-number",');
  const entry = page.locator("#problems .problem", { has: page.locator(nodeRef(TICKETS)) }).first();
  await page.locator(ref(TICKETS)).and(page.locator('[data-status="failed"]')).waitFor({ timeout: 60_000 });
  await page.waitForSelector("#run:not(:has-text('running'))");
  await visibleWithoutScrolling(page.locator(ref(TICKETS)), "the failing test");
  assert.equal(await page.locator(ref(TICKETS)).count(), 1, "one entry per root cause");
  assert.match(await entry.locator(".message").textContent(), /not-a-number/);
  assert.match(await entry.locator("ul.related").textContent(), /sources\/zendesk\/\S+\.py:\d+/);
  assert.equal(await page.locator('details.source[data-source="zendesk"]').getAttribute("data-status"), "failed");
  assert.equal(await page.locator('details.source[data-source="zendesk"][open]').count(), 1, "a failing source unfolds");
  assert.match(await page.locator('details.source[data-source="zendesk"] h2').textContent(), /1 failing/);
  const red = await page.locator(node(TICKETS)).locator(".name").evaluate((el) => getComputedStyle(el).color);
  assert.equal(red, "rgb(207, 34, 46)", "the test's name is drawn in the failure colour");
  // The static check's finding stays while the file is broken (it is not replaced by the run's).
  const corpusEntries = page.locator(`.problem`, { has: page.locator(`a.loc[data-path="${CORPUS}"][data-line="4"]`) });
  assert.ok((await corpusEntries.count()) >= 1, "the corpus record is named");
  await page.screenshot({ path: artifact("panel-browser-corpus-broken.png") });

  // The link shows the file around the range, read-only (no editor in a browser).
  await corpusEntries.first().locator(`a.loc[data-path="${CORPUS}"]`).first().click();
  const hit = page.locator("#excerpt-body .line.hit");
  await hit.first().waitFor({ timeout: 10_000 });
  assert.equal(await hit.first().getAttribute("data-line"), "4");
  assert.match(await hit.first().textContent(), /"id": "not-a-number"/);
  assert.equal(await page.locator("#excerpt-title").textContent(), `${CORPUS}:4`);
  assert.ok((await page.locator("#excerpt-body .line").count()) > 5, "lines around the record");
  await page.screenshot({ path: artifact("panel-browser-excerpt.png") });
  await page.keyboard.press("Escape");
  await page.locator("#excerpt").waitFor({ state: "hidden" });
});

test("filters: text, status, source and blame narrow the problems and the tests", async () => {
  const problems = () => page.locator("#problems .problem").count();
  await page.fill("#filter-text", "github");
  await page.locator("#problems .empty").waitFor();
  assert.equal(await problems(), 0);
  assert.deepEqual(await page.locator("details.source").evaluateAll((s) => s.map((x) => x.dataset.source)), ["github"]);
  await page.fill("#filter-text", "");
  await page.selectOption("#filter-blame", "spec");
  await page.locator("#problems .empty").waitFor();
  await page.selectOption("#filter-blame", "");
  await page.selectOption("#filter-status", "failing");
  await page.waitForFunction(() => document.querySelectorAll("li.node").length === 1);
  assert.equal(await page.locator(node(TICKETS)).count(), 1, "only the failing test is listed");
  await page.selectOption("#filter-status", "");
  await page.selectOption("#filter-source", "hubspot");
  await page.locator("#problems .empty").waitFor();
  await page.selectOption("#filter-source", "");
  await page.waitForFunction(() => document.querySelectorAll("li.node").length > 50);
});

test("a connector that stops paging: the newest problem comes first with its expected-vs-actual diff", async () => {
  const original = readFileSync(join(workspace, CONNECTOR), "utf8");
  editFile(workspace, CONNECTOR, "            page += 1\n", "            return\n");
  try {
    await page.locator(ref(GROUPS)).and(page.locator('[data-status="failed"]')).waitFor({ timeout: 60_000 });
    await page.waitForSelector("#run:not(:has-text('running'))");
    const first = page.locator("#problems .problem").first();
    assert.equal(await first.getAttribute("data-blame"), "connector", "the newest root cause is first");
    assert.equal(await first.locator(nodeRef(GROUPS)).count(), 1);
    await visibleWithoutScrolling(first.locator(".diff"), "the diff");
    assert.match(await first.locator(".diff-line.del", { hasText: "groups[" }).first().textContent(), /^- groups\[\d+\] key \d+: returned$/);
    assert.match(await first.locator(".diff-line.add").first().textContent(), /^\+ \d+ record\(s\) returned by the connector/);
    assert.match(await first.locator("a.loc").first().textContent(), /^sources\/zendesk\/zendesk\.py:\d+:\d+$/);
    await page.screenshot({ path: artifact("panel-browser-diff.png") });
  } finally {
    writeFileSync(join(workspace, CONNECTOR), original);
  }
  await page.locator(ref(GROUPS)).waitFor({ state: "detached", timeout: 60_000 });
});

test("fixing the record: the problems go, everything is green again", async () => {
  editFile(workspace, CORPUS, '"id": "not-a-number",', '"id": 10551,');
  await page.locator(node(TICKETS)).and(page.locator('[data-status="passed"]')).waitFor({ timeout: 60_000 });
  try {
    await page.waitForFunction(() => !document.querySelector('.problem[data-severity="error"]'), undefined, { timeout: 30_000 });
  } catch (error) {
    await page.screenshot({ path: artifact("panel-browser-FAILED-fixed.png"), fullPage: true });
    throw error;
  }
  assert.equal(await page.locator('details.source[data-status="failed"]').count(), 0);
  await page.screenshot({ path: artifact("panel-browser-fixed.png") });
});

test("a verified fix in a browser: the edit to make (file, range, new text) with a copy button, and who applies it", async () => {
  const original = readFileSync(join(workspace, SPEC), "utf8");
  editFile(workspace, SPEC, "        records_key: tickets\n", "        records_key: ticket\n");
  try {
    const fix = page.locator("#problems .problem li.verified-fix").first();
    await fix.waitFor({ timeout: 60_000 });
    await page.waitForSelector("#run:not(:has-text('running'))");
    assert.equal(await fix.locator("xpath=ancestor::article[1]").getAttribute("data-blame"), "spec");
    assert.match(await fix.locator(".fix-title").textContent(), /^change `records_key: ticket` back to `records_key: tickets`$/);
    assert.match(await fix.textContent(), /\(1 test\(s\) pass with it applied \(rerun on a private copy, \d+ ms\)\)/);
    assert.equal(await fix.locator("button.apply").count(), 0, "no Apply button: a browser has no editor");
    const edit = fix.locator(".fix-edit").first();
    assert.equal(await edit.getAttribute("data-path"), SPEC);
    assert.equal(await edit.getAttribute("data-range"), "27:1-28:1", "the records_key line, one-based, end exclusive");
    assert.match(await edit.locator(".fix-edit-head").textContent(), /^replace simulator\/specs\/zendesk\/endpoints\.yaml:27:1-28:1 with/);
    assert.equal(await edit.locator("pre.new-text").textContent(), "        records_key: tickets\n");
    assert.match(await fix.locator(".fix-how").textContent(), /An editor applies it: VS Code's Quick Fix/);
    // (the first entry may still wait for its own fix, below a diff). Resolved and scrolled in one
    // step in the page: a causal revision arriving meanwhile re-renders the entry.
    await edit.evaluate((element) => element.scrollIntoView({ block: "nearest" }));
    await page.screenshot({ path: artifact("panel-browser-verified-fix.png") });

    await edit.locator("button.copy").click();
    await edit.locator("button.copy", { hasText: "copied" }).waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "        records_key: tickets\n", "the new text is on the clipboard");

    // The link shows where it goes: the broken line.
    await edit.locator("a.loc").click();
    const hit = page.locator("#excerpt-body .line.hit");
    await hit.first().waitFor({ timeout: 10_000 });
    assert.equal(await hit.count(), 1, "one line replaced");
    assert.match(await hit.first().textContent(), /records_key: ticket$/);
    await page.keyboard.press("Escape");
    await page.evaluate(() => window.scrollTo(0, 0));
  } finally {
    writeFileSync(join(workspace, SPEC), original);
  }
  await page.waitForFunction(() => !document.querySelector('.problem[data-severity="error"]'), undefined, { timeout: 60_000 });
});

test("the daemon restarts: the page reconnects by itself and resyncs to what the new daemon knows", async () => {
  await daemon.stop();
  await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 15_000 });
  // While it is down, a record breaks: only a resync from the new daemon can show it.
  editFile(workspace, CORPUS, '"id": 10551,', '"id": "not-a-number",');
  try {
    const restarted = await daemon.start();
    assert.equal(restarted.port, info.port, "a restarted daemon comes back at the same address");
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 30_000 });
    await page.locator(ref(TICKETS)).and(page.locator('[data-status="failed"]')).waitFor({ timeout: 120_000 });
    await page.screenshot({ path: artifact("panel-browser-after-restart.png") });
  } finally {
    editFile(workspace, CORPUS, '"id": "not-a-number",', '"id": 10551,');
  }
  await page.locator(node(TICKETS)).and(page.locator('[data-status="passed"]')).waitFor({ timeout: 60_000 });
});

test("the page logged no errors", () => {
  assert.deepEqual(consoleErrors, []);
});

test("the terminal screen's 80×24 captures (from the Python suite) as pictures", async (t) => {
  const captures = readdirSync(ARTIFACTS).filter((name) => /^terminal-.*\.txt$/.test(name));
  if (!captures.length) {
    t.skip("no terminal captures in artifacts/: tests/daemon/test_terminal_pty.py writes them (make test runs it first)");
    return;
  }
  const terminal = await browser.newPage({ viewport: { width: 760, height: 520 } });
  try {
    for (const name of captures) {
      const html = ansiToHtml(readFileSync(join(ARTIFACTS, name), "utf8"), { title: name });
      await terminal.setContent(html);
      assert.equal(await terminal.locator("pre").evaluate((pre) => pre.textContent.split("\n").length), 24, "24 rows");
      await terminal.locator("pre").screenshot({ path: artifact(name.replace(/\.txt$/, ".png")) });
    }
  } finally {
    await terminal.close();
  }
});
