// A real `connector-watch serve` on a private copy of the bundled examples, for the integration,
// browser-panel and code-server tests. Every process it starts is stopped by `stop()`, which the
// tests call in `finally`/`after` hooks (and on SIGINT/SIGTERM of the test process).
import { ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { REPO_ROOT } from "./paths";

const IGNORED = new Set(["__pycache__", "cassettes", ".connector-watch", ".pytest_cache"]);

/** The connector-watch executable: $CONNECTOR_WATCH, else the repo's .venv. */
export function connectorWatchCommand(): string {
  const command = process.env.CONNECTOR_WATCH || join(REPO_ROOT, ".venv", "bin", "connector-watch");
  if (!existsSync(command)) {
    throw new Error(`connector-watch not found at ${command}: create the repo's venv (make install) or set CONNECTOR_WATCH`);
  }
  return command;
}

/** Copy sources/, simulator/, tests/ and pyproject.toml into a fresh temporary workspace. */
export function copyExamples(prefix = "cw-ws-"): string {
  const workspace = mkdtempSync(join(tmpdir(), prefix));
  for (const name of ["sources", "simulator", "tests"]) {
    cpSync(join(REPO_ROOT, name), join(workspace, name), {
      recursive: true,
      filter: (src) => !IGNORED.has(basename(src)) && !basename(src).startsWith("_generated_") && !src.endsWith(".pyc"),
    });
  }
  cpSync(join(REPO_ROOT, "pyproject.toml"), join(workspace, "pyproject.toml"));
  return workspace;
}

export interface DaemonInfo {
  url: string;
  httpUrl: string;
  port: number;
  token: string;
  pid: number;
}

export function readDaemonInfo(workspace: string): DaemonInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(workspace, ".connector-watch", "daemon.json"), "utf8"));
  } catch {
    return undefined;
  }
}

export async function waitUntil<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kill a process group (or process) and wait until it is gone; SIGKILL after `graceMs`. */
export async function killTree(pid: number, graceMs = 5_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  if (!alive(pid)) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) signal("SIGKILL");
  while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
}

export class RealDaemon {
  child: ChildProcess | undefined;
  output = "";

  constructor(readonly workspace: string, readonly extraArgs: string[] = []) {}

  async start(timeoutMs = 60_000): Promise<DaemonInfo> {
    const previous = readDaemonInfo(this.workspace);
    const child = spawn(connectorWatchCommand(), ["serve", "--workspace", this.workspace, ...this.extraArgs], {
      cwd: this.workspace,
      detached: true, // its own process group: stop() takes its workers with it
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    });
    this.child = child;
    child.stdout!.on("data", (d) => (this.output += d));
    child.stderr!.on("data", (d) => (this.output += d));
    stopOnExit.add(this);
    return waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`connector-watch serve exited (${child.exitCode}):\n${this.output}`);
        const info = readDaemonInfo(this.workspace);
        return info && info.pid === child.pid && info.pid !== previous?.pid ? info : undefined;
      },
      "the daemon's discovery file",
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    stopOnExit.delete(this);
    if (this.child?.pid) await killTree(this.child.pid);
  }
}

const stopOnExit = new Set<RealDaemon>();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    for (const d of stopOnExit) if (d.child?.pid) try { process.kill(-d.child.pid, "SIGKILL"); } catch { /* gone */ }
    process.exit(130);
  });
}

export function removeWorkspace(workspace: string): void {
  rmSync(workspace, { recursive: true, force: true });
}

/** Replace the first occurrence of `from` in a workspace file (it must be there). */
export function editFile(workspace: string, path: string, from: string, to: string): void {
  const file = join(workspace, path);
  const text = readFileSync(file, "utf8");
  if (!text.includes(from)) throw new Error(`${path} does not contain ${JSON.stringify(from)}`);
  writeFileSync(file, text.replace(from, to));
}
