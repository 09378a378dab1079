// Commands for the workflow steps (WORKFLOW.md), run in a VS Code terminal, and the cassette reports.
import { readFile } from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import * as vscode from "vscode";
import {
  bootstrapCommand,
  connectorClassIn,
  mergeCommand,
  reportKind,
  reseedCommand,
  sourceOfCassette,
  testClassIn,
} from "../mapping/workflow";
import { pythonFor } from "./daemonProcess";

export class Workflow {
  private terminal: vscode.Terminal | undefined;

  constructor(
    private readonly folder: vscode.Uri,
    private readonly knownSources: () => string[],
  ) {
    vscode.window.onDidCloseTerminal((t) => {
      if (t === this.terminal) this.terminal = undefined;
    });
  }

  private config() {
    return vscode.workspace.getConfiguration("connectorWatch", this.folder);
  }

  private get root(): string {
    return this.folder.fsPath;
  }

  /** Run a command line where the user sees it (one reusable terminal in the workspace folder). */
  run(commandLine: string): vscode.Terminal {
    if (!this.terminal) {
      this.terminal = vscode.window.createTerminal({ name: "connector-watch", cwd: this.folder });
    }
    this.terminal.show(true);
    this.terminal.sendText(commandLine, true);
    return this.terminal;
  }

  private sources(): string[] {
    const known = this.knownSources();
    if (known.length) return known;
    const dir = join(this.root, "sources");
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, `${d.name}.py`)))
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  }

  private async pickSource(title: string): Promise<string | undefined> {
    const sources = this.sources();
    if (!sources.length) {
      void vscode.window.showErrorMessage("connector-watch: no connector sources (sources/<name>/<name>.py) in this workspace");
      return undefined;
    }
    if (sources.length === 1) return sources[0];
    return vscode.window.showQuickPick(sources, { title, placeHolder: "source" });
  }

  private async specOf(source: string): Promise<vscode.Uri | undefined> {
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(this.folder, `**/specs/${source}/endpoints.yaml`), "**/node_modules/**", 1);
    return found[0];
  }

  async bootstrapCorpus(): Promise<void> {
    const source = await this.pickSource("Bootstrap the corpus of which source from its schemas?");
    if (!source) return;
    const connectorFile = join(this.root, "sources", source, `${source}.py`);
    let connectorClass: string | undefined;
    try {
      connectorClass = connectorClassIn(await readFile(connectorFile, "utf8"));
    } catch {
      /* reported below */
    }
    if (!connectorClass) {
      void vscode.window.showErrorMessage(`connector-watch: no LakeflowConnect class in ${relative(this.root, connectorFile)}`);
      return;
    }
    const spec = await this.specOf(source);
    if (!spec) {
      // WORKFLOW.md S1: a missing endpoints.yaml is a connector-dev defect; report and stop.
      void vscode.window.showErrorMessage(`connector-watch: ${source} has no endpoints.yaml (simulator/specs/${source}/endpoints.yaml)`);
      return;
    }
    const corpus = join(dirname(spec.fsPath), "corpus");
    const testRel = join("tests", "unit", "sources", source, `test_${source}_lakeflow_connect.py`);
    let testClass: string | undefined;
    try {
      testClass = testClassIn(await readFile(join(this.root, testRel), "utf8"));
    } catch {
      testClass = undefined;
    }
    let force = false;
    const existing = existsSync(corpus) ? readdirSync(corpus).filter((f) => f.endsWith(".json")) : [];
    if (existing.length) {
      const choice = await vscode.window.showWarningMessage(
        `${relative(this.root, corpus)} already holds ${existing.length} corpus file(s). Overwrite them with synthetic records?`,
        { modal: true },
        "Overwrite",
      );
      if (choice !== "Overwrite") return;
      force = true;
    }
    this.run(
      bootstrapCommand({
        python: pythonFor(this.root, this.config()),
        connectorModule: `sources.${source}.${source}`,
        connectorClass,
        testModule: testClass ? testRel.replace(/\.py$/, "").split("/").join(".") : undefined,
        testClass,
        output: relative(this.root, corpus),
        force,
      }),
    );
  }

  private async cassettes(): Promise<vscode.Uri[]> {
    const all = await vscode.workspace.findFiles(new vscode.RelativePattern(this.folder, "**/cassettes/*.json"), "**/node_modules/**");
    return all.filter((u) => !reportKind(u.path)).sort((a, b) => a.path.localeCompare(b.path));
  }

  async reseedCorpus(): Promise<void> {
    const cassettes = await this.cassettes();
    if (!cassettes.length) {
      void vscode.window.showInformationMessage(
        "connector-watch: no cassette yet — run the tests in record mode first (CONNECTOR_TEST_MODE=record) to record one.",
      );
      return;
    }
    const picked = await vscode.window.showQuickPick(
      cassettes.map((u) => ({ label: relative(this.root, u.fsPath), uri: u })),
      { title: "Re-seed the corpus from which cassette?" },
    );
    if (!picked) return;
    const source = sourceOfCassette(picked.uri.path);
    const spec = source ? await this.specOf(source) : undefined;
    if (!source || !spec) {
      void vscode.window.showErrorMessage(`connector-watch: no endpoints.yaml for the source of ${picked.label}`);
      return;
    }
    const how = await vscode.window.showQuickPick(
      [
        { label: "Merge", description: "merge the recorded records into the corpus", replace: false, dryRun: false },
        { label: "Replace", description: "keep only the recorded records (--replace)", replace: true, dryRun: false },
        { label: "Dry run", description: "say what would change; write nothing", replace: false, dryRun: true },
      ],
      { title: `Re-seed ${source}'s corpus from ${picked.label}` },
    );
    if (!how) return;
    this.run(
      reseedCommand({
        python: pythonFor(this.root, this.config()),
        cassette: picked.label,
        spec: relative(this.root, spec.fsPath),
        output: relative(this.root, join(dirname(spec.fsPath), "corpus")),
        replace: how.replace,
        dryRun: how.dryRun,
      }),
    );
  }

  async mergeSource(): Promise<void> {
    const source = await this.pickSource("Merge which connector's source?");
    if (!source) return;
    const template = this.config().get<string>("mergeCommand") || "${python} -m connector_watch.simulator.tools.merge_source ${source}";
    this.run(mergeCommand(template, { python: pythonFor(this.root, this.config()), source, workspaceFolder: this.root }));
  }

  async openCassetteReport(): Promise<void> {
    const reports = (await vscode.workspace.findFiles(new vscode.RelativePattern(this.folder, "**/cassettes/*.json"), "**/node_modules/**"))
      .filter((u) => reportKind(u.path))
      .sort((a, b) => a.path.localeCompare(b.path));
    if (!reports.length) {
      void vscode.window.showInformationMessage(
        "connector-watch: no validation or coverage report yet — record mode writes <cassette>.validation.json and <cassette>.coverage.json.",
      );
      return;
    }
    const picked = await vscode.window.showQuickPick(
      reports.map((u) => ({
        label: relative(this.root, u.fsPath).split("/").pop()!,
        description: `${reportKind(u.path)} · ${sourceOfCassette(u.path.replace(/\.(validation|coverage)\.json$/, "")) ?? ""}`,
        detail: relative(this.root, u.fsPath),
        uri: u,
      })),
      { title: "Open a cassette report", matchOnDescription: true, matchOnDetail: true },
    );
    if (picked) await vscode.window.showTextDocument(picked.uri, { preview: false });
  }
}
