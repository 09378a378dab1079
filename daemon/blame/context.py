"""What every blame rule reads: the failure, the workspace layout and files, and how to point at them."""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from connector_watch.daemon.blame.causality import CausalEvidence
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.sources_view import SourceView, find_line, json_data, json_span, yaml_key_span
from connector_watch.simulator.layout import Layout


@dataclass
class FailureInput:
    node_id: str
    outcome: str
    failure: dict[str, Any] | None  # {"when", "chain": [...]}
    trace: list[dict[str, Any]] = field(default_factory=list)
    test_file: str | None = None
    test_line: int | None = None
    source: str | None = None
    table: str | None = None
    message: str | None = None
    recent_changes: set[str] = field(default_factory=set)
    static: Mapping[str, list[Diagnostic]] = field(default_factory=dict)
    crash_status: int | None = None
    #: What the counterfactual reruns found (None: not investigated; status "pending": scheduled).
    causal: CausalEvidence | None = None


@dataclass
class Context:
    failure: FailureInput
    layout: Layout
    view: SourceView

    @property
    def chain(self) -> list[dict[str, Any]]:
        return (self.failure.failure or {}).get("chain", [])

    def connector_files(self) -> list[str]:
        """The source's Python files, the main connector module first."""
        if not self.failure.source:
            return []
        directory = self.layout.relative(self.layout.source_dir(self.failure.source))
        main = self.layout.relative(self.layout.connector_file(self.failure.source))
        others = [f for f in self.view.python_files(directory) if f != main and not f.endswith("__init__.py")]
        return [main, *others]

    def spec_file(self) -> str | None:
        if not self.failure.source:
            return None
        return self.layout.relative(self.layout.spec_file(self.failure.source))

    def cassette_file(self) -> str | None:
        """The node's test class's cassette (recorded live traffic), workspace-relative."""
        parts = self.failure.node_id.split("::")
        if len(parts) < 3 or not self.failure.test_file:
            return None
        directory = self.failure.test_file.rsplit("/", 1)[0] if "/" in self.failure.test_file else ""
        return f"{directory}/cassettes/{parts[1]}.json" if directory else f"cassettes/{parts[1]}.json"

    def frames(self) -> list[dict[str, Any]]:
        return [f for exc in self.chain for f in exc.get("frames", [])]

    def kind_of(self, path: str) -> str:
        _, kind = self.layout.owner(path)
        if kind == "connector":
            return "connector"
        if kind in ("test", "test_support", "table_config"):
            return "test"
        if path.startswith(("tests/harness/", "tests/unit/sources/test_", "tests/unit/sources/lakeflow_")):
            return "harness"
        if path.startswith("simulator/"):
            return "simulator"
        if path.startswith(("/", "<")):
            return "external"
        return "other"

    def deepest_frame(self, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        """The innermost frame (closest to the raise) in a file of one of ``kinds``."""
        for exc in reversed(self.chain):
            for frame in reversed(exc.get("frames", [])):
                if self.kind_of(frame["file"]) in kinds:
                    return frame
        return None

    def node_location(self) -> Location:
        path = self.failure.test_file or "."
        line = max((self.failure.test_line or 1) - 1, 0)
        return Location(path, Range.lines(line))

    def changed(self, *paths: str | None) -> bool:
        return any(p and (p in self.failure.recent_changes) for p in paths)

    def changed_under(self, prefix: str | None) -> bool:
        return bool(prefix) and any(p.startswith(prefix) for p in self.failure.recent_changes)

    def corpus_changed(self) -> bool:
        if not self.failure.source:
            return False
        return self.changed_under(self.layout.relative(self.layout.corpus_dir(self.failure.source)) + "/")

    def connector_changed(self) -> bool:
        if not self.failure.source:
            return False
        return self.changed_under(self.layout.relative(self.layout.source_dir(self.failure.source)) + "/")

    def diag(
        self,
        blame: str,
        message: str,
        location: Location,
        confidence: float,
        *,
        fix: str | None = None,
        evidence: Iterable[str] = (),
        related: Iterable[Related] = (),
        code: str | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            blame=blame,
            message=message,
            location=location,
            confidence=confidence,
            fix=fix,
            evidence=[e for e in evidence if e],
            related=list(related),
            node_ids=[self.failure.node_id],
            code=code,
        )


def frame_location(frame: dict[str, Any]) -> Location:
    return Location(frame["file"], Range.lines(max(frame["line"] - 1, 0)))


def issue_location(issue: dict[str, Any]) -> Location:
    return Location(
        issue["file"],
        Range.from_one_based(
            issue["line"], issue.get("column") or 1, issue.get("endLine"), issue.get("endColumn")
        ),
    )


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def exception_summary(exc: dict[str, Any]) -> str:
    return f"{exc['type']}: {first_line(exc.get('message'))}".strip()


def request_evidence(trace: list[dict[str, Any]], limit: int = 4) -> list[str]:
    lines = []
    for entry in trace[-limit:]:
        endpoint = entry.get("endpoint")
        where = f" → {endpoint['key']} ({endpoint['specFile']}:{endpoint['line']})" if endpoint else ""
        served = f", served {entry['served']} of {entry['total']}" if entry.get("total") is not None else ""
        lines.append(
            f"request #{entry['seq']}: {entry['method']} {entry['url']} [{entry['outcome']}"
            f"{', ' + str(entry['status']) if entry.get('status') else ''}{served}]{where}"
        )
    return lines


def spec_endpoint_location(entry: dict[str, Any]) -> Location | None:
    endpoint = entry.get("endpoint")
    if not endpoint:
        return None
    return Location(endpoint["specFile"], Range.lines(max(endpoint["line"] - 1, 0)))


def spec_key_location(ctx: Context, entry: dict[str, Any] | None, key: str) -> Location | None:
    """Where ``key:`` sits inside the endpoint that answered ``entry`` (e.g. its ``records_key``)."""
    endpoint = (entry or {}).get("endpoint")
    if not endpoint or endpoint.get("index") is None:
        return None
    span = yaml_key_span(ctx.view, endpoint["specFile"], ("endpoints", endpoint["index"]), key)
    if span is None:
        return None
    return Location(endpoint["specFile"], Range.from_one_based(span.start.line, span.start.column))


def call_chain(entry: dict[str, Any] | None) -> list[Related]:
    """The connector lines that led to the request (a paging loop around a shared helper)."""
    caller = (entry or {}).get("caller")
    if not caller or caller["file"].startswith("/"):
        return []
    return [
        Related(
            Location(caller["file"], Range.lines(max(frame["line"] - 1, 0))),
            f"called from {frame['function']}()",
        )
        for frame in caller.get("outer") or []
    ]


def caller_location(entry: dict[str, Any]) -> Location | None:
    caller = entry.get("caller")
    if not caller or caller["file"].startswith("/"):
        return None
    return Location(caller["file"], Range.lines(max(caller["line"] - 1, 0)))


def handler_location(ctx: Context, entry: dict[str, Any] | None) -> Location | None:
    """Where the connector handles the response of ``entry``: walking out from the request line
    through request helpers (functions with no loop of their own that made or passed on the
    request), the first frame that does something with the data — an inline paging loop is the
    request line itself."""
    caller = (entry or {}).get("caller")
    if not caller or caller["file"].startswith("/"):
        return None
    frames = [(caller["line"], caller.get("function"))] + [
        (outer["line"], outer.get("function")) for outer in caller.get("outer") or []
    ]
    chosen = frames[0][0]
    for (line, _), (outer_line, _) in itertools.pairwise(frames):
        if not _is_request_helper(ctx.view, caller["file"], line):
            break
        chosen = outer_line
    return Location(caller["file"], Range.lines(max(chosen - 1, 0)))


def _is_request_helper(view: SourceView, path: str, line: int) -> bool:
    """Whether the function holding ``line`` is a request helper: it returns what it got rather
    than handling the data (no ``yield``; its loops, if any, retry and ``return``)."""
    text = view.text(path)
    if text is None:
        return False
    holder = None
    for start, end, helper in _functions(text):
        if start <= line <= end and (holder is None or start > holder[0]):
            holder = (start, helper)
    return holder is not None and holder[1]


@lru_cache(maxsize=32)
def _functions(text: str) -> tuple[tuple[int, int, bool], ...]:
    """Every function of a module: its first and last line, and whether it is a request helper."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = list(ast.walk(node))
            generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in body)
            loops = [n for n in body if isinstance(n, (ast.For, ast.While, ast.AsyncFor))]
            retrying = all(any(isinstance(m, ast.Return) for m in ast.walk(loop)) for loop in loops)
            found.append((node.lineno, node.end_lineno or node.lineno, not generator and retrying))
    return tuple(found)


def data_site(ctx: Context) -> Location:
    """The connector line that handles the data of its last answered request (blame's answer to
    "where does the connector go wrong" when no frame of it is in the traceback)."""
    served = [e for e in ctx.failure.trace if e.get("outcome") == "served"]
    entry = served[-1] if served else (ctx.failure.trace[-1] if ctx.failure.trace else None)
    return handler_location(ctx, entry) or connector_site(ctx, "read_table")


def issues_of(ctx: Context, codes: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    found = []
    for exc in ctx.chain:
        for issue in exc.get("issues", []) or []:
            if codes is None or any(issue.get("code", "").startswith(c) for c in codes):
                found.append(issue)
    return found


def harness_of(ctx: Context) -> dict[str, Any] | None:
    for exc in ctx.chain:
        if exc.get("harness"):
            return exc["harness"]
    return None


def harness_message(ctx: Context) -> str:
    for exc in ctx.chain:
        if exc.get("harness"):
            return first_line(exc["message"])
    return first_line(ctx.failure.message)


def connector_site(ctx: Context, method: str | None = None) -> Location:
    frame = ctx.deepest_frame(("connector",))
    if frame:
        return frame_location(frame)
    for path in ctx.connector_files():
        if method:
            found = find_line(ctx.view, path, rf"^\s*def {re.escape(method)}\b")
            if found:
                return Location(path, Range.lines(found[0], found[1]))
    files = ctx.connector_files()
    if files:
        return Location(files[0], Range.lines(0))
    return ctx.node_location()


def corpus_files_read(ctx: Context) -> list[str]:
    files = []
    for entry in ctx.failure.trace:
        path = entry.get("corpusFile")
        if path and path not in files and entry.get("outcome") == "served":
            files.append(path)
    if not files and not ctx.failure.trace:  # no trace (the public harness): the table's corpus by name
        files = table_corpus_files(ctx)
    return files


def normal_name(name: str) -> str:
    """A table or corpus name for matching: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def table_corpus_files(ctx: Context, table: str | None = None) -> list[str]:
    """The corpus files named after the table (``corpus/<table>.json``; case, ``_-`` and a plural
    ``s`` aside): what the table reads when no trace says so."""
    table = table or ctx.failure.table
    source = ctx.failure.source
    if not table or not source:
        return []
    corpus_dir = ctx.layout.relative(ctx.layout.corpus_dir(source))
    exact = f"{corpus_dir}/{table}.json"
    if ctx.view.text(exact) is not None:
        return [exact]
    wanted = {normal_name(table), normal_name(table) + "s", normal_name(table).removesuffix("s")}
    spec = table_spec(ctx)
    names = {e.corpus for e in spec.endpoints if e.corpus} if spec else set()
    directory = ctx.layout.corpus_dir(source)
    if directory.is_dir():
        names |= {p.stem for p in directory.glob("*.json")}
    for name in sorted(names):
        if normal_name(name) in wanted and ctx.view.text(f"{corpus_dir}/{name}.json") is not None:
            return [f"{corpus_dir}/{name}.json"]
    return []


def table_spec(ctx: Context) -> Any:
    """The source's spec as the view has it (through the one spec loader), or None."""
    from connector_watch.simulator.spec import check_spec

    spec_file = ctx.spec_file()
    text = ctx.view.text(spec_file) if spec_file else None
    if text is None or not ctx.failure.source:
        return None
    corpus_dir = ctx.layout.corpus_dir(ctx.failure.source)
    spec, _ = check_spec(
        ctx.layout.root / spec_file,
        corpus_dir,
        text=text,
        display=spec_file,
        check_files=False,
        handler_roots=ctx.layout.code_roots(),
    )
    return spec


def find_corpus_record(ctx: Context, record: Any) -> tuple[str, int] | None:
    """The corpus file and index of a record the connector returned (by id-like keys, then equality)."""
    if not isinstance(record, dict):
        return None
    keys = [k for k in ("id", "sha", "uuid", "key", "name") if k in record]
    for path in corpus_files_read(ctx):
        data = json_data(ctx.view, path)
        if not isinstance(data, list):
            continue
        for i, candidate in enumerate(data):
            if candidate == record:
                return path, i
        for key in keys:
            for i, candidate in enumerate(data):
                if isinstance(candidate, dict) and candidate.get(key) == record.get(key):
                    return path, i
    return None


def json_location(ctx: Context, path: str, key: tuple[Any, ...]) -> Location:
    span = json_span(ctx.view, path, key)
    if span is None:
        return Location(path, Range.lines(0))
    return Location(
        path, Range.from_one_based(span.start.line, span.start.column, span.end.line, span.end.column)
    )


def schema_field_location(ctx: Context, field_path: str | None) -> Location | None:
    """Where the connector declares a schema field: StructField("x", ...) or ("x", SomeType(...))."""
    if not field_path:
        return None
    name = re.escape(re.split(r"[.\[]", field_path)[-1] or field_path)
    patterns = (
        rf"""StructField\(\s*["']{name}["']""",
        rf"""\(\s*["']{name}["']\s*,\s*\w+Type\(""",
        rf"""["']{name}["']""",
    )
    for pattern in patterns:
        for path in ctx.connector_files():
            found = find_line(ctx.view, path, pattern)
            if found:
                return Location(path, Range.lines(found[0], found[1]))
    return None


def corpus_path(ctx: Context, lost: dict[str, Any]) -> str:
    name = lost.get("corpus")
    for path in corpus_files_read(ctx):
        if path.rsplit("/", 1)[-1] == f"{name}.json":
            return path
    if ctx.failure.source:
        return ctx.layout.relative(ctx.layout.corpus_dir(ctx.failure.source) / f"{name}.json")
    return f"{name}.json"
