import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { contentSecurityPolicy, nonce, webviewHtml } from "../../src/mapping/webview";
import { REPO_ROOT } from "../support/paths";

const INDEX = readFileSync(join(REPO_ROOT, "daemon", "panel", "index.html"), "utf8");
const PAGE = {
  cspSource: "https://file+.vscode-resource.vscode-cdn.net",
  cssUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/panel/panel.css",
  jsUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/panel/panel.js",
  hostCssUri: "https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/host.css",
  nonce: "abc123",
  actions: [{ command: "connectorWatch.openCassetteReport", label: "Reports…", title: "Open a report" }],
};

test("the daemon's real panel page becomes a webview page with a strict CSP", () => {
  const html = webviewHtml(INDEX, PAGE);
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
  assert.ok(csp, "a CSP meta tag");
  assert.equal(csp[1], contentSecurityPolicy(PAGE));
  assert.match(csp[1], /default-src 'none'/);
  assert.match(csp[1], /script-src 'nonce-abc123'/);
  assert.doesNotMatch(csp[1], /unsafe-inline|unsafe-eval|connect-src/);
  assert.match(html, /<script nonce="abc123" src="https:\/\/file\+\.vscode-resource[^"]+\/panel\.js"><\/script>/);
  assert.match(html, /<link rel="stylesheet" href="[^"]+\/dist\/panel\/panel\.css">/);
  assert.match(html, /<link rel="stylesheet" href="[^"]+\/dist\/webview\/host\.css">/);
  assert.doesNotMatch(html, /src="panel\.js"|href="panel\.css"/, "no relative resource is left");
  assert.equal((html.match(/<script/g) ?? []).length, 1, "no inline script");
  assert.match(html, /<a class="cw-action" role="button" href="command:connectorWatch\.openCassetteReport" title="Open a report">Reports…<\/a>/);
  for (const id of ["rerun-all", "rerun-failed", "mode", "sources", "problems", "connection"]) assert.match(html, new RegExp(`id="${id}"`));
});

test("a page without the expected hooks fails loudly instead of rendering a broken panel", () => {
  assert.throws(() => webviewHtml("<html><head></head></html>", PAGE), /the panel page has no/);
});

test("nonces are fresh and CSP-safe", () => {
  const a = nonce();
  assert.notEqual(a, nonce());
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
});
