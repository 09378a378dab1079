"""What the data source does inside each Spark process: options, connector, simulator.

Spark runs the data source's code in several Python processes (the planner that asks
for the schema and the partitions, one worker per task, the streaming source runner),
none of which shares memory with the driver. Everything they need therefore travels
in the read's options, and this module turns those options into:

- the **connector**: the ``LakeflowConnect`` class of ``sources.<source>.<source>``
  (or the ``connector`` option, ``"package.module:Class"``), built with the read's
  options minus the data source's own keys;
- the **simulator**, when ``simulatorMode`` asks for one: the source's spec and corpus
  are found by name in this order: the ``simulatorSpecsDir`` option, the workspace of
  ``$CONNECTOR_WATCH_WORKSPACE``, then the specs shipped inside the installed
  ``simulator`` package (``simulator/specs/<name>/``), so an executor never depends on
  the driver's working directory;
- **fresh code**: Spark reuses its Python workers; :func:`refresh` re-imports a
  connector package whose files changed since the worker imported it.

The readers themselves are in :mod:`connector_watch.sources.spark.readers`, the problem markers
their errors carry in :mod:`connector_watch.sources.spark.problems`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import importlib.util
import inspect
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.sources.spark.problems import (
    PROBLEM_MARKER,
    ConnectorProblem,
    DataSourceOptionError,
    parse_problems,
    shown_record,
)
from connector_watch.sources.spark.read_options import (
    FRAMEWORK_OPTIONS,
    OPT_CONNECTOR,
    OPT_SIM_CASSETTE,
    OPT_SIM_MODE,
    OPT_SIM_SOURCE,
    OPT_SIM_SPECS,
    OPT_SIM_TRACE,
    OPT_SOURCE,
    canonical_offset,
    connector_options,
    lower_options,
    table_is_partitioned,
)

SIMULATOR_MODES = ("simulate", "replay", "hybrid")
canonical = canonical_offset

# ---------------------------------------------------------------------------- fresh code

#: Never reloaded: the data source itself and the framework its live objects come from.
_FRAMEWORK_PACKAGES = ("connector_watch.sources.spark", "connector_watch.sources.parsing", "connector_watch.sources.interface", "sources")
_FINGERPRINTS: dict[str, tuple[tuple[str, int, int], ...]] = {}


def _fingerprint(package: str) -> tuple[tuple[str, int, int], ...] | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    paths = [Path(p) for p in spec.submodule_search_locations or []]
    files = (
        [p for d in paths for p in d.rglob("*.py")] if paths else ([Path(spec.origin)] if spec.origin else [])
    )
    entries = []
    for file in files:
        with contextlib.suppress(OSError):
            stat = file.stat()
            entries.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


def refresh(package: str) -> None:
    """Forget ``package`` (and its submodules) when its files changed since this process imported it.

    Spark reuses its Python workers between tasks; without this a long-lived session
    (the daemon's e2e stage) would keep reading with the connector code of its first read.
    The first call in a process only takes the fingerprint: what was imported before is
    left alone (in a test process, other code holds those classes).
    """
    if package in _FRAMEWORK_PACKAGES or package.startswith("connector_watch.sources.spark."):
        return
    current = _fingerprint(package)
    if current is None:
        return
    previous = _FINGERPRINTS.get(package)
    if previous is not None and previous != current:
        for name in list(sys.modules):
            if name == package or name.startswith(package + "."):
                del sys.modules[name]
        importlib.invalidate_caches()
    _FINGERPRINTS[package] = current


# ---------------------------------------------------------------------------- connector


def connector_class(options: Mapping[str, str]) -> type:
    """The connector class the options name (``connector`` or ``source``), from current code."""
    explicit = options.get(OPT_CONNECTOR)
    source = options.get(OPT_SOURCE)
    if explicit:
        module_name, _, class_name = explicit.partition(":")
        refresh(module_name)
        module = importlib.import_module(module_name)
        if class_name:
            try:
                return getattr(module, class_name)
            except AttributeError:
                raise DataSourceOptionError(
                    f"option connector={explicit!r}: {module_name} has no {class_name}"
                )
        return _only_connector_in(module, f"option connector={explicit!r}")
    if not source:
        raise DataSourceOptionError(
            "option 'source' is required (a source name such as 'github', or set "
            "'connector' to 'package.module:Class')"
        )
    module_name = f"sources.{source}.{source}"
    refresh(f"sources.{source}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise DataSourceOptionError(
                f"option source={source!r}: no module {module_name} (expected sources/{source}/{source}.py); "
                "set 'connector' to 'package.module:Class' for a connector elsewhere"
            )
        raise
    return _only_connector_in(module, f"source {source!r}")


def _looks_like_connector(candidate: Any) -> bool:
    needed = ("list_tables", "get_table_schema", "read_table_metadata", "read_table")
    return (
        inspect.isclass(candidate)
        and not inspect.isabstract(candidate)
        and all(callable(getattr(candidate, name, None)) for name in needed)
    )


def _only_connector_in(module: Any, what: str) -> type:
    found = [
        obj
        for obj in vars(module).values()
        if _looks_like_connector(obj) and getattr(obj, "__module__", None) == module.__name__
    ]
    if len(found) != 1:
        names = [c.__name__ for c in found]
        raise DataSourceOptionError(
            f"{what}: expected exactly one connector class in {module.__name__}, found {names or 'none'}; "
            "set the 'connector' option to 'package.module:Class'"
        )
    return found[0]


# ---------------------------------------------------------------------------- specs


_MATERIALIZED: dict[str, Path] = {}


def packaged_specs_dir() -> Path:
    """``simulator/specs`` of the installed package, as a real directory.

    A plain install answers with its own directory. A zipped deployment (``addPyFile``
    of a zip, an egg) is copied once per process into a temporary directory, since the
    spec loader reads files by path.
    """
    root = importlib.resources.files("connector_watch.simulator").joinpath("specs")
    if isinstance(root, Path):
        return root
    key = str(root)
    if key not in _MATERIALIZED:
        target = Path(tempfile.mkdtemp(prefix="connector-watch-specs-"))
        _copy_tree(root, target)
        _MATERIALIZED[key] = target
    return _MATERIALIZED[key]


def _copy_tree(node: Any, target: Path) -> None:
    for child in node.iterdir():
        if child.is_dir():
            (target / child.name).mkdir(parents=True, exist_ok=True)
            _copy_tree(child, target / child.name)
        else:
            (target / child.name).write_bytes(child.read_bytes())


def spec_location(name: str, specs_dir: str | None = None) -> tuple[Path, Path]:
    """``(endpoints.yaml, corpus dir)`` of source ``name`` (see the module docstring)."""
    tried: list[str] = []
    roots: list[Path] = []
    if specs_dir:
        roots.append(Path(specs_dir))
    else:
        workspace = os.environ.get("CONNECTOR_WATCH_WORKSPACE")
        if workspace:
            from connector_watch.simulator.layout import Layout

            roots.append(Layout.load(workspace).specs_dir())
        roots.append(packaged_specs_dir())
    for root in roots:
        spec = root / name / "endpoints.yaml"
        if spec.is_file():
            return spec, spec.parent / "corpus"
        tried.append(str(spec))
    raise DataSourceOptionError(
        f"no simulator spec for source {name!r}; looked for {', '.join(tried)} "
        "(set option simulatorSpecsDir to the directory holding <source>/endpoints.yaml)"
    )


# ---------------------------------------------------------------------------- simulator


def simulator_mode(options: Mapping[str, str]) -> str | None:
    raw = (options.get(OPT_SIM_MODE) or "").strip().lower()
    if raw in ("", "off", "none", "false"):
        return None
    if raw in ("record", "live"):
        raise DataSourceOptionError(
            f"simulatorMode={raw!r} is not available in Spark: recording writes one cassette from one "
            "process. Record through pytest (CONNECTOR_TEST_MODE=record), then read with "
            "simulatorMode=replay or simulate."
        )
    if raw not in SIMULATOR_MODES:
        raise DataSourceOptionError(f"simulatorMode={raw!r}; expected one of {[*SIMULATOR_MODES, 'off']}")
    return raw


@dataclass
class Activation:
    """One simulator switched on for one unit of work in one process."""

    simulator: Any
    trace_dir: str | None
    corpus_dir: Path | None
    extra: dict[str, Any] = field(default_factory=dict)

    def dump_trace(self) -> None:
        if not self.trace_dir or self.simulator is None:
            return
        sim = self.simulator
        families = sim.trace.to_dict()["families"]
        if not families and not sim.trace.entries:
            return
        future: dict[str, dict[str, Any]] = {}
        for corpus, indices in (sim.future_indices or {}).items():
            records = sim.corpus.get(corpus) if sim.corpus is not None else None
            if isinstance(records, list):
                future[corpus] = {str(i): records[i] for i in sorted(indices) if 0 <= i < len(records)}
        data = {
            "pid": os.getpid(),
            "corpusDir": str(self.corpus_dir) if self.corpus_dir else None,
            "families": families,
            "future": future,
            "entries": [
                {
                    "seq": e.seq,
                    "method": e.method,
                    "url": e.url,
                    "outcome": e.outcome,
                    "status": e.status,
                    "corpus": e.corpus,
                    "served": e.served,
                    "message": e.message,
                }
                for e in sim.trace.entries
            ],
            **self.extra,
        }
        directory = Path(self.trace_dir)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:10]}.json"
        tmp = directory / f".{name}.tmp"
        tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
        tmp.replace(directory / name)


@contextlib.contextmanager
def activated(options: Mapping[str, str], **extra: Any) -> Iterator[Activation | None]:
    """The simulator the options ask for, active for the ``with`` block (or ``None``)."""
    mode = simulator_mode(options)
    if mode is None:
        yield None
        return
    from connector_watch.simulator import Simulator

    refresh("simulator.handlers")  # spec handlers are workspace code too
    name = options.get(OPT_SIM_SOURCE) or options.get(OPT_SOURCE)
    if not name:
        raise DataSourceOptionError("simulatorMode needs option 'source' or 'simulatorSource'")
    cassette = options.get(OPT_SIM_CASSETTE)
    spec_path: Path | None = None
    corpus_dir: Path | None = None
    if mode in ("simulate", "hybrid"):
        spec_path, corpus_dir = spec_location(name, options.get(OPT_SIM_SPECS))
    elif not cassette:
        raise DataSourceOptionError("simulatorMode=replay needs option simulatorCassette (a cassette path)")
    else:
        # Replay answers what the sampled recording never asked (the next cursor) through the spec.
        with contextlib.suppress(DataSourceOptionError):
            spec_path, corpus_dir = spec_location(name, options.get(OPT_SIM_SPECS))
    simulator = Simulator(
        mode=mode,
        source=name,
        spec_path=spec_path,
        corpus_dir=corpus_dir,
        cassette_path=cassette,
        allow_missing_cassette=mode == "hybrid",
        record=False,
    )
    activation = Activation(simulator, options.get(OPT_SIM_TRACE), corpus_dir, dict(extra))
    with simulator:
        try:
            yield activation
        finally:
            with contextlib.suppress(OSError):
                activation.dump_trace()


__all__ = [
    "FRAMEWORK_OPTIONS",
    "PROBLEM_MARKER",
    "SIMULATOR_MODES",
    "Activation",
    "ConnectorProblem",
    "DataSourceOptionError",
    "activated",
    "canonical",
    "connector_class",
    "connector_options",
    "lower_options",
    "packaged_specs_dir",
    "parse_problems",
    "refresh",
    "shown_record",
    "simulator_mode",
    "spec_location",
    "table_is_partitioned",
]
