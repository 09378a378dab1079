// code-server (real VS Code served to a browser) for the end-to-end test: find the tools ci.sh
// installed, install the .vsix, start it on a free port with throwaway directories, and stop every
// process it started (its process group, the daemon the extension spawned, anything left that runs
// from our temporary directory), even when the test fails.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { EXTENSION_ROOT } from "./browser.mjs";

const TOOLS = join(EXTENSION_ROOT, "test", "e2e", "tools");
export const NODE24_BIN = process.env.CW_NODE24_BIN || join(TOOLS, "node24", "node_modules", ".bin");
export const CODE_SERVER = process.env.CW_CODE_SERVER || join(TOOLS, "code-server", "node_modules", ".bin", "code-server");
export const VSIX = process.env.CW_VSIX || join(EXTENSION_ROOT, "connector-watch.vsix");

export function checkTools() {
  const missing = [];
  if (!existsSync(CODE_SERVER)) missing.push(`code-server (${CODE_SERVER})`);
  if (!existsSync(join(NODE24_BIN, "node"))) missing.push(`Node 24 (${NODE24_BIN}/node)`);
  if (!existsSync(VSIX)) missing.push(`the packaged extension (${VSIX}: npm run package)`);
  if (missing.length) throw new Error(`the end-to-end test needs ${missing.join(", ")}; scripts/ci.sh installs them`);
}

function env() {
  return { ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH}` };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export class CodeServer {
  constructor(root, settings) {
    this.root = root;
    this.userData = join(root, "user-data");
    this.extensions = join(root, "extensions");
    this.config = join(root, "config.yaml");
    this.log = "";
    mkdirSync(join(this.userData, "User"), { recursive: true });
    mkdirSync(this.extensions, { recursive: true });
    writeFileSync(this.config, "auth: none\ncert: false\n");
    writeFileSync(join(this.userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
  }

  base() {
    return ["--config", this.config, "--user-data-dir", this.userData, "--extensions-dir", this.extensions];
  }

  installExtension(vsix) {
    const result = spawnSync(CODE_SERVER, [...this.base(), "--install-extension", vsix], { env: env(), encoding: "utf8", timeout: 120_000 });
    if (result.status !== 0) throw new Error(`code-server --install-extension failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  async start(folder) {
    this.port = await freePort();
    this.child = spawn(
      CODE_SERVER,
      [
        ...this.base(), "--auth", "none", "--bind-addr", `127.0.0.1:${this.port}`, "--disable-telemetry",
        "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override", folder,
      ],
      { env: env(), detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child.stdout.on("data", (d) => (this.log += d));
    this.child.stderr.on("data", (d) => (this.log += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`code-server exited (${this.child.exitCode}):\n${this.log}`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/healthz`);
        if (response.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz within 60 s:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`;
  }

  async stop() {
    const pid = this.child?.pid;
    if (!pid) return;
    await killGroup(pid);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM a process group, SIGKILL what is left after `graceMs`, wait until the leader is gone. */
export async function killGroup(pid, graceMs = 5_000) {
  const send = (signal) => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        /* gone */
      }
    }
  };
  send("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  send("SIGKILL");
}

/** Stop the daemon a workspace's discovery file names (the extension started it). */
export async function stopWorkspaceDaemon(workspace) {
  let info;
  try {
    info = JSON.parse(readFileSync(join(workspace, ".connector-watch", "daemon.json"), "utf8"));
  } catch {
    return;
  }
  if (info?.pid && alive(info.pid)) await killGroup(info.pid);
}

/** Processes whose command line mentions `marker` (our unique temporary directory), except us. */
export function processesMentioning(marker) {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.includes(marker))
    .map((l) => Number(l.split(/\s+/, 1)[0]))
    .filter((pid) => pid && pid !== process.pid);
}

/** The last resort: SIGKILL anything still running from our temporary directory. */
export async function sweep(marker) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = processesMentioning(marker);
    if (!pids.length) return [];
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return processesMentioning(marker);
}

/** Synchronous last-resort cleanup when the test process is interrupted or exits without `after`. */
export function killSync(marker, pids = []) {
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  for (const pid of processesMentioning(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** Run `cleanup` (synchronous) on SIGINT, SIGTERM and process exit; returns a function that disarms it. */
export function onInterrupt(cleanup) {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    try {
      cleanup();
    } catch {
      /* best effort */
    }
  };
  process.once("exit", once);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      once();
      process.exit(130);
    });
  }
  return () => {
    done = true;
  };
}
