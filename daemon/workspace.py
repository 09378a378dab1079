"""The watched workspace: which files matter, what each one is, which to ignore.

Builds on :class:`connector_watch.simulator.layout.Layout` (the one place that knows where a
source's connector, spec, corpus and tests live) and adds what the daemon needs:
ignore rules for the watcher, the test files to run, and a classification of
every changed path.
"""

from __future__ import annotations

import errno
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from connector_watch.simulator.layout import Layout, resolve_link

#: Directory names never watched.
IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        "node_modules",
        ".connector-watch",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".tox",
        "build",
        "dist",
        ".idea",
        ".vscode-test",
        "spark-warehouse",
        "metastore_db",
        "artifacts",
        ".eggs",
    }
)
#: Editor swap and temporary files.
IGNORED_FILES = (
    "*.swp",
    "*.swx",
    "*.swo",
    "*~",
    ".#*",
    "#*#",
    "4913",
    "*.tmp",
    "sed??????",  # sed -i's temporary copy
    "*.pyc",
    "*.pyo",
    ".DS_Store",
    "*.orig",
    "*.rej",
    "*.log",
    "*.vsix",
    "*.egg-info",
    "_generated_*",  # merged connector files the merge tool writes
)
#: Files whose change means the shared machinery changed: rerun everything.
LIBRARY_FILES = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "pytest.ini",
    "tox.ini",
    "requirements*.txt",
    "conftest.py",
)


@dataclass(frozen=True)
class FileKind:
    source: str | None
    #: connector connector_data spec spec_support corpus cassette report table_config test
    #: test_support conftest shared library other
    kind: str


