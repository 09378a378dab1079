// Verified fixes in VS Code: a CodeActionProvider that offers each Problems entry's `data.fixes` as
// Quick Fixes, and the apply step the panel's Apply button uses. The mapping (which fixes, titles,
// checked paths) is src/mapping/fixes.ts; here the edits become a WorkspaceEdit on files that must
// resolve inside the workspace folder (symbolic links included) and have no unsaved changes (a fix
// was verified against the saved file: its ranges mean nothing in a buffer edited since), and still
// hold the bytes the daemon verified the fix against (`verified.against`: a fix applied and saved
// stays in the Problems until the rerun republishes; offered again, it would apply twice).
import * as vscode from "vscode";
import type { VerifiedFix } from "../generated/protocol";
import { FixEdit, fixEdits, quickFixes } from "../mapping/fixes";
import { fileInside, holds } from "../util/inside";
import { ProblemsView, toRange } from "./problems";

export type Built = { edit: vscode.WorkspaceEdit; uris: vscode.Uri[] } | { error: string };

/** A WorkspaceEdit from checked edits, or why it may not be applied. */
export function workspaceEdit(folder: vscode.Uri, edits: readonly FixEdit[]): Built {
  const edit = new vscode.WorkspaceEdit();
  const uris: vscode.Uri[] = [];
  for (const e of edits) {
    const inside = fileInside(folder.fsPath, e.path);
    if ("error" in inside) return inside;
    const uri = vscode.Uri.joinPath(folder, e.path);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open?.isDirty) return { error: `save ${e.path} first: the fix was verified against the saved file` };
    // Saved since (this fix applied already, or another edit): its ranges point at other text.
    if (e.against !== undefined && !holds(inside.file, e.against))
      return { error: `${e.path} changed since the fix was verified: the daemon is checking it again` };
    edit.replace(uri, toRange(e.range), e.newText);
    if (!uris.some((u) => u.toString() === uri.toString())) uris.push(uri);
  }
  return { edit, uris };
}

export class VerifiedFixProvider implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] };

  constructor(
    private readonly folder: vscode.Uri,
    private readonly problems: ProblemsView,
  ) {}

  /** Registers the provider for files under the workspace folder. */
  static register(folder: vscode.Uri, problems: ProblemsView): vscode.Disposable {
    const selector: vscode.DocumentSelector = { scheme: folder.scheme, pattern: new vscode.RelativePattern(folder, "**/*") };
    return vscode.languages.registerCodeActionsProvider(selector, new VerifiedFixProvider(folder, problems), VerifiedFixProvider.metadata);
  }

  provideCodeActions(document: vscode.TextDocument, range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    if (context.only && !vscode.CodeActionKind.QuickFix.intersects(context.only)) return [];
    const entries = this.problems
      .entriesOf(document.uri)
      .filter((e) => e.mapped.fixes.length && e.diagnostic.range.intersection(range) !== undefined);
    return quickFixes(entries.map((e) => ({ fixes: e.mapped.fixes, item: e.diagnostic }))).map((q) => {
      const action = new vscode.CodeAction(q.title, vscode.CodeActionKind.QuickFix);
      action.isPreferred = q.isPreferred;
      action.diagnostics = q.diagnostics;
      const built = workspaceEdit(this.folder, q.edits);
      if ("error" in built) action.disabled = { reason: built.error };
      else action.edit = built.edit;
      return action;
    });
  }
}

export interface ApplyResult {
  ok: boolean;
  message: string;
}

/**
 * Applies a verified fix (from the extension's own state, never from a webview) and saves the files it
 * changed, so the daemon reruns what they affect. The files had no unsaved changes (checked), so the
 * save writes only the fix.
 */
export async function applyVerifiedFix(folder: vscode.Uri, fix: VerifiedFix): Promise<ApplyResult> {
  const checked = fixEdits(fix);
  if ("error" in checked) return { ok: false, message: checked.error };
  const built = workspaceEdit(folder, checked.edits);
  if ("error" in built) return { ok: false, message: built.error };
  if (!(await vscode.workspace.applyEdit(built.edit))) return { ok: false, message: "VS Code did not apply the edit" };
  for (const uri of built.uris) {
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (document?.isDirty && !(await document.save())) return { ok: false, message: `applied, but ${vscode.workspace.asRelativePath(uri)} was not saved` };
  }
  const files = built.uris.map((u) => vscode.workspace.asRelativePath(u)).join(", ");
  return { ok: true, message: `applied to ${files}; the daemon reruns the ${fix.verified.nodeIds.length} test(s) it fixes` };
}
