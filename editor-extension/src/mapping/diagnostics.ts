// Protocol diagnostics → what the Problems panel shows. Pure (the `vscode` adapter only builds classes).
import type { Blame, Diagnostic, Range, VerifiedFix } from "../generated/protocol";
import { mergeFixes } from "./fixes";

export type Severity = "error" | "warning" | "information" | "hint";

export interface MappedRelated {
  uri: string;
  range: Range;
  message: string;
}

export interface MappedDiagnostic {
  /** Workspace-relative path of the file the range is in. */
  path: string;
  range: Range;
  severity: Severity;
  message: string;
  /** Shown by VS Code as `connector-watch(corpus)`: the blamed party. */
  code: Blame;
  source: "connector-watch";
  related: MappedRelated[];
  blame: Blame;
  confidence: number;
  origin: "run" | "static";
  check: string | null;
  /** The daemon's verified fixes (src/mapping/fixes.ts): offered as Quick Fixes. */
  fixes: VerifiedFix[];
}

/** Below this confidence a failure's blame is a lead, not a verdict: shown as a warning. */
export const CONFIDENT = 0.5;

/**
 * Severity by blame and confidence:
 * - a failure (protocol severity 1) is an error where the daemon is confident this side is at fault
 *   (confidence ≥ 0.5), a warning where it is not (the other side may be the culprit);
 * - `environment` failures (missing dependency, crashed worker, clock) are warnings: nothing in
 *   the underlined file is wrong;
 * - lint findings (2) stay warnings, 3 and 4 information and hint, as in LSP.
 */
export function severityOf(d: Pick<Diagnostic, "severity" | "code"> & { data: { confidence: number } }): Severity {
  if (d.severity === 1) {
    if (d.code === "environment") return "warning";
    return d.data.confidence >= CONFIDENT ? "error" : "warning";
  }
  return d.severity === 2 ? "warning" : d.severity === 3 ? "information" : "hint";
}

export function diagnosticMessage(d: Diagnostic): string {
  const parts = [d.message];
  if (d.severity === 1 && d.data.confidence < CONFIDENT && d.code !== "environment") {
    parts[0] = `possibly ${d.code}: ${d.message}`;
  }
  if (d.data.fix) parts.push(`fix: ${d.data.fix}`);
  return parts.join("\n");
}

/** Rewrites a daemon `file://` URI into the editor's view of the workspace (they may differ by root). */
export type UriRebaser = (uri: string) => string;

export function rebaser(daemonWorkspaceUri: string, editorWorkspaceUri: string): UriRebaser {
  const from = daemonWorkspaceUri.replace(/\/$/, "");
  const to = editorWorkspaceUri.replace(/\/$/, "");
  return (uri) => (from && uri.startsWith(`${from}/`) ? `${to}${uri.slice(from.length)}` : uri);
}

export function mapDiagnostic(d: Diagnostic, rebase: UriRebaser = (u) => u): MappedDiagnostic {
  return {
    path: d.data.path,
    range: d.range,
    severity: severityOf(d),
    message: diagnosticMessage(d),
    code: d.code,
    source: "connector-watch",
    related: d.relatedInformation.map((r) => ({
      uri: rebase(r.location.uri),
      range: r.location.range,
      message: r.message,
    })),
    blame: d.code,
    confidence: d.data.confidence,
    origin: d.data.origin,
    check: d.data.check,
    fixes: d.data.fixes ?? [],
  };
}

/**
 * One file's published set, mapped; identical diagnostics (static check and run agree, or two tests
 * of one root cause) kept once, with the verified fixes of all of them.
 */
export function mapFileDiagnostics(diagnostics: Diagnostic[], rebase?: UriRebaser): MappedDiagnostic[] {
  const seen = new Map<string, MappedDiagnostic>();
  const out: MappedDiagnostic[] = [];
  for (const d of diagnostics) {
    const key = JSON.stringify([d.range, d.code, d.message, d.data.origin]);
    const known = seen.get(key);
    if (known) {
      known.fixes = mergeFixes(known.fixes, d.data.fixes ?? []);
      continue;
    }
    const mapped = mapDiagnostic(d, rebase);
    seen.set(key, mapped);
    out.push(mapped);
  }
  return out;
}
