"""Impact: from changed files to the test nodes that must rerun, each with its reasons.

A pure function over the dependency index (:mod:`connector_watch.daemon.index`). The rules:

- **corpus** file: nodes whose requests land on an endpoint serving it (whoever answered them:
  our simulator, the public one, a cassette) or on a spec handler of its spec (a handler may read
  any corpus), and nodes that read the file themselves; test files whose collection did, whole.
  A corpus that no longer parses also reruns every node a simulator loaded it for (the whole class
  fails in setup then).
- **spec**: every request a node made is matched again against the new spec; the
  node reruns when its request now lands on another endpoint, on an endpoint
  whose definition changed, or on one for a corpus whose future-record directive
  changed. A spec that no longer loads reruns its source's test files whole (they
  will report the error).
- **connector** module: test files that import it run whole (``list_tables``
  may change), as the static import graph says and as runs saw; a module nobody imports reruns
  its source.
- **shared** code (the layout's shared patterns: the public repository's libs, interface and
  simulator, its harness files): the test files that import it, however indirectly; everything
  when nothing is known to. A source's **conftest.py**: the test files under its folder.
- any other **data file** (fixture, sample, cassette, config): nodes that read it or had it loaded.
- **test** file: runs whole. **table options**: the source's test files.
- **library** (harness, simulator, interface, conftest, pyproject, anything the
  warm workers preloaded): everything, and the worker pool restarts.
- Nodes that failed last time always rerun; nodes that never ran rerun with any
  change to their source. When unsure, widen: a missed node is the worst bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from connector_watch.daemon.index import Index, RequestRef
from connector_watch.daemon.workspace import FileKind, Workspace
from connector_watch.simulator.spec import Spec

DOC_SUFFIXES = (".md", ".rst", ".txt", ".png", ".svg")


@dataclass(frozen=True)
class Change:
    path: str
    kind: FileKind


@dataclass
class SpecChange:
    before: Spec | None
    after: Spec | None  # None: the new spec does not load
    #: Without the previous spec (one-shot commands), its future-record directives as the index
    #: recorded them: ``{corpus: [cursor_field, count]}``.
    before_future: dict[str, tuple] | None = None


@dataclass
class Selection:
    nodes: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)  # test files to run whole
    restart_pool: bool = False

    def add_node(self, node_id: str, reason: str) -> None:
        reasons = self.nodes.setdefault(node_id, [])
        if reason not in reasons:
            reasons.append(reason)

    def add_file(self, path: str, reason: str) -> None:
        reasons = self.files.setdefault(path, [])
        if reason not in reasons:
            reasons.append(reason)

    def empty(self) -> bool:
        return not self.nodes and not self.files

    def follow_up_only(self, file: str, node_ids: list[str] | None) -> bool:
        """Whether a file (whole, or these nodes of it) is selected only to rerun what failed or
        never ran before, not because of the change itself: those run after the rest."""
        reasons = self.files.get(file, []) if node_ids is None else [r for n in node_ids for r in self.nodes.get(n, [])]
        return bool(reasons) and all(is_follow_up(r) for r in reasons)

    def reasons_by_node(self, index: Index) -> dict[str, list[str]]:
        """Every node this selection will run (whole files expanded) with its reasons."""
        result: dict[str, list[str]] = {k: list(v) for k, v in self.nodes.items()}
        for path, reasons in self.files.items():
            for node_id in index.nodes_of_file(path):
                merged = result.setdefault(node_id, [])
                merged.extend(r for r in reasons if r not in merged)
        return result


#: Why a node reruns when the change did not reach it: it failed, or never ran.
FOLLOW_UP_REASONS = ("has not run yet", "no record of what its tests touch yet")


def is_follow_up(reason: str) -> bool:
    return reason.endswith(" last time") or reason in FOLLOW_UP_REASONS


def _rematch(request: RequestRef, spec: Spec) -> tuple[int | None, str | None]:
    match = spec.match(request.method, request.path)
    if match is None:
        return None, None
    endpoint, _ = match
    return endpoint.index, endpoint.fingerprint


def future_by_corpus(spec: Spec | None) -> dict[str, tuple]:
    if spec is None:
        return {}
    result: dict[str, tuple] = {}
    for endpoint in spec.endpoints:
        directive = endpoint.synthesize_future_records
        if endpoint.corpus and directive is not None and endpoint.corpus not in result:
            result[endpoint.corpus] = (directive.cursor_field, directive.count)
    return result


def spec_change_effect(request: RequestRef, change: SpecChange) -> str | None:
    """Why a request's answer may differ under the new spec, or None when it cannot."""
    if change.after is None:
        return "the spec no longer loads"
    new_index, new_fingerprint = _rematch(request, change.after)
    if new_index != request.endpoint_index:
        if new_index is None:
            return f"{request.method} {request.path} no longer matches an endpoint"
        endpoint = change.after.endpoints[new_index]
        if request.endpoint_index is None:
            return f"{request.method} {request.path} now matches {endpoint.key} (line {endpoint.line})"
        return f"{request.method} {request.path} now matches {endpoint.key} (line {endpoint.line})"
    if new_fingerprint != request.fingerprint:
        endpoint = change.after.endpoints[new_index]  # type: ignore[index]
        return f"spec endpoint {endpoint.key} (line {endpoint.line}) changed"
    return None


