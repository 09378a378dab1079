// Starting `connector-watch serve` when no daemon runs for the workspace (the command is a setting).
import { ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import * as vscode from "vscode";

export interface ServerCommand {
  command: string;
  args: string[];
}

export function substitute(text: string, folder: string): string {
  return text.replace(/\$\{workspaceFolder\}/g, folder);
}

/** The command line that starts the daemon for `folder`, from the settings. */
export function serverCommand(folder: string, config: vscode.WorkspaceConfiguration): ServerCommand {
  let command = substitute(config.get<string>("serverCommand", "connector-watch") || "connector-watch", folder);
  if (command === "connector-watch") {
    const local = join(folder, ".venv", "bin", "connector-watch");
    if (existsSync(local)) command = local;
  }
  const args = (config.get<string[]>("serverArgs", ["serve"]) ?? ["serve"]).map((a) => substitute(a, folder));
  return { command, args: [...args, "--workspace", folder, "--quiet"] };
}

/** The Python next to the daemon's executable (its venv), for the workflow commands. */
export function pythonFor(folder: string, config: vscode.WorkspaceConfiguration): string {
  const configured = substitute(config.get<string>("python", "") ?? "", folder);
  if (configured) return configured;
  const local = join(folder, ".venv", "bin", "python");
  if (existsSync(local)) return local;
  const server = serverCommand(folder, config).command;
  if (server.includes("/")) {
    const sibling = join(dirname(server), "python");
    if (existsSync(sibling)) return sibling;
  }
  return "python3";
}

export class DaemonProcess implements vscode.Disposable {
  private child: ChildProcess | undefined;

  constructor(
    private readonly folder: string,
    private readonly output: vscode.OutputChannel,
  ) {}

  /** The daemon we started, while it runs. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null ? this.child.pid : undefined;
  }

  async start(): Promise<void> {
    const config = vscode.workspace.getConfiguration("connectorWatch", vscode.Uri.file(this.folder));
    const { command, args } = serverCommand(this.folder, config);
    this.output.appendLine(`starting: ${command} ${args.join(" ")}`);
    const child = spawn(command, args, {
      cwd: this.folder,
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stdout?.on("data", (data: Buffer) => this.output.append(data.toString()));
    child.stderr?.on("data", (data: Buffer) => this.output.append(data.toString()));
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (error) => {
        const hint =
          (error as NodeJS.ErrnoException).code === "ENOENT"
            ? ` — set "connectorWatch.serverCommand" to the connector-watch executable (e.g. .venv/bin/connector-watch)`
            : "";
        this.output.appendLine(`cannot start ${command}: ${error.message}${hint}`);
        void vscode.window.showErrorMessage(`connector-watch: cannot start the daemon: ${error.message}${hint}`);
        reject(error);
      });
    });
    child.once("exit", (code, signal) => {
      this.output.appendLine(`daemon exited (${signal ?? `code ${code}`})`);
      if (this.child === child) this.child = undefined;
    });
  }

  /** Stop the daemon we started (SIGTERM: it removes its discovery file and stops its workers). */
  async stop(timeoutMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  dispose(): void {
    void this.stop();
  }
}
