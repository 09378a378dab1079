"""The pytest plugin inside every daemon run: structured events out, never scraped text.

Loaded by the worker (``pytest.main(args, plugins=[EventStream(...)])``). For
each collector and test it sends one JSON object per line to the engine:

- ``collected``: node IDs with their file, class, test name and table, plus
  the workspace modules each test file imported and the requests made while
  collecting (``list_tables`` may call the API);
- ``collect_error``: a file that failed to collect, with the exception chain;
- ``test_started`` / ``test_finished``: outcome, duration, the exception chain
  with its frames and structured details (harness check, spec issue, corpus
  issue, unknown endpoint, conversion error), the simulator trace of the node,
  the workspace modules it imported, and what the harness learned about tables.

Each test, and the import and collection of each test module, runs under a timeout: a hang
becomes a ``NodeTimeout`` raised at the line that hung (a ``BaseException``, so ``except
Exception`` cannot swallow it). ``collect_started`` / ``collect_finished`` bracket the import of
each test module, so the engine's watchdog can say which file hung when even the alarm cannot
break the hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from connector_watch.daemon import public_harness
from connector_watch.daemon.index import FAILING
from connector_watch.simulator import trace as simulator_trace

MAX_TRACE_ENTRIES = 120
#: Connector tracebacks the public harness printed, by (table, error): a later test of the same
#: class that kept only the error's message gets the frames (see public_harness.borrow_frames).
_PUBLIC_TRACEBACKS: dict[tuple[Any, str], dict[str, Any]] = {}
MAX_FRAMES = 40


class NodeTimeout(BaseException):
    """A test ran past the daemon's per-node timeout."""


def _workspace_modules(root: str, names: Iterator[str]) -> list[str]:
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


