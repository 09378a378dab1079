"""Candidate fixes: the mechanical edit a blamed diagnostic's evidence implies (pure).

Nothing here is offered to anyone: a candidate becomes a fix only once the failing nodes pass with
it applied on the overlay (:mod:`connector_watch.daemon.fix_check`). The candidates:

- **restore** what a spec, corpus or test edit changed, when the causal reruns found that edit to
  be the trigger *and* the culprit (the value before the edit that broke it);
- **spec path** set to what the connector requests, when no spec endpoint models its request and
  one is a near miss;
- **corpus value** converted to the type the schema declares (``"42"`` for a ``bigint``);
- **corpus field** renamed to the schema's name (a record lacking a required field but holding a
  near-named one);
- **duplicate key** given a fresh value;
- **replay_config** given the option the connector reads (``KeyError: 'subdomain'`` in its
  constructor).

The connector's own changes are never reverted: that would discard the author's work.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from connector_watch.daemon.blame.causality import TriggerEvidence, trigger_blame
from connector_watch.daemon.blame.context import FailureInput
from connector_watch.daemon.diagnostics import Diagnostic, Position, Range, TextEdit
from connector_watch.daemon.sources_view import SourceView, json_data, json_span
from connector_watch.daemon.utf16 import editor_lines
from connector_watch.simulator.layout import Layout

#: Kinds of trigger whose edit may be undone for the user (never the connector's code).
RESTORABLE = ("spec", "corpus", "test", "table_config", "test_support")


@dataclass(frozen=True)
class CandidateFix:
    title: str
    edits: tuple[TextEdit, ...]

    def key(self) -> tuple[tuple[str, int, int, int, int, str], ...]:
        return tuple(
            (e.path, e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character, e.new_text)
            for e in self.edits
        )


def candidates(
    diagnostic: Diagnostic, failure: FailureInput, layout: Layout, view: SourceView
) -> list[CandidateFix]:
    """Every mechanical edit this diagnostic's evidence implies, most specific first."""
    found: list[CandidateFix] = []
    causal = failure.causal
    if causal is not None and causal.status == "trigger":
        for trigger in causal.triggers:
            if (
                trigger.kind in RESTORABLE
                and trigger_blame(trigger) == diagnostic.blame
                and not trigger.whole_file
                and trigger.before is not None
                and trigger.after is not None
            ):
                found.append(restore(trigger, view))
    for builder in (_spec_path, _corpus_value, _corpus_field, _duplicate_key, _replay_option):
        try:
            fix = builder(diagnostic, failure, layout, view)
        except (KeyError, ValueError, IndexError, TypeError):
            fix = None
        if fix is not None and fix.key() not in {f.key() for f in found}:
            found.append(fix)
    return [f for f in found if f.edits]


# ---------------------------------------------------------------------------- restore a trigger


