// The connector-watch panel: problems first (one entry per root cause, newest first, with the tests
// it breaks, its evidence, related places and expected-vs-actual diff), then sources → tables → tests.
//
// It speaks the daemon protocol (daemon/PROTOCOL.md) over one of two transports:
// - in a browser, a WebSocket to the daemon that served this page; the token arrives in the URL
//   fragment (never sent to a server) and is removed from the address bar at once. A dropped socket
//   is reopened with backoff (a restarted daemon comes back at the same address with the same
//   token) and the page resyncs from the new snapshot. Links show a read-only excerpt of the file
//   (`file/excerpt`);
// - in a VS Code webview, the extension relays JSON-RPC messages through postMessage (it holds the
//   socket and reconnects it) and opens files at the range for us.
//
// A verified fix (a diagnostic's `data.fixes`: the failing tests passed with it applied) gets, in VS
// Code, an Apply button: the page sends which fix it means (the diagnostic's file, range, blame and
// tests, the fix's index and title), the extension looks it up in its own copy of the daemon's state
// and applies it. A browser has no editor: the page shows each edit (file, range, new text) to copy.
"use strict";

(function () {
  const vscode = typeof acquireVsCodeApi === "function" ? acquireVsCodeApi() : null;
  const FAILING = new Set(["failed", "error", "timeout", "crashed"]);
  const state = { nodes: new Map(), files: new Map(), run: null, mode: "simulate", modes: [], workspace: "",
                  sources: [], lastRun: "", connected: false };
  const view = { text: "", status: "", source: "", blame: "", open: new Map(), focus: null,
                 fixes: new Map() }; // problem key → (fix or edit key → {state, message}): Apply / copy feedback
  const fixRequests = new Map(); // applyFix request id → [problem key, fix key]
  let nextFixRequest = 1;
  const firstSeen = new Map(); // problem key → {clock: when it first appeared (newest first), goneAt}
  const REAPPEAR_MS = 10_000; // a problem back within this long (republished, rechecked) keeps its place
  const failingSince = new Map(); // node ID → when it went red (a problem is as new as its tests' failure)
  let clock = 0;
  const pending = new Map();
  let nextId = 1;
  let transport = null;

  // ------------------------------------------------------------------ transports
  function browserTransport() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get("token") || sessionStorage.getItem("cw-token");
    if (!token) {
      setConnection("error", "no token: open the URL connector-watch serve printed");
      return null;
    }
    sessionStorage.setItem("cw-token", token);
    history.replaceState(null, "", location.pathname);
    const t = { send: () => undefined, onmessage: null, onopen: null, onclose: null };
    let attempt = 0;
    let timer = null;
    const open = () => {
      timer = null;
      const socket = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
      let opened = false;
      t.send = (m) => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(m)); };
      socket.onopen = () => { opened = true; attempt = 0; if (t.onopen) t.onopen(); };
      socket.onmessage = (e) => t.onmessage && t.onmessage(JSON.parse(e.data));
      socket.onclose = () => {
        if (opened && t.onclose) t.onclose();
        // Backoff: 0.5 s, 1 s, 2 s … at most 10 s between attempts, until the daemon answers again.
        const delay = Math.min(500 * 2 ** attempt, 10_000);
        attempt += 1;
        setConnection("reconnecting", `disconnected: reconnecting in ${Math.round(delay / 100) / 10} s (attempt ${attempt})`);
        timer = setTimeout(open, delay);
      };
    };
    window.addEventListener("online", () => { if (timer) { clearTimeout(timer); open(); } });
    open();
    return t;
  }

  function webviewTransport() {
    const t = { send: (m) => vscode.postMessage({ type: "rpc", message: m }), onmessage: null, onopen: null,
                onclose: null };
    window.addEventListener("message", (e) => {
      const data = e.data || {};
      if (data.type === "rpc" && t.onmessage) t.onmessage(data.message);
      if (data.type === "connected" && t.onopen) t.onopen();
      if (data.type === "disconnected" && t.onclose) t.onclose();
      if (data.type === "fixApplied" && fixRequests.has(data.id)) {
        const [problem, key] = fixRequests.get(data.id);
        fixRequests.delete(data.id);
        setFixStatus(problem, key, data.ok ? "applied" : "failed", data.message || "");
      }
    });
    vscode.postMessage({ type: "ready" });
    return t;
  }

  function request(method, params) {
    const id = nextId++;
    transport.send({ jsonrpc: "2.0", id, method, params: params || {} });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }

  // ------------------------------------------------------------------ protocol
  function onMessage(message) {
    if (message.id !== undefined && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(message.error); else resolve(message.result);
      return;
    }
    const p = message.params || {};
    switch (message.method) {
      case "run/started":
        state.run = { id: p.runId, total: p.nodes.length, done: 0, trigger: p.trigger, paths: p.paths };
        state.mode = p.mode || state.mode;
        for (const n of p.nodes) { const node = state.nodes.get(n.nodeId); if (node) node.queued = true; }
        break;
      case "test/started": { const node = state.nodes.get(p.nodeId); if (node) node.running = true; break; }
      case "test/finished": {
        let node = state.nodes.get(p.nodeId);
        if (!node) { node = { nodeId: p.nodeId, file: p.nodeId.split("::")[0], kind: "collection" };
                     state.nodes.set(p.nodeId, node); }
        Object.assign(node, { outcome: p.outcome, durationMs: p.durationMs, diagnostics: p.diagnostics,
                              message: p.message, running: false, queued: false });
        if (state.run && state.run.id === p.runId) state.run.done += 1;
        break;
      }
      case "test/revised": { // the causal verdict replaces the node's diagnostics
        const node = state.nodes.get(p.nodeId);
        if (node) node.diagnostics = p.diagnostics;
        break;
      }
      case "$/progress":
        if (state.run && state.run.id === p.runId) { state.run.done = p.done; state.run.total = p.total; }
        break;
      case "run/finished": {
        const c = p.counts;
        state.lastRun = `run #${p.runId}${p.cancelled ? " (cancelled)" : ""}: ${c.passed || 0} passed, ` +
          `${(c.failed || 0) + (c.error || 0) + (c.timeout || 0) + (c.crashed || 0)} failed, ${c.skipped || 0} skipped ` +
          `in ${Math.round(p.durationMs)} ms`;
        state.run = null;
        for (const node of state.nodes.values()) { node.running = false; node.queued = false; }
        break;
      }
      case "nodes/changed":
        for (const id of p.removed) state.nodes.delete(id);
        for (const n of p.added) state.nodes.set(n.nodeId, Object.assign(state.nodes.get(n.nodeId) || {}, n));
        break;
      case "textDocument/publishDiagnostics":
        if (p.diagnostics.length) state.files.set(p.path, p.diagnostics); else state.files.delete(p.path);
        break;
      case "$/resync":
        applySnapshot(p.snapshot);
        break;
      default:
        return;
    }
    schedule();
  }

  function applySnapshot(snapshot) {
    state.nodes = new Map(snapshot.nodes.map((n) => [n.nodeId, n]));
    state.files = new Map(Object.entries(snapshot.diagnostics).map(([path, f]) => [path, f.diagnostics]));
    state.mode = snapshot.mode;
    state.workspace = snapshot.workspace;
    state.sources = snapshot.sources;
    state.run = snapshot.run ? { id: snapshot.run.runId, total: snapshot.run.nodes.length,
                                 done: Object.keys(snapshot.run.finished).length } : null;
    if (snapshot.run) {
      for (const id of snapshot.run.nodes) {
        const n = state.nodes.get(id);
        if (n && !(id in snapshot.run.finished)) n.queued = true;
      }
      for (const id of snapshot.run.started) { const n = state.nodes.get(id); if (n) n.running = true; }
    }
  }

  function connect() {
    transport = vscode ? webviewTransport() : browserTransport();
    if (!transport) return;
    transport.onmessage = onMessage;
    transport.onopen = async () => {
      try {
        const result = await request("initialize", { protocolVersion: "1.0",
                                                     clientInfo: { name: vscode ? "vscode-panel" : "browser-panel" } });
        state.modes = result.capabilities.modes;
        applySnapshot(result.snapshot); // a reconnect starts over from the new daemon's snapshot
        state.connected = true;
        setConnection("connected", "connected");
        schedule();
      } catch (error) {
        setConnection("error", `initialize failed: ${error.message || error}`);
      }
    };
    transport.onclose = () => {
      state.connected = false;
      for (const [, { reject }] of pending) reject(new Error("disconnected"));
      pending.clear();
      setConnection("reconnecting", "disconnected: reconnecting…");
    };
  }

  // ------------------------------------------------------------------ problems (one per root cause)
  /** A diagnostic's identity, the same when the daemon revises its verdict (message, evidence, causal):
   *  the daemon's id when it sends one, else blame, place and tests. */
  function problemKey(d) {
    const data = d.data || {};
    if (data.id !== undefined) return `id:${data.id}`;
    return JSON.stringify([d.code, data.path, d.range.start.line, d.range.start.character, [...(data.nodeIds || [])].sort()]);
  }

  function statusOf(node) {
    if (!node) return "pending";
    if (node.running) return "running";
    if (node.queued) return "queued";
    return node.outcome || "pending";
  }

  function sourceOf(node) {
    if (node.source) return node.source;
    const match = /(?:^|\/)sources\/([^/]+)\//.exec(node.file || node.nodeId);
    return match ? match[1] : "(other)";
  }

  function sourceOfPath(path) {
    const match = /(?:^|\/)(?:sources|specs)\/([^/]+)\//.exec(path || "");
    return match ? match[1] : null;
  }

  /** Every root cause: the published diagnostics of every file (the daemon already merged a finding
   *  several tests report into one, with all their node IDs), then failing tests no diagnostic names. */
  function problems() {
    const byKey = new Map();
    for (const [path, diagnostics] of state.files) {
      for (const d of diagnostics) {
        const key = problemKey(d);
        const entry = byKey.get(key);
        if (entry) { for (const id of d.data.nodeIds) if (!entry.nodeIds.includes(id)) entry.nodeIds.push(id); continue; }
        byKey.set(key, { key, d, path: d.data.path || path, nodeIds: [...d.data.nodeIds] });
      }
    }
    const named = new Set([...byKey.values()].flatMap((p) => p.nodeIds));
    for (const node of state.nodes.values()) {
      if (!FAILING.has(node.outcome) || named.has(node.nodeId)) continue;
      if ((node.diagnostics || []).length) {
        for (const d of node.diagnostics) {
          const key = problemKey(d);
          const entry = byKey.get(key) || { key, d, path: d.data.path, nodeIds: [] };
          if (!entry.nodeIds.includes(node.nodeId)) entry.nodeIds.push(node.nodeId);
          byKey.set(key, entry);
        }
      } else {
        const key = `node:${node.nodeId}`;
        byKey.set(key, { key, d: null, path: node.file, nodeIds: [node.nodeId], message: node.message });
      }
    }
    const list = [...byKey.values()];
    const now = Date.now();
    for (const p of list.sort((a, b) => a.key.localeCompare(b.key))) {
      const seen = firstSeen.get(p.key);
      if (seen) seen.goneAt = null; else firstSeen.set(p.key, { clock: ++clock, goneAt: null });
    }
    const current = new Set(list.map((p) => p.key));
    for (const [key, seen] of firstSeen) {
      if (current.has(key)) continue;
      if (seen.goneAt === null) seen.goneAt = now;
      else if (now - seen.goneAt > REAPPEAR_MS) firstSeen.delete(key);
    }
    // A problem is as new as the failure of its tests: when the daemon re-blames a test that was already
    // red (a rerun, then the causal verdict), its entry keeps its place instead of jumping to the top.
    for (const node of state.nodes.values()) {
      if (FAILING.has(node.outcome)) { if (!failingSince.has(node.nodeId)) failingSince.set(node.nodeId, ++clock); }
      else if (node.outcome) failingSince.delete(node.nodeId);
    }
    const since = (p) => {
      const clocks = p.nodeIds.map((id) => failingSince.get(id)).filter((c) => c !== undefined);
      return clocks.length ? Math.min(...clocks) : firstSeen.get(p.key).clock;
    };
    for (const key of [...view.fixes.keys()]) if (!current.has(key)) view.fixes.delete(key);
    const warning = (p) => (p.d && p.d.severity !== 1 ? 1 : 0);
    return list.sort((a, b) => warning(a) - warning(b) || since(b) - since(a) || firstSeen.get(b.key).clock - firstSeen.get(a.key).clock);
  }

  function textMatches(haystacks) {
    if (!view.text) return true;
    const needle = view.text.toLowerCase();
    return haystacks.some((h) => (h || "").toLowerCase().includes(needle));
  }

  function problemVisible(p) {
    const d = p.d;
    if (view.status && view.status !== "failing") return false;
    if (view.blame && (!d || d.code !== view.blame)) return false;
    if (view.source) {
      const sources = new Set([sourceOfPath(p.path), ...p.nodeIds.map((id) => sourceOf(state.nodes.get(id) || { nodeId: id }))]);
      if (!sources.has(view.source)) return false;
    }
    return textMatches([p.path, d && d.message, p.message, d && d.data.fix, ...p.nodeIds,
                        ...(d ? d.relatedInformation.map((r) => relativePath(r.location.uri)) : [])]);
  }

  function nodeVisible(node) {
    const status = statusOf(node);
    if (view.status === "failing" && !FAILING.has(node.outcome)) return false;
    if (view.status && view.status !== "failing" && status !== view.status) return false;
    if (view.source && sourceOf(node) !== view.source) return false;
    if (view.blame && !(node.diagnostics || []).some((d) => d.code === view.blame)) return false;
    return textMatches([node.nodeId, ...(node.diagnostics || []).map((d) => d.message)]);
  }

  // ------------------------------------------------------------------ rendering
  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; render(); });
  }

  function setConnection(kind, text) {
    const el = document.getElementById("connection");
    el.dataset.state = kind;
    el.textContent = text;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** A link to a place: VS Code opens the file at the range; a browser shows a read-only excerpt. */
  function openLink(path, range, label) {
    const line = range ? range.start.line : 0;
    const column = range ? range.start.character : 0;
    const text = label || `${path}:${line + 1}:${column + 1}`;
    return el("a", { href: "#", class: "loc", "data-path": path, "data-line": line + 1, title: `open ${path} at line ${line + 1}`,
                     onclick: (e) => { e.preventDefault(); open(path, range); } }, text);
  }

  function open(path, range) {
    const line = range ? range.start.line : 0;
    const column = range ? range.start.character : 0;
    if (vscode) {
      vscode.postMessage({ type: "open", path, line: line + 1, column: column + 1,
                           endLine: range ? range.end.line + 1 : line + 1, endColumn: range ? range.end.character + 1 : column + 1 });
      return;
    }
    showExcerpt(path, range);
  }

  async function showExcerpt(path, range) {
    const box = document.getElementById("excerpt");
    const body = document.getElementById("excerpt-body");
    const line = range ? range.start.line : 0;
    // A range that ends at the start of a later line ends on the line before it.
    const last = !range ? line : range.end.line > line && range.end.character === 0 ? range.end.line - 1 : Math.max(range.end.line, line);
    document.getElementById("excerpt-title").textContent = `${path}:${line + 1}`;
    body.replaceChildren(el("span", { class: "muted" }, "loading…"));
    box.hidden = false;
    try {
      const x = await request("file/excerpt", { path, line, context: 10 });
      body.replaceChildren(...x.lines.map((text, i) => {
        const no = x.startLine + i;
        const hit = no >= line && no <= last;
        return el("span", { class: hit ? "line hit" : "line", "data-line": no + 1 }, el("span", { class: "no" }, no + 1), text);
      }));
      const target = body.querySelector(".line.hit");
      if (target) target.scrollIntoView({ block: "center" });
    } catch (error) {
      body.replaceChildren(el("span", { class: "muted" }, `cannot show ${path}: ${error.message || error}`));
    }
  }

  function closeExcerpt() { document.getElementById("excerpt").hidden = true; }

  function relativePath(uri) {
    const prefix = `file://${state.workspace.replace(/\/$/, "")}/`;
    const decoded = decodeURI(uri);
    return decoded.startsWith(prefix) ? decoded.slice(prefix.length) : decoded.replace(/^file:\/\//, "");
  }

  function testName(nodeId) {
    return nodeId.split("::").pop();
  }

  /** Line diff (longest common subsequence): [" ", line] both, ["-", line] expected only, ["+", line] actual only. */
  function diffLines(expected, actual) {
    const a = expected.split("\n");
    const b = actual.split("\n");
    if (a.length * b.length > 250_000) return [...a.map((l) => ["-", l]), ...b.map((l) => ["+", l])];
    const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
    const out = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(["-", a[i++]]);
      else out.push(["+", b[j++]]);
    }
    while (i < a.length) out.push(["-", a[i++]]);
    while (j < b.length) out.push(["+", b[j++]]);
    return out;
  }

  function diffView(diff) {
    const kind = { " ": "same", "-": "del", "+": "add" };
    return el("div", { class: "diff" },
      el("div", { class: "diff-head" }, "expected (−) vs actual (+)"),
      diffLines(diff.expected, diff.actual).map(([sign, line]) => el("div", { class: `diff-line ${kind[sign]}` }, `${sign} ${line}`)));
  }

  /** What the daemon's counterfactual reruns found: which change made it fail, if any. */
  function causalView(causal) {
    const triggers = (causal.triggers || []).map((t) => el("span", {}, " ", openLink(t.location.path, t.location.range),
      t.wholeFile ? " (the whole file)" : ""));
    const text = {
      pending: "checking which change caused it…",
      trigger: "caused by the change at",
      "not-caused": "not caused by the changes since it last passed",
      "pre-existing": `fails at ${causal.base || "the base"} too`,
      inconclusive: "the reruns could not tell which change caused it",
      "no-history": "no passing run to compare with",
    }[causal.status] || causal.status;
    return el("div", { class: "causal muted", "data-causal": causal.status }, text, ...triggers,
      causal.note ? el("span", { class: "muted" }, ` — ${causal.note}`) : null);
  }

  function nodeRef(nodeId) {
    const node = state.nodes.get(nodeId);
    const status = statusOf(node);
    return el("li", { class: "node-ref", "data-node-id": nodeId, "data-status": status },
      el("span", { class: "status", title: status }),
      el("span", { class: "name", title: nodeId }, testName(nodeId)),
      node && node.durationMs ? el("span", { class: "muted" }, ` ${Math.round(node.durationMs)} ms `) : " ",
      node && node.kind !== "spark" ? el("button", { type: "button", class: "small",
        onclick: () => request("run", { nodeIds: [nodeId] }) }, "run") : null);
  }

  function problemView(p) {
    const d = p.d;
    const data = d ? d.data : {};
    const shownNodes = p.nodeIds.slice(0, 8);
    return el("article", { class: `problem${view.focus === p.key ? " focused" : ""}`, "data-key": p.key,
                           "data-blame": d ? d.code : "none", "data-origin": data.origin || "run",
                           "data-severity": d && d.severity !== 1 ? "warning" : "error" },
      el("div", { class: "headline" },
        el("span", { class: `badge blame-${d ? d.code : "none"}`, title: d ? `confidence ${data.confidence}` : "" },
           d ? d.code : "failed"),
        data.origin === "static" ? el("span", { class: "tag", title: "found by a static check on save" }, "static") : null,
        d ? openLink(data.path, d.range) : openLink(p.path, null),
        el("span", { class: "message" }, d ? d.message.split("\n")[0] : (p.message || "failed").split("\n")[0])),
      data.fix ? el("div", { class: "fix" }, "fix: ", data.fix) : null,
      data.fixes && data.fixes.length ? el("ul", { class: "fixes", "aria-label": "verified fixes" },
        data.fixes.map((f, i) => fixView(p.key, d, f, i))) : null,
      data.causal ? causalView(data.causal) : null,
      d && d.relatedInformation.length ? el("ul", { class: "related" }, d.relatedInformation.map((r) =>
        el("li", {}, openLink(relativePath(r.location.uri), r.location.range), " ", r.message))) : null,
      data.diff ? diffView(data.diff) : null,
      data.evidence && data.evidence.length ? el("details", { class: "evidence" },
        el("summary", {}, `evidence (${data.evidence.length})`),
        el("ul", {}, data.evidence.map((e) => el("li", {}, e)))) : null,
      p.nodeIds.length ? el("ul", { class: "problem-nodes", "aria-label": "tests" }, shownNodes.map(nodeRef),
        p.nodeIds.length > shownNodes.length ? el("li", { class: "muted" }, `+${p.nodeIds.length - shownNodes.length} more`) : null)
        : el("div", { class: "muted" }, "no test failed of it (a static check)"));
  }

  // ------------------------------------------------------------------ verified fixes
  function fixStatus(problem, key) {
    return (view.fixes.get(problem) || new Map()).get(key);
  }

  function setFixStatus(problem, key, state, message) {
    if (!view.fixes.has(problem)) view.fixes.set(problem, new Map());
    view.fixes.get(problem).set(key, { state, message });
    schedule();
  }

  /** One verified fix: in VS Code an Apply button; in a browser (no editor) its edits, to copy. */
  function fixView(problem, d, fix, index) {
    const key = `fix:${index}`;
    const status = fixStatus(problem, key);
    const note = fix.verified && fix.verified.note ? el("span", { class: "muted" }, `(${fix.verified.note})`) : null;
    const head = [el("span", { class: "tag" }, "verified fix"), " ", el("span", { class: "fix-title" }, fix.title), " ", note];
    if (vscode) {
      const busy = status && status.state === "applying";
      return el("li", { class: "verified-fix", "data-fix-index": index, "data-state": status ? status.state : null }, ...head, " ",
        el("button", { type: "button", class: "small apply", disabled: busy || (status && status.state === "applied"),
                       title: "apply the edit in the editor and save (the daemon then reruns the tests)",
                       onclick: () => applyFix(problem, key, d, index) },
           busy ? "applying…" : status && status.state === "applied" ? "applied" : "Apply"),
        fix.edits.slice(0, 3).map((e) => el("span", {}, " ", openLink(e.path, e.range))),
        status && status.message ? el("div", { class: `fix-status ${status.state}` }, status.message) : null);
    }
    return el("li", { class: "verified-fix", "data-fix-index": index }, ...head,
      el("div", { class: "fix-edits" }, fix.edits.map((e, j) => editView(problem, e, `${key}:edit:${j}`)),
        el("div", { class: "muted fix-how" }, "An editor applies it: VS Code's Quick Fix (Ctrl+.) or the Apply " +
           "button of its connector-watch panel, or a language client's code action. Here: copy the new text over the range.")));
  }

  function applyFix(problem, key, d, index) {
    const id = nextFixRequest++;
    fixRequests.set(id, [problem, key]);
    setFixStatus(problem, key, "applying", "");
    // Which fix, not what it does: the extension finds it in the daemon's state it holds and applies that.
    vscode.postMessage({ type: "applyFix", id, ref: { path: d.data.path, range: d.range, code: d.code,
                                                       nodeIds: d.data.nodeIds, index, title: d.data.fixes[index].title } });
  }

  function rangeLabel(r) {
    return `${r.start.line + 1}:${r.start.character + 1}-${r.end.line + 1}:${r.end.character + 1}`;
  }

  /** An edit as text: where (one-based line:column, end exclusive) and what replaces it. */
  function editView(problem, edit, key) {
    const status = fixStatus(problem, key);
    const empty = edit.range.start.line === edit.range.end.line && edit.range.start.character === edit.range.end.character;
    const verb = edit.newText === "" ? "delete" : empty ? "insert at" : "replace";
    return el("div", { class: "fix-edit", "data-path": edit.path, "data-range": rangeLabel(edit.range) },
      el("div", { class: "fix-edit-head" }, verb, " ", openLink(edit.path, edit.range, `${edit.path}:${rangeLabel(edit.range)}`),
        edit.newText === "" ? null : [" with", " ",
          el("button", { type: "button", class: "small copy", title: "copy the new text",
                         onclick: () => copyText(edit.newText).then((ok) =>
                           setFixStatus(problem, key, ok ? "copied" : "failed", ok ? "" : "copy failed: select the text")) },
             status && status.state === "copied" ? "copied" : "copy"),
          status && status.message ? el("span", { class: "fix-status failed" }, ` ${status.message}`) : null]),
      edit.newText === "" ? null : el("pre", { class: "new-text" }, edit.newText));
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) { // no clipboard permission (or not a secure context): the old way
      const area = el("textarea", { class: "copy-buffer" });
      area.value = text;
      document.body.append(area);
      area.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (__) { ok = false; }
      area.remove();
      return ok;
    }
  }

  function renderProblems(all) {
    const section = document.getElementById("problems");
    const visible = all.filter(problemVisible);
    if (!all.length) { section.hidden = true; section.replaceChildren(); return; }
    section.hidden = false;
    const errors = all.filter((p) => !p.d || p.d.severity === 1).length;
    section.dataset.errors = String(errors);
    const failingTests = [...state.nodes.values()].filter((n) => FAILING.has(n.outcome)).length;
    section.replaceChildren(
      el("h2", {}, `${all.length} problem${all.length === 1 ? "" : "s"}`,
        el("span", { class: "count" }, `${failingTests} failing test${failingTests === 1 ? "" : "s"}` +
          (visible.length < all.length ? ` · ${visible.length} match the filters` : ""))),
      ...(visible.length ? visible.map(problemView) : [el("div", { class: "empty" }, "no problem matches the filters")]));
  }

  function focusProblem(nodeId) {
    const match = problems().find((p) => p.nodeIds.includes(nodeId));
    if (!match) return;
    view.focus = match.key;
    render();
    const target = document.querySelector(`.problem[data-key="${CSS.escape(match.key)}"]`);
    if (target) target.scrollIntoView({ block: "nearest" });
  }

  function renderSources() {
    const nodes = [...state.nodes.values()];
    const bySource = new Map();
    for (const node of nodes) {
      const source = sourceOf(node);
      if (!bySource.has(source)) bySource.set(source, new Map());
      const table = node.table || (node.kind === "collection" ? "(collection)" : "(class)");
      const tables = bySource.get(source);
      if (!tables.has(table)) tables.set(table, []);
      tables.get(table).push(node);
    }
    const sections = [...bySource.keys()].sort().map((source) => {
      const tables = bySource.get(source);
      const all = [...tables.values()].flat();
      const failing = all.filter((n) => FAILING.has(n.outcome)).length;
      const passed = all.filter((n) => n.outcome === "passed").length;
      const shown = all.filter(nodeVisible);
      if (!shown.length && (view.text || view.status || view.source || view.blame)) return null;
      const filtering = !!(view.text || view.status || view.blame);
      const open = filtering || (view.open.has(source) ? view.open.get(source) : failing > 0);
      return el("details", { class: "source", "data-source": source, "data-status": failing ? "failed" : "passed", open,
                             ontoggle: (e) => { if (!filtering) view.open.set(source, e.target.open); } },
        el("summary", {},
          el("h2", {}, source,
            el("span", { class: "count" }, failing ? `${failing} failing, ${passed} passed` : `${passed} passed`,
              ` of ${all.length}`),
            el("button", { type: "button", class: "small", onclick: (e) => { e.preventDefault(); request("run", { source }); } }, "run"))),
        ...[...tables.keys()].sort().map((table) => {
          const rows = tables.get(table).filter(nodeVisible).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
          if (!rows.length) return null;
          return el("div", { class: "table", "data-table": table },
            el("h3", {}, table),
            el("ul", { class: "nodes" }, rows.map((n) =>
              el("li", { class: "node", "data-node-id": n.nodeId, "data-status": statusOf(n) },
                el("span", { class: "status", title: statusOf(n) }),
                el("span", { class: "name" }, n.name || testName(n.nodeId)),
                n.durationMs ? el("span", { class: "muted" }, ` ${Math.round(n.durationMs)} ms`) : null, " ",
                el("button", { type: "button", class: "small", onclick: () => request("run", { nodeIds: [n.nodeId] }) }, "run"),
                FAILING.has(n.outcome) ? el("div", { class: "node-problem" },
                  (n.diagnostics || []).slice(0, 1).map((d) => el("span", { class: `badge blame-${d.code}` }, d.code)), " ",
                  el("button", { type: "button", class: "link", onclick: () => focusProblem(n.nodeId) },
                     ((n.diagnostics || [])[0] || {}).message ? n.diagnostics[0].message.split("\n")[0] : (n.message || n.outcome).split("\n")[0]))
                  : null))));
        }));
    }).filter(Boolean);
    document.getElementById("sources").replaceChildren(...(sections.length ? sections
      : [el("div", { class: "empty" }, state.nodes.size ? "no test matches the filters" : "collecting the tests…")]));
  }

  function render() {
    const runEl = document.getElementById("run");
    runEl.textContent = state.run ? `running #${state.run.id}: ${state.run.done}/${state.run.total}` : state.lastRun;
    const mode = document.getElementById("mode");
    const modes = state.modes.length ? state.modes : [state.mode];
    mode.replaceChildren(...modes.map((m) => el("option", { value: m, selected: m === state.mode }, m)));
    const sourceSelect = document.getElementById("filter-source");
    const sources = [...new Set([...state.sources, ...[...state.nodes.values()].map(sourceOf)])].sort();
    if (sourceSelect.options.length !== sources.length + 1) {
      sourceSelect.replaceChildren(el("option", { value: "" }, "any source"),
        ...sources.map((s) => el("option", { value: s, selected: s === view.source }, s)));
    }

    const nodes = [...state.nodes.values()];
    const counts = { passed: 0, failing: 0, skipped: 0 };
    for (const n of nodes) {
      if (n.outcome === "passed") counts.passed++;
      else if (n.outcome === "skipped") counts.skipped++;
      else if (FAILING.has(n.outcome)) counts.failing++;
    }
    document.getElementById("summary").textContent =
      `${nodes.length} tests: ${counts.passed} passed, ${counts.failing} failing, ${counts.skipped} skipped`;
    renderProblems(problems());
    renderSources();
    if (vscode) vscode.setState({ text: view.text, status: view.status, source: view.source, blame: view.blame,
                                  open: [...view.open] });
  }

  // ------------------------------------------------------------------ controls
  const saved = vscode ? vscode.getState() : null;
  if (saved) {
    Object.assign(view, { text: saved.text || "", status: saved.status || "", source: saved.source || "",
                          blame: saved.blame || "", open: new Map(saved.open || []) });
  }
  for (const [id, key] of [["filter-text", "text"], ["filter-status", "status"], ["filter-source", "source"], ["filter-blame", "blame"]]) {
    const input = document.getElementById(id);
    if (view[key]) {
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === view[key])) {
        input.append(el("option", { value: view[key] }, view[key]));
      }
      input.value = view[key];
    }
    input.addEventListener("input", () => { view[key] = input.value.trim(); schedule(); });
  }
  document.getElementById("rerun-all").addEventListener("click", () => request("run", { all: true }));
  document.getElementById("rerun-failed").addEventListener("click", () => request("run", { failed: true }));
  document.getElementById("mode").addEventListener("change", (e) => {
    request("setMode", { mode: e.target.value }).catch((error) => setConnection("error", error.message));
  });
  document.getElementById("excerpt-close").addEventListener("click", closeExcerpt);
  document.getElementById("excerpt").addEventListener("click", (e) => { if (e.target.id === "excerpt") closeExcerpt(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeExcerpt(); });
  connect();
})();
