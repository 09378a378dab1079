"""Requests seen at the transport level, matched to the spec endpoints they land on.

The plugin records every request a test made, whoever answered it; only those our own simulator
answered arrive already matched. The rest arrive as ``[method, path, None, ...]`` and are matched
here, in the engine, through the one spec loader (:class:`connector_watch.simulator.spec.Spec`,
the ``match`` our simulator's trace uses) against the specs the daemon already holds: the specs
the test's simulator loaded, then its source's. A request no endpoint matches keeps its source's
spec file, so a spec edit that makes it match selects the test.

Also fills in each collected node's source when its class does not name one
(``simulator_source``): the source whose tests folder holds the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from connector_watch.daemon.workspace import Workspace
from connector_watch.simulator.spec import Spec

SpecOf = Callable[[str], Spec | None]


class RequestMatcher:
    def __init__(self, workspace: Workspace, spec_of: SpecOf) -> None:
        self.workspace = workspace
        self.spec_of = spec_of  # workspace-relative spec path → the loaded spec (or None)

    def source_of_file(self, test_file: str) -> str | None:
        return self.workspace.classify(test_file).source

    def spec_path(self, source: str | None) -> str | None:
        if not source:
            return None
        return self.workspace.relative(self.workspace.layout.spec_file(source))

    # ------------------------------------------------------------------ events
    def annotate(self, event: dict[str, Any], source: str | None = None) -> None:
        """Match the unmatched requests of a plugin event in place (``test_finished``,
        ``collect_error``, ``collected``); ``source`` is the node's, when known."""
        kind = event.get("event")
        if kind == "collected":
            for item in event.get("nodes", []):
                if not item.get("source"):
                    item["source"] = self.source_of_file(item["file"])
            for path, info in event.get("files", {}).items():
                info["requests"] = self.match(
                    info.get("requests", []), self.source_of_file(path), info.get("loaded", [])
                )
            return
        if source is None:
            file = event.get("path") or str(event.get("nodeId", "")).split("::")[0]
            source = self.source_of_file(file) if file else None
        event["requests"] = self.match(
            event.get("requests", []), source, [*event.get("loaded", []), *event.get("read", [])]
        )

    def match(self, requests: list[list[Any]], source: str | None, opened: Iterable[str]) -> list[list[Any]]:
        candidates = self._candidate_specs(source, opened)
        if not candidates:
            return requests
        matched = []
        for request in requests:
            if request[2] is not None or request[4] is not None:  # our simulator matched it already
                matched.append(request)
                continue
            matched.append(self._match_one(request, candidates))
        return matched

    def _candidate_specs(self, source: str | None, opened: Iterable[str]) -> list[tuple[str, Spec]]:
        paths = [p for p in opened if p.endswith("endpoints.yaml")]
        own = self.spec_path(source)
        if own is not None and own not in paths:
            paths.append(own)
        found = []
        for path in paths:
            spec = self.spec_of(path)
            if spec is not None:
                found.append((path, spec))
        return found

    def _match_one(self, request: list[Any], candidates: list[tuple[str, Spec]]) -> list[Any]:
        method, path = request[0], request[1]
        for spec_path, spec in candidates:
            hit = spec.match(method, path)
            if hit is None:
                continue
            endpoint, _ = hit
            corpus = (
                self.workspace.relative(spec.corpus_dir / f"{endpoint.corpus}.json") if endpoint.corpus else None
            )
            return [method, path, endpoint.index, endpoint.fingerprint, spec_path, corpus, bool(endpoint.handler)]
        return [method, path, None, None, candidates[0][0], None, False]
