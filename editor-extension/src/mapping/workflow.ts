// Command lines for the workflow steps of WORKFLOW.md, run in a VS Code terminal so the user sees
// them: bootstrap a corpus from the connector's schemas, re-seed a corpus from a recorded cassette,
// merge a connector's source. Pure string work (unit-tested); the adapter picks the inputs.

/** POSIX shell quoting: safe words stay bare, anything else is single-quoted. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

export function commandLine(words: string[]): string {
  return words.map(shellQuote).join(" ");
}

export interface BootstrapInputs {
  python: string;
  /** e.g. sources.zendesk.zendesk */
  connectorModule: string;
  connectorClass: string;
  /** The test module and class whose `replay_config` holds the stand-in credentials. */
  testModule?: string;
  testClass?: string;
  output: string;
  records?: number;
  force?: boolean;
}

/** WORKFLOW.md S2: `python -m connector_watch.simulator.tools.corpus_from_schema` with the test class's stand-in credentials. */
export function bootstrapCommand(i: BootstrapInputs): string {
  const words = [i.python, "-m", "connector_watch.simulator.tools.corpus_from_schema", "--connector", `${i.connectorModule}:${i.connectorClass}`];
  let config = "";
  if (i.testModule && i.testClass) {
    const script = `import json; from ${i.testModule} import ${i.testClass} as T; print(json.dumps(getattr(T, "replay_config", {}) or {}))`;
    config = ` --config "$(${commandLine([i.python, "-c", script])})"`;
  }
  const tail = ["--output", i.output, "--records", String(i.records ?? 5), ...(i.force ? ["--force"] : [])];
  return `${commandLine(words)}${config} ${commandLine(tail)}`;
}

export interface ReseedInputs {
  python: string;
  cassette: string;
  spec: string;
  output: string;
  replace?: boolean;
  dryRun?: boolean;
}

/** WORKFLOW.md R3: `python -m connector_watch.simulator.tools.cassette_to_corpus --cassette … --spec … --output …`. */
export function reseedCommand(i: ReseedInputs): string {
  return commandLine([
    i.python,
    "-m",
    "connector_watch.simulator.tools.cassette_to_corpus",
    "--cassette",
    i.cassette,
    "--spec",
    i.spec,
    "--output",
    i.output,
    ...(i.replace ? ["--replace"] : []),
    ...(i.dryRun ? ["--dry-run"] : []),
  ]);
}

/** The merge step: the `connectorWatch.mergeCommand` template with `${python}`, `${source}`, `${workspaceFolder}`. */
export function mergeCommand(template: string, vars: { python: string; source: string; workspaceFolder: string }): string {
  return template
    .replace(/\$\{python\}/g, shellQuote(vars.python))
    .replace(/\$\{source\}/g, shellQuote(vars.source))
    .replace(/\$\{workspaceFolder\}/g, shellQuote(vars.workspaceFolder));
}

/** `sources/<name>/<name>.py` → the class that implements LakeflowConnect (e.g. ZendeskLakeflowConnect). */
export function connectorClassIn(text: string): string | undefined {
  const match = /^class\s+(\w+)\s*\(([^)]*)\)\s*:/m.exec(
    text
      .split("\n")
      .filter((l) => /^class\s+\w+\s*\([^)]*LakeflowConnect[^)]*\)/.test(l))
      .join("\n"),
  );
  return match ? match[1] : undefined;
}

/** The test class of a `test_<name>_lakeflow_connect.py` (the one setting `simulator_source`, else the first `Test…`). */
export function testClassIn(text: string): string | undefined {
  const classes = [...text.matchAll(/^class\s+(Test\w+)\s*[(:]/gm)].map((m) => m[1]);
  return classes[0];
}

/** `tests/unit/sources/<source>/cassettes/<TestClass>.json` → `<source>`. */
export function sourceOfCassette(path: string): string | undefined {
  const match = /(?:^|\/)([^/]+)\/cassettes\/[^/]+\.json$/.exec(path);
  return match ? match[1] : undefined;
}

/** Cassette reports sit next to the cassette: `<cassette>.validation.json` and `<cassette>.coverage.json`. */
export function reportKind(path: string): "validation" | "coverage" | undefined {
  if (path.endsWith(".validation.json")) return "validation";
  if (path.endsWith(".coverage.json")) return "coverage";
  return undefined;
}