def _relative(path: str, root: str) -> str:
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
                    "file": _relative(frame.filename, root),
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
                "file": _relative(i.file, root) if os.path.isabs(i.file) else i.file,
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
            "file": _relative(exc.filename, root),
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
            public_harness.borrow_frames(facts, _PUBLIC_TRACEBACKS)
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
                "specFile": _relative(e.endpoint.spec_file, root)
                if os.path.isabs(e.endpoint.spec_file)
                else e.endpoint.spec_file,
                "line": e.endpoint.line,
                "fingerprint": e.endpoint.fingerprint,
            }
        if e.caller is not None:
            item["caller"] = {
                "file": _relative(e.caller.file, root),
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


def requests_of(trace: simulator_trace.Trace) -> list[list[Any]]:
    """Distinct (method, url-path, endpoint index or None, spec file) a node made: impact re-matches these."""
    from urllib.parse import urlsplit

    seen: dict[tuple[Any, ...], None] = {}
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
        if len(seen) > 400:
            break
    return [list(k) for k in seen]


def _node_line(item: pytest.Item) -> int | None:
    """The node's 1-based line in its own file: a test method inherited from a suite in another
    file (the public ``LakeflowConnectTests``) is located at its class."""
    location = item.location
    if not location:
        return None
    line = (location[1] or 0) + 1
    cls = getattr(item, "cls", None)
    if cls is not None and os.path.abspath(os.path.join(str(item.config.rootpath), location[0])) != str(item.path):
        try:
            import inspect

            return inspect.getsourcelines(cls)[1]
        except (OSError, TypeError):
            return line
    return line


class EventStream:
    """Writes one JSON object per line to ``sink`` (a binary file-like object)."""

    def __init__(self, sink: Any, root: str, node_timeout: float = 30.0) -> None:
        self.sink = sink
        self.root = os.path.abspath(root) + os.sep
        self.root_dir = os.path.abspath(root)
        self.node_timeout = node_timeout
        self._file_modules: dict[str, set[str]] = {}
        self._file_requests: dict[str, list[list[Any]]] = {}
        self._collect_failed: set[str] = set()
        self._hung: dict[str, str] = {}  # test file → the node that hung in it
        self._harness = None

    # ------------------------------------------------------------------ transport
    def send(self, kind: str, **payload: Any) -> None:
        payload["event"] = kind
        try:
            line = json.dumps(payload, default=repr) + "\n"
            self.sink.write(line.encode("utf-8"))
            self.sink.flush()
        except (BrokenPipeError, OSError):
            pass

    # ------------------------------------------------------------------ timeouts
    @contextlib.contextmanager
    def _deadline(self, what: str) -> Iterator[None]:
        """Raise ``NodeTimeout`` where ``what`` is after the node timeout (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_timeout(signum: int, frame: Any) -> None:
            raise NodeTimeout(f"{what} exceeded the daemon's per-node timeout of {self.node_timeout:g} s")

        previous = signal.signal(signal.SIGALRM, on_timeout)
        signal.setitimer(signal.ITIMER_REAL, self.node_timeout)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    # ------------------------------------------------------------------ collection
    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        before = set(sys.modules)
        path = getattr(collector, "path", None)
        rel = _relative(str(path), self.root_dir) if path else None
        is_module = isinstance(collector, pytest.Module)
        if is_module:
            self.send("collect_started", path=rel)
        deadline = self._deadline(f"importing {rel}") if is_module else contextlib.nullcontext()
        with simulator_trace.capture() as trace, deadline:
            outcome = yield
        if is_module:
            self.send("collect_finished", path=rel)
        if rel and rel.endswith(".py"):
            new = _workspace_modules(self.root, iter(set(sys.modules) - before))
            self._file_modules.setdefault(rel, set()).update(new)
            if len(trace):
                self._file_requests.setdefault(rel, []).extend(requests_of(trace))
        report = outcome.get_result()
        if report.failed and rel:
            self._collect_failed.add(rel)
        if report.failed:
            call = getattr(
                report, "call", None
            )  # pytest attaches the CallInfo until collect_one_node pops it
            excinfo = call.excinfo.value if call is not None and call.excinfo is not None else None
            chain = describe_exception(excinfo, self.root_dir) if excinfo is not None else []
            self.send(
                "collect_error",
                nodeId=report.nodeid,
                path=rel,
                longrepr=str(report.longrepr)[:20000],
                chain=chain,
                trace=compact_trace(trace, self.root_dir),
                requests=requests_of(trace),
                modules=sorted(self._file_modules.get(rel or "", ())),
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        nodes = []
        for item in session.items:
            callspec = getattr(item, "callspec", None)
            cls = getattr(item, "cls", None)
            nodes.append(
                {
                    "nodeId": item.nodeid,
                    "file": _relative(str(item.path), self.root_dir),
                    "line": _node_line(item),
                    "testClass": cls.__name__ if cls else None,
                    "name": getattr(item, "originalname", item.name),
                    "table": callspec.params.get("table") if callspec else None,
                    "source": getattr(cls, "simulator_source", None) if cls else None,
                }
            )
        files = {}
        for file, modules in self._file_modules.items():
            files[file] = {
                "modules": sorted(modules),
                "requests": self._file_requests.get(file, []),
                "collectError": file in self._collect_failed,
            }
        self.send("collected", nodes=nodes, files=files)

    # ------------------------------------------------------------------ tests
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        self.send("test_started", nodeId=item.nodeid)
        item._cw_reports = []
        item._cw_chain = None
        before = set(sys.modules)
        started = time.perf_counter()
        with self._deadline("test"), simulator_trace.capture() as trace:
            yield
        duration = (time.perf_counter() - started) * 1000
        self._finish(item, trace, before, duration)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        hung = self._hung.get(str(item.path))
        if hung is not None:
            pytest.skip(f"not run: {hung} in the same file hung past the timeout; fix that first")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Any:
        outcome = yield
        report = outcome.get_result()
        if call.excinfo is not None and item._cw_chain is None and not report.skipped:
            item._cw_chain = {
                "when": call.when,
                "chain": describe_exception(call.excinfo.value, self.root_dir),
            }
        item._cw_reports.append(report)

    def _finish(
        self, item: pytest.Item, trace: simulator_trace.Trace, before: set[str], duration: float
    ) -> None:
        reports = item._cw_reports
        outcome, message = "passed", None
        for report in reports:
            if report.failed:
                outcome = "failed" if report.when == "call" else "error"
                message = str(report.longrepr)[:20000]
                break
            if report.skipped and outcome == "passed":
                outcome = "skipped"
                longrepr = report.longrepr
                message = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        chain = item._cw_chain
        if chain and chain["chain"] and chain["chain"][0]["type"] == "NodeTimeout":
            outcome = "timeout"
            # The rest of this file would most likely hang the same way: skip it instead of waiting.
            self._hung.setdefault(str(item.path), item.nodeid.split("::", 1)[-1])
        if self._harness is None:
            try:
                from connector_watch.tests.harness import observations

                self._harness = observations
            except ImportError:
                self._harness = False
        tables = self._harness.drain() if self._harness else []
        self.send(
            "test_finished",
            nodeId=item.nodeid,
            outcome=outcome,
            durationMs=round(duration, 2),
            message=message,
            failure=chain,
            # Only blame reads the trace: a passing node sends just the requests the index needs.
            trace=compact_trace(trace, self.root_dir) if outcome in FAILING else None,
            requests=requests_of(trace),
            modules=_workspace_modules(self.root, iter(set(sys.modules) - before)),
            tables=tables,
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.send("session_finished", exitStatus=int(exitstatus))


# ---------------------------------------------------------------------------- as a -p plugin (xdist runs)

ENV_EVENTS = "CONNECTOR_WATCH_EVENTS"
ENV_JOB = "CONNECTOR_WATCH_JOB"
ENV_ROOT = "CONNECTOR_WATCH_ROOT"
ENV_TIMEOUT = "CONNECTOR_WATCH_TIMEOUT"


def pytest_configure(config: pytest.Config) -> None:
    """With ``-p connector_watch.daemon.plugin`` and the daemon's environment, stream events from this process.

    Under pytest-xdist only the workers stream (the controller neither collects nor runs tests).
    """
    socket_path = os.environ.get(ENV_EVENTS)
    if not socket_path or config.pluginmanager.has_plugin("connector-watch-stream"):
        return
    is_worker = hasattr(config, "workerinput")
    if not is_worker and getattr(config.option, "numprocesses", None):
        return
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    sink = conn.makefile("wb", buffering=1 << 16)
    hello = {"event": "hello", "job": os.environ.get(ENV_JOB, ""), "pid": os.getpid()}
    sink.write((json.dumps(hello) + "\n").encode())
    sink.flush()
    stream = EventStream(
        sink, os.environ.get(ENV_ROOT, os.getcwd()), float(os.environ.get(ENV_TIMEOUT, "30"))
    )
    config.pluginmanager.register(stream, "connector-watch-stream")