def restore(trigger: TriggerEvidence, view: SourceView) -> CandidateFix:
    """The trigger hunk undone: its lines as they were at the base."""
    old_lines = editor_lines(trigger.before or "", keepends=True)
    new_lines = editor_lines(trigger.after or "", keepends=True)
    (old_start, old_end), (new_start, new_end) = trigger.old_span, trigger.new_span
    replacement = "".join(old_lines[old_start:old_end])
    edit = TextEdit(trigger.path, Range(Position(new_start, 0), Position(new_end, 0)), replacement)
    removed = [line.strip() for line in new_lines[new_start:new_end]]
    restored = [line.strip() for line in old_lines[old_start:old_end]]
    if len(removed) == 1 and len(restored) == 1:
        now, then = _around_the_difference(removed[0], restored[0])
        title = f"change `{now}` back to `{then}`"
    elif not removed:
        title = f"restore {len(restored)} line(s) removed from {trigger.path}"
    elif not restored:
        title = f"remove the {len(removed)} line(s) added to {trigger.path}"
    else:
        title = f"restore {trigger.describe()} as it was before the edit"
    return CandidateFix(title, (edit,))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _common_start(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _around_the_difference(now: str, then: str, limit: int = 60, context: int = 16) -> tuple[str, str]:
    """**Pure**: two versions of a line, cut to what differs with a little context either side (a
    long YAML flow mapping would otherwise show only its unchanged start)."""
    if len(now) <= limit and len(then) <= limit:
        return now, then
    same_start = _common_start(now, then)
    same_end = _common_start(now[same_start:][::-1], then[same_start:][::-1])
    start = max(0, same_start - context)

    def cut(text: str) -> str:
        end = len(text) - max(0, same_end - context)
        return ("…" if start else "") + _short(text[start:end], limit) + ("…" if end < len(text) else "")

    return cut(now), cut(then)


# ---------------------------------------------------------------------------- spec


def _spec_path(diagnostic: Diagnostic, failure: FailureInput, layout: Layout, view: SourceView) -> CandidateFix | None:
    """No endpoint models the connector's request, and one is a near miss: make its path the request's."""
    if diagnostic.code != "simulator.unknown_endpoint" or diagnostic.blame != "spec":
        return None
    entry = next((e for e in reversed(failure.trace) if e.get("outcome") == "unknown-endpoint"), None)
    if entry is None:
        return None
    requested = re.sub(r"^[a-z]+://[^/]+", "", entry["url"]).split("?")[0]
    location = diagnostic.location
    text = view.text(location.path)
    if text is None or not location.path.endswith((".yaml", ".yml")):
        return None
    lines = editor_lines(text, keepends=True)
    line = lines[location.range.start.line] if location.range.start.line < len(lines) else ""
    match = re.search(r"path:\s*(\S+)", line)
    if not match:
        return None
    template = match.group(1)
    merged = _fill_template(template, requested)
    if merged is None or merged == template:
        return None
    start = line.index(template, match.start(1))
    row = location.range.start.line
    edit = TextEdit(location.path, Range(Position(row, start), Position(row, start + len(template))), merged)
    return CandidateFix(f"model the connector's request: path `{merged}`", (edit,))


def _fill_template(template: str, requested: str) -> str | None:
    """The request's path, keeping the template's ``{parameters}`` where the segments line up."""
    ours, theirs = template.strip("/").split("/"), requested.strip("/").split("/")
    if len(ours) != len(theirs):
        return None
    merged = [t if t.startswith("{") else r for t, r in zip(ours, theirs, strict=True)]
    return "/" + "/".join(merged)


# ---------------------------------------------------------------------------- corpus


def _corpus_value(diagnostic: Diagnostic, failure: FailureInput, layout: Layout, view: SourceView) -> CandidateFix | None:
    """A corpus value of the wrong type that converts to the schema's type without loss."""
    if diagnostic.blame != "corpus" or diagnostic.code not in ("read.schema_parse", "corpus.type"):
        return None
    location = diagnostic.location
    text = view.text(location.path)
    if text is None:
        return None
    lines = editor_lines(text)
    row = location.range.start.line
    line = lines[row] if row < len(lines) else ""
    match = re.match(r'(\s*"[^"]+"\s*:\s*)("(?:[^"\\]|\\.)*")(,?)\s*$', line)
    if not match:
        return None
    value = json.loads(match.group(2))
    kind = _declared_type(diagnostic)
    converted: Any = None
    if kind in ("bigint", "int", "integer", "long", "short", "smallint", "tinyint") and re.fullmatch(r"-?\d+", value):
        converted = int(value)
    elif kind in ("double", "float", "decimal") and re.fullmatch(r"-?\d+(\.\d+)?", value):
        converted = float(value)
    elif kind in ("boolean", "bool") and value.lower() in ("true", "false"):
        converted = value.lower() == "true"
    if converted is None:
        return None
    start = len(match.group(1))
    end = start + len(match.group(2))
    edit = TextEdit(location.path, Range(Position(row, start), Position(row, end)), json.dumps(converted))
    return CandidateFix(f"make {match.group(2)} a {kind} ({json.dumps(converted)})", (edit,))


def _declared_type(diagnostic: Diagnostic) -> str | None:
    match = re.search(r"\((\w+)\)", diagnostic.message) or re.search(r"schema says (\w+)", " ".join(diagnostic.evidence))
    return match.group(1).lower().replace("type", "") if match else None


def _corpus_field(diagnostic: Diagnostic, failure: FailureInput, layout: Layout, view: SourceView) -> CandidateFix | None:
    """A record lacks a field the schema requires but holds a near-named one: rename it back."""
    if diagnostic.blame != "corpus" or not diagnostic.code or ("non_nullable" not in diagnostic.code and "null" not in diagnostic.code):
        return None
    missing = re.findall(r"'([^']+)'", diagnostic.message.split("which the schema requires")[0])
    location = diagnostic.location
    data = json_data(view, location.path)
    match = re.search(r"\[(\d+)\]", diagnostic.message)
    if not isinstance(data, list) or not match or not missing:
        return None
    index = int(match.group(1))
    record = data[index]
    field = missing[-1]
    close = difflib.get_close_matches(field, [k for k in record if k != field], n=1, cutoff=0.6)
    if not close:
        return None
    span = json_span(view, location.path, (index, close[0]), prefer="key")
    if span is None:
        return None
    edit = TextEdit(
        location.path,
        Range(Position(span.start.line - 1, span.start.column - 1), Position(span.end.line - 1, span.end.column - 1)),
        json.dumps(field),
    )
    return CandidateFix(f"rename field `{close[0]}` to `{field}` as the schema names it", (edit,))


def _duplicate_key(diagnostic: Diagnostic, failure: FailureInput, layout: Layout, view: SourceView) -> CandidateFix | None:
    """A duplicated primary key: give the later record a fresh value."""
    if diagnostic.code not in ("corpus.duplicate_key", "ground_truth.duplicates") or diagnostic.blame != "corpus":
        return None
    location = diagnostic.location
    data = json_data(view, location.path)
    text = view.text(location.path)
    if not isinstance(data, list) or text is None:
        return None
    row = location.range.start.line
    line = editor_lines(text)[row]
    match = re.match(r'(\s*"([^"]+)"\s*:\s*)(-?\d+|"(?:[^"\\]|\\.)*")', line)
    if not match:
        return None
    key, raw = match.group(2), match.group(3)
    values = [r.get(key) for r in data if isinstance(r, dict)]
    value = json.loads(raw)
    if isinstance(value, int):
        fresh: Any = max(v for v in values if isinstance(v, int)) + 1
    else:
        n = 2
        while f"{value}-{n}" in values:
            n += 1
        fresh = f"{value}-{n}"
    start = len(match.group(1))
    edit = TextEdit(location.path, Range(Position(row, start), Position(row, start + len(raw))), json.dumps(fresh))
    return CandidateFix(f"give the duplicate `{key}` a fresh value ({json.dumps(fresh)})", (edit,))


# ---------------------------------------------------------------------------- test settings


def _replay_option(diagnostic: Diagnostic, failure: FailureInput, layout: Layout, view: SourceView) -> CandidateFix | None:
    """The connector's constructor reads an option the test class's ``replay_config`` lacks."""
    if diagnostic.blame != "test":
        return None
    missing = None
    for exc in (failure.failure or {}).get("chain", []):
        if exc.get("type") == "KeyError":
            found = re.match(r"'([^']+)'", exc.get("message", "") or "")
            if found:
                missing = found.group(1)
    if missing is None or not failure.test_file:
        return None
    text = view.text(failure.test_file)
    if text is None:
        return None
    lines = editor_lines(text, keepends=True)
    for row, line in enumerate(lines):
        match = re.match(r"(\s*)replay_config\s*=\s*\{\s*$", line)
        if match:
            indent = match.group(1) + "    "
            insertion = f'{indent}"{missing}": "stand-in",\n'
            edit = TextEdit(failure.test_file, Range(Position(row + 1, 0), Position(row + 1, 0)), insertion)
            return CandidateFix(f"give replay_config the option the connector reads: `{missing}`", (edit,))
    return None


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """``text`` with ``edits`` (all of one file) applied, last first so positions hold."""
    lines = editor_lines(text, keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: Position) -> int:
        if position.line >= len(lines):
            return len(text)
        return offsets[position.line] + min(position.character, len(lines[position.line]))

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text
