"""Where things are in a file: positions for YAML and JSON values.

Every diagnostic connector-watch emits points at a file, line and column. This
module turns YAML documents and JSON corpora into data *plus* the positions of
their keys and values, so the spec loader, the corpus lint and blame can all
say exactly where a problem is.

Positions are 1-based (``file:line:column`` as editors print them); the daemon
converts them to zero-based LSP ranges at its boundary.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml is much faster; fall back to the pure-Python loader
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]


def display_path(path: str | Path | None) -> str:
    """``path`` as messages print it: relative to the working directory when inside it."""
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class Span:
    start: Position
    end: Position

    @classmethod
    def point(cls, line: int, column: int) -> Span:
        pos = Position(line, column)
        return cls(pos, pos)


class LocatedSyntaxError(ValueError):
    """A YAML or JSON file that does not parse, with the position of the problem."""

    def __init__(self, file: str, span: Span, message: str) -> None:
        self.file = file
        self.span = span
        self.message = message
        super().__init__(f"{file}:{span.start.line}:{span.start.column}: {message}")


@dataclass
class LocatedDocument:
    """Parsed data plus where each key and value sits in the source text."""

    data: Any
    file: str
    key_spans: dict[PathKey, Span] = field(default_factory=dict)
    value_spans: dict[PathKey, Span] = field(default_factory=dict)
    duplicate_keys: list[tuple[PathKey, Span]] = field(default_factory=list)

    def span(self, path: PathKey, *, prefer: str = "key") -> Span:
        """The span of ``path``; walks up to the nearest located ancestor."""
        primary, secondary = (
            (self.key_spans, self.value_spans) if prefer == "key" else (self.value_spans, self.key_spans)
        )
        probe = tuple(path)
        while True:
            if probe in primary:
                return primary[probe]
            if probe in secondary:
                return secondary[probe]
            if not probe:
                return Span.point(1, 1)
            probe = probe[:-1]


def _span_of(node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(Position(start.line + 1, start.column + 1), Position(end.line + 1, end.column + 1))


#: More values than any spec has: a document past this is aliases expanding ("billion laughs").
MAX_YAML_VALUES = 50_000


class _Builder:
    def __init__(self, doc: LocatedDocument) -> None:
        self.doc = doc
        self.constructor = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()  # collections being built: an alias to one of them is a cycle
        self._values = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self._values += 1
        if self._values > MAX_YAML_VALUES:
            raise LocatedSyntaxError(
                self.doc.file,
                _span_of(node),
                f"YAML expands to more than {MAX_YAML_VALUES} values: an alias (*name) repeated inside "
                "repeated aliases?",
            )
        if id(node) in self._open:
            raise LocatedSyntaxError(
                self.doc.file, _span_of(node), "YAML alias refers to a collection containing it"
            )
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._open.add(id(node))
            try:
                return self._build_collection(node, path)
            finally:
                self._open.discard(id(node))
        self.doc.value_spans[path] = _span_of(node)
        return self.constructor.construct_object(node, deep=True)

    def _build_collection(self, node: yaml.MappingNode | yaml.SequenceNode, path: PathKey) -> Any:
        self.doc.value_spans[path] = _span_of(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *anchor"
                    merged = self.build(value_node, path)
                    if isinstance(merged, dict):
                        for k, v in merged.items():
                            result.setdefault(k, v)
                    continue
                key = self.constructor.construct_object(key_node, deep=True)
                child = (*path, key)
                if key in result:
                    self.doc.duplicate_keys.append((child, _span_of(key_node)))
                self.doc.key_spans[child] = _span_of(key_node)
                result[key] = self.build(value_node, child)
            return result
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]


def load_yaml(text: str, file: str) -> LocatedDocument:
    """Parse YAML text, recording the span of every key and value.

    Raises :class:`LocatedSyntaxError` when the text is not YAML.
    """
    doc = LocatedDocument(data=None, file=file)
    try:
        node = yaml.compose(text, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise LocatedSyntaxError(file, Span.point(line, column), f"YAML syntax error: {problem}{context}")
    except yaml.YAMLError as exc:
        raise LocatedSyntaxError(file, Span.point(1, 1), f"YAML error: {exc}")
    if node is not None:
        try:
            doc.data = _Builder(doc).build(node, ())
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise LocatedSyntaxError(file, Span.point(line, column), f"YAML error: {exc.problem}")
    return doc


# --------------------------------------------------------------------------- JSON


class LineIndex:
    """Offset → (line, column) for one text, 1-based."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self._starts, offset) - 1
        return Position(line + 1, offset - self._starts[line] + 1)


