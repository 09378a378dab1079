"""Static checks: diagnostics for a saved file without running pytest.

The fastest feedback the daemon gives (a YAML typo is red in milliseconds):

- ``endpoints.yaml``: YAML syntax and the whole spec schema, through the
  simulator's own loader (:func:`connector_watch.simulator.spec.check_spec`, the one
  implementation), including corpus files that do not exist or are unused;
- corpus JSON: syntax, then :mod:`connector_watch.daemon.corpus_lint` against the schema and
  metadata the harness reported for the tables served from it;
- Python files (connectors, tests): syntax, by compiling without importing;
- ``dev_table_config.json``: syntax and shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.daemon.corpus_lint import TableContext, lint_corpus
from connector_watch.daemon.cross_checks import cross_check
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.daemon.index import Index, TableInfo
from connector_watch.daemon.workspace import FileKind, Workspace
from connector_watch.simulator.errors import Issue
from connector_watch.simulator.locations import LocatedSyntaxError, parse_json
from connector_watch.simulator.spec import Spec, check_spec


@dataclass
class StaticResult:
    """Diagnostics per file (every file a check speaks for, possibly empty) and a loaded spec."""

    diagnostics: dict[str, list[Diagnostic]] = field(default_factory=dict)
    spec: Spec | None = None
    spec_checked: bool = False


Learnt = dict[tuple[str | None, str], TableInfo]


def corpus_tables(
    index: Index, spec: Spec | None, corpus_path: str, learnt: Learnt | None = None
) -> list[TableContext]:
    """What lint needs to know about the connector tables served from a corpus file."""
    name = corpus_path.rsplit("/", 1)[-1].removesuffix(".json")
    serving = [e for e in spec.endpoints if e.corpus == name] if spec else []
    # A handler decides its own order; a sort makes file order irrelevant.
    sorted_by_spec = bool(serving) and all(
        e.handler or e.response.default_sort or e.with_role("sort_by") for e in serving
    )
    tables = index.table_for_corpus(corpus_path)
    if not tables:
        # Matched by name, not by the reads a run saw: whether file order matters to the connector is
        # unknown, so only types, keys and dates are checked.
        named = tables_named_like({**(learnt or {}), **index.tables}, corpus_path)
        return [TableContext(t.table, t.schema, t.metadata, sorted_by_spec=True) for t in named]
    return [TableContext(t.table, t.schema, t.metadata, sorted_by_spec) for t in tables]


def tables_named_like(tables: Learnt, corpus_path: str) -> list[TableInfo]:
    """Before a run has shown which reads a corpus answers (or under a harness that does not report
    it), the source's table named like the file (``tickets.json`` → ``tickets``; case, ``_-`` and a
    plural ``s`` aside)."""
    parts = corpus_path.split("/")
    if len(parts) < 3 or parts[-2] != "corpus":
        return []
    source = parts[-3]
    stem = _normal(parts[-1].removesuffix(".json"))
    names = (stem, stem + "s", stem.removesuffix("s"))
    return [
        tables[key]
        for key in sorted(k for k in tables if k[0] == source)
        if tables[key].schema and _normal(key[1]) in names
    ]


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def learn_schemas(
    workspace: Workspace, index: Index, sources: list[str] | None = None
) -> tuple[Learnt, list[str]]:
    """Schemas of the sources no run reported yet, learnt by a sandboxed import of each connector
    (:mod:`connector_watch.daemon.schema_probe`, cached by content), and a note per source whose
    schemas could not be learnt. What a run reports (``index.tables``) stays first."""
    from connector_watch.daemon import schema_probe

    reported = {owner for (owner, _), info in index.tables.items() if info.schema}
    wanted = [s for s in (sources if sources is not None else workspace.sources()) if s not in reported]
    learnt: Learnt = {}
    notes = []
    for found in schema_probe.learn(workspace, wanted):
        for entry in found.tables:
            key = (entry.get("source") or found.source, entry["table"])
            learnt[key] = TableInfo(key[0], entry["table"], entry.get("schema"), entry.get("metadata"))
        if found.note:
            notes.append(f"{found.source}: schemas not learnt ({found.note})")
    return learnt, notes


def issue_to_diagnostic(issue: Issue, workspace: Workspace, blame: str = "spec") -> Diagnostic:
    path = workspace.relative(issue.file)
    code = issue.code
    blame_to = "corpus" if code in ("missing-corpus", "unused-corpus") else blame
    return Diagnostic(
        blame=blame_to,
        message=issue.message,
        location=Location(
            path, Range.from_one_based(issue.line, issue.column, issue.span.end.line, issue.span.end.column)
        ),
        confidence=0.95,
        severity=issue.severity,
        code=f"{blame_to}.{code}",
        source="static",
        fix=_fix(issue.message),
    )


def _fix(message: str) -> str | None:
    match = re.search(r"did you mean '([^']+)'", message)
    return f"use '{match.group(1)}'" if match else None


def check_spec_file(
    workspace: Workspace,
    rel: str,
    text: str | None = None,
    sent_params: Callable[[str], dict[int, set[str]]] = lambda path: {},
) -> StaticResult:
    source = workspace.classify(rel).source
    corpus_dir = workspace.layout.corpus_dir(source) if source else workspace.absolute(rel).parent / "corpus"
    # Handlers are checked by reading their modules, never importing them: the daemon runs no user code.
    spec, issues = check_spec(
        workspace.absolute(rel), corpus_dir, text=text, display=rel, handler_roots=workspace.layout.code_roots()
    )
    result = StaticResult(spec=spec, spec_checked=True)
    result.diagnostics[rel] = []
    corpus_files = workspace.corpus_files(source) if source else []
    for path in corpus_files:
        result.diagnostics.setdefault(path, [])
    for issue in issues:
        diagnostic = issue_to_diagnostic(issue, workspace)
        result.diagnostics.setdefault(diagnostic.location.path, []).append(diagnostic)
    if spec is not None and source is not None:
        result.diagnostics[rel].extend(
            cross_check(
                spec, rel, _corpora(spec, corpus_dir), _connector_texts(workspace, source), sent_params(rel)
            )
        )
    return result


def _corpora(spec: Spec, corpus_dir: Path) -> dict[str, list[Any] | None]:
    """The endpoints' corpus tables, parsed (None for a file that is absent or not a list)."""
    tables: dict[str, list[Any] | None] = {}
    for endpoint in spec.endpoints:
        if endpoint.corpus and endpoint.corpus not in tables:
            try:
                data = json.loads((corpus_dir / f"{endpoint.corpus}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError, UnicodeDecodeError):
                data = None
            tables[endpoint.corpus] = data if isinstance(data, list) else None
    return tables


def _connector_texts(workspace: Workspace, source: str) -> list[str]:
    texts = []
    directory = workspace.layout.source_dir(source)
    for path in sorted(directory.rglob("*.py")) if directory.is_dir() else []:
        if "__pycache__" in path.parts or path.name.startswith("_generated_"):
            continue
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def check_python(rel: str, text: str, blame: str) -> list[Diagnostic]:
    try:
        compile(text, rel, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return [
            Diagnostic(
                blame,
                f"SyntaxError: {exc.msg}",
                Location(
                    rel,
                    Range.from_one_based(exc.lineno or 1, exc.offset or 1, exc.end_lineno, exc.end_offset),
                ),
                0.95,
                code="python.syntax",
                source="static",
                fix="fix the syntax error",
            )
        ]
    except ValueError as exc:  # null bytes
        return [
            Diagnostic(
                blame,
                f"cannot compile: {exc}",
                Location(rel, Range.lines(0)),
                0.9,
                code="python.syntax",
                source="static",
            )
        ]
    return []


def check_json(rel: str, text: str, blame: str) -> tuple[object | None, list[Diagnostic]]:
    try:
        return parse_json(text, rel), []
    except LocatedSyntaxError as exc:
        return None, [
            Diagnostic(
                blame,
                exc.message,
                Location(rel, Range.from_one_based(exc.span.start.line, exc.span.start.column)),
                0.95,
                code=f"{blame}.json_syntax",
                source="static",
                fix="fix the JSON syntax",
            )
        ]


def check_file(
    workspace: Workspace,
    rel: str,
    text: str | None,
    kind: FileKind,
    *,
    tables_for_corpus: Callable[[str], list[TableContext]] = lambda path: [],
    sent_params: Callable[[str], dict[int, set[str]]] = lambda path: {},
) -> StaticResult:
    """Static diagnostics for one file (``text`` None: the file was deleted); ``sent_params``: the
    query parameters the last run's requests sent each endpoint of a spec (for its cross-checks)."""
    result = StaticResult()
    if kind.kind == "spec":
        if text is None:
            result.diagnostics[rel] = []
            result.spec_checked = True
            return result
        return check_spec_file(workspace, rel, text, sent_params)
    if text is None:
        result.diagnostics[rel] = []
        return result
    if kind.kind == "corpus":
        data, diagnostics = check_json(rel, text, "corpus")
        if data is not None:
            diagnostics = lint_corpus(rel, text, data, tables_for_corpus(rel))
        result.diagnostics[rel] = diagnostics
    elif kind.kind == "table_config":
        data, diagnostics = check_json(rel, text, "test")
        if data is not None and (
            not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values())
        ):
            diagnostics = [
                Diagnostic(
                    "test",
                    "table options must map each table to an object of options, e.g. "
                    + json.dumps({"orders": {"max_records_per_batch": "5"}}),
                    Location(rel, Range.lines(0)),
                    0.9,
                    code="test.table_config",
                    source="static",
                )
            ]
        result.diagnostics[rel] = diagnostics
    elif rel.endswith(".py"):
        blame = (
            "connector"
            if kind.kind == "connector"
            else "test"
            if kind.kind.startswith("test")
            else "environment"
        )
        if kind.kind in ("connector", "test", "test_support", "library", "other"):
            result.diagnostics[rel] = check_python(rel, text, blame if kind.kind != "library" else "test")
    elif rel.endswith((".yaml", ".yml")) and kind.source:
        from connector_watch.simulator.locations import load_yaml

        try:
            load_yaml(text, rel)
            result.diagnostics[rel] = []
        except LocatedSyntaxError as exc:
            result.diagnostics[rel] = [
                Diagnostic(
                    "spec",
                    exc.message,
                    Location(rel, Range.from_one_based(exc.span.start.line, exc.span.start.column)),
                    0.9,
                    code="spec.yaml_syntax",
                    source="static",
                )
            ]
    return result


def blame_for_kind(kind: str) -> str:
    return kind if kind in ("connector", "spec", "corpus") else "test"


def not_utf8_diagnostic(path: str, kind: str, error: UnicodeDecodeError) -> Diagnostic:
    """A file the checks cannot read because it is not UTF-8 (static; at its first line)."""
    return Diagnostic(
        blame_for_kind(kind),
        f"not valid UTF-8 (byte {error.start})",
        Location(path, Range.lines(0)),
        1.0,
        fix="save the file as UTF-8",
        code="encoding",
        source="static",
    )
