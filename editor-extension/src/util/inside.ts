// Where a workspace-relative path really leads: a file inside the workspace folder once symbolic links
// are resolved, or why not. For edits the extension applies on the daemon's word (verified fixes).
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { workspaceRelative } from "../mapping/fixes";

export function fileInside(root: string, path: string): { file: string } | { error: string } {
  const relative = workspaceRelative(path);
  if (!relative) return { error: `${JSON.stringify(path)} is not a path inside the workspace` };
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return { error: `the workspace folder ${root} is not there` };
  }
  let real: string;
  try {
    real = realpathSync(join(root, relative));
  } catch {
    return { error: `${relative} does not exist` };
  }
  if (!real.startsWith(realRoot + sep)) return { error: `${relative} leads outside the workspace (${real})` };
  if (!statSync(real).isFile()) return { error: `${relative} is not a file` };
  return { file: real };
}

/** Whether `file` still holds the bytes whose SHA-256 (hex) is `sha256` (false when it cannot be read). */
export function holds(file: string, sha256: string): boolean {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex") === sha256;
  } catch {
    return false;
  }
}
