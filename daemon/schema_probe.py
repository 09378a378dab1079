"""Learn connectors' schemas without a test run: import each source's test class in a sandboxed child.

Corpus lint type-checks corpus values against the schema of the table a corpus serves. A run
learns those schemas as our harness reports them; on a fresh clone (or with the public harness,
which reports nothing) nothing is learnt. This module learns them directly, per source, in a child
process (``python -m connector_watch.daemon.schema_probe ROOT TEST_FILE ...``):

- **sandboxed**: sockets cannot connect (any HTTP attempt fails at once), the test mode and
  credentials of the environment are dropped (stand-in config only), the child has a deadline and
  is killed (its process group) past it;
- **as the harness builds it**: a class with ``simulator_source`` is set up by its own
  ``setup_class`` (simulate mode: the simulator is installed before the connector is built, table
  options from ``configs/dev_table_config.json``); a class without one gets its resolved config
  (``config``, ``replay_config``/``_replay_config()``, ``configs/replay_config.json``) and no
  simulator. Our harness resolves through ``tests/harness/settings.py``; the public one through
  its own ``_load_config``/``_load_table_configs``;
- then ``list_tables()`` and, per table, ``get_table_schema`` and ``read_table_metadata``.

Sources are probed in parallel (one child each, up to the number of cores) and cached by the
content hash of the files that decide the answer (the connector package, the test directory, the
spec), in ``.connector-watch/schemas.json``: a warm ``check`` does not probe again. What cannot be
learnt (an import error, the connector needs the network in ``__init__``, a timeout) is one note
per source, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CACHE_FILE = ".connector-watch/schemas.json"
CACHE_VERSION = 1
TIMEOUT = 30.0
#: Environment a probe must not inherit: the test mode (simulate is what is wanted) and live credentials.
DROPPED_ENV = ("CONNECTOR_TEST_MODE", "CONNECTOR_TEST_CONFIG_JSON", "CONNECTOR_TEST_CONFIG_PATH")


@dataclass
class SourceSchemas:
    """What one source's probe learnt: tables with schema (``jsonValue``) and metadata, or a note."""

    source: str
    key: str
    tables: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "key": self.key, "tables": self.tables, "note": self.note}


# ---------------------------------------------------------------------------- parent side


def probe_inputs(workspace: Any, source: str) -> tuple[list[str], list[str]]:
    """``(test files with a connector test class, files whose content decides the answer)``."""
    layout = workspace.layout
    test_dir = layout.test_dir(source)
    tests = []
    if test_dir.is_dir():
        for path in sorted(test_dir.rglob("test_*.py")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"^\s+connector_class\s*[:=]", text, re.M):
                tests.append(layout.relative(path))
    decisive: list[Path] = []
    for directory in (layout.source_dir(source), test_dir):
        if directory.is_dir():
            decisive.extend(
                p
                for p in directory.rglob("*")
                if p.is_file()
                and p.suffix in (".py", ".json", ".yaml", ".yml")
                and "__pycache__" not in p.parts
                and "cassettes" not in p.parts
                and not p.name.startswith("_generated_")
            )
    spec = layout.spec_file(source)
    if spec.is_file():
        decisive.append(spec)
    return tests, sorted({layout.relative(p) for p in decisive})


#: Test modules written against our harness import it; it reports schemas while the tests run.
_OUR_HARNESS = re.compile(r"^\s*(?:from|import)\s+connector_watch\.tests\b", re.M)


def reports_schemas(workspace: Any, source: str) -> bool:
    """Whether a run of this source's tests reports its schemas (its test classes use our harness)."""
    tests, _ = probe_inputs(workspace, source)
    for rel in tests:
        try:
            if _OUR_HARNESS.search((Path(workspace.root) / rel).read_text(encoding="utf-8")):
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