class Workspace:
    def __init__(self, root: str | Path) -> None:
        self.layout = Layout.load(root)
        self.root = self.layout.root

    # ------------------------------------------------------------------ paths
    def relative(self, path: str | Path) -> str:
        return self.layout.relative(path)

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def inside(self, raw: str | Path) -> str:
        """A path someone gave (a client, a command line) as a workspace path: a relative one is
        taken from the root, symlinks resolved. Raises ``ValueError`` when it lands outside, or when
        its symlinks cannot be resolved (a loop) and so nobody can say where it lands."""
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            resolved = candidate.resolve()
        except (RuntimeError, OSError, ValueError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
            why = "its symlinks form a loop" if loop else getattr(exc, "strerror", None) or str(exc)
            raise ValueError(f"{raw} cannot be resolved ({why}), so it is not taken as a workspace path") from None
        try:
            return resolved.relative_to(self.root).as_posix()
        except ValueError:
            raise ValueError(f"{raw} is outside the workspace {self.root}") from None

    def contains(self, path: str | Path) -> bool:
        """Whether ``path`` is in the workspace, symlinks resolved. A link that cannot be resolved
        (a loop) is judged by where it sits: it is a file of the workspace, just not a readable one."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            return resolve_link(p).is_relative_to(self.root)
        except (RuntimeError, OSError):
            return False

    def uri(self, relative: str) -> str:
        return self.absolute(relative).as_uri()

    # ------------------------------------------------------------------ ignore rules
    def ignored(self, path: str | Path) -> bool:
        rel = self.relative(path)
        parts = rel.split("/")
        if any(part in IGNORED_DIRS for part in parts[:-1]) or parts[0] in IGNORED_DIRS:
            return True
        name = parts[-1]
        return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_FILES)

    # ------------------------------------------------------------------ classification
    def classify(self, path: str | Path) -> FileKind:
        """What a workspace file is. The layout says where sources, specs and tests live and which
        files are toolkit (``library``: everything reruns) or ``shared`` code (its importers rerun)."""
        rel = self.relative(path)
        name = rel.rsplit("/", 1)[-1]
        if "/" not in rel and any(fnmatch.fnmatch(name, p) for p in LIBRARY_FILES):
            return FileKind(None, "library")
        source, kind = self.layout.owner(rel)
        if name == "conftest.py":
            # pytest loads a conftest for the tests under its folder: a source's own reruns its tests.
            return FileKind(source, "conftest") if source is not None and kind != "spec_support" else FileKind(None, "library")
        if source is None and rel.startswith(self.layout.specs.rstrip("/") + "/"):
            return FileKind(
                None, "other"
            )  # a source's spec folder itself (deleted, renamed), not toolkit code
        if source is None and self.layout.is_library(rel):
            return FileKind(None, "library")
        if source is None and self.layout.is_shared(rel):
            return FileKind(None, "shared")
        if kind == "connector" and not rel.endswith(".py"):
            kind = "connector_data"
        return FileKind(source, kind)

    # ------------------------------------------------------------------ discovery
    # Listing is cached: a save must not cost a walk of every source. ``notice_change`` drops the
    # cache when a change may add or remove a source or a test file.
    _sources: list[str] | None = None
    _test_files: list[str] | None = None
    _tests_by_source: dict[str, list[str]] | None = None

    def notice_change(self, path: str) -> None:
        name = path.rsplit("/", 1)[-1]
        if (name.startswith("test_") and name.endswith(".py")) or "." not in name:
            self._test_files = self._tests_by_source = None
        if name == "endpoints.yaml" or (name.endswith(".py") and path.startswith(self.layout.sources + "/")):
            self._sources = None

    def sources(self) -> list[str]:
        if self._sources is None:
            self._sources = self.layout.source_names()
        return list(self._sources)

    def test_files(self) -> list[str]:
        """Every connector test module under the tests root (``test_*.py`` in a source's dir), and
        the layout's other test modules (tests of shared code)."""
        if self._test_files is None:
            root = self.layout.tests_dir()
            files = []
            if root.is_dir():
                for path in sorted(root.glob("*/**/test_*.py")):
                    rel = self.relative(path)
                    if not self.ignored(rel):
                        files.append(rel)
            self._test_files = files + self._extra_test_files(set(files))
        return list(self._test_files)

    def _extra_test_files(self, known: set[str]) -> list[str]:
        tests_root = self.layout.tests.rstrip("/") + "/"
        found = []
        for base, _ in self._pattern_folders(self.layout.extra_tests):
            if not base.is_dir():
                continue
            for path in base.rglob("*.py"):
                rel = self.relative(path)
                if rel in known or rel.startswith(tests_root) or self.ignored(rel):
                    continue
                if self.layout.owner(rel) == (None, "test"):
                    found.append(rel)
                    known.add(rel)
        return sorted(found)

    def test_files_of(self, source: str) -> list[str]:
        if self._tests_by_source is None:
            by_source: dict[str, list[str]] = {}
            prefix = self.layout.tests.rstrip("/") + "/"
            for file in self.test_files():
                if file.startswith(prefix):  # not the tests of shared code (no source's)
                    by_source.setdefault(file[len(prefix) :].split("/", 1)[0], []).append(file)
            self._tests_by_source = by_source
        return list(self._tests_by_source.get(source, []))

    def spec_files(self) -> list[str]:
        return [
            self.relative(self.layout.spec_file(name))
            for name in self.sources()
            if self.layout.spec_file(name).is_file()
        ]

    def corpus_files(self, source: str) -> list[str]:
        directory = self.layout.corpus_dir(source)
        return [self.relative(p) for p in sorted(directory.glob("*.json"))] if directory.is_dir() else []

    def _pattern_folders(self, patterns: tuple[str, ...]) -> list[tuple[Path, bool]]:
        """The folder each pattern's files are in, with whether they may be in its subfolders."""
        folders = []
        for pattern in patterns:
            parts = pattern.split("/")
            fixed = []
            for part in parts:
                if any(c in part for c in "*?["):
                    break
                fixed.append(part)
            if len(fixed) == len(parts):  # one file: its folder, flat
                folders.append((self.root.joinpath(*fixed[:-1]), False))
            else:
                rest = parts[len(fixed) :]
                folders.append((self.root.joinpath(*fixed), len(rest) > 1 or "**" in rest[0]))
        return folders

    def watch_roots(self) -> list[tuple[Path, bool]]:
        """The folders to watch, each with whether to watch it recursively: the sources, specs and
        tests roots, the folders of the library and shared patterns, and the root itself (flat)."""
        roots: dict[Path, bool] = {}
        for base in (self.layout.sources_dir(), self.layout.specs_dir(), self.layout.tests_dir()):
            roots[base] = True
        for folder, recursive in self._pattern_folders(
            (*self.layout.library, *self.layout.shared, *self.layout.extra_tests)
        ):
            roots[folder] = roots.get(folder, False) or recursive
        roots[self.root] = roots.get(self.root, False)
        existing = sorted((p, r) for p, r in roots.items() if p.is_dir())
        kept: list[tuple[Path, bool]] = []
        for path, recursive in existing:  # drop folders a recursive watch already covers
            if not any(r and path != other and path.is_relative_to(other) for other, r in kept):
                kept.append((path, recursive))
        return kept

    def shared_files(self) -> list[str]:
        """The files the layout's shared patterns name (the public repository's libs, interface,
        simulator and harness files), in a stable order."""
        found: set[str] = set()
        for pattern in self.layout.shared:
            parts = pattern.split("/")
            fixed = []
            for part in parts:
                if any(c in part for c in "*?["):
                    break
                fixed.append(part)
            base = self.root.joinpath(*fixed)
            rest = "/".join(parts[len(fixed) :])
            candidates = [base] if not rest else (base.rglob("*") if "**" in rest or "/" in rest else base.glob(rest))
            for candidate in candidates:
                rel = self.relative(candidate)
                if candidate.is_file() and not self.ignored(rel) and self.layout.is_shared(rel):
                    found.add(rel)
        return sorted(found)

    def watched_files(self) -> list[str]:
        """Files whose content the daemon tracks (for change detection by hash)."""
        files: list[str] = []
        for base in (self.layout.sources_dir(), self.layout.specs_dir(), self.layout.tests_dir()):
            if base.is_dir():
                for path in base.rglob("*"):
                    if path.is_file() and not self.ignored(path):
                        files.append(self.relative(path))
        return sorted(files)

