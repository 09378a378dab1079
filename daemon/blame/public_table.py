"""The files that serve a table of the public harness, for blame: its spec endpoints, its corpus
records, and whether the connector quotes a key at all.

Pure (reads files through the :class:`~connector_watch.daemon.sources_view.SourceView`); shared by
the public harness's evidence families (:mod:`.public_reads`, :mod:`.public_records`,
:mod:`.public_requests`)."""

from __future__ import annotations

import re
from typing import Any

from connector_watch.daemon.blame.context import Context, normal_name, table_spec
from connector_watch.daemon.diagnostics import Location, Range
from connector_watch.daemon.sources_view import json_data, yaml_key_span


def table_endpoints(ctx: Context, table: str) -> list[Any]:
    """Spec endpoints that serve the table: by corpus name, else by a path segment naming it."""
    spec = table_spec(ctx)
    if spec is None:
        return []
    wanted = {normal_name(table), normal_name(table) + "s", normal_name(table).removesuffix("s")}
    by_corpus = [e for e in spec.endpoints if e.corpus and normal_name(e.corpus) in wanted]
    if by_corpus:
        return by_corpus
    return [
        e
        for e in spec.endpoints
        if any(normal_name(part) in wanted for part in e.path.split("/") if part and not part.startswith("{"))
    ]


def endpoint_location(ctx: Context, endpoint: Any, key: str | None = None) -> Location:
    if key:
        span = yaml_key_span(ctx.view, endpoint.spec_file, ("endpoints", endpoint.index), key)
        if span is not None:
            return Location(endpoint.spec_file, Range.from_one_based(span.start.line, span.start.column))
    return Location(endpoint.spec_file, Range.lines(max(endpoint.line - 1, 0)))


def corpus_records(ctx: Context, path: str) -> list[Any] | None:
    data = json_data(ctx.view, path)
    return data if isinstance(data, list) else None


def quoted_in_connector(ctx: Context, word: str) -> bool:
    pattern = re.compile(rf"""["']{re.escape(word)}["']""")
    return any(pattern.search(ctx.view.text(path) or "") for path in ctx.connector_files())
