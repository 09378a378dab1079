// The connector-watch panel: sources → tables → test nodes with live status and blame.
//
// It speaks the daemon protocol (daemon/PROTOCOL.md) over one of two transports:
// - in a browser, a WebSocket to the daemon that served this page; the token
//   arrives in the URL fragment (never sent to a server) and is removed from
//   the address bar at once;
// - in a VS Code webview, the extension relays JSON-RPC messages through
//   postMessage (the extension host holds the socket) and opens files for us.
"use strict";

(function () {
  const vscode = typeof acquireVsCodeApi === "function" ? acquireVsCodeApi() : null;
  const state = { nodes: new Map(), files: new Map(), run: null, mode: "simulate", modes: [], workspace: "",
                  sources: [], lastRun: "", connected: false };
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
    const socket = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
    const t = { send: (m) => socket.send(JSON.stringify(m)), onmessage: null, onopen: null, onclose: null };
    socket.onopen = () => t.onopen && t.onopen();
    socket.onmessage = (e) => t.onmessage && t.onmessage(JSON.parse(e.data));
    socket.onclose = () => t.onclose && t.onclose();
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
        for (const n of p.nodes) { const node = state.nodes.get(n.nodeId); if (node) node.queued = true; }
        break;
      case "test/started": { const node = state.nodes.get(p.nodeId); if (node) node.running = true; break; }
      case "test/finished": {
        let node = state.nodes.get(p.nodeId);
        if (!node) { node = { nodeId: p.nodeId, file: p.nodeId.split("::")[0], kind: "collection" };
                     state.nodes.set(p.nodeId, node); }
        Object.assign(node, { outcome: p.outcome, durationMs: p.durationMs, diagnostics: p.diagnostics,
                              message: p.message, running: false, queued: false });
        if (state.run) state.run.done += 1;
        break;
      }
      case "run/finished": {
        const c = p.counts;
        state.lastRun = `run #${p.runId}${p.cancelled ? " (cancelled)" : ""}: ${c.passed} passed, ` +
          `${(c.failed || 0) + (c.error || 0) + (c.timeout || 0) + (c.crashed || 0)} failed, ${c.skipped} skipped ` +
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
    if (snapshot.run) for (const id of snapshot.run.started) { const n = state.nodes.get(id); if (n) n.running = true; }
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
        applySnapshot(result.snapshot);
        setConnection("connected", "connected");
        schedule();
      } catch (error) {
        setConnection("error", `initialize failed: ${error.message || error}`);
      }
    };
    // In VS Code the extension reconnects by itself (and says "connected" again); a browser page cannot.
    transport.onclose = () => setConnection("error", vscode ? "disconnected — reconnecting…"
      : "disconnected — restart connector-watch serve and reload");
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
      if (v === undefined || v === null) continue;
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function openLink(path, range, label) {
    const line = (range && range.start.line) + 1 || 1;
    const column = (range && range.start.character) + 1 || 1;
    const absolute = `${state.workspace.replace(/\/$/, "")}/${path}`;
    const text = label || `${path}:${line}:${column}`;
    if (vscode) {
      return el("a", { href: "#", class: "loc", onclick: (e) => { e.preventDefault();
        vscode.postMessage({ type: "open", path, line, column }); } }, text);
    }
    return el("a", { href: `vscode://file${encodeURI(absolute)}:${line}:${column}`, class: "loc" }, text);
  }

  function statusOf(node) {
    if (node.running) return "running";
    if (node.queued) return "queued";
    return node.outcome || "pending";
  }

  function diagnosticView(d) {
    const data = d.data || {};
    return el("div", { class: "diagnostic", "data-blame": d.code },
      el("div", { class: "headline" },
        el("span", { class: `badge blame-${d.code}`, title: `confidence ${data.confidence}` }, d.code),
        openLink(data.path, d.range),
        el("span", { class: "message" }, d.message.split("\n")[0])),
      data.fix ? el("div", { class: "fix" }, "fix: ", data.fix) : null,
      d.relatedInformation.length ? el("ul", { class: "related" }, d.relatedInformation.map((r) =>
        el("li", {}, openLink(relativePath(r.location.uri), r.location.range), " ", r.message))) : null,
      data.evidence && data.evidence.length ? el("details", { class: "evidence" },
        el("summary", {}, `evidence (${data.evidence.length})`),
        el("ul", {}, data.evidence.map((e) => el("li", {}, e)))) : null);
  }

  function relativePath(uri) {
    const prefix = `file://${state.workspace.replace(/\/$/, "")}/`;
    const decoded = decodeURI(uri);
    return decoded.startsWith(prefix) ? decoded.slice(prefix.length) : decoded.replace(/^file:\/\//, "");
  }

  function sourceOf(node) {
    if (node.source) return node.source;
    const match = /tests\/unit\/sources\/([^/]+)\//.exec(node.file || node.nodeId);
    return match ? match[1] : "(other)";
  }

  function render() {
    const runEl = document.getElementById("run");
    runEl.textContent = state.run ? `running #${state.run.id}: ${state.run.done}/${state.run.total}` : state.lastRun;
    const mode = document.getElementById("mode");
    const modes = state.modes.length ? state.modes : [state.mode];
    mode.replaceChildren(...modes.map((m) => el("option", { value: m, selected: m === state.mode ? "" : null }, m)));

    const nodes = [...state.nodes.values()];
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const n of nodes) {
      if (n.outcome === "passed") counts.passed++;
      else if (n.outcome === "skipped") counts.skipped++;
      else if (n.outcome) counts.failed++;
    }
    document.getElementById("summary").textContent =
      `${nodes.length} nodes: ${counts.passed} passed, ${counts.failed} failing, ${counts.skipped} skipped`;

    // Problems not tied to a failing node (static checks: spec, corpus, syntax).
    const staticProblems = [];
    for (const [, diagnostics] of state.files) {
      for (const d of diagnostics) if ((d.data || {}).origin === "static") staticProblems.push(d);
    }
    document.getElementById("problems").replaceChildren(...(staticProblems.length ?
      [el("h2", {}, `static problems (${staticProblems.length})`), ...staticProblems.map(diagnosticView)] : []));

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
      const failing = all.filter((n) => ["failed", "error", "timeout", "crashed"].includes(n.outcome)).length;
      return el("section", { class: "source", "data-source": source, "data-status": failing ? "failed" : "passed" },
        el("h2", {}, source, el("span", { class: "count" }, failing ? ` ${failing} failing` : ` ${all.length} ok`),
          el("button", { type: "button", class: "small", onclick: () => request("run", { source }) }, "run")),
        ...[...tables.keys()].sort().map((table) => el("div", { class: "table", "data-table": table },
          el("h3", {}, table),
          el("ul", { class: "nodes" }, tables.get(table).sort((a, b) => a.nodeId.localeCompare(b.nodeId)).map((n) =>
            el("li", { class: "node", "data-node-id": n.nodeId, "data-status": statusOf(n) },
              el("span", { class: "status", title: statusOf(n) }),
              el("span", { class: "name" }, (n.name || n.nodeId.split("::").pop())),
              n.durationMs ? el("span", { class: "muted" }, ` ${Math.round(n.durationMs)} ms`) : null,
              el("button", { type: "button", class: "small", onclick: () => request("run", { nodeIds: [n.nodeId] }) },
                "run"),
              (n.diagnostics || []).map(diagnosticView)))))));
    });
    document.getElementById("sources").replaceChildren(...sections);
  }

  document.getElementById("rerun-all").addEventListener("click", () => request("run", { all: true }));
  document.getElementById("rerun-failed").addEventListener("click", () => request("run", { failed: true }));
  document.getElementById("mode").addEventListener("change", (e) => {
    request("setMode", { mode: e.target.value }).catch((error) => setConnection("error", error.message));
  });
  connect();
})();
