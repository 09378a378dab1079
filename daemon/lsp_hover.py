"""Hover for the language server, as pure functions: what reads a spec endpoint or a corpus record.

Under the cursor in ``endpoints.yaml``: the endpoint entry (its ``- path:`` line and every key
below it); in a corpus file: the record (a JSON object of the top-level list, or of a list under a
top-level key). The answer comes from the engine's :class:`~connector_watch.daemon.index.Index`
(which nodes' requests landed on that endpoint, which nodes were served from that corpus file,
with their last outcome) and from :class:`LastHits`, which remembers the last request that reached
each endpoint and corpus file as nodes finish. Positions in and out are zero-based (LSP).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from connector_watch.daemon.index import Index, NodeRecord, RequestRef
from connector_watch.simulator.locations import (
    LocatedSyntaxError,
    PathKey,
    Position,
    Span,
    json_value_spans,
    load_yaml,
)

#: How many tests a hover lists before saying how many more there are.
MAX_LISTED = 12
MARK = {"passed": "✓", "skipped": "○", None: "·"}

SpecOf = Callable[[str | None], str | None]  # a source → the workspace path of its spec


@dataclass(frozen=True)
class Hit:
    """One request a node made, remembered as the last to reach an endpoint or corpus file."""

    method: str
    url_path: str
    node_id: str
    outcome: str | None
    run_id: int
    at: float  # time.time()


class LastHits:
    """The last request that reached each spec endpoint and each corpus file, from finished nodes.

    A node's requests are a set (the index keeps them unordered), so "last" is per node: the
    latest node to finish that made a request to it, and that request.
    """

    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, int], Hit] = {}
        self.corpora: dict[str, Hit] = {}

    def node_finished(self, record: NodeRecord, run_id: int, spec_of: SpecOf, at: float) -> None:
        for request in sorted(record.requests, key=lambda r: (r.path, r.method)):
            hit = Hit(request.method, request.path, record.node_id, record.outcome, run_id, at)
            spec = request.spec_file or spec_of(record.source)
            if request.endpoint_index is not None and spec:
                self.endpoints[(spec, request.endpoint_index)] = hit
            if request.corpus_file:
                self.corpora[request.corpus_file] = hit


# ---------------------------------------------------------------------------- what is under the cursor


@dataclass(frozen=True)
class EndpointAt:
    index: int
    method: str
    path: str
    corpus: str | None
    first_line: int  # zero-based, inclusive
    last_line: int


def endpoint_at(text: str, display: str, line: int) -> EndpointAt | None:
    """The ``endpoints:`` entry whose lines hold ``line`` (None when the text is not YAML or the
    line is outside every entry). An entry runs from its first key to the line before the next."""
    try:
        doc = load_yaml(text, display)
    except LocatedSyntaxError:
        return None
    endpoints = doc.data.get("endpoints") if isinstance(doc.data, dict) else None
    if not isinstance(endpoints, list):
        return None
    spans = [doc.value_spans.get(("endpoints", i)) for i in range(len(endpoints))]
    for i, (raw, span) in enumerate(zip(endpoints, spans, strict=True)):
        if span is None or not isinstance(raw, dict):
            continue
        first = span.start.line - 1
        following = next((s for s in spans[i + 1 :] if s is not None), None)
        last = following.start.line - 2 if following else _last_line(span)
        if first <= line <= last:
            return EndpointAt(
                i,
                str(raw.get("method", "GET")).upper(),
                str(raw.get("path", "")),
                str(raw["corpus"]) if raw.get("corpus") is not None else None,
                first,
                last,
            )
    return None


def _last_line(span: Span) -> int:
    """Zero-based last line of a span (a block's end mark sits at column 1 of the line after it)."""
    return (
        span.end.line - 2 if span.end.column == 1 and span.end.line > span.start.line else span.end.line - 1
    )


@dataclass(frozen=True)
class RecordAt:
    path: PathKey  # (3,) or ("records", 3)
    span: Span  # one-based
    record: Any  # the parsed object, or None when the text does not parse


def record_at(text: str, line: int, character: int) -> RecordAt | None:
    """The corpus record (an element of the top-level list, or of a list under a top-level key)
    that holds the zero-based position."""
    values, _ = json_value_spans(text, max_depth=2)
    here = Position(line + 1, character + 1)
    found = None
    for path, span in values.items():
        is_record = (len(path) == 1 and isinstance(path[0], int)) or (
            len(path) == 2 and isinstance(path[0], str) and isinstance(path[1], int)
        )
        if is_record and span.start <= here <= span.end:
            found = (path, span)
            break
    if found is None:
        return None
    path, span = found
    try:
        data: Any = json.loads(text)
        for step in path:
            data = data[step]
    except (ValueError, LookupError, TypeError):
        data = None
    return RecordAt(path, span, data)


# ---------------------------------------------------------------------------- who reads it


def _lands_on(
    requests: Iterable[RequestRef], source: str | None, spec: str, index: int, spec_of: SpecOf
) -> bool:
    return any(r.endpoint_index == index and (r.spec_file or spec_of(source)) == spec for r in requests)


def endpoint_readers(
    index: Index, spec: str, endpoint_index: int, spec_of: SpecOf
) -> tuple[list[NodeRecord], list[str]]:
    """The nodes whose last run made a request this endpoint answered, and the test files whose
    collection did."""
    nodes = [
        r for r in index.nodes.values() if _lands_on(r.requests, r.source, spec, endpoint_index, spec_of)
    ]
    files = [
        f.path for f in index.files.values() if _lands_on(f.requests, None, spec, endpoint_index, spec_of)
    ]
    return sorted(nodes, key=lambda r: r.node_id), sorted(files)


def corpus_readers(index: Index, corpus: str) -> tuple[list[NodeRecord], list[str]]:
    """The nodes served from this corpus file in their last run, and the test files whose
    collection was."""
    nodes = [r for r in index.nodes.values() if corpus in r.corpus_files]
    files = [f.path for f in index.files.values() if any(r.corpus_file == corpus for r in f.requests)]
    return sorted(nodes, key=lambda r: r.node_id), sorted(files)


# ---------------------------------------------------------------------------- markdown


def _short(node_id: str) -> str:
    return node_id.split("::", 1)[1] if "::" in node_id else node_id


def _readers(nodes: list[NodeRecord], files: list[str], what: str) -> list[str]:
    """``what``: "hit this endpoint", "read this corpus file"."""
    if not nodes and not files:
        return [f"No test {what} in its last run (nothing has run yet, or no request reached it)."]
    counts: dict[str, int] = {}
    for record in nodes:
        counts[record.outcome or "not run yet"] = counts.get(record.outcome or "not run yet", 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    lines = [
        f"**{len(nodes)} test{'s' if len(nodes) != 1 else ''}** {what}" + (f": {summary}" if nodes else "")
    ]
    ordered = sorted(nodes, key=lambda r: (r.outcome in ("passed", "skipped"), r.node_id))  # failures first
    for record in ordered[:MAX_LISTED]:
        mark = MARK.get(record.outcome, "✗")
        lines.append(f"- {mark} {record.outcome or 'not run yet'}: `{_short(record.node_id)}`")
    if len(ordered) > MAX_LISTED:
        lines.append(f"- … and {len(ordered) - MAX_LISTED} more")
    for path in files[:MAX_LISTED]:
        lines.append(f"- while collecting `{path}`")
    return lines


def _last(hit: Hit | None) -> str:
    if hit is None:
        return "No request has reached it since the daemon started."
    clock = time.strftime("%H:%M:%S", time.localtime(hit.at))
    return (
        f"**Last request:** `{hit.method} {hit.url_path}` from `{_short(hit.node_id)}` "
        f"({hit.outcome or 'unknown'}, run {hit.run_id}, {clock})"
    )


def endpoint_hover(
    endpoint: EndpointAt, spec: str, nodes: list[NodeRecord], files: list[str], hit: Hit | None
) -> dict[str, Any]:
    """An LSP ``Hover`` (markdown) for a spec endpoint."""
    corpus = f", corpus `{endpoint.corpus}`" if endpoint.corpus else ""
    lines = [
        f"**{endpoint.method} {endpoint.path}**  ",
        f"endpoint {endpoint.index + 1} of `{spec}`{corpus}",
        "",
        *_readers(nodes, files, "hit this endpoint"),
        "",
        _last(hit),
    ]
    return {
        "contents": {"kind": "markdown", "value": "\n".join(lines)},
        "range": {
            "start": {"line": endpoint.first_line, "character": 0},
            "end": {"line": endpoint.last_line, "character": 1000},
        },
    }


def record_hover(
    record: RecordAt,
    corpus: str,
    tables: list[tuple[str | None, str, list[str]]],
    nodes: list[NodeRecord],
    files: list[str],
    hit: Hit | None,
) -> dict[str, Any]:
    """An LSP ``Hover`` (markdown) for a corpus record; ``tables`` are the (source, table, primary
    keys) served from this file."""
    number = record.path[-1] + 1 if isinstance(record.path[-1], int) else record.path[-1]
    keys = [k for _, _, pks in tables for k in pks] or ["id"]
    identity = ""
    if isinstance(record.record, dict):
        shown = [
            f"`{k}` = `{json.dumps(record.record[k])}`" for k in dict.fromkeys(keys) if k in record.record
        ]
        identity = " · " + ", ".join(shown) if shown else ""
    served = (
        "Served as " + ", ".join(f"table `{t}`" + (f" ({s})" if s else "") for s, t, _ in tables) + "."
        if tables
        else (
            "Which table it serves is not known: its readers report no table (another harness)."
            if nodes or files
            else "No table is known to be served from this file yet (its tests have not run)."
        )
    )
    lines = [
        f"**corpus record {number}** of `{corpus}`{identity}  ",
        served,
        "",
        *_readers(nodes, files, "read this corpus file"),
        "",
        _last(hit),
    ]
    span = record.span
    return {
        "contents": {"kind": "markdown", "value": "\n".join(lines)},
        "range": {
            "start": {"line": span.start.line - 1, "character": span.start.column - 1},
            "end": {"line": span.end.line - 1, "character": span.end.column - 1},
        },
    }
