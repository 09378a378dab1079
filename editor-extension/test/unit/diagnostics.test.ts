import assert from "node:assert/strict";
import { test } from "node:test";
import type { Diagnostic } from "../../src/generated/protocol";
import { mapDiagnostic, mapFileDiagnostics, rebaser, severityOf } from "../../src/mapping/diagnostics";
import { loadSession } from "../support/session";

function corpusRunDiagnostic(): Diagnostic {
  for (const n of loadSession().notifications) {
    if (n.method === "test/finished" && n.params.diagnostics.length) return n.params.diagnostics[0];
  }
  throw new Error("fixture has no failing test");
}

function with_(d: Diagnostic, change: Partial<Diagnostic> & { confidence?: number }): Diagnostic {
  const { confidence, ...rest } = change;
  return { ...d, ...rest, data: { ...d.data, ...(confidence !== undefined ? { confidence } : {}) } };
}

test("the corpus failure maps to an error at the corpus record, linked to the connector's schema line", () => {
  const d = corpusRunDiagnostic();
  const m = mapDiagnostic(d, rebaser("file:///tmp/ws", "file:///home/me/ws"));
  assert.equal(m.path, "simulator/specs/zendesk/corpus/tickets.json");
  assert.deepEqual(m.range, d.range);
  assert.equal(m.severity, "error");
  assert.equal(m.code, "corpus");
  assert.equal(m.source, "connector-watch");
  assert.match(m.message, /does not fit the connector's schema/);
  assert.match(m.message, /\nfix: give 'id' a bigint value/);
  assert.equal(m.related.length, 1);
  assert.equal(m.related[0].uri, "file:///home/me/ws/sources/zendesk/zendesk.py", "related URIs are rebased onto the editor's folder");
  assert.equal(m.related[0].message, "the schema declares the type here");
});

test("severity by blame and confidence", () => {
  const d = corpusRunDiagnostic();
  assert.equal(severityOf(with_(d, { confidence: 0.8 })), "error");
  assert.equal(severityOf(with_(d, { confidence: 0.3 })), "warning", "an uncertain blame is a warning");
  assert.match(mapDiagnostic(with_(d, { confidence: 0.3 })).message, /^possibly corpus: /);
  assert.equal(severityOf(with_(d, { code: "environment", confidence: 0.9 })), "warning");
  assert.equal(severityOf(with_(d, { severity: 2 })), "warning", "lint findings stay warnings");
  assert.equal(severityOf(with_(d, { severity: 3 })), "information");
  assert.equal(severityOf(with_(d, { severity: 4 })), "hint");
});

test("a file's set keeps identical diagnostics once but keeps the static finding and the run's blame apart", () => {
  const d = corpusRunDiagnostic();
  const staticOne = { ...d, message: "id: str value does not fit", relatedInformation: [], data: { ...d.data, origin: "static" as const } };
  const mapped = mapFileDiagnostics([d, d, staticOne]);
  assert.equal(mapped.length, 2);
  assert.deepEqual(mapped.map((m) => m.origin).sort(), ["run", "static"]);
});

test("the rebaser leaves URIs outside the daemon's workspace alone", () => {
  const rebase = rebaser("file:///tmp/ws/", "file:///home/me/ws");
  assert.equal(rebase("file:///tmp/ws/a.py"), "file:///home/me/ws/a.py");
  assert.equal(rebase("file:///tmp/wsx/a.py"), "file:///tmp/wsx/a.py");
  assert.equal(rebase("file:///usr/lib/python3/x.py"), "file:///usr/lib/python3/x.py");
});
