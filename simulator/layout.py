"""Where a workspace keeps each source's files, and which files are shared code.

One object answers "where is the spec of source X", "which source does this
file belong to", "is this file shared by every source's tests", for the
harness, the tools and the daemon alike. Two layouts are recognised without
any configuration. This repository's::

    sources/<name>/<name>.py                          connector
    simulator/specs/<name>/endpoints.yaml             spec
    simulator/specs/<name>/corpus/<table>.json        corpus
    tests/unit/sources/<name>/                        tests, cassettes/, configs/

and the public community-connectors repository's, found by its
``<package>/source_simulator/specs`` folder (``src/databricks/labs/community_connector``)::

    <package>/sources/<name>/<name>.py                connector
    <package>/source_simulator/specs/<name>/...       spec and corpus
    tests/unit/sources/<name>/                        tests
    <package>/{libs,interface,sparkpds}/, <package>/source_simulator/*.py,
    tests/unit/sources/{test_suite,test_partition_suite,...}.py      shared code

Any other checkout describes its roots in ``pyproject.toml`` (every key optional; a key that is
set wins over what detection found)::

    [tool.connector-watch]
    sources = "src/databricks/labs/community_connector/sources"
    specs = "src/databricks/labs/community_connector/source_simulator/specs"
    tests = "tests/unit/sources"
    shared = ["src/databricks/labs/community_connector/libs/**", "tests/unit/sources/test_suite.py"]

*Library* files (``library`` patterns) are the toolkit itself: a change reruns everything.
*Shared* files (``shared`` patterns) are code many sources' tests import: a change reruns the
tests that import them, however indirectly.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_WORKSPACE = "CONNECTOR_WATCH_WORKSPACE"

#: This repository's toolkit (harness, simulator, interface, daemon): a change reruns everything.
TOOLKIT = (
    "simulator/**",
    "tests/harness/**",
    "daemon/**",
    "sources/interface.py",
    "sources/parsing.py",
    "sources/__init__.py",
    "tests/unit/sources/test_suite.py",
    "tests/unit/sources/test_partition_suite.py",
    "tests/unit/sources/test_write_back_suite.py",
    "tests/unit/sources/lakeflow_connect_test_utils.py",
    "tests/__init__.py",
    "tests/unit/__init__.py",
    "tests/unit/sources/__init__.py",
)
#: Where a package keeps its simulator's specs: ``<package>/source_simulator/specs``.
SIMULATOR_PACKAGE = "source_simulator"
#: Shared code of a package laid out like the public repository, relative to the package.
PACKAGE_SHARED = ("libs/**", "interface/**", "sparkpds/**", f"{SIMULATOR_PACKAGE}/*.py", "__init__.py", "sources/__init__.py")
#: Shared harness code in the tests root (the public harness and its helpers).
TESTS_SHARED = ("*.py",)
SETTINGS = ("sources", "specs", "tests")
_MAX_DEPTH = 6


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: ``**`` crosses folders, ``*`` and ``?`` do not."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def path_matches(rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether a workspace-relative path matches any of ``patterns`` (``**`` globs)."""
    return any(_glob_regex(pattern).match(rel) for pattern in patterns)


def _specs_roots(root: Path) -> list[Path]:
    """``<package>/source_simulator/specs`` folders under ``root`` (not in hidden or virtualenv folders)."""
    found = []
    for current, dirs, _files in os.walk(root):
        depth = len(Path(current).relative_to(root).parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith((".", "_")) and d not in ("node_modules", "venv", "build", "dist", "tests")
        )
        if Path(current).name == SIMULATOR_PACKAGE and "specs" in dirs:
            found.append(Path(current) / "specs")
            dirs[:] = []
        elif depth >= _MAX_DEPTH:
            dirs[:] = []
    return found


