"""Positions as editors count them: UTF-16 code units, lines broken only at ``\\r\\n``, ``\\r``, ``\\n``.

The daemon computes columns in Python's unit (code points). LSP clients (by default) and VS Code
count a line's characters in UTF-16 code units, so one character outside the Basic Multilingual
Plane (an emoji in a corpus record) earlier on a line moves every later column by one: a diagnostic
would underline the wrong text and, worse, a verified fix's edit would replace the wrong span and
corrupt the file. Every position leaves the daemon through :class:`Utf16Positions` (the WebSocket
wire and the language server), which converts the column with the line it points into. Column 0
needs no reading; a file is read once per version (modification time, size, inode), and only its
lines outside ASCII are kept: a plain-ASCII corpus of any size costs one read and no memory.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from connector_watch.daemon.diagnostics import Diagnostic, Location, Position, Range, Related, TextEdit

_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")
_CACHED_FILES = 256


def editor_lines(text: str, keepends: bool = False) -> list[str]:
    """**Pure**: ``text``'s lines as editors number them (not ``str.splitlines``, which also breaks
    at form feeds, U+0085 and U+2028, characters a JSON string may hold). Without ``keepends`` a
    text ending in a line break has an empty last line, as an editor shows it."""
    pieces = _LINE_BREAK.split(text)
    if not keepends:
        return pieces[::2]
    lines = [pieces[i] + pieces[i + 1] for i in range(0, len(pieces) - 1, 2)]
    return [*lines, pieces[-1]] if pieces[-1] else lines


def utf16_column(line: str, character: int) -> int:
    """**Pure**: the UTF-16 column of code point ``character`` of ``line`` (past its end: as far past)."""
    if line.isascii():
        return character
    prefix = line[:character]
    return len(prefix.encode("utf-16-le")) // 2 + max(0, character - len(line))


def code_point_column(line: str, units: int) -> int:
    """**Pure**: the code point column of UTF-16 column ``units`` of ``line`` (a client's position
    coming in; one inside a surrogate pair is the character's own column)."""
    if line.isascii():
        return units
    counted = 0
    for index, character in enumerate(line):
        if counted >= units:
            return index
        counted += 2 if ord(character) > 0xFFFF else 1
    return len(line) + max(0, units - counted)


class Utf16Positions:
    """Converts the ranges of diagnostics and edits of workspace files to UTF-16 columns."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lines: dict[str, tuple[tuple[int, int, int], dict[int, str]]] = {}

    def diagnostic(self, diagnostic: Diagnostic) -> Diagnostic:
        """The diagnostic in UTF-16 columns: itself when no column moves (the common case, ASCII
        lines or whole-line ranges; no copy on the save-to-diagnostic path)."""
        location = self.location(diagnostic.location)
        related = [Related(self.location(r.location), r.message) for r in diagnostic.related]
        fixes = [replace(f, edits=tuple(self.edit(e) for e in f.edits)) for f in diagnostic.fixes]
        if location == diagnostic.location and related == diagnostic.related and fixes == diagnostic.fixes:
            return diagnostic
        return replace(diagnostic, location=location, related=related, fixes=fixes)

    def location(self, location: Location) -> Location:
        return Location(location.path, self.range(location.path, location.range))

    def edit(self, edit: TextEdit) -> TextEdit:
        return TextEdit(edit.path, self.range(edit.path, edit.range), edit.new_text)

    def range(self, path: str, value: Range) -> Range:
        start, end = self.position(path, value.start), self.position(path, value.end)
        return value if (start, end) == (value.start, value.end) else Range(start, end)

    def position(self, path: str, position: Position) -> Position:
        if position.character <= 0:
            return position
        wide = self._non_ascii_lines(path)
        line = wide.get(position.line) if wide else None
        if line is None:  # plain ASCII (or unknown): code points are UTF-16 units
            return position
        return Position(position.line, utf16_column(line, position.character))

    def _non_ascii_lines(self, path: str) -> dict[int, str] | None:
        """The file's lines that hold a character outside ASCII, by number (read once per version;
        a corpus of plain ASCII keeps nothing)."""
        full = self.root / path
        try:
            status = full.stat()
        except (OSError, ValueError):
            return None
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        cached = self._lines.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            text = full.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        wide = {} if text.isascii() else {n: line for n, line in enumerate(editor_lines(text)) if not line.isascii()}
        if len(self._lines) >= _CACHED_FILES:
            self._lines.clear()
        self._lines[path] = (stamp, wide)
        return wide
