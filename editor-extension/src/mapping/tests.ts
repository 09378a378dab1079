// Protocol nodes → the Test Explorer tree (source → test class → test → table) and test results → test
// messages. Pure: the `vscode` adapter turns these specs into TestItems and TestMessages.
import type { Diagnostic, Node as ProtocolNode, Outcome, Range, TestFinishedParams } from "../generated/protocol";
import { CONFIDENT, UriRebaser } from "./diagnostics";

export type ItemKind = "source" | "file" | "class" | "spark" | "function" | "test" | "collection";

export interface ItemSpec {
  id: string;
  label: string;
  kind: ItemKind;
  /** The file the item lives in: workspace-relative, or absolute (a harness installed elsewhere). */
  file?: string;
  /** Zero-based line of the item in `file`. */
  line?: number;
  description?: string;
  /** For tests and collection errors: the daemon's node ID. */
  nodeId?: string;
  /** A collection error's text (shown on the item). */
  error?: string;
  children: ItemSpec[];
}

/** Finds lines in test files (the adapter reads files; tests pass a fake). Lines are zero-based. */
export interface LineLocator {
  classLine(file: string, testClass: string): number | undefined;
  functionLine(file: string, name: string): number | undefined;
}

export const SOURCE_PREFIX = "source:";
export const FILE_PREFIX = "file:";
export const SPARK_PREFIX = "spark:";

export function sourceOf(node: Pick<ProtocolNode, "source" | "file" | "nodeId">): string {
  if (node.source) return node.source;
  const match = /(?:^|\/)sources\/([^/]+)\//.exec(node.file || node.nodeId);
  return match ? match[1] : "(other)";
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The test's label: its name with the table parameter, e.g. `test_read_table[issues]`. */
export function testLabel(node: ProtocolNode): string {
  if (node.kind === "spark") return `${node.name || "spark_read"}[${node.table ?? "(source)"}]`;
  const last = node.nodeId.split("::").pop() || node.nodeId;
  return last;
}

/**
 * Where to put a test in its file when the daemon does not say where it is defined (an older daemon):
 * `Node.line` is pytest's (one-based) line of the function, which for an inherited test (most of
 * LakeflowConnectTests) is a line in the *base class's* file, not in `Node.file`; so a definition in
 * the node's own file wins, then the class line, then the hint.
 */
export function testLine(node: ProtocolNode, locate: LineLocator): number | undefined {
  if (node.name) {
    const own = locate.functionLine(node.file, node.name);
    if (own !== undefined) return own;
  }
  if (node.testClass) {
    const cls = locate.classLine(node.file, node.testClass);
    if (cls !== undefined) return cls;
  }
  return node.line ? node.line - 1 : undefined;
}

/** Where the test's function is defined: the daemon's `definition` (the harness method for an
 *  inherited test), else the best guess in the node's own file. */
export function definitionOf(node: ProtocolNode, locate: LineLocator): { file: string; line?: number } {
  if (node.definition) return { file: node.definition.path, line: node.definition.line };
  return { file: node.file, line: testLine(node, locate) };
}

/** A parametrised node's parameter id: `tickets` of `test_read_table[tickets]`. */
export function parameterOf(node: ProtocolNode): string | undefined {
  const match = /\[([^\]]*)\]$/.exec(node.nodeId);
  return match ? match[1] : undefined;
}

