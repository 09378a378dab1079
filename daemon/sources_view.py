"""Read-only views of workspace files for blame and lint: text, JSON positions, symbol lines.

Blame is a pure function; it asks this small interface for file contents and
positions instead of reading files itself. The engine passes a caching
:class:`FileView`; tests pass an in-memory one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from connector_watch.simulator.locations import (
    LocatedSyntaxError,
    PathKey,
    Span,
    cached_json_value_spans,
    load_yaml,
    parse_json,
)


class SourceView(Protocol):
    def text(self, path: str) -> str | None: ...

    def python_files(self, directory: str) -> list[str]: ...


class FileView:
    """Reads workspace files relative to ``root``; remembers the last content by its stamp
    (modification time in ns, size and inode: two saves in one coarse clock tick differ in size or,
    written through a rename, in inode)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple[int, int, int], str]] = {}

    def text(self, path: str) -> str | None:
        full = self.root / path
        try:
            status = full.stat()
        except OSError:
            return None
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            text = full.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        self._cache[path] = (stamp, text)
        return text

    def python_files(self, directory: str) -> list[str]:
        base = self.root / directory
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in base.rglob("*.py") if "__pycache__" not in p.parts
        )


class MemoryView:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def text(self, path: str) -> str | None:
        return self.files.get(path)

    def python_files(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix) and p.endswith(".py"))


def _spans(text: str) -> tuple[dict[PathKey, Span], dict[PathKey, Span]]:
    return cached_json_value_spans(text, 2)


def json_span(view: SourceView, path: str, key: PathKey, prefer: str = "value") -> Span | None:
    """The span of ``key`` (``(record index, field)``) in a JSON file, or its nearest ancestor."""
    text = view.text(path)
    if text is None:
        return None
    values, keys = _spans(text)
    probe = tuple(key)
    while probe:
        primary, secondary = (values, keys) if prefer == "value" else (keys, values)
        if probe in primary:
            return primary[probe]
        if probe in secondary:
            return secondary[probe]
        probe = probe[:-1]
    return values.get(())


@lru_cache(maxsize=16)
def _yaml_key_spans(text: str, path: str) -> dict[PathKey, Span]:
    try:
        return load_yaml(text, path).key_spans
    except LocatedSyntaxError:
        return {}


def yaml_key_span(view: SourceView, path: str, under: PathKey, key: str) -> Span | None:
    """The span of the first ``key:`` nested anywhere below ``under`` in a YAML file."""
    text = view.text(path)
    if text is None:
        return None
    found = [
        (span.start.line, span.start.column, span)
        for probe, span in _yaml_key_spans(text, path).items()
        if probe[: len(under)] == tuple(under) and probe and probe[-1] == key
    ]
    return min(found)[2] if found else None


def json_data(view: SourceView, path: str) -> Any:
    text = view.text(path)
    if text is None:
        return None
    try:
        return parse_json(text, path)
    except ValueError:
        return None


def find_line(view: SourceView, path: str, pattern: str) -> tuple[int, int] | None:
    """Zero-based (line, column) of the first match of a regular expression."""
    text = view.text(path)
    if text is None:
        return None
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        return None
    line = text.count("\n", 0, match.start())
    column = match.start() - (text.rfind("\n", 0, match.start()) + 1)
    return line, column
