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

Whatever answered them (our simulator, the public one, a cassette, ``responses``), every HTTP
request and every workspace file a node or a test file's collection touched is recorded at the
transport level by :mod:`connector_watch.daemon.evidence` (``requests``, ``read``, ``loaded``).
What a class-, module- or session-scoped fixture's setup touched (``setup_class`` starting a
simulator and asking for a token) is credited to every test that shares it, not only to the first
one, which ran it.

Each test, and the import and collection of each test module, runs under a timeout: a hang
becomes a ``NodeTimeout`` raised at the line that hung (a ``BaseException``, so ``except
Exception`` cannot swallow it). ``collect_started`` / ``collect_finished`` bracket the import of
each test module, so the engine's watchdog can say which file hung when even the alarm cannot
break the hang.

The payloads (exception chains, the compact trace, requests, parameters, modules) are built by
:mod:`connector_watch.daemon.plugin_payloads`; the per-worker stack dump is
:mod:`connector_watch.daemon.stack_dumps`. This module stays the ``-p connector_watch.daemon.plugin``
entry point (``pytest_configure``) of xdist runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from connector_watch.daemon.definitions import definition_lines
from connector_watch.daemon.evidence import Evidence, Sink
from connector_watch.daemon.index import FAILING
from connector_watch.daemon.plugin_payloads import (
    compact_trace,
    describe_exception,
    module_files,
    params_of,
    relative,
    requests_of,
    workspace_modules,
)
from connector_watch.daemon.stack_dumps import StackDumps
from connector_watch.simulator import trace as simulator_trace


class NodeTimeout(BaseException):
    """A test ran past the daemon's per-node timeout."""


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

    def __init__(
        self, sink: Any, root: str, node_timeout: float = 30.0, stacks_dir: str | None = None
    ) -> None:
        self.sink = sink
        self.stacks_dir = stacks_dir
        self._stacks: StackDumps | None = None
        self.root = os.path.abspath(root) + os.sep
        self.root_dir = os.path.abspath(root)
        self.node_timeout = node_timeout
        self._file_modules: dict[str, set[str]] = {}
        self._file_requests: dict[str, list[list[Any]]] = {}
        self._file_evidence: dict[str, Sink] = {}
        self._collect_failed: set[str] = set()
        self._hung: dict[str, str] = {}  # test file → the node ID that hung in it
        self._harness = None
        #: What shared fixtures touched, by scope key (setup_class runs once, in the first test).
        self._scope_evidence: dict[str, Sink] = {}
        self._stand_ins_tried: set[str] = set()
        self.evidence = Evidence(self.root_dir)
        self.evidence.install()
        self.killed: KilledNodes | None = None  # under xdist: tests killed in an earlier worker

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

    # ------------------------------------------------------------------ stack dumps
    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # After pytest's own faulthandler plugin pointed the handler at its stderr.
        if self.stacks_dir and self._stacks is None:
            try:
                self._stacks = StackDumps(self.stacks_dir)
            except OSError as exc:
                self.send("warning", message=f"no stack dumps for this worker: {exc}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._stacks is not None:
            self._stacks.close()
            self._stacks = None

    # ------------------------------------------------------------------ collection
    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        before = set(sys.modules)
        path = getattr(collector, "path", None)
        rel = relative(str(path), self.root_dir) if path else None
        is_module = isinstance(collector, pytest.Module)
        if is_module:
            self.send("collect_started", path=rel)
        deadline = self._deadline(f"importing {rel}") if is_module else contextlib.nullcontext()
        with simulator_trace.capture() as trace, self.evidence.capture() as found, deadline:
            outcome = yield
            if is_module and outcome.get_result().failed:
                self._retry_after_stand_ins(collector, outcome)
        if is_module:
            self.send("collect_finished", path=rel)
        if rel and rel.endswith(".py"):
            new = workspace_modules(self.root, iter(set(sys.modules) - before))
            self._file_modules.setdefault(rel, set()).update(new)
            self._file_evidence.setdefault(rel, Sink()).merge(found)
            if len(trace) or found.requests:
                self._file_requests.setdefault(rel, []).extend(requests_of(trace, found))
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
                requests=requests_of(trace, found),
                modules=sorted(self._file_modules.get(rel or "", ())),
                read=sorted(found.read),
                loaded=sorted(found.loaded),
            )

    def _retry_after_stand_ins(self, collector: pytest.Collector, outcome: Any) -> None:
        """A test module that failed to import for want of a module another test file installs as a
        stand-in (``sys.modules[...] = ...``): import that file first, as a plain run would have
        (without running its tests), and collect this one again."""
        from _pytest.pathlib import import_path
        from _pytest.runner import pytest_make_collect_report
        from connector_watch.daemon import collect_order

        call = getattr(outcome.get_result(), "call", None)
        missing = collect_order.missing_module(call.excinfo.value if call and call.excinfo else None)
        if missing is None or missing in self._stand_ins_tried:
            return
        self._stand_ins_tried.add(missing)
        config = collector.config
        candidates = collect_order.test_files_under(config.rootpath)
        providers = collect_order.stand_in_providers(candidates, missing, exclude=[collector.path])
        for path in providers:
            try:
                try:
                    namespaces = bool(config.getini("consider_namespace_packages"))
                    import_path(
                        path,
                        mode=config.getoption("importmode"),
                        root=config.rootpath,
                        consider_namespace_packages=namespaces,
                    )
                except (TypeError, ValueError):  # pytest < 8.1
                    import_path(path, mode=config.getoption("importmode"), root=config.rootpath)
            except Exception:  # a provider that does not import either: keep the original error
                return
        if providers:
            outcome.force_result(pytest_make_collect_report(collector))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        nodes = []
        for item in session.items:
            callspec = getattr(item, "callspec", None)
            cls = getattr(item, "cls", None)
            definition, parametrisation = definition_lines(
                getattr(item, "function", None), lambda path: relative(path, self.root_dir)
            )
            if not (callspec and "table" in callspec.params):
                parametrisation = None
            nodes.append(
                {
                    "nodeId": item.nodeid,
                    "file": relative(str(item.path), self.root_dir),
                    "line": _node_line(item),
                    "testClass": cls.__name__ if cls else None,
                    "name": getattr(item, "originalname", item.name),
                    "table": callspec.params.get("table") if callspec else None,
                    "source": getattr(cls, "simulator_source", None) if cls else None,
                    "definition": definition,
                    "parametrisation": parametrisation,
                }
            )
        files = {}
        for file, modules in self._file_modules.items():
            found = self._file_evidence.get(file) or Sink()
            files[file] = {
                "modules": sorted(modules),
                "requests": self._file_requests.get(file, []),
                "collectError": file in self._collect_failed,
                "read": sorted(found.read),
                "loaded": sorted(found.loaded),
            }
        self.send(
            "collected", nodes=nodes, files=files, moduleFiles=module_files(self.root_dir, iter(list(sys.modules)))
        )

    # ------------------------------------------------------------------ tests
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        if self.killed is not None and item.nodeid in self.killed:
            yield  # KilledNodes passes over it; the daemon already reported it
            return
        self.send("test_started", nodeId=item.nodeid)
        item._cw_reports = []
        item._cw_chain = None
        before = set(sys.modules)
        started = time.perf_counter()
        with self._deadline("test"), simulator_trace.capture() as trace, self.evidence.capture() as found:
            yield
        duration = (time.perf_counter() - started) * 1000
        for scope in _scopes(item):
            found.merge(self._scope_evidence.get(scope) or Sink())
        self._finish(item, trace, found, before, duration)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        hung = self._hung.get(str(item.path))
        if hung is not None:
            item._cw_blocked_by = hung
            name = hung.split("::", 1)[-1]
            pytest.skip(f"not run: {name} in the same file hung past the timeout; fix that first")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Any:
        """A class-, module-, package- or session-scoped fixture (``setup_class`` is one) is set up
        once, in the first test that needs it: keep what it touched for every test that uses it."""
        scope = getattr(fixturedef, "scope", "function")
        if scope == "function":
            yield
            return
        with self.evidence.capture() as found:
            yield
        key = _scope_key(request.node, scope)
        if key is not None:
            self._scope_evidence.setdefault(key, Sink()).merge(found)

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
        self, item: pytest.Item, trace: simulator_trace.Trace, found: Sink, before: set[str], duration: float
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
            self._hung.setdefault(str(item.path), item.nodeid)
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
            requests=requests_of(trace, found),
            params=params_of(trace, found),
            modules=workspace_modules(self.root, iter(set(sys.modules) - before)),
            read=sorted(found.read),
            loaded=sorted(found.loaded),
            tables=tables,
            # Skipped because an earlier test of its file hung: it runs again with that test.
            blockedBy=getattr(item, "_cw_blocked_by", None) if outcome == "skipped" else None,
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.send("session_finished", exitStatus=int(exitstatus))