def select_in(
    workspace: Workspace,
    changes: Iterable[Change],
    index: Index,
    *,
    spec_changes: Mapping[str, SpecChange],
    preloaded: Iterable[str] = (),
    mode: str = "simulate",
    importers: Callable[[str], set[str]] | None = None,
    unloadable: Iterable[str] = (),
) -> Selection:
    """:func:`select` with ``workspace``'s own test files and spec paths."""
    return select(
        changes,
        index,
        spec_changes=spec_changes,
        preloaded=set(preloaded),
        test_files_of=workspace.test_files_of,
        all_test_files=workspace.test_files(),
        spec_file_of=lambda source: workspace.relative(workspace.layout.spec_file(source)),
        mode=mode,
        importers=importers,
        unloadable=set(unloadable),
    )


def select(
    changes: Iterable[Change],
    index: Index,
    *,
    spec_changes: Mapping[str, SpecChange],
    preloaded: set[str],
    test_files_of: Callable[[str], list[str]],
    all_test_files: list[str],
    spec_file_of: Callable[[str], str],
    mode: str = "simulate",
    importers: Callable[[str], set[str]] | None = None,
    unloadable: set[str] | None = None,
) -> Selection:
    """``importers(path)``: the test files that import a module, however indirectly (the static
    import graph); ``unloadable``: changed data files that no longer parse."""
    selection = Selection()
    changed_sources: set[str] = set()
    unloadable = unloadable or set()
    static_importers = importers or (lambda _path: set())
    for change in changes:
        path, kind = change.path, change.kind
        if path.endswith(DOC_SUFFIXES):
            continue  # prose and pictures run nothing, wherever they live
        if kind.kind == "spec_support" and "/corpus/" in path:
            continue  # the simulator reads only corpus/<table>.json
        if kind.source:
            changed_sources.add(kind.source)
        if kind.kind == "library" or (path in preloaded and kind.kind != "shared"):
            selection.restart_pool = selection.restart_pool or path in preloaded or path.endswith(".py")
            for test_file in all_test_files:
                selection.add_file(test_file, f"shared code {path} changed")
            continue
        if not path.endswith(".py"):
            _data_changed(selection, index, path, kind.kind, path in unloadable)
        if kind.kind == "shared":
            selection.restart_pool = selection.restart_pool or path in preloaded
            if path.endswith(".py"):
                found = _module_changed(
                    selection, index, path, None, test_files_of, f"shared code {path} changed", static_importers
                )
            else:
                found = _readers(index, path)
            if not found:
                for test_file in all_test_files:
                    selection.add_file(test_file, f"shared code {path} changed (no test known to use it)")
            continue
        if kind.kind == "conftest":
            folder = path.rsplit("/", 1)[0] + "/"
            selection.restart_pool = selection.restart_pool or path in preloaded
            for test_file in all_test_files:
                if test_file.startswith(folder):
                    selection.add_file(test_file, f"{path} changed")
            continue
        if kind.kind == "corpus":
            _corpus_changed(selection, index, path, kind.source)
        elif kind.kind == "spec":
            _spec_changed(
                selection, index, path, spec_changes.get(path), spec_file_of, test_files_of, kind.source
            )
        elif kind.kind == "connector":
            _module_changed(
                selection, index, path, kind.source, test_files_of, f"connector {path} changed", static_importers
            )
        elif kind.kind == "connector_data":
            if kind.source:
                for test_file in test_files_of(kind.source):
                    selection.add_file(test_file, f"connector file {path} changed")
        elif kind.kind == "test":
            selection.add_file(path, "test file changed")
        elif kind.kind == "test_support":
            if path.endswith(".py"):
                _module_changed(
                    selection,
                    index,
                    path,
                    kind.source,
                    test_files_of,
                    f"test helper {path} changed",
                    static_importers,
                )
            elif kind.source:
                for test_file in test_files_of(kind.source):
                    selection.add_file(test_file, f"test data {path} changed")
        elif kind.kind in ("table_config", "spec_support"):
            if kind.source:
                for test_file in test_files_of(kind.source):
                    selection.add_file(test_file, f"{kind.kind.replace('_', ' ')} {path} changed")
        elif kind.kind == "cassette":
            if mode in ("replay", "hybrid") and kind.source:
                for test_file in test_files_of(kind.source):
                    selection.add_file(test_file, f"cassette {path} changed")
        elif kind.kind == "other" and path.endswith(".py"):
            _module_changed(
                selection, index, path, None, test_files_of, f"module {path} changed", static_importers
            )

    for source in sorted(changed_sources):
        known = {record.file for record in index.nodes.values() if record.source == source and record.ran}
        for test_file in test_files_of(source):
            if test_file not in known and test_file not in selection.files:
                selection.add_file(test_file, "no record of what its tests touch yet")
    for node_id, record in index.nodes.items():
        if record.failing:
            selection.add_node(node_id, f"{record.outcome} last time")
        elif not record.ran and record.source in changed_sources:
            selection.add_node(node_id, "has not run yet")
    return selection