def parse_json(text: str, file: str) -> Any:
    """``json.loads`` with a located error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"JSON syntax error: {exc.msg}{_json_hint(exc)}"
        raise LocatedSyntaxError(file, Span.point(exc.lineno, exc.colno), message)
    except RecursionError:
        raise LocatedSyntaxError(
            file, Span.point(1, 1), "JSON nested too deeply to read (thousands of levels of [ or {)"
        ) from None


def _json_hint(exc: json.JSONDecodeError) -> str:
    """Where the mistake usually is, when the parser notices it only at the next token."""
    before = exc.doc[: exc.pos].rstrip()
    line_start = exc.doc.rfind("\n", 0, exc.pos) + 1
    first_on_its_line = exc.doc[line_start : exc.pos].strip() == "" and line_start > 0
    if exc.msg.startswith("Expecting ',' delimiter") and first_on_its_line:
        line = before.count("\n") + 1
        return f" (a comma missing at the end of line {line}?)"
    if exc.msg.startswith(("Expecting property name", "Expecting value")) and before.endswith(","):
        line = before.count("\n") + 1
        return f" (a trailing comma at line {line}?)"
    return ""


@functools.lru_cache(maxsize=32)
def cached_json_value_spans(text: str, max_depth: int = 2) -> tuple[dict[PathKey, Span], dict[PathKey, Span]]:
    """:func:`json_value_spans`, remembered by text: a corpus's static check and the blame of a test
    that read it locate records in the same text, and should walk it once."""
    return json_value_spans(text, max_depth)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def json_value_spans(text: str, max_depth: int = 2) -> tuple[dict[PathKey, Span], dict[PathKey, Span]]:
    """Spans of values and keys in a JSON text, down to ``max_depth`` levels.

    Returns ``(value_spans, key_spans)`` keyed by path (``(3, "id")`` is the
    ``id`` key of the fourth array element). Scans with one regular expression,
    so it is cheap enough to run lazily when a diagnostic needs a position,
    even on large corpora.
    """
    lines = LineIndex(text)
    values: dict[PathKey, Span] = {}
    keys: dict[PathKey, Span] = {}
    # Each frame: [container kind, path, next index, pending key, expecting key]
    stack: list[list[Any]] = []
    value_start: dict[PathKey, int] = {}

    def begin_value(offset: int) -> PathKey | None:
        if not stack:
            return ()
        kind, path, index, pending, _ = stack[-1]
        child = (*path, index) if kind == "list" else (*path, pending)
        return child

    def note_start(child: PathKey | None, offset: int) -> None:
        if child is not None and len(child) <= max_depth:
            value_start[child] = offset

    def note_end(child: PathKey, end: int) -> None:
        if child in value_start:
            values[child] = Span(lines.position(value_start.pop(child)), lines.position(end))

    pos = 0
    length = len(text)
    expecting_value = True
    current_scalar: tuple[PathKey | None, int] | None = None
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        start = match.start()
        # Bare scalars (numbers, true, false, null) between structural tokens.
        gap = text[pos:start]
        if gap.strip() and expecting_value:
            lead = len(gap) - len(gap.lstrip())
            child = begin_value(pos + lead)
            note_start(child, pos + lead)
            current_scalar = (child, pos + len(gap.rstrip()))
            expecting_value = False
        pos = match.end()
        if current_scalar is not None and token in ",]}":
            child, end = current_scalar
            if child is not None:
                note_end(child, end)
            current_scalar = None
        if token == "{" or token == "[":
            child = begin_value(start) if expecting_value else None
            note_start(child, start)
            stack.append(
                [
                    "dict" if token == "{" else "list",
                    child if child is not None else (),
                    0,
                    None,
                    token == "{",
                ]
            )
            expecting_value = token == "["
        elif token == "}" or token == "]":
            frame = stack.pop() if stack else None
            if frame is not None:
                note_end(frame[1], pos)
            expecting_value = False
        elif token == ",":
            if stack:
                frame = stack[-1]
                if frame[0] == "list":
                    frame[2] += 1
                    expecting_value = True
                else:
                    frame[4] = True
                    expecting_value = False
        elif token == ":":
            expecting_value = True
        else:  # a string
            if stack and stack[-1][0] == "dict" and stack[-1][4]:
                frame = stack[-1]
                try:
                    frame[3] = json.loads(token)
                except ValueError:
                    frame[3] = token.strip('"')
                frame[4] = False
                key_path = (*frame[1], frame[3])
                if len(key_path) <= max_depth:
                    keys[key_path] = Span(lines.position(start), lines.position(pos))
                expecting_value = False
            elif expecting_value:
                child = begin_value(start)
                note_start(child, start)
                note_end(child, pos) if child is not None else None
                expecting_value = False
    if current_scalar is not None and current_scalar[0] is not None:
        note_end(current_scalar[0], length)
    return values, keys
