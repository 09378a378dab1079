// Verified fixes (a diagnostic's `data.fixes`) → what the editor offers: Quick Fixes and the panel's
// Apply button. Pure: no `vscode` (src/vscode/fixes.ts builds the WorkspaceEdit and applies it).
//
// Only a fix the daemon verified (the failing nodes passed with it applied, on a private copy) is ever
// turned into an edit; the `data.fix` sentence stays a sentence. Every edit's path must be a plain
// workspace-relative path: a fix naming anything else is not offered at all.
import { posix } from "node:path";
import type { Blame, Diagnostic, Range, VerifiedFix } from "../generated/protocol";

export interface FixEdit {
  /** Workspace-relative, normalised (no `..`, not absolute). */
  path: string;
  range: Range;
  newText: string;
  /** SHA-256 (hex) of the file's bytes the fix was verified against, when the daemon says. */
  against?: string;
}

/** One Quick Fix: a verified fix, the edits to apply and the diagnostics (of type `D`) it resolves. */
export interface QuickFix<D> {
  title: string;
  isPreferred: boolean;
  edits: FixEdit[];
  /** The nodes the daemon saw pass with it applied. */
  nodeIds: string[];
  diagnostics: D[];
}

/** "Verified fix: change `records_key: ticket` back to … (1 test(s) pass with it applied …)". */
export function fixTitle(fix: VerifiedFix): string {
  const note = fix.verified.note.trim();
  return note ? `Verified fix: ${fix.title} (${note})` : `Verified fix: ${fix.title}`;
}

/**
 * The path normalised when it is a workspace-relative file path, else undefined: absolute paths,
 * `..` escapes, URIs, backslashes, NULs and empty paths are refused.
 */
export function workspaceRelative(path: unknown): string | undefined {
  if (typeof path !== "string" || !path || path.includes("\0") || path.includes("\\")) return undefined;
  if (posix.isAbsolute(path) || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path)) return undefined;
  const normal = posix.normalize(path);
  if (normal === "." || normal === ".." || normal.startsWith("../") || normal.endsWith("/")) return undefined;
  return normal;
}

function validRange(r: unknown): r is Range {
  const position = (p: any) => p && Number.isInteger(p.line) && Number.isInteger(p.character) && p.line >= 0 && p.character >= 0;
  const range = r as Range;
  if (!range || !position(range.start) || !position(range.end)) return false;
  const { start, end } = range;
  return start.line < end.line || (start.line === end.line && start.character <= end.character);
}

/** The fix's edits with checked paths and ranges, or why it cannot be offered. */
export function fixEdits(fix: VerifiedFix): { edits: FixEdit[] } | { error: string } {
  if (!fix.edits.length) return { error: "the fix has no edit" };
  const edits: FixEdit[] = [];
  for (const e of fix.edits) {
    const path = workspaceRelative(e.path);
    if (!path) return { error: `the fix edits ${JSON.stringify(e.path)}, which is not a path inside the workspace` };
    if (!validRange(e.range)) return { error: `the fix has an invalid range in ${path}` };
    if (typeof e.newText !== "string") return { error: `the fix has no new text for ${path}` };
    const against = fix.verified.against?.[e.path];
    edits.push({ path, range: e.range, newText: e.newText, ...(typeof against === "string" ? { against } : {}) });
  }
  return { edits };
}

/** The identity of what a fix does (the same edits offered on two diagnostics are one Quick Fix). */
export function editsKey(edits: FixEdit[]): string {
  return JSON.stringify(
    edits.map((e) => [e.path, e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character, e.newText]),
  );
}

/**
 * Quick Fixes for the diagnostics at a place, in their order and each diagnostic's fixes in the
 * daemon's order (most specific first); the first is preferred. Fixes with the same edits (two
 * failing tests of one root cause, each verified) are offered once, naming every diagnostic.
 */
