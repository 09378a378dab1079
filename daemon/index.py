"""What each test node touched in its last run: the dependency index impact reads.

Filled from the pytest plugin's events. For every node: the test file, class and
table; the workspace modules imported (while its file was collected and while it
ran); every distinct request it made with the spec endpoint it lands on (index and
fingerprint), the corpus file behind it and whether a spec handler answers it, whoever
answered it; the workspace files it read, and those a simulator loaded for it (a spec,
a whole corpus directory). For every test file: the same for its collection
(``list_tables`` may call the API). For every (source, table): the schema and metadata
the harness saw, for corpus lint. ``module_files`` maps module names to workspace files
where the name alone does not say (for the static import graph).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAILING = frozenset({"failed", "error", "timeout", "crashed"})
#: Harness tests whose requests show which corpus files serve a table.
READING_TESTS = frozenset(
    {"test_read_table", "test_read_partition", "test_read_matches_corpus", "test_partitions_match_corpus"}
)


@dataclass(frozen=True)
class RequestRef:
    method: str
    path: str
    endpoint_index: int | None
    fingerprint: str | None
    spec_file: str | None
    corpus_file: str | None
    #: A spec handler answers this endpoint: it may read any corpus of its spec.
    handler: bool = False

    @classmethod
    def from_list(cls, item: list[Any]) -> RequestRef:
        return cls(*item[:7])


@dataclass
class NodeRecord:
    node_id: str
    file: str
    test_class: str | None = None
    name: str | None = None
    table: str | None = None
    source: str | None = None
    line: int | None = None
    #: {"path", "line"} of the test function's def (the harness method for inherited tests) and of
    #: the decorator that parametrises its table; zero-based lines (see daemon/definitions.py).
    definition: dict[str, Any] | None = None
    parametrisation: dict[str, Any] | None = None
    modules: set[str] = field(default_factory=set)
    requests: set[RequestRef] = field(default_factory=set)
    #: Query parameter names the node sent, by (method, path) (the spec cross-checks read them).
    params: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)  # workspace files the test read
    loaded: set[str] = field(default_factory=set)  # workspace files a simulator loaded for it
    outcome: str | None = None
    duration_ms: float | None = None
    ran: bool = False  # has run at least once: modules and requests are known
    #: Skipped because this earlier test of its file hung: it never ran (what it depends on is as
    #: of its last run), and it runs again with that test.
    blocked_by: str | None = None

    @property
    def corpus_files(self) -> set[str]:
        return {r.corpus_file for r in self.requests if r.corpus_file}

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING

    def describe(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "file": self.file,
            "testClass": self.test_class,
            "name": self.name,
            "table": self.table,
            "source": self.source,
            "line": self.line,
            "outcome": self.outcome,
            "durationMs": self.duration_ms,
            "definition": self.definition,
            "parametrisation": self.parametrisation,
        }


@dataclass
class FileRecord:
    path: str
    modules: set[str] = field(default_factory=set)
    requests: set[RequestRef] = field(default_factory=set)
    collect_error: bool = False
    read: set[str] = field(default_factory=set)
    loaded: set[str] = field(default_factory=set)


@dataclass
class TableInfo:
    source: str | None
    table: str
    schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class Index:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.tables: dict[tuple[str | None, str], TableInfo] = {}
        self._corpus_tables: dict[str, set[tuple[str | None, str]]] | None = None
        #: Per spec file, the future-record directives in force when nodes last ran.
        self.spec_future: dict[str, dict[str, list[Any]]] = {}
        #: Module name → workspace file, where the name alone does not say (an installed mapping).
        self.module_files: dict[str, str] = {}
        #: The static import graph's parsed files (``ImportGraph.dump``), kept for one-shot commands.
        self.import_edges: dict[str, list[Any]] = {}
        #: Per class (or module) of tests, the requests its tests share through the objects they share:
        #: made by the first test that made any, and by no other (a token, a list of types the
        #: connector caches). A change reaching one of them reaches every test of the class.
        self.class_shared: dict[str, set[RequestRef]] = {}

    # ------------------------------------------------------------------ updates from plugin events
    def collected(
        self, event: dict[str, Any], files_run_whole: set[str]
    ) -> tuple[list[NodeRecord], list[str]]:
        """Apply a ``collected`` event; returns (new nodes, removed node IDs).

        Nodes of a file that was collected whole but no longer appear are removed.
        """
        self._corpus_tables = None
        added: list[NodeRecord] = []
        seen_by_file: dict[str, set[str]] = {}
        for item in event.get("nodes", []):
            node_id = item["nodeId"]
            seen_by_file.setdefault(item["file"], set()).add(node_id)
            record = self.nodes.get(node_id)
            if record is None:
                record = NodeRecord(node_id=node_id, file=item["file"])
                self.nodes[node_id] = record
                added.append(record)
            record.test_class = item.get("testClass")
            record.name = item.get("name")
            record.table = item.get("table")
            record.source = item.get("source")
            record.line = item.get("line")
            record.definition = item.get("definition")
            record.parametrisation = item.get("parametrisation")
        for path, info in event.get("files", {}).items():
            file = self.files.setdefault(path, FileRecord(path))
            file.modules = set(info.get("modules", [])) | {path}
            file.requests = {RequestRef.from_list(r) for r in info.get("requests", [])}
            file.collect_error = bool(info.get("collectError"))
            file.read = set(info.get("read", []))
            file.loaded = set(info.get("loaded", []))
        self.module_files.update(event.get("moduleFiles") or {})
        removed = []
        for path in files_run_whole:
            keep = seen_by_file.get(path, set())
            for node_id in [n for n, r in self.nodes.items() if r.file == path and n not in keep]:
                del self.nodes[node_id]
                removed.append(node_id)
        return added, removed

    def collect_error(self, path: str, event: dict[str, Any]) -> list[str]:
        """A file failed to collect: its nodes are gone until it collects again."""
        self._corpus_tables = None
        file = self.files.setdefault(path, FileRecord(path))
        file.collect_error = True
        file.modules = set(event.get("modules", [])) | {path}
        file.requests = {RequestRef.from_list(r) for r in event.get("requests", [])}
        file.read = set(event.get("read", []))
        file.loaded = set(event.get("loaded", []))
        removed = [n for n, r in self.nodes.items() if r.file == path]
        for node_id in removed:
            del self.nodes[node_id]
        return removed

    def finished(self, event: dict[str, Any]) -> NodeRecord | None:
        record = self.nodes.get(event["nodeId"])
        if record is None:
            return None
        record.blocked_by = event.get("blockedBy")
        if record.blocked_by:  # it never ran: keep what its last run touched
            record.outcome = event.get("outcome")
            record.duration_ms = event.get("durationMs")
            return record
        file = self.files.get(record.file)
        record.modules = set(event.get("modules", [])) | (file.modules if file else {record.file})
        record.requests = {RequestRef.from_list(r) for r in event.get("requests", [])}
        record.params = {(m, path): tuple(names) for m, path, names in event.get("params", [])}
        record.read = set(event.get("read", []))
        record.loaded = set(event.get("loaded", []))
        self._corpus_tables = None
        record.outcome = event.get("outcome")
        record.duration_ms = event.get("durationMs")
        record.ran = True
        for info in event.get("tables", []):
            key = (info.get("source"), info["table"])
            table = self.tables.setdefault(key, TableInfo(info.get("source"), info["table"]))
            if "schema" in info:
                table.schema = info["schema"]
            if "metadata" in info:
                table.metadata = info["metadata"]
        return record

    def sent_params(self, spec_file: str) -> dict[int, set[str]]:
        """Per endpoint of ``spec_file``, the query parameter names the nodes sent it."""
        sent: dict[int, set[str]] = {}
        for record in self.nodes.values():
            for request in record.requests:
                if request.spec_file == spec_file and request.endpoint_index is not None:
                    names = record.params.get((request.method, request.path))
                    if names:
                        sent.setdefault(request.endpoint_index, set()).update(names)
        return sent

    def learn_shared(self, files: set[str]) -> None:
        """After a run of these whole files: which requests each class's tests share (see
        ``class_shared``), from the requests its tests made, in the order they were collected."""
        groups: dict[str, list[NodeRecord]] = {}
        for record in self.nodes.values():
            if record.file in files and record.ran:
                groups.setdefault(record.node_id.rsplit("::", 1)[0], []).append(record)
                if "::" in record.node_id.split("::", 1)[1]:  # in a class: the module shares state too
                    groups.setdefault(record.file, []).append(record)
        for key in [k for k in self.class_shared if k.split("::")[0] in files]:
            del self.class_shared[key]
        for key, records in groups.items():
            requesting = [r for r in records if r.requests]
            if not requesting:
                continue
            repeated = {request for r in requesting[1:] for request in r.requests}
            shared = {request for request in requesting[0].requests if request not in repeated}
            if shared and len(records) > 1:
                self.class_shared[key] = shared

    def forget_file(self, path: str) -> list[str]:
        """A test file was deleted: forget it and its nodes; returns the node ids dropped."""
        removed = self.nodes_of_file(path)
        for node_id in removed:
            del self.nodes[node_id]
        self.files.pop(path, None)
        self._corpus_tables = None
        return removed

    # ------------------------------------------------------------------ queries
    def nodes_of_file(self, path: str) -> list[str]:
        return [n for n, r in self.nodes.items() if r.file == path]

    def nodes_of_source(self, source: str) -> list[str]:
        return [n for n, r in self.nodes.items() if r.source == source]

    def failing(self) -> list[str]:
        return [n for n, r in self.nodes.items() if r.failing]

    def _corpus_map(self) -> dict[str, set[tuple[str | None, str]]]:
        """corpus file → the (source, table) pairs whose reading tests were answered from it."""
        if self._corpus_tables is None:
            mapping: dict[str, set[tuple[str | None, str]]] = {}
            for record in self.nodes.values():
                if record.table is not None and record.name in READING_TESTS:
                    for path in record.corpus_files:
                        mapping.setdefault(path, set()).add((record.source, record.table))
            self._corpus_tables = mapping
        return self._corpus_tables

    def corpus_files_of(self, source: str | None, table: str) -> set[str]:
        """Corpus files the reads of a table were answered from (by its reading nodes)."""
        return {path for path, tables in self._corpus_map().items() if (source, table) in tables}

    def table_for_corpus(self, corpus_file: str) -> list[TableInfo]:
        keys = self._corpus_map().get(corpus_file, set())
        return [self.tables[key] for key in sorted(keys, key=str) if key in self.tables]


# ---------------------------------------------------------------------------- persistence

INDEX_VERSION = 1


def dump(index: Index) -> dict[str, Any]:
    """A JSON document of the index (``.connector-watch/index.json``), for one-shot commands."""
    return {
        "version": INDEX_VERSION,
        "specFuture": index.spec_future,
        "nodes": [
            {
                **record.describe(),
                "modules": sorted(record.modules),
                "ran": record.ran,
                "requests": sorted([list(r.__dict__.values()) for r in record.requests], key=str),
                "params": [[m, path, list(names)] for (m, path), names in sorted(record.params.items())],
                "read": sorted(record.read),
                "loaded": sorted(record.loaded),
                "blockedBy": record.blocked_by,
            }
            for record in index.nodes.values()
        ],
        "files": [
            {
                "path": f.path,
                "modules": sorted(f.modules),
                "collectError": f.collect_error,
                "requests": sorted([list(r.__dict__.values()) for r in f.requests], key=str),
                "read": sorted(f.read),
                "loaded": sorted(f.loaded),
            }
            for f in index.files.values()
        ],
        "moduleFiles": dict(sorted(index.module_files.items())),
        "importEdges": index.import_edges,
        "classShared": {
            key: sorted([list(r.__dict__.values()) for r in requests], key=str)
            for key, requests in sorted(index.class_shared.items())
        },
        "tables": [
            {
                "source": t.source,
                "table": t.table,
                "schema": t.schema,
                "metadata": t.metadata,
            }
            for t in index.tables.values()
        ],
    }


def load(document: dict[str, Any]) -> Index:
    index = Index()
    if document.get("version") != INDEX_VERSION:
        return index
    for item in document.get("nodes", []):
        record = NodeRecord(
            node_id=item["nodeId"],
            file=item["file"],
            test_class=item.get("testClass"),
            name=item.get("name"),
            table=item.get("table"),
            source=item.get("source"),
            line=item.get("line"),
            definition=item.get("definition"),
            parametrisation=item.get("parametrisation"),
            modules=set(item.get("modules", [])),
            outcome=item.get("outcome"),
            duration_ms=item.get("durationMs"),
            ran=bool(item.get("ran")),
            requests={RequestRef.from_list(r) for r in item.get("requests", [])},
            params={(m, path): tuple(names) for m, path, names in item.get("params", [])},
            read=set(item.get("read", [])),
            loaded=set(item.get("loaded", [])),
            blocked_by=item.get("blockedBy"),
        )
        index.nodes[record.node_id] = record
    for item in document.get("files", []):
        index.files[item["path"]] = FileRecord(
            item["path"],
            set(item.get("modules", [])),
            {RequestRef.from_list(r) for r in item.get("requests", [])},
            bool(item.get("collectError")),
            set(item.get("read", [])),
            set(item.get("loaded", [])),
        )
    index.module_files = dict(document.get("moduleFiles", {}))
    index.import_edges = dict(document.get("importEdges", {}))
    index.class_shared = {
        key: {RequestRef.from_list(r) for r in requests} for key, requests in document.get("classShared", {}).items()
    }
    index.spec_future = dict(document.get("specFuture", {}))
    for item in document.get("tables", []):
        index.tables[(item.get("source"), item["table"])] = TableInfo(
            item.get("source"),
            item["table"],
            item.get("schema"),
            item.get("metadata"),
        )
    return index