SCOPES = {"class": pytest.Class, "module": pytest.Module, "package": pytest.Package}


def _scope_key(node: Any, scope: str) -> str | None:
    """The collector a fixture of ``scope`` is shared across, as a key: ``"<scope>:<node id>"``."""
    if scope == "session":
        return "session:"
    kind = SCOPES.get(scope)
    parent = node.getparent(kind) if kind is not None and node is not None else None
    return f"{scope}:{parent.nodeid}" if parent is not None else None


def _scopes(item: pytest.Item) -> list[str]:
    """The keys of every shared scope a test belongs to (its class, module, packages, the session)."""
    keys = ["session:"]
    for scope in ("class", "module", "package"):
        key = _scope_key(item, scope)
        if key is not None:
            keys.append(key)
    return keys


# ---------------------------------------------------------------------------- as a -p plugin (xdist runs)

ENV_EVENTS = "CONNECTOR_WATCH_EVENTS"
ENV_JOB = "CONNECTOR_WATCH_JOB"
ENV_ROOT = "CONNECTOR_WATCH_ROOT"
ENV_TIMEOUT = "CONNECTOR_WATCH_TIMEOUT"
ENV_STACKS = "CONNECTOR_WATCH_STACKS"
#: A file of node IDs the daemon killed a worker in (one per line): not run again.
ENV_KILLED = "CONNECTOR_WATCH_KILLED"


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
        sink,
        os.environ.get(ENV_ROOT, os.getcwd()),
        float(os.environ.get(ENV_TIMEOUT, "30")),
        os.environ.get(ENV_STACKS),
    )
    stream.killed = KilledNodes(os.environ.get(ENV_KILLED))
    config.pluginmanager.register(stream.killed, "connector-watch-killed")
    config.pluginmanager.register(stream, "connector-watch-stream")


class KilledNodes:
    """Tests the daemon killed a worker in (listed in a file): a replacement worker that is handed
    one again passes over it silently; the daemon has reported it as a timeout already."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def __contains__(self, node_id: str) -> bool:
        if not self.path:
            return False
        try:
            with open(self.path, encoding="utf-8") as handle:
                return node_id in {line.strip() for line in handle}
        except OSError:
            return False

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> bool | None:
        return True if item.nodeid in self else None
