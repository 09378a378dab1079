"""The zygote: a warm process that imports the heavy, stable libraries once and forks a child per run.

Started by :class:`daemon.workers.WorkerPool` as ``python -m connector_watch.daemon.zygote ROOT``.
It speaks JSON lines: commands on stdin, events on stdout.

Commands::

    {"cmd": "run", "job": "j1", "args": [...], "events": "/tmp/…/events.sock",
     "env": {...}, "timeout": 30, "log": "/…/j1.log", "stacks": "/…/stacks"}
    {"cmd": "signal", "job": "j1", "signal": 2}
    {"cmd": "shutdown"}

Events::

    {"event": "ready", "pid": 123, "preloaded": ["simulator/spec.py", ...], "importMs": 412.0}
    {"event": "forked", "job": "j1", "pid": 456}
    {"event": "exited", "job": "j1", "pid": 456, "status": 0}      # negative: killed by that signal

Each child runs ``pytest.main`` with :class:`connector_watch.daemon.plugin.EventStream` writing
to the engine's socket, in its own process group (so a hung run can be killed
with everything it started), with user code imported fresh after the fork.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

#: Imported once in the zygote; a change to any workspace file among them restarts the pool.
PRELOAD = (
    "pytest",
    "_pytest.python",
    "_pytest.runner",
    "_pytest.fixtures",
    "_pytest.main",
    "_pytest.terminal",
    "_pytest.assertion.rewrite",
    "_pytest.capture",
    "_pytest.skipping",
    "_pytest.logging",
    "_pytest.warnings",
    "requests",
    "yaml",
    "jsonschema",
    "pyspark.sql",
    "pyspark.sql.types",
    "connector_watch.simulator",
    "connector_watch.simulator.simulate",
    "connector_watch.simulator.cassette",
    "connector_watch.simulator.live",
    "connector_watch.sources.interface",
    "connector_watch.sources.parsing",
    "connector_watch.tests.harness.settings",
    "connector_watch.tests.harness.catalogue",
    "connector_watch.tests.harness.records",
    "connector_watch.tests.harness.ground_truth",
    "connector_watch.tests.harness.observations",
    "connector_watch.tests.unit.sources.test_suite",
    "connector_watch.tests.unit.sources.test_partition_suite",
    "connector_watch.tests.unit.sources.test_write_back_suite",
    "connector_watch.daemon.plugin",
)


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


#: pytest plugins (by entry-point name) the daemon never loads in its runs: it does its own
#: parallelism and selection.
EXCLUDED_PLUGINS = frozenset(
    {"xdist", "xdist.looponfail", "pytest-testmon", "testmon", "pytest_cov", "pytest-cov"}
)


def entry_point_plugins() -> list[str]:
    """Modules of the installed pytest plugins the runs should load (imported here once)."""
    from importlib.metadata import entry_points

    modules = []
    for entry in entry_points(group="pytest11"):
        if entry.name in EXCLUDED_PLUGINS or entry.value.split(".")[0] in ("xdist", "testmon", "pytest_cov"):
            continue
        modules.append(entry.value.split(":")[0])
    return modules


def preload(root: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    sys.dont_write_bytecode = False  # cache compiled user code between runs, whatever the environment says
    plugins = entry_point_plugins()
    os.environ["CONNECTOR_WATCH_PLUGINS"] = ",".join(plugins)
    from _pytest.config import default_plugins

    builtin = [f"_pytest.{name}" for name in default_plugins]
    for name in (*PRELOAD, *builtin, "unittest", "argparse", *plugins):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken workspace library must not kill the pool
            emit({"event": "preload_error", "module": name, "error": f"{type(exc).__name__}: {exc}"})
    if os.environ.pop(NO_SHARED_PRELOAD, "") != "1":
        preload_shared(root)
    warm_up()
    files = set()
    prefix = os.path.abspath(root) + os.sep
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file:
            absolute = os.path.abspath(file)
            if (
                absolute.startswith(prefix)
                and "/site-packages/" not in absolute
                and "/.venv/" not in absolute
            ):
                files.add(os.path.relpath(absolute, root))
    return sorted(files), (time.perf_counter() - started) * 1000


#: Set by a pool whose jobs must import the workspace's shared code themselves (an overlay).
NO_SHARED_PRELOAD = "CONNECTOR_WATCH_NO_SHARED_PRELOAD"
#: Test-module names pytest rewrites the asserts of (its default ``python_files``).
TEST_MODULE_PATTERNS = ("test_*.py", "*_test.py")


def preload_shared(root: str) -> None:
    """Import the workspace's shared code (its layout's ``shared`` files: the public repository's
    harness, simulator, libs and interface) once here, so a job only imports what changes: a test
    module and its connector. Harness modules named like tests get pytest's assertion rewriting, as
    they would in a plain run. A change to any of them restarts the pool."""
    import fnmatch

    from connector_watch.daemon.imports import module_name
    from connector_watch.daemon.workspace import Workspace

    try:
        workspace = Workspace(root)
        files = workspace.shared_files()
    except Exception as exc:  # a workspace the layout cannot read: preload nothing of it
        emit({"event": "preload_error", "module": "(workspace layout)", "error": f"{type(exc).__name__}: {exc}"})
        return
    for rel in files:
        name = module_name(root, rel)
        if name is None or name in sys.modules:
            continue
        try:
            if any(fnmatch.fnmatch(rel.rsplit("/", 1)[-1], p) for p in TEST_MODULE_PATTERNS):
                _import_rewritten(name, os.path.join(root, rel))
            else:
                importlib.import_module(name)
        except BaseException as exc:  # a broken shared module: the jobs will say so, located
            sys.modules.pop(name, None)
            emit({"event": "preload_error", "module": name, "error": f"{type(exc).__name__}: {exc}"})


def _import_rewritten(name: str, path: str) -> None:
    """Import a test-named module with pytest's assertion rewriting, as pytest itself would."""
    import ast
    import importlib.util

    from _pytest.assertion.rewrite import rewrite_asserts

    parent, _, child = name.rpartition(".")
    if parent:
        importlib.import_module(parent)
    with open(path, "rb") as handle:
        source = handle.read()
    tree = ast.parse(source, filename=path)
    rewrite_asserts(tree, source, path, None)
    code = compile(tree, path, "exec", dont_inherit=True)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(code, module.__dict__)
    if parent:
        setattr(sys.modules[parent], child, module)


