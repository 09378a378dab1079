"""What impact needs beside the index: the static import graph, requests matched to spec
endpoints, and whether a changed data file still parses.

The engine and the one-shot commands (``impact``, ``run --changed``) hold one of these; impact
itself stays a pure function of the index and what this object answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from connector_watch.daemon.impact import Change
from connector_watch.daemon.imports import ImportGraph
from connector_watch.daemon.index import Index
from connector_watch.daemon.request_match import RequestMatcher, SpecOf
from connector_watch.daemon.workspace import Workspace


class Dependencies:
    def __init__(self, workspace: Workspace, index: Callable[[], Index], spec_of: SpecOf) -> None:
        self.workspace = workspace
        self._index = index
        self.graph = ImportGraph(workspace.root, ignored=workspace.ignored)
        self.graph.load(index().import_edges)
        self.matcher = RequestMatcher(workspace, spec_of)

    # ------------------------------------------------------------------ evidence from runs
    def annotate(self, event: dict[str, Any]) -> None:
        """Match the transport-level requests of a plugin event to spec endpoints (in place)."""
        if event.get("event") not in ("collected", "collect_error", "test_finished"):
            return
        record = self._index().nodes.get(event.get("nodeId") or "")
        self.matcher.annotate(event, record.source if record else None)

    # ------------------------------------------------------------------ imports
    def importers(self, module: str) -> set[str]:
        """The test files that import ``module``, however indirectly."""
        self.graph.module_files = self._index().module_files
        return self.graph.importers(module, self.workspace.test_files())

    def warm(self) -> None:
        """Parse every test file's imports now (a first shared-code save then answers at once)."""
        self.graph.module_files = self._index().module_files
        for test_file in self.workspace.test_files():
            self.graph.reachable(test_file)

    def keep(self) -> None:
        """Put the parsed imports in the index, so one-shot commands reuse them."""
        self._index().import_edges = self.graph.dump()

    def changed(self, paths: Iterable[str]) -> None:
        for path in paths:
            if path.endswith(".py"):
                self.graph.forget(path)

    # ------------------------------------------------------------------ data files
    def unloadable(self, changes: Iterable[Change], spec_loads: Callable[[str], bool]) -> set[str]:
        """Changed corpus files that are no longer JSON and specs that no longer load."""
        broken = set()
        for change in changes:
            if change.kind.kind == "corpus":
                try:
                    json.loads(self.workspace.absolute(change.path).read_bytes())
                except (OSError, ValueError):
                    broken.add(change.path)
            elif change.kind.kind == "spec" and not spec_loads(change.path):
                broken.add(change.path)
        return broken
