"""Where a workspace keeps each source's files.

One object answers "where is the spec of source X", "which source does this
file belong to", for the harness, the tools and the daemon alike. The default
layout is this repository's::

    sources/<name>/<name>.py                          connector
    simulator/specs/<name>/endpoints.yaml             spec
    simulator/specs/<name>/corpus/<table>.json        corpus
    tests/unit/sources/<name>/                        tests, cassettes/, configs/

Another checkout that keeps the same files under other roots (the public
community-connectors repository, with its ``src/databricks/labs/
community_connector/`` prefix) describes its roots in ``pyproject.toml``::

    [tool.connector-watch]
    sources = "src/databricks/labs/community_connector/sources"
    specs = "src/databricks/labs/community_connector/source_simulator/specs"
    tests = "tests/unit/sources"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_WORKSPACE = "CONNECTOR_WATCH_WORKSPACE"


@dataclass(frozen=True)
class Layout:
    root: Path
    sources: str = "sources"
    specs: str = "simulator/specs"
    tests: str = "tests/unit/sources"

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, root: str | Path) -> Layout:
        """The layout of the workspace at ``root`` (reads ``[tool.connector-watch]``)."""
        root = Path(root).resolve()
        settings: dict[str, str] = {}
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, OSError):
                data = {}
            section = data.get("tool", {}).get("connector-watch", {})
            settings = {k: str(v) for k, v in section.items() if k in ("sources", "specs", "tests")}
        return cls(root, **settings)

    @classmethod
    def discover(cls, start: str | Path | None = None) -> Layout:
        """The workspace containing ``start``: ``$CONNECTOR_WATCH_WORKSPACE``, else the nearest
        directory upwards with a specs root or a ``pyproject.toml`` naming one."""
        env = os.environ.get(ENV_WORKSPACE)
        if env:
            return cls.load(env)
        here = Path(start or Path.cwd()).resolve()
        if here.is_file():
            here = here.parent
        for candidate in (here, *here.parents):
            has_specs = (candidate / cls.specs).is_dir()
            has_tests = (candidate / "pyproject.toml").is_file() and (candidate / cls.tests).is_dir()
            if has_specs or has_tests:
                return cls.load(candidate)
        return cls.load(Path.cwd())

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
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
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
        return None, "other"