def _corpus_changed(selection: Selection, index: Index, path: str, source: str | None) -> None:
    table = path.rsplit("/", 1)[-1].removesuffix(".json")
    corpus_dir = path.rsplit("/", 1)[0]

    def handled(request: RequestRef) -> bool:
        """A spec handler of the spec this corpus belongs to answered the request."""
        return request.handler and (request.spec_file or "").rsplit("/", 1)[0] + "/corpus" == corpus_dir

    for node_id, record in index.nodes.items():
        if path in record.corpus_files:
            selection.add_node(node_id, f"corpus {table} changed (this node read it)")
        elif any(handled(r) for r in record.requests):
            selection.add_node(node_id, f"corpus {table} changed (a spec handler answered this node)")
    for file in index.files.values():
        if any(r.corpus_file == path or handled(r) for r in file.requests):
            selection.add_file(file.path, f"corpus {table} changed (read while collecting)")
    for key, requests in index.class_shared.items():
        if any(r.corpus_file == path or handled(r) for r in requests):
            _select_class(selection, index, key, f"corpus {table} changed (its tests share what their first read of it built)")


def _select_class(selection: Selection, index: Index, key: str, reason: str) -> None:
    """Every test of a class (or module of tests): ``key`` is their node ID without the test."""
    prefix = key + "::"
    for node_id in index.nodes:
        if node_id.startswith(prefix):
            selection.add_node(node_id, reason)


def _readers(index: Index, path: str) -> bool:
    return any(path in r.read or path in r.loaded for r in index.nodes.values()) or any(
        path in f.read or path in f.loaded for f in index.files.values()
    )