export function quickFixes<D>(entries: { fixes: readonly VerifiedFix[]; item: D }[]): QuickFix<D>[] {
  const byKey = new Map<string, QuickFix<D>>();
  for (const { fixes, item } of entries) {
    for (const fix of fixes) {
      const checked = fixEdits(fix);
      if ("error" in checked) continue;
      const key = editsKey(checked.edits);
      const known = byKey.get(key);
      if (known) {
        if (!known.diagnostics.includes(item)) known.diagnostics.push(item);
        for (const id of fix.verified.nodeIds) if (!known.nodeIds.includes(id)) known.nodeIds.push(id);
        continue;
      }
      byKey.set(key, { title: fixTitle(fix), isPreferred: false, edits: checked.edits, nodeIds: [...fix.verified.nodeIds], diagnostics: [item] });
    }
  }
  const out = [...byKey.values()];
  if (out.length) out[0].isPreferred = true;
  return out;
}

/** The fixes of a file's diagnostics merged into one list without repeats (by their edits). */
export function mergeFixes(a: readonly VerifiedFix[], b: readonly VerifiedFix[]): VerifiedFix[] {
  const out = [...a];
  const keys = new Set(a.map(keyOf));
  for (const fix of b) {
    const key = keyOf(fix);
    if (!keys.has(key)) {
      keys.add(key);
      out.push(fix);
    }
  }
  return out;
}

function keyOf(fix: VerifiedFix): string {
  return JSON.stringify([fix.title, fix.edits]);
}

// ------------------------------------------------------------------ the panel's Apply button

/**
 * Which fix the panel's Apply button asks for: the diagnostic (file, range, blame, its nodes) and the
 * fix's index and title in its `data.fixes`. Never the edits: the extension looks the fix up in its
 * own copy of the daemon's state and applies what it finds there.
 */
export interface FixRef {
  path: string;
  range: Range;
  code: Blame;
  nodeIds: string[];
  index: number;
  title: string;
}

/** The reference panel.js sends for `diagnostic.data.fixes[index]` (kept in step with its `fixRef`). */
export function fixRef(diagnostic: Diagnostic, index: number): FixRef {
  const fix = diagnostic.data.fixes?.[index];
  return {
    path: diagnostic.data.path,
    range: diagnostic.range,
    code: diagnostic.code,
    nodeIds: [...diagnostic.data.nodeIds],
    index,
    title: fix?.title ?? "",
  };
}

/** A webview message's `ref`, checked field by field; undefined when anything is off. */
export function parseFixRef(value: unknown): FixRef | undefined {
  const v = value as Partial<FixRef> | null;
  if (!v || typeof v !== "object") return undefined;
  const path = workspaceRelative(v.path);
  if (!path || !validRange(v.range) || typeof v.code !== "string" || typeof v.title !== "string") return undefined;
  if (!Number.isInteger(v.index) || (v.index as number) < 0) return undefined;
  if (!Array.isArray(v.nodeIds) || !v.nodeIds.every((id) => typeof id === "string")) return undefined;
  const { start, end } = v.range;
  return {
    path,
    range: { start: { line: start.line, character: start.character }, end: { line: end.line, character: end.character } },
    code: v.code as Blame,
    nodeIds: [...v.nodeIds],
    index: v.index as number,
    title: v.title,
  };
}

function sameRange(a: Range, b: Range): boolean {
  return (
    a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((id, i) => id === y[i]);
}

/** Where the daemon's current diagnostics live (DaemonState has both). */
export interface FixSource {
  files: ReadonlyMap<string, { diagnostics: Diagnostic[] }>;
  nodes: ReadonlyMap<string, { diagnostics?: Diagnostic[] }>;
}

/** The fix a reference names, as the daemon last published it; undefined when it is no longer offered. */
export function findFix(source: FixSource, ref: FixRef): VerifiedFix | undefined {
  const candidates = [
    ...(source.files.get(ref.path)?.diagnostics ?? []),
    ...[...source.nodes.values()].flatMap((n) => n.diagnostics ?? []),
  ];
  for (const d of candidates) {
    if (d.data.path !== ref.path || d.code !== ref.code || !sameRange(d.range, ref.range) || !sameSet(d.data.nodeIds, ref.nodeIds)) continue;
    const fix = d.data.fixes?.[ref.index];
    if (fix && fix.title === ref.title) return fix;
  }
  return undefined;
}
