// The daemon's panel page (daemon/panel/index.html, copied into dist/panel at build time) made into a
// VS Code webview: resources through webview URIs, a strict Content Security Policy with a script
// nonce, and the extension's own header actions as command links. Pure string work (unit-tested
// against the real index.html, so a change to the page that breaks this fails the tests).

import { randomBytes } from "node:crypto";

export interface WebviewPage {
  /** webview.cspSource */
  cspSource: string;
  cssUri: string;
  jsUri: string;
  hostCssUri: string;
  nonce: string;
  /** Extra header actions: command ID → label (need `enableCommandUris`). */
  actions: { command: string; label: string; title: string }[];
}

export function contentSecurityPolicy(page: Pick<WebviewPage, "cspSource" | "nonce">): string {
  return [
    "default-src 'none'",
    `style-src ${page.cspSource}`,
    `img-src ${page.cspSource} data:`,
    `font-src ${page.cspSource}`,
    `script-src 'nonce-${page.nonce}'`,
    // No connect-src: the webview never opens a socket; the extension relays the protocol.
  ].join("; ");
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

export function webviewHtml(indexHtml: string, page: WebviewPage): string {
  let html = indexHtml;
  const replace = (pattern: RegExp, replacement: string, what: string) => {
    if (!pattern.test(html)) throw new Error(`the panel page has no ${what}; update src/mapping/webview.ts`);
    html = html.replace(pattern, replacement);
  };
  replace(
    /<meta charset="utf-8">/i,
    `<meta charset="utf-8">\n  <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(contentSecurityPolicy(page))}">`,
    "<meta charset>",
  );
  replace(
    /<link rel="stylesheet" href="panel\.css">/,
    `<link rel="stylesheet" href="${escapeAttribute(page.cssUri)}">\n  <link rel="stylesheet" href="${escapeAttribute(page.hostCssUri)}">`,
    "panel.css link",
  );
  replace(/<script src="panel\.js"><\/script>/, `<script nonce="${page.nonce}" src="${escapeAttribute(page.jsUri)}"></script>`, "panel.js script");
  const actions = page.actions
    .map(
      (a) =>
        `<a class="cw-action" role="button" href="command:${escapeAttribute(a.command)}" title="${escapeAttribute(a.title)}">${escapeAttribute(a.label)}</a>`,
    )
    .join("\n    ");
  if (actions) replace(/(<button id="rerun-all"[^>]*>[^<]*<\/button>)/, `$1\n    ${actions}`, "rerun-all button");
  return html;
}

export function nonce(): string {
  return randomBytes(18).toString("base64url");
}
