// The Problems panel: one DiagnosticCollection, replaced per file as the daemon publishes. It remembers
// which protocol diagnostic each entry came from, so the Quick Fix provider (./fixes.ts) finds its fixes.
import * as vscode from "vscode";
import type { Diagnostic as ProtocolDiagnostic, PublishDiagnosticsParams, Range, Snapshot } from "../generated/protocol";
import { MappedDiagnostic, UriRebaser, mapFileDiagnostics } from "../mapping/diagnostics";

const SEVERITY: Record<MappedDiagnostic["severity"], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

export function toRange(r: Range): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

export function toDiagnostic(m: MappedDiagnostic): vscode.Diagnostic {
  const d = new vscode.Diagnostic(toRange(m.range), m.message, SEVERITY[m.severity]);
  d.source = m.source;
  d.code = m.code;
  d.relatedInformation = m.related.map(
    (r) => new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.parse(r.uri), toRange(r.range)), r.message),
  );
  return d;
}

/** A Problems entry and what it was made from. */
export interface ProblemEntry {
  diagnostic: vscode.Diagnostic;
  mapped: MappedDiagnostic;
}

export class ProblemsView implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection("connector-watch");
  private readonly entries = new Map<string, ProblemEntry[]>();

  constructor(
    private readonly folder: vscode.Uri,
    private rebase: UriRebaser,
  ) {}

  setRebaser(rebase: UriRebaser): void {
    this.rebase = rebase;
  }

  private uriOf(path: string): vscode.Uri {
    return path.startsWith("/") ? vscode.Uri.file(path) : vscode.Uri.joinPath(this.folder, path);
  }

  private set(path: string, diagnostics: ProtocolDiagnostic[]): void {
    const uri = this.uriOf(path);
    if (!diagnostics.length) {
      this.collection.delete(uri);
      this.entries.delete(uri.toString());
      return;
    }
    const entries = mapFileDiagnostics(diagnostics, this.rebase).map((mapped) => ({ diagnostic: toDiagnostic(mapped), mapped }));
    this.entries.set(uri.toString(), entries);
    this.collection.set(uri, entries.map((e) => e.diagnostic));
  }

  /** The entries of a file (by its URI). */
  entriesOf(uri: vscode.Uri): readonly ProblemEntry[] {
    return this.entries.get(uri.toString()) ?? [];
  }

  applySnapshot(snapshot: Snapshot): void {
    this.clear();
    for (const [path, file] of Object.entries(snapshot.diagnostics)) this.set(path, file.diagnostics);
  }

  publish(p: PublishDiagnosticsParams): void {
    this.set(p.path, p.diagnostics);
  }

  clear(): void {
    this.collection.clear();
    this.entries.clear();
  }

  dispose(): void {
    this.collection.dispose();
  }
}
