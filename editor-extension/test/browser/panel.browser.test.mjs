// The daemon's browser panel in a real headless Chromium (issue 6): start `connector-watch serve` on a
// copy of the examples, open the page it prints, break a corpus record on disk, and assert the page
// turns that node red with the corpus blame; then fix it and watch it turn green. Screenshots go to
// artifacts/ at the repo root.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import support from "../../out/test/support/realDaemon.js";
import { artifact, launchChromium } from "../support/browser.mjs";

const { RealDaemon, copyExamples, editFile, removeWorkspace } = support;
const CORPUS = "simulator/specs/zendesk/corpus/tickets.json";
const TICKETS = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]";
const node = (id) => `li.node[data-node-id="${id.replace(/"/g, '\\"')}"]`;

let workspace, daemon, info, browser, page;
const consoleErrors = [];

before(async () => {
  workspace = copyExamples("cw-panel-");
  daemon = new RealDaemon(workspace);
  info = await daemon.start();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && consoleErrors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") && consoleErrors.push(`${r.status()} ${r.url()}`));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await daemon?.stop();
  if (workspace) removeWorkspace(workspace);
});

test("the panel connects with the token from the URL fragment and removes it from the address bar", async () => {
  await page.goto(`${info.httpUrl}#token=${info.token}`);
  await page.waitForSelector('#connection[data-state="connected"]', { timeout: 30_000 });
  assert.equal(new URL(page.url()).hash, "", "the token is gone from the address bar");
  for (const source of ["github", "hubspot", "msgraph", "zendesk"]) {
    await page.waitForSelector(`section.source[data-source="${source}"]`);
  }
});

test("after the startup run every node is green", async () => {
  await page.waitForFunction(
    () => {
      const nodes = [...document.querySelectorAll("li.node")];
      return nodes.length > 50 && nodes.every((n) => ["passed", "skipped"].includes(n.dataset.status));
    },
    undefined,
    { timeout: 120_000 },
  );
  assert.equal(await page.locator('section.source[data-status="failed"]').count(), 0);
  assert.match(await page.textContent("#summary"), /\d+ nodes: \d+ passed, 0 failing/);
  await page.screenshot({ path: artifact("panel-browser-green.png"), fullPage: false });
});

test("a broken corpus record turns its node red with the corpus blame, at the record's line", async () => {
  editFile(workspace, CORPUS, '"id": 10551,', '"id": "not-a-number",');
  try {
    const failing = page.locator(node(TICKETS));
    await failing.and(page.locator('[data-status="failed"]')).waitFor({ timeout: 60_000 });
    await page.waitForSelector("#run:not(:has-text('running'))");
    const diagnostic = failing.locator('.diagnostic[data-blame="corpus"]').first();
    await diagnostic.waitFor();
    assert.equal(await diagnostic.locator(".badge").textContent(), "corpus");
    assert.match(await diagnostic.locator("a.loc").first().textContent(), new RegExp(`^${CORPUS.replace(/\./g, "\\.")}:4:\\d+$`));
    assert.match(await diagnostic.textContent(), /does not fit the connector's schema/);
    assert.match(await diagnostic.locator("ul.related").textContent(), /sources\/zendesk\/\S+\.py:\d+/);
    assert.equal(await page.locator('section.source[data-source="zendesk"]').getAttribute("data-status"), "failed");
    assert.match(await page.locator('section.source[data-source="zendesk"] h2').textContent(), /1 failing/);
    const red = await failing.locator(".name").evaluate((el) => getComputedStyle(el).color);
    assert.equal(red, "rgb(207, 34, 46)", "the node's name is drawn in the failure colour");
    await failing.scrollIntoViewIfNeeded();
    await page.screenshot({ path: artifact("panel-browser-corpus-blame.png"), fullPage: false });
  } finally {
    editFile(workspace, CORPUS, '"id": "not-a-number",', '"id": 10551,');
  }
  await page.locator(node(TICKETS)).and(page.locator('[data-status="passed"]')).waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('section.source[data-status="failed"]').count(), 0);
});

test("the page logged no errors", () => {
  assert.deepEqual(consoleErrors, []);
});