def detect(root: Path) -> dict[str, object]:
    """The layout of a checkout without configuration: this repository's when its roots exist,
    else the public repository's (``<package>/source_simulator/specs`` beside ``<package>/sources``)."""
    if (root / Layout.specs).is_dir() or (root / Layout.sources).is_dir():
        return {}
    for specs in _specs_roots(root):
        package = specs.parent.parent
        if not (package / "sources").is_dir():
            continue
        rel_package = package.relative_to(root).as_posix()
        tests = "tests/unit/sources" if (root / "tests/unit/sources").is_dir() else Layout.tests
        return {
            "sources": f"{rel_package}/sources",
            "specs": specs.relative_to(root).as_posix(),
            "tests": tests,
            # The repository's own tests of its libraries, simulator and pipeline run with plain
            # pytest too: every test module under pytest's ``testpaths``.
            "extra_tests": _pytest_test_patterns(root),
            "library": (),
            "shared": (
                *(f"{rel_package}/{p}" for p in PACKAGE_SHARED),
                *(f"{tests}/{p}" for p in TESTS_SHARED),
                "tests/__init__.py",
                "tests/unit/__init__.py",
            ),
        }
    return {}


def _pytest_test_patterns(root: Path) -> tuple[str, ...]:
    """The test modules plain pytest collects in the checkout: ``testpaths`` (``tests`` when it names
    none) × ``python_files`` (pytest's default ``test_*.py *_test.py``), as layout patterns."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        data = {}
    options = data.get("tool", {}).get("pytest", {}).get("ini_options", {})
    paths, files = options.get("testpaths"), options.get("python_files")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        paths = ["tests"]
    if isinstance(files, str):
        files = files.split()
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        files = ["test_*.py", "*_test.py"]
    folders = [p.strip("/").removeprefix("./") for p in paths if p.strip("/") and ".." not in p]
    return tuple(f"{folder}/**/{name}" for folder in folders for name in files)


@dataclass(frozen=True)
class Layout:
    root: Path
    sources: str = "sources"
    specs: str = "simulator/specs"
    tests: str = "tests/unit/sources"
    #: Toolkit files: a change reruns every test (patterns relative to the root, ``**`` globs).
    library: tuple[str, ...] = TOOLKIT
    #: Code the tests of many sources import: a change reruns the tests that import it.
    shared: tuple[str, ...] = ()
    #: Test modules outside the per-source tests root (patterns): tests of shared code, which
    #: belong to no source (the public repository's ``tests/unit/libs``, ...).
    extra_tests: tuple[str, ...] = ()

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, root: str | Path) -> Layout:
        """The layout of the workspace at ``root``: detected, then ``[tool.connector-watch]`` wins."""
        root = Path(root).resolve()
        settings: dict[str, object] = detect(root)
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, OSError):
                data = {}
            section = data.get("tool", {}).get("connector-watch", {})
            if isinstance(section, dict):
                settings.update({k: str(v) for k, v in section.items() if k in SETTINGS})
                for key in ("library", "shared", "extra_tests"):
                    value = section.get(key)
                    if isinstance(value, str):
                        settings[key] = (value,)
                    elif isinstance(value, list):
                        settings[key] = tuple(str(v) for v in value)
        return cls(root, **settings)  # type: ignore[arg-type]

    @classmethod
    def discover(cls, start: str | Path | None = None) -> Layout:
        """The workspace containing ``start``: ``$CONNECTOR_WATCH_WORKSPACE``, else the nearest
        directory upwards with a specs root (as configured or detected)."""
        env = os.environ.get(ENV_WORKSPACE)
        if env:
            return cls.load(env)
        here = Path(start or Path.cwd()).resolve()
        if here.is_file():
            here = here.parent
        for candidate in (here, *here.parents):
            has_specs = (candidate / cls.specs).is_dir()
            has_project = (candidate / "pyproject.toml").is_file()
            if has_specs or (has_project and ((candidate / cls.tests).is_dir() or detect(candidate))):
                return cls.load(candidate)
        return cls.load(Path.cwd())

    # ------------------------------------------------------------------ shared code
    def is_library(self, rel: str) -> bool:
        return path_matches(rel, self.library)

    def is_shared(self, rel: str) -> bool:
        return path_matches(rel, self.shared)

    # ------------------------------------------------------------------ per source
    def sources_dir(self) -> Path:
        return self.root / self.sources

    def specs_dir(self) -> Path:
        return self.root / self.specs

    def tests_dir(self) -> Path:
        return self.root / self.tests

    def source_dir(self, name: str) -> Path:
        return self.sources_dir() / name

    def connector_file(self, name: str) -> Path:
        return self.source_dir(name) / f"{name}.py"

    def spec_dir(self, name: str) -> Path:
        return self.specs_dir() / name

    def spec_file(self, name: str) -> Path:
        return self.spec_dir(name) / "endpoints.yaml"

    def corpus_dir(self, name: str) -> Path:
        return self.spec_dir(name) / "corpus"

    def test_dir(self, name: str) -> Path:
        return self.tests_dir() / name

    def cassette_dir(self, name: str) -> Path:
        return self.test_dir(name) / "cassettes"

    def cassette(self, name: str, test_class: str) -> Path:
        return self.cassette_dir(name) / f"{test_class}.json"

    def table_config(self, name: str) -> Path:
        return self.test_dir(name) / "configs" / "dev_table_config.json"

    def code_roots(self) -> list[Path]:
        """Where the workspace's own modules live (the root, and a ``src/`` layout's import root):
        a spec's handlers are looked up here, by reading, never by importing them in the daemon."""
        return [self.root, *(self.root / r for r in self.import_roots())]

    def import_roots(self) -> list[str]:
        """Folders (relative to the root) that must lead the Python path for the connectors to import
        from this checkout: the parent of the outermost package holding the sources (``src`` in a
        ``src/`` layout); none when that is the root itself."""
        directory = self.sources_dir()
        while directory != self.root and (directory / "__init__.py").is_file():
            directory = directory.parent
        if directory == self.root or self.root not in directory.parents:
            return []
        return [directory.relative_to(self.root).as_posix()]

    def source_names(self) -> list[str]:
        """Every source with a connector file or a spec."""
        names: set[str] = set()
        if self.sources_dir().is_dir():
            names.update(p.parent.name for p in self.sources_dir().glob("*/*.py") if p.stem == p.parent.name)
        if self.specs_dir().is_dir():
            names.update(p.parent.name for p in self.specs_dir().glob("*/endpoints.yaml"))
        return sorted(names)

    # ------------------------------------------------------------------ classification
    def relative(self, path: str | Path) -> str:
        """``path`` relative to the workspace root, with forward slashes."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            return resolve_link(p).relative_to(self.root).as_posix()
        except (ValueError, RuntimeError, OSError):
            return p.as_posix()

    def owner(self, path: str | Path) -> tuple[str | None, str]:
        """``(source name or None, kind)`` for a workspace file.

        Kinds: ``connector`` (any file under a source's package), ``spec``,
        ``corpus``, ``cassette``, ``report`` (validation/coverage next to a
        cassette), ``table_config``, ``test``, ``test_support`` (other files in a
        source's test dir), or ``other``.
        """
        rel = self.relative(path)
        for root, kind in ((self.sources, "connector"), (self.specs, "spec"), (self.tests, "test")):
            prefix = root.rstrip("/") + "/"
            if not rel.startswith(prefix):
                continue
            parts = rel[len(prefix) :].split("/")
            if len(parts) < 2:
                return None, "other"
            name, rest = parts[0], parts[1:]
            if kind == "spec":
                if rest == ["endpoints.yaml"]:
                    return name, "spec"
                if rest[0] == "corpus" and len(rest) == 2 and rest[1].endswith(".json"):
                    return name, "corpus"
                return name, "spec_support"
            if kind == "test":
                if rest[0] == "cassettes":
                    is_report = rest[-1].endswith((".validation.json", ".coverage.json"))
                    return name, "report" if is_report else "cassette"
                if rest == ["configs", "dev_table_config.json"]:
                    return name, "table_config"
                if rest[-1].startswith("test_") and rest[-1].endswith(".py"):
                    return name, "test"
                return name, "test_support"
            return name, "connector"
        if self.extra_tests and rel.endswith(".py") and path_matches(rel, self.extra_tests):
            return None, "test"
        return None, "other"


def resolve_link(path: Path) -> Path:
    """``path.resolve()``; a link that cannot be resolved (a symlink loop) is where it sits: its
    folder resolved, its own name kept (it is a file of that folder, just not a readable one)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError: a symlink loop (Python < 3.13)
        return path.parent.resolve() / path.name