def warm_up() -> None:
    """Build what every run would otherwise build again: the spec schema's validator."""
    try:
        from connector_watch.simulator import spec_schema

        spec_schema.validator()
    except Exception as exc:
        emit({"event": "preload_error", "module": "connector_watch.simulator.spec_schema", "error": f"{type(exc).__name__}: {exc}"})


def run_child(root: str, command: dict[str, Any]) -> None:
    """In the forked child: run pytest with the event stream, then exit without cleanup."""
    code = 70
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        log = os.open(command.get("log") or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.environ.update(command.get("env") or {})
        os.chdir(root)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(command["events"])
        sink = conn.makefile("wb", buffering=1 << 16)
        sink.write(
            (json.dumps({"event": "hello", "job": command["job"], "pid": os.getpid()}) + "\n").encode()
        )
        sink.flush()
        import pytest
        from connector_watch.daemon.plugin import EventStream

        stream = EventStream(sink, root, float(command.get("timeout") or 30), command.get("stacks"))
        # Entry-point plugins were imported by the zygote; load them by name instead of scanning
        # every installed distribution again (PYTEST_DISABLE_PLUGIN_AUTOLOAD).
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        extra = [
            arg
            for name in filter(None, os.environ.get("CONNECTOR_WATCH_PLUGINS", "").split(","))
            for arg in ("-p", name)
        ]
        code = int(pytest.main([*extra, *command["args"]], plugins=[stream]))
        sink.flush()
        conn.close()
    except BaseException as exc:  # report whatever happened, then leave
        try:
            sys.__stderr__.write(f"connector-watch worker failed: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
    finally:
        sys.stdout.flush()
        os._exit(code)


def main(argv: list[str]) -> int:
    root = os.path.abspath(argv[0] if argv else ".")
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)
    preloaded, import_ms = preload(root)
    # Everything preloaded lives as long as the zygote: move it out of the garbage collector's
    # reach, so a forked child's collections neither walk it nor copy its pages on write.
    gc.collect()
    gc.freeze()
    children: dict[int, str] = {}

    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    os.set_blocking(read_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    selector.register(read_end, selectors.EVENT_READ, "sigchld")
    emit({"event": "ready", "pid": os.getpid(), "preloaded": preloaded, "importMs": round(import_ms, 1)})

    buffer = b""
    running = True
    while running or children:
        for key, _ in selector.select(timeout=1.0):
            if key.data == "sigchld":
                try:
                    os.read(read_end, 4096)
                except BlockingIOError:
                    pass
            elif key.data == "stdin":
                chunk = os.read(sys.stdin.fileno(), 65536)
                if not chunk:
                    running = False
                    selector.unregister(sys.stdin)
                    for pid in list(children):
                        _kill_group(pid, signal.SIGKILL)
                    continue
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        running = handle(json.loads(line), root, children) and running
        _reap(children)
    return 0


def handle(command: dict[str, Any], root: str, children: dict[int, str]) -> bool:
    kind = command.get("cmd")
    if kind == "run":
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            run_child(root, command)
        try:
            os.setpgid(pid, pid)  # also in the parent, so a kill right after fork finds the group
        except (PermissionError, ProcessLookupError):
            pass
        children[pid] = command["job"]
        emit({"event": "forked", "job": command["job"], "pid": pid})
    elif kind == "signal":
        for pid, job in children.items():
            if job == command.get("job"):
                _kill_group(pid, int(command.get("signal", signal.SIGTERM)))
    elif kind == "shutdown":
        for pid in list(children):
            _kill_group(pid, signal.SIGKILL)
        return False
    return True


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _reap(children: dict[int, str]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        job = children.pop(pid, None)
        code = os.waitstatus_to_exitcode(status)
        emit({"event": "exited", "job": job, "pid": pid, "status": code})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
