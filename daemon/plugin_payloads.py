"""The JSON payloads of the plugin's events, built from live objects in the pytest process.

An exception chain (outermost first) with its frames and the typed details blame reads (harness
check, spec and corpus issues, an unknown endpoint, a conversion error, a syntax error, a missing
module, and a public-harness text read as our harness's facts); a node's simulator trace made
compact; the requests and query parameters a node made (from the trace and the transport-level
evidence); the workspace modules a node or a test file imported. Paths are workspace-relative.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any

from connector_watch.daemon import public_harness, public_tracebacks
from connector_watch.daemon.evidence import Sink
from connector_watch.simulator import trace as simulator_trace

MAX_TRACE_ENTRIES = 120
#: Connector tracebacks the public harness printed, by (table, error): a later test of the same
#: class that kept only the error's message gets the frames (see public_tracebacks.borrow_frames).
_PUBLIC_TRACEBACKS: dict[tuple[Any, str], dict[str, Any]] = {}
MAX_FRAMES = 40


def workspace_modules(root: str, names: Iterator[str]) -> list[str]:
    files = []
    for name in names:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if not file:
            continue
        file = os.path.abspath(file)
        if file.startswith(root) and "/.venv/" not in file and "/site-packages/" not in file:
            files.append(os.path.relpath(file, root))
    return sorted(set(files))


def relative(path: str, root: str) -> str:
    absolute = os.path.abspath(path)
    inside = absolute == root or absolute.startswith(root.rstrip(os.sep) + os.sep)
    return os.path.relpath(absolute, root) if inside else absolute


def describe_exception(exc: BaseException, root: str) -> list[dict[str, Any]]:
    """The exception chain (outermost first) with frames and the structured details blame reads."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < 8:
        seen.add(id(current))
        frames = []
        for frame in traceback.extract_tb(current.__traceback__)[-MAX_FRAMES:]:
            frames.append(
                {
                    "file": relative(frame.filename, root),
                    "line": frame.lineno,
                    "function": frame.name,
                    "code": (frame.line or "")[:200],
                }
            )
        item: dict[str, Any] = {
            "type": type(current).__name__,
            "module": type(current).__module__,
            "bases": [c.__name__ for c in type(current).__mro__[1:6]],
            "message": str(current)[:4000],
            "frames": frames,
            "notes": list(getattr(current, "__notes__", []) or [])[:5],
        }
        item.update(_details(current, root))
        chain.append(item)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain


def _details(exc: BaseException, root: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if hasattr(exc, "check") and hasattr(exc, "details"):  # HarnessFailure
        details["harness"] = {
            "check": exc.check,
            "table": getattr(exc, "table", None),
            "details": _jsonable(exc.details),
            "hint": getattr(exc, "hint", None),
        }
    issues = getattr(exc, "issues", None)
    if issues is None and hasattr(exc, "issue"):
        issues = [exc.issue]
    if issues:
        details["issues"] = [
            {
                "file": relative(i.file, root) if os.path.isabs(i.file) else i.file,
                "line": i.line,
                "column": i.column,
                "endLine": i.span.end.line,
                "endColumn": i.span.end.column,
                "message": i.message,
                "severity": i.severity,
                "code": i.code,
            }
            for i in issues
        ]
    if type(exc).__name__ in ("UnknownEndpoint", "NoMatchingInteraction"):
        details["request"] = {
            "method": getattr(exc, "method", None),
            "url": getattr(exc, "url", None),
            "nearest": list(getattr(exc, "nearest", []) or []),
        }
    if type(exc).__name__ == "ConversionError":
        details["conversion"] = {
            "path": getattr(exc, "path", None),
            "value": _jsonable(getattr(exc, "value", None)),
            "sparkType": str(getattr(exc, "data_type", "")),
            "table": getattr(exc, "table", None),
        }
    if isinstance(exc, SyntaxError) and exc.filename:
        details["syntax"] = {
            "file": relative(exc.filename, root),
            "line": exc.lineno,
            "column": exc.offset,
            "endLine": getattr(exc, "end_lineno", None),
            "endColumn": getattr(exc, "end_offset", None),
            "message": exc.msg,
        }
    if isinstance(exc, ModuleNotFoundError):
        details["missingModule"] = exc.name
    if "harness" not in details:
        # The public harness fails with plain texts: read them as the facts our harness raises.
        facts = public_harness.facts(type(exc).__name__, str(exc), root)
        if facts:
            public_tracebacks.borrow_frames(facts, _PUBLIC_TRACEBACKS)
            details["facts"] = facts
    return details


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=repr))