def content_key(root: Path, files: Iterable[str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"v{CACHE_VERSION}".encode())
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0")
        try:
            digest.update((root / rel).read_bytes())
        except OSError:
            digest.update(b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def load_cache(root: Path) -> dict[str, dict[str, Any]]:
    try:
        document = json.loads((root / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("version") != CACHE_VERSION:
        return {}
    sources = document.get("sources")
    return sources if isinstance(sources, dict) else {}


def save_cache(root: Path, sources: dict[str, dict[str, Any]]) -> None:
    from connector_watch.daemon.state_dir import state_dir  # (this module also runs as the probe child)

    path = root / CACHE_FILE
    try:
        state_dir(root)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "sources": sources}, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def learn(
    workspace: Any,
    sources: Iterable[str] | None = None,
    *,
    timeout: float = TIMEOUT,
    jobs: int | None = None,
    python: str | None = None,
) -> list[SourceSchemas]:
    """Every source's schemas, from the cache where its files did not change, else by a probe."""
    root = Path(workspace.root)
    wanted = sorted(set(sources) if sources is not None else workspace.sources())
    cache = load_cache(root)
    results: dict[str, SourceSchemas] = {}
    to_probe: list[tuple[str, list[str], str]] = []
    for source in wanted:
        tests, decisive = probe_inputs(workspace, source)
        if not tests:
            continue
        key = content_key(root, decisive)
        cached = cache.get(source)
        if cached and cached.get("key") == key:
            results[source] = SourceSchemas(source, key, cached.get("tables") or [], cached.get("note"), True)
        else:
            to_probe.append((source, tests, key))
    if to_probe:
        workers = max(1, min(jobs or os.cpu_count() or 1, len(to_probe)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(lambda job: _probe(root, *job, timeout=timeout, python=python), to_probe):
                results[found.source] = found
                cache[found.source] = found.to_json()
        save_cache(root, cache)
    return [results[s] for s in wanted if s in results]


def _probe(
    root: Path, source: str, tests: list[str], key: str, *, timeout: float, python: str | None
) -> SourceSchemas:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    env["CONNECTOR_WATCH_WORKSPACE"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [python or sys.executable, "-m", "connector_watch.daemon.schema_probe", str(root), *tests]
    try:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return SourceSchemas(source, key, note=f"could not start the probe: {exc}")
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return SourceSchemas(
            source, key, note=f"importing and asking the connector took longer than {timeout:g} s"
        )
    document = _last_json_line(stdout)
    if document is None:
        tail = (stderr or "").strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
        return SourceSchemas(source, key, note=f"the probe failed: {tail[0][:300]}")
    tables = [t for t in document.get("tables", []) if isinstance(t, dict) and t.get("table")]
    notes = [n for n in document.get("notes", []) if n]
    note = None
    if notes:
        note = "; ".join(notes[:3]) + (f" (and {len(notes) - 3} more)" if len(notes) > 3 else "")
    return SourceSchemas(source, key, tables, note)


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _last_json_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed((stdout or "").splitlines()):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


# ---------------------------------------------------------------------------- child side


class NetworkDisabled(OSError):
    """A connection attempt while learning schemas."""


def _block_network() -> None:
    import socket

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkDisabled("network access is disabled while connector-watch learns schemas")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


def _module_name(root: Path, path: Path) -> tuple[str, Path]:
    """The dotted name pytest's default import mode gives a test file, and the directory to import from."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory != root.parent:
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts), directory


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _classes(module: Any) -> list[type]:
    found = []
    for name, value in vars(module).items():
        if (
            isinstance(value, type)
            and name.startswith("Test")
            and getattr(value, "connector_class", None) is not None
            and value.__module__ == module.__name__
        ):
            found.append(value)
    return found


def _build(cls: type) -> tuple[Any, Any, Any]:
    """``(connector, table options of a table, teardown)`` as the class's harness builds them."""
    if getattr(cls, "simulator_source", None):
        cls.setup_class()  # type: ignore[attr-defined]
        connector = cls.connector  # type: ignore[attr-defined]
        settings = getattr(cls, "settings", None)
        if settings is not None and hasattr(settings, "table_options"):

            def options(table: str) -> dict[str, Any]:
                return settings.table_options(table)
        else:
            configs = getattr(cls, "table_configs", None) or {}

            def options(table: str) -> dict[str, Any]:
                return dict(configs.get(table) or {})

        return connector, options, getattr(cls, "teardown_class", lambda: None)
    config, configs = _config(cls)
    connector = cls.connector_class(config)  # type: ignore[attr-defined]
    return connector, lambda table: dict(configs.get(table) or {}), lambda: None


def _config(cls: type) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A class without a simulator: its config and table options, without building a simulator."""
    if hasattr(cls, "_load_config") and hasattr(cls, "_load_table_configs"):  # the public harness
        config = cls.config if getattr(cls, "config", None) is not None else cls._load_config()
        configs = (
            cls.table_configs
            if getattr(cls, "table_configs", None) is not None
            else cls._load_table_configs()
        )
        return config, configs or {}
    try:
        from connector_watch.tests.harness import settings as settings_module

        test_dir = settings_module.test_file_of(cls).parent
        config, _ = settings_module.resolve_config(cls, test_dir)
        return config, settings_module.resolve_table_configs(cls, test_dir)
    except ImportError:
        return dict(getattr(cls, "config", None) or getattr(cls, "replay_config", None) or {}), {}


def probe_class(cls: type, source: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    tables: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        connector, options, teardown = _build(cls)
    except BaseException as exc:  # whatever the connector raises is one note
        if isinstance(exc, KeyboardInterrupt):
            raise
        return [], [f"{cls.__name__}: the connector could not be built ({_first_line(exc)})"]
    try:
        names = connector.list_tables()
        for table in list(names or []):
            entry: dict[str, Any] = {"testClass": cls.__name__, "source": source, "table": table}
            try:
                entry["schema"] = connector.get_table_schema(table, options(table)).jsonValue()
            except Exception as exc:
                notes.append(f"{cls.__name__}: get_table_schema({table!r}) raised {_first_line(exc)}")
            try:
                entry["metadata"] = _jsonable(connector.read_table_metadata(table, options(table)))
            except Exception as exc:
                notes.append(f"{cls.__name__}: read_table_metadata({table!r}) raised {_first_line(exc)}")
            if "schema" in entry or "metadata" in entry:
                tables.append(entry)
    except Exception as exc:
        notes.append(f"{cls.__name__}: list_tables() raised {_first_line(exc)}")
    finally:
        try:
            teardown()
        except Exception:
            pass
    return tables, notes


def main(argv: list[str] | None = None) -> int:
    import importlib

    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]).resolve()
    _block_network()
    os.chdir(root)
    tables: list[dict[str, Any]] = []
    notes: list[str] = []
    seen: set[tuple[Any, str]] = set()
    for rel in args[1:]:
        path = root / rel
        name, base = _module_name(root, path)
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        try:
            module = importlib.import_module(name)
        except BaseException as exc:  # an import error (or a SystemExit) is one note
            if isinstance(exc, KeyboardInterrupt):
                raise
            notes.append(f"{rel} did not import ({_first_line(exc)})")
            continue
        for cls in _classes(module):
            source = getattr(cls, "simulator_source", None) or path.parent.name
            found, class_notes = probe_class(cls, source)
            notes.extend(class_notes)
            for entry in found:
                key = (entry["source"], entry["table"])
                if key not in seen:
                    seen.add(key)
                    tables.append(entry)
    sys.stdout.write("\n" + json.dumps({"tables": tables, "notes": notes}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
