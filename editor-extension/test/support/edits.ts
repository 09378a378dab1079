// Applies LSP-shaped text edits to a file's text, as an editor would (positions are zero-based lines
// and UTF-16 columns; every range refers to the text before any edit). For tests that apply a
// verified fix on disk without an editor.
import type { Range } from "../../src/generated/protocol";

function offsetOf(text: string, lineStarts: number[], position: Range["start"]): number {
  if (position.line >= lineStarts.length) return text.length;
  const start = lineStarts[position.line];
  // A column past the end of the line means the end of the line (before its newline), as in LSP.
  const end = position.line + 1 < lineStarts.length ? lineStarts[position.line + 1] - 1 : text.length;
  return Math.min(start + position.character, end);
}

export function applyEdits(text: string, edits: readonly { range: Range; newText: string }[]): string {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const spans = edits
    .map((e) => ({ from: offsetOf(text, lineStarts, e.range.start), to: offsetOf(text, lineStarts, e.range.end), newText: e.newText }))
    .sort((a, b) => b.from - a.from);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].to > spans[i - 1].from) throw new Error("overlapping edits");
  }
  let out = text;
  for (const s of spans) out = out.slice(0, s.from) + s.newText + out.slice(s.to);
  return out;
}