def _data_changed(selection: Selection, index: Index, path: str, kind: str, unloadable: bool) -> None:
    """Nodes (and collections) that opened a changed data file themselves. A file a simulator loaded
    for them counts too unless it is a corpus or spec that still parses: those count through the
    requests that reach them."""
    name = path.rsplit("/", 1)[-1]
    through_requests = kind in ("corpus", "spec") and not unloadable
    why = "no longer parses" if unloadable else "changed"
    for node_id, record in index.nodes.items():
        if path in record.read:
            selection.add_node(node_id, f"{name} {why} (this node read it)")
        elif path in record.loaded and not through_requests:
            selection.add_node(node_id, f"{name} {why} (loaded for this node)")
    for file in index.files.values():
        if path in file.read or (path in file.loaded and not through_requests):
            selection.add_file(file.path, f"{name} {why} (read while collecting)")


def _spec_changed(
    selection: Selection,
    index: Index,
    path: str,
    change: SpecChange | None,
    spec_file_of: Callable[[str], str],
    test_files_of: Callable[[str], list[str]],
    source: str | None,
) -> None:
    if change is None or change.after is None:
        reason = "spec does not load" if change is not None else "spec changed"
        if source:
            for test_file in test_files_of(source):
                selection.add_file(test_file, reason)
        return
    # Requests are matched again against the new spec; the recorded endpoint and fingerprint of
    # each request stand for the old one, so this works without the previous spec too.
    if change.before is not None:
        before_future = future_by_corpus(change.before)
    elif change.before_future is not None:
        before_future = {k: tuple(v) for k, v in change.before_future.items()}
    else:
        before_future = {c: ("unknown",) for c in future_by_corpus(change.after)}
    after_future = future_by_corpus(change.after)
    future_changed = {
        c for c in set(before_future) | set(after_future) if before_future.get(c) != after_future.get(c)
    }

    def uses_this_spec(request: RequestRef, record_source: str | None) -> bool:
        if request.spec_file is not None:
            return request.spec_file == path
        return record_source is not None and spec_file_of(record_source) == path

    def effect(requests: Iterable[RequestRef], record_source: str | None) -> str | None:
        for request in requests:
            if not uses_this_spec(request, record_source):
                continue
            why = spec_change_effect(request, change)
            if why:
                return why
            corpus = (request.corpus_file or "").rsplit("/", 1)[-1].removesuffix(".json")
            if corpus and corpus in future_changed:
                return f"synthesize_future_records for corpus {corpus} changed"
        return None

    for node_id, record in index.nodes.items():
        why = effect(record.requests, record.source)
        if why:
            selection.add_node(node_id, why)
    for key, requests in index.class_shared.items():
        nodes = [index.nodes[n] for n in index.nodes if n.startswith(key + "::")]
        why = effect(requests, nodes[0].source if nodes else source)
        if why:
            _select_class(selection, index, key, f"{why} (a request the tests of its class share)")
    for file in index.files.values():
        sources = {index.nodes[n].source for n in index.nodes_of_file(file.path)} or {source}
        why = effect(file.requests, next(iter(sources)))
        if why:
            selection.add_file(file.path, f"{why} (while collecting)")


def _module_changed(
    selection: Selection,
    index: Index,
    path: str,
    source: str | None,
    test_files_of: Callable[[str], list[str]],
    reason: str,
    static_importers: Callable[[str], set[str]] = lambda _path: set(),
) -> set[str]:
    """Test files that import the module (as runs saw, and as the static import graph says) run whole."""
    importers = {record.file for record in index.nodes.values() if path in record.modules}
    importers |= {file.path for file in index.files.values() if path in file.modules}
    importers |= static_importers(path)
    for test_file in sorted(importers):
        selection.add_file(test_file, f"{reason} (imported)")
    if not importers and source:
        for test_file in test_files_of(source):
            selection.add_file(test_file, f"{reason} (not imported by any test yet)")
    return importers
