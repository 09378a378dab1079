"""The daemon's state: the latest result and diagnostics per node and per file.

Diagnostics come from three places: static checks (by the file that was checked, located in any
file: a spec check speaks about corpus files too), test runs (per node), and record mode's drift
reports. This module keeps them, answers "what is located in this file now", and says which
files' published sets changed since the last publication. It does no I/O and emits nothing: the
engine turns :meth:`Results.changed_files` into events.
"""

from __future__ import annotations

from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic


class Results:
    def __init__(self) -> None:
        #: Static findings by the file that was checked, then by the file they are located in.
        self.static_by_origin: dict[str, dict[str, list[Diagnostic]]] = {}
        self.static: dict[str, list[Diagnostic]] = {}  # derived: every static finding located in a file
        self.drift: dict[str, list[Diagnostic]] = {}  # validation report → drift diagnostics (record mode)
        self.node_diagnostics: dict[str, list[Diagnostic]] = {}
        self.node_messages: dict[str, str | None] = {}
        self.collect_errors: dict[str, str] = {}  # test file → outcome "error"
        self.spark_nodes: dict[str, dict[str, Any]] = {}  # "spark::<source>::<table>" → its last result
        #: What was last published per file: (version, rendered diagnostics).
        self.published: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._nodes_by_file: dict[str, set[str]] = {}  # file → nodes with a diagnostic located there
        self._dirty: set[str] = set()  # files whose published diagnostics may be stale

    # ------------------------------------------------------------------ writes
    def replace_static(self, origin: str, diagnostics: dict[str, list[Diagnostic]]) -> None:
        """What the check of ``origin`` found now replaces what it found before, in every file."""
        previous = self.static_by_origin.get(origin, {})
        self.static_by_origin[origin] = diagnostics
        for file in set(previous) | set(diagnostics):
            self.static[file] = [d for found in self.static_by_origin.values() for d in found.get(file, [])]
            self._dirty.add(file)

    def set_node(self, node_id: str, diagnostics: list[Diagnostic]) -> None:
        """Replace a node's diagnostics, remembering which files' published sets this changes."""
        for old in self.node_diagnostics.get(node_id, []):
            self._dirty.add(old.location.path)
            self._nodes_by_file.get(old.location.path, set()).discard(node_id)
        if diagnostics:
            self.node_diagnostics[node_id] = diagnostics
        else:
            self.node_diagnostics.pop(node_id, None)
        for d in diagnostics:
            self._dirty.add(d.location.path)
            self._nodes_by_file.setdefault(d.location.path, set()).add(node_id)

    def drop_node(self, node_id: str) -> None:
        self.set_node(node_id, [])
        self.node_messages.pop(node_id, None)

    def replace_drift(self, report_path: str, diagnostics: list[Diagnostic]) -> None:
        for old in self.drift.get(report_path, []):
            self._dirty.add(old.location.path)
        self.drift[report_path] = diagnostics
        self._dirty.update(d.location.path for d in diagnostics)

    # ------------------------------------------------------------------ reads
    def diagnostics_of(
        self, path: str, overlays: dict[str, dict[str, list[Diagnostic]]] | None = None
    ) -> list[Diagnostic]:
        """Every current diagnostic located in ``path``: static, from tests, and drift.

        ``overlays`` (origin → file → findings) stand in for what the checks of those origins found
        on disk (an editor's unsaved buffers, checked by the language server); nothing is stored.
        """
        static = self.static.get(path, [])
        if overlays and any(path in found for found in overlays.values()):
            by_origin = {**self.static_by_origin, **overlays}
            static = [d for found in by_origin.values() for d in found.get(path, [])]
        bucket: dict[tuple[Any, ...], Diagnostic] = {d.key(): d for d in static}
        for node_id in sorted(self._nodes_by_file.get(path, ())):
            for d in self.node_diagnostics.get(node_id, []):
                if d.location.path != path:
                    continue
                existing = bucket.get(d.key())
                if existing is None or existing.source == "static":
                    bucket[d.key()] = Diagnostic(**{**d.__dict__, "node_ids": list(d.node_ids)})
                elif node_id not in existing.node_ids:
                    existing.node_ids.append(node_id)
        for diagnostics in self.drift.values():
            for d in diagnostics:
                if d.location.path == path:
                    bucket.setdefault(d.key(), d)
        return prefer_run_findings(list(bucket.values()))

    def file_diagnostics(self) -> dict[str, list[Diagnostic]]:
        paths = set(self.static) | {p for p, nodes in self._nodes_by_file.items() if nodes}
        paths |= {d.location.path for diagnostics in self.drift.values() for d in diagnostics}
        return {path: self.diagnostics_of(path) for path in paths}

    def changed_files(self) -> list[tuple[str, int, list[Diagnostic]]]:
        """Files whose diagnostics changed since the last call: ``(path, new version, diagnostics)``.

        Each set replaces the one published before; an unchanged set is not published again.
        """
        dirty, self._dirty = self._dirty, set()
        changed = []
        for path in sorted(dirty):
            diagnostics = self.diagnostics_of(path)
            rendered = [d.to_dict() for d in diagnostics]
            version, previous = self.published.get(path, (0, None))
            if previous == rendered or (previous is None and not rendered):
                continue
            version += 1
            self.published[path] = (version, rendered)
            changed.append((path, version, diagnostics))
        return changed


def prefer_run_findings(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """A static finding a failing test also reports at the same place is said once, by the test
    (which carries the nodes and the evidence); the static message joins its evidence."""
    place = lambda d: (d.blame, d.location.range.start.line)  # noqa: E731
    static_notes: dict[tuple[str, int], list[str]] = {}
    run_places = {place(d) for d in diagnostics if d.source != "static"}
    for d in diagnostics:
        if d.source == "static" and place(d) in run_places:
            static_notes.setdefault(place(d), []).append(f"static check: {d.message}")
    kept = []
    for d in diagnostics:
        if d.source == "static" and place(d) in run_places:
            continue
        notes = static_notes.get(place(d)) if d.source != "static" else None
        kept.append(Diagnostic(**{**d.__dict__, "evidence": [*d.evidence, *notes]}) if notes else d)
    return kept