export function buildTree(nodes: Iterable<ProtocolNode>, locate: LineLocator): ItemSpec[] {
  const sources = new Map<string, ItemSpec>();
  const parents = new Map<string, ItemSpec>();
  const sourceItem = (name: string): ItemSpec => {
    let item = sources.get(name);
    if (!item) {
      item = { id: `${SOURCE_PREFIX}${name}`, label: name, kind: "source", children: [] };
      sources.set(name, item);
    }
    return item;
  };
  for (const node of nodes) {
    const source = sourceItem(sourceOf(node));
    if (node.kind === "collection") {
      source.children.push({
        id: node.nodeId,
        label: `${baseName(node.file)} (does not collect)`,
        kind: "collection",
        file: node.file,
        line: 0,
        nodeId: node.nodeId,
        error: node.message || "this test file failed to collect",
        children: [],
      });
      continue;
    }
    if (node.kind === "spark") {
      // The end-to-end read of each table through Spark, after the source's tests pass.
      const sparkId = `${SPARK_PREFIX}${sourceOf(node)}`;
      let spark = parents.get(sparkId);
      if (!spark) {
        spark = { id: sparkId, label: "Spark read", kind: "spark", description: "end to end through Spark", children: [] };
        parents.set(sparkId, spark);
        source.children.push(spark);
      }
      spark.children.push({ id: node.nodeId, label: testLabel(node), kind: "test", file: node.file, nodeId: node.nodeId, children: [] });
      continue;
    }
    const parentId = node.testClass ? `${node.file}::${node.testClass}` : `${FILE_PREFIX}${node.file}`;
    let parent = parents.get(parentId);
    if (!parent) {
      parent = node.testClass
        ? {
            id: parentId,
            label: node.testClass,
            kind: "class",
            file: node.file,
            line: locate.classLine(node.file, node.testClass),
            description: baseName(node.file),
            children: [],
          }
        : { id: parentId, label: baseName(node.file), kind: "file", file: node.file, line: 0, children: [] };
      parents.set(parentId, parent);
      source.children.push(parent);
    }
    const definition = definitionOf(node, locate);
    const parameter = parameterOf(node);
    if (parameter === undefined) {
      parent.children.push({ id: node.nodeId, label: testLabel(node), kind: "test", ...definition, nodeId: node.nodeId, children: [] });
      continue;
    }
    // test → table: one item per test function, its tables (parametrisations) under it.
    const functionId = `${parentId}::${node.name ?? testLabel(node).replace(/\[.*$/, "")}`;
    let fn = parents.get(functionId);
    if (!fn) {
      fn = { id: functionId, label: node.name ?? testLabel(node).replace(/\[.*$/, ""), kind: "function", ...definition, children: [] };
      parents.set(functionId, fn);
      parent.children.push(fn);
    }
    const where = node.parametrisation ? { file: node.parametrisation.path, line: node.parametrisation.line } : definition;
    fn.children.push({ id: node.nodeId, label: node.table ?? parameter, kind: "test", ...where, nodeId: node.nodeId, children: [] });
  }
  const sortTree = (items: ItemSpec[]): ItemSpec[] => {
    items.sort((a, b) => a.label.localeCompare(b.label));
    for (const item of items) sortTree(item.children);
    return items;
  };
  return sortTree([...sources.values()]);
}

/** Every node ID at or below the given items (a source or class stands for all its tests). */
export function leafNodeIds(items: Iterable<ItemSpec>): string[] {
  const out: string[] = [];
  const walk = (item: ItemSpec) => {
    if (item.nodeId) out.push(item.nodeId);
    for (const child of item.children) walk(child);
  };
  for (const item of items) walk(item);
  return out;
}

export type RunParamsChoice = { all: true } | { source: string } | { nodeIds: string[] };

/** Spark nodes (`spark::<source>::<table>`) cannot be requested: the daemon runs them after a source's tests pass. */
export function isSparkNodeId(nodeId: string): boolean {
  return nodeId.startsWith("spark::");
}

/**
 * The narrowest `run` request for a selection: everything → `{all}`, exactly one whole source →
 * `{source}` (the daemon then also runs that source's files that did not collect), else node IDs.
 */
/** The node IDs a run of `selected` must request: a Spark node stands for its source's tests. */
export function expandSelection(
  selected: string[],
  allNodeIds: string[],
  sourceOfNode: (nodeId: string) => string | undefined,
): string[] {
  const chosen = new Set(selected.filter((id) => !isSparkNodeId(id)));
  for (const id of selected) {
    if (!isSparkNodeId(id)) continue;
    const source = sourceOfNode(id);
    for (const other of allNodeIds) if (!isSparkNodeId(other) && sourceOfNode(other) === source) chosen.add(other);
  }
  return [...chosen];
}

export function runParamsFor(
  selected: string[],
  allNodeIds: string[],
  sourceOfNode: (nodeId: string) => string | undefined,
): RunParamsChoice {
  const requested = expandSelection(selected, allNodeIds, sourceOfNode);
  const chosen = new Set(requested);
  const requestable = allNodeIds.filter((id) => !isSparkNodeId(id));
  if (requestable.length > 0 && requestable.every((id) => chosen.has(id))) return { all: true };
  const sources = new Set(requested.map(sourceOfNode));
  if (sources.size === 1) {
    const [source] = sources;
    if (source && source !== "(other)") {
      const ofSource = requestable.filter((id) => sourceOfNode(id) === source);
      if (ofSource.length && ofSource.every((id) => chosen.has(id))) return { source };
    }
  }
  return { nodeIds: requested };
}

// ---------------------------------------------------------------------------- results

export type ResultKind = "passed" | "failed" | "errored" | "skipped";

/** VS Code's result states: an assertion failed → failed; error, timeout, crash → errored. */
export function resultKind(outcome: Outcome): ResultKind {
  switch (outcome) {
    case "passed":
      return "passed";
    case "skipped":
      return "skipped";
    case "failed":
      return "failed";
    default:
      return "errored";
  }
}

export interface MessageSpec {
  markdown: string;
  /** Where the peek view opens: the blamed file's range (the connector line, spec key, corpus record). */
  location?: { uri: string; range: Range };
  expected?: string;
  actual?: string;
  /** The blamed party, for `testing/message/context` menus. */
  contextValue?: string;
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_{}[\]<>#|])/g, "\\$1");
}

function describe(d: Diagnostic, rebase: UriRebaser): string {
  const confidence = Math.round(d.data.confidence * 100);
  const lines = [
    `**${d.code}** blame (confidence ${confidence}%${d.data.confidence < CONFIDENT ? ", uncertain" : ""}): ` +
      escapeMarkdown(d.message),
  ];
  if (d.data.fix) lines.push("", `*fix:* ${escapeMarkdown(d.data.fix)}`);
  if (d.relatedInformation.length) {
    lines.push("");
    for (const r of d.relatedInformation) {
      const uri = rebase(r.location.uri);
      const line = r.location.range.start.line + 1;
      lines.push(`- [${escapeMarkdown(shortPath(uri))}:${line}](${uri}#L${line}) ${escapeMarkdown(r.message)}`);
    }
  }
  if (d.data.evidence.length) {
    lines.push("", "evidence:");
    for (const e of d.data.evidence) lines.push(`- ${escapeMarkdown(e)}`);
  }
  return lines.join("\n");
}

function shortPath(uri: string): string {
  const path = decodeURIComponent(uri.replace(/^file:\/\//, ""));
  const parts = path.split("/");
  return parts.slice(-3).join("/");
}

/** Test messages for a finished test: one per diagnostic, at the blamed location. */
export function testMessages(
  finished: Pick<TestFinishedParams, "outcome" | "diagnostics" | "message">,
  rebase: UriRebaser,
  fallbackLocation?: { uri: string; range: Range },
): MessageSpec[] {
  if (finished.outcome === "passed" || finished.outcome === "skipped") return [];
  const messages: MessageSpec[] = finished.diagnostics.map((d) => ({
    markdown: describe(d, rebase),
    location: { uri: rebase(d.data.uri), range: d.range },
    contextValue: d.code,
    // Ground-truth failures: the corpus records the requests selected vs. what the connector returned.
    ...(d.data.diff ? { expected: d.data.diff.expected, actual: d.data.diff.actual } : {}),
  }));
  if (messages.length === 0) {
    const text = finished.message || `${finished.outcome} (no detail from the daemon)`;
    messages.push({ markdown: "```\n" + text.replace(/```/g, "ˋˋˋ") + "\n```", location: fallbackLocation });
  }
  return messages;
}
