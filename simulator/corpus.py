"""The corpus: one JSON file per table, loaded on first use.

``CorpusStore.tables`` behaves like the public simulator's dict of tables
(handlers written for it keep working), but a table is read from disk only
when a request needs it, so a simulator over a large corpus starts instantly
and a session records exactly which tables it read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from connector_watch.simulator.errors import CorpusError, Issue
from connector_watch.simulator.locations import LocatedSyntaxError, decode_utf8, parse_json


class _LazyTables(Mapping[str, Any]):
    def __init__(self, store: CorpusStore) -> None:
        self._store = store

    def __getitem__(self, name: str) -> Any:
        if not self._store.has(name):
            raise KeyError(name)
        return self._store.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.names())

    def __len__(self) -> int:
        return len(self._store.names())

    def __setitem__(self, name: str, value: Any) -> None:  # handlers may mutate, as upstream
        self._store.put(name, value)


class CorpusStore:
    """Tables of records keyed by file stem (``corpus/issues.json`` → ``issues``)."""

    def __init__(self, directory: str | Path, display: str | None = None) -> None:
        self.directory = Path(directory)
        self.display = display or str(self.directory)
        self._tables: dict[str, Any] = {}
        self._on_load: list[Any] = []
        self._lock = threading.RLock()
        self.tables: _LazyTables = _LazyTables(self)

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any]) -> CorpusStore:
        """An in-memory corpus (for tests and custom scenarios)."""
        store = cls(Path("<memory>"), "<memory>")
        store._tables.update(tables)
        store._memory = True
        return store

    _memory = False

    def on_load(self, callback: Any) -> None:
        """``callback(name, records)`` runs once when a table is first read."""
        self._on_load.append(callback)

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def display_path(self, name: str) -> str:
        return f"{self.display.rstrip('/')}/{name}.json"

    def names(self) -> list[str]:
        names = set(self._tables)
        if not self._memory and self.directory.is_dir():
            names.update(p.stem for p in self.directory.glob("*.json"))
        return sorted(names)

    def has(self, name: str) -> bool:
        return name in self._tables or (not self._memory and self.path(name).is_file())

    def get(self, name: str) -> Any:
        """The table's JSON value, or None when the file does not exist."""
        if name in self._tables:
            return self._tables[name]
        if self._memory or not self.path(name).is_file():
            return None
        with self._lock:  # concurrent first reads: load once, and publish only once the callbacks ran
            if name in self._tables:
                return self._tables[name]
            value = self._read(name)
            for callback in self._on_load:
                callback(name, value)
            self._tables[name] = value
        return value

    def put(self, name: str, value: Any) -> None:
        self._tables[name] = value

    def _read(self, name: str) -> Any:
        display = self.display_path(name)
        try:
            text = decode_utf8(self.path(name).read_bytes(), display)
        except LocatedSyntaxError as exc:
            raise CorpusError(Issue(display, exc.span, f"corpus is {exc.message}", code="corpus-encoding"))
        try:
            return parse_json(text, display)
        except LocatedSyntaxError as exc:
            raise CorpusError(Issue(display, exc.span, exc.message, code="corpus-syntax"))


def write_table(path: Path, records: Any) -> None:
    """Write a corpus table the way the tools and humans expect: indented, UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