def compact_trace(trace: simulator_trace.Trace, root: str) -> dict[str, Any]:
    entries = trace.entries
    truncated = len(entries) > MAX_TRACE_ENTRIES
    if truncated:
        entries = entries[:30] + entries[-(MAX_TRACE_ENTRIES - 30) :]
    items = []
    for e in entries:
        item: dict[str, Any] = {
            "seq": e.seq,
            "mode": e.mode,
            "method": e.method,
            "url": e.url,
            "outcome": e.outcome,
            "status": e.status,
            "corpus": e.corpus,
            "corpusFile": e.corpus_file,
            "corpusMissing": e.corpus_missing,
            "served": len(e.served),
            "futureServed": len(e.future_served),
            "total": e.total,
            "hasMore": e.has_more,
            "page": e.page,
            "message": e.message,
            "nearest": e.nearest,
            "timeout": e.timeout if isinstance(e.timeout, (int, float, type(None))) else str(e.timeout),
        }
        if e.endpoint is not None:
            item["endpoint"] = {
                "index": e.endpoint.index,
                "key": e.endpoint.key,
                "specFile": relative(e.endpoint.spec_file, root)
                if os.path.isabs(e.endpoint.spec_file)
                else e.endpoint.spec_file,
                "line": e.endpoint.line,
                "fingerprint": e.endpoint.fingerprint,
            }
        if e.caller is not None:
            item["caller"] = {
                "file": relative(e.caller.file, root),
                "line": e.caller.line,
                "function": e.caller.function,
                "outer": [{"line": line, "function": name} for line, name in e.caller.outer],
            }
        items.append(item)
    return {
        "entries": items,
        "count": len(trace.entries),
        "truncated": truncated,
        "corpusTables": sorted(trace.corpus_tables_read),
    }


def requests_of(trace: simulator_trace.Trace, found: Sink | None = None) -> list[list[Any]]:
    """Distinct (method, url-path, endpoint index or None, fingerprint, spec file, corpus file) a node
    made: impact re-matches these. Requests our simulator answered carry its endpoint; the others
    (seen at the transport level) carry only method and path, and the engine matches them."""
    from urllib.parse import urlsplit

    seen: dict[tuple[Any, ...], None] = {}
    traced: set[tuple[str, str]] = set()
    for e in trace.entries:
        spec_file = e.endpoint.spec_file if e.endpoint else None
        key = (
            e.method,
            urlsplit(e.url).path,
            e.endpoint.index if e.endpoint else None,
            e.endpoint.fingerprint if e.endpoint else None,
            spec_file,
            e.corpus_file,
        )
        seen.setdefault(key, None)
        traced.add((e.method, key[1]))
        if len(seen) > 400:
            break
    for method, _host, path in found.requests if found is not None else ():
        if (method, path) not in traced and len(seen) <= 400:
            seen.setdefault((method, path, None, None, None, None), None)
    return [list(k) for k in seen]


def params_of(trace: simulator_trace.Trace, found: Sink | None = None) -> list[list[Any]]:
    """``[method, url-path, [query parameter names]]`` a node sent: the spec cross-checks compare
    them with the parameters each endpoint declares."""
    from urllib.parse import parse_qsl, urlsplit

    sent: dict[tuple[str, str], set[str]] = {}
    for e in trace.entries:
        parts = urlsplit(e.url)
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        if names:
            sent.setdefault((e.method, parts.path), set()).update(names)
    for key, names in (found.params if found is not None else {}).items():
        sent.setdefault(key, set()).update(names)
    return [[method, path, sorted(names)] for (method, path), names in sorted(sent.items())][:400]


def module_files(root: str, names: Iterator[str]) -> dict[str, str]:
    """Workspace modules whose file is not where their name says under the root or ``src/``: the
    static import graph resolves the others by itself."""
    found = {}
    for name in names:
        file = getattr(sys.modules.get(name), "__file__", None)
        if not file:
            continue
        rel = os.path.relpath(os.path.abspath(file), root)
        if rel.startswith("..") or "/site-packages/" in file or "/.venv/" in file:
            continue
        stem = name.replace(".", "/")
        if rel in (f"{stem}.py", f"{stem}/__init__.py", f"src/{stem}.py", f"src/{stem}/__init__.py"):
            continue
        found[name] = rel
    return found
