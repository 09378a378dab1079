"""The static import graph of a workspace's Python files: which test files import a module,
however indirectly.

Python caches imports: when two test files import ``libs/utils.py``, a run observes the import
only while the first one is collected. So the daemon does not rely on what a run saw alone: it
parses the workspace's Python files (``ast``, nothing is executed), resolves each import to a
workspace file, and answers "which test files reach this module". Impact joins this with what
each test file was seen loading (dynamic imports, ``importlib``, spec handlers).

A module name resolves to a file under the workspace root or its ``src/`` folder
(``a.b.c`` → ``a/b/c.py`` or ``a/b/c/__init__.py``), else through ``module_files`` (names the
runs reported whose file is elsewhere, as an installed package mapped onto the checkout). Importing
``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``; ``from a.b import c`` may import the
submodule ``c``. Files are parsed once and again only when their stat changes.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path


def module_name(root: str | Path, path: str) -> str | None:
    """The dotted name a workspace file imports as from the root or its ``src/`` folder."""
    root = Path(root)
    if not path.endswith(".py"):
        return None
    for base in ("src/", ""):
        if base and not (root / base).is_dir():
            continue
        if not path.startswith(base):
            continue
        parts = path[len(base) : -3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and all(part.isidentifier() for part in parts):
            return ".".join(parts)
    return None


class ImportGraph:
    def __init__(
        self,
        root: str | Path,
        module_files: Mapping[str, str] | None = None,
        ignored: Callable[[str], bool] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.module_files = module_files if module_files is not None else {}
        self.ignored = ignored or (lambda _path: False)
        self.bases = [self.root, *([self.root / "src"] if (self.root / "src").is_dir() else [])]
        self._edges: dict[str, tuple[tuple[int, int] | None, frozenset[str]]] = {}
        self._reach: dict[str, frozenset[str]] = {}
        self._names: dict[str, str | None] = {}

    # ------------------------------------------------------------------ queries
    def importers(self, module: str, test_files: Iterable[str]) -> set[str]:
        """The test files (of ``test_files``) that import ``module`` (a workspace path), directly or not."""
        return {test for test in test_files if module in self.reachable(test)}

    def reachable(self, path: str) -> frozenset[str]:
        """Every workspace module ``path`` imports, however indirectly (itself included)."""
        cached = self._reach.get(path)
        if cached is not None and not self._stale(cached):
            return cached
        seen = {path}
        stack = [path]
        while stack:
            for target in self.imports_of(stack.pop()):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        result = frozenset(seen)
        self._reach[path] = result
        return result

    def imports_of(self, path: str) -> frozenset[str]:
        """The workspace modules one file imports directly (parsed again when it changed)."""
        stamp = self._stamp(path)
        cached = self._edges.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        targets = frozenset(self._parse(path)) if stamp is not None else frozenset()
        self._edges[path] = (stamp, targets)
        if cached is not None and cached[1] != targets:
            self._reach.clear()  # an import changed: closures through this file are stale
        return targets

    def dump(self) -> dict[str, list]:
        """The parsed imports with each file's stat, for the next process (one-shot commands)."""
        return {
            path: [stamp[0], stamp[1], sorted(targets)]
            for path, (stamp, targets) in sorted(list(self._edges.items()))
            if stamp is not None
        }

    def load(self, document: dict[str, list]) -> None:
        """Reuse imports parsed by another process; a file whose stat changed is parsed again."""
        for path, item in document.items():
            if path not in self._edges and isinstance(item, list) and len(item) == 3:
                self._edges[path] = ((int(item[0]), int(item[1])), frozenset(item[2]))

    def forget(self, path: str) -> None:
        """A file changed (or appeared, or went): parse it again when next needed."""
        if path in self._edges:
            del self._edges[path]
        self._reach.clear()
        self._names.clear()

    # ------------------------------------------------------------------ internals
    def _stale(self, closure: frozenset[str]) -> bool:
        return any(self._edges.get(p, (None,))[0] != self._stamp(p) for p in closure)

    def _stamp(self, path: str) -> tuple[int, int] | None:
        try:
            stat = (self.root / path).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _parse(self, path: str) -> set[str]:
        try:
            tree = ast.parse((self.root / path).read_bytes(), filename=path)
        except (OSError, SyntaxError, ValueError):
            return set()
        package = self._package_of(path)
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found |= self._resolve_chain(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node.module, node.level, package)
                if base is None:
                    continue
                found |= self._resolve_chain(base)
                for alias in node.names:
                    if alias.name != "*":
                        target = self._resolve(f"{base}.{alias.name}" if base else alias.name)
                        if target is not None:
                            found.add(target)
        found.discard(path)
        return {f for f in found if not self.ignored(f)}

    def _package_of(self, path: str) -> str | None:
        """The dotted package a workspace file belongs to (for relative imports)."""
        for name, file in self.module_files.items():
            if file == path:
                return name if path.endswith("__init__.py") else name.rpartition(".")[0]
        absolute = self.root / path
        for base in sorted(self.bases, key=lambda b: -len(b.parts)):
            try:
                parts = absolute.parent.relative_to(base).parts
            except ValueError:
                continue
            return ".".join(parts)
        return None

    @staticmethod
    def _absolute(module: str | None, level: int, package: str | None) -> str | None:
        if level == 0:
            return module
        if package is None:
            return None
        parts = package.split(".") if package else []
        if level - 1 > len(parts):
            return None
        base = parts[: len(parts) - (level - 1)]
        if module:
            base.append(module)
        return ".".join(base)

    def _resolve_chain(self, name: str) -> set[str]:
        """``a.b.c`` and the packages it runs on the way (``a``, ``a.b``)."""
        found = set()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            target = self._resolve(".".join(parts[:i]))
            if target is not None:
                found.add(target)
        return found

    def _resolve(self, name: str) -> str | None:
        if name not in self._names:
            self._names[name] = self._find(name)
        return self._names[name]

    def _find(self, name: str) -> str | None:
        mapped = self.module_files.get(name)
        if mapped is not None:
            return mapped
        stem = name.replace(".", "/")
        for base in self.bases:
            for candidate in (base / f"{stem}.py", base / stem / "__init__.py"):
                if candidate.is_file():
                    return os.path.relpath(candidate, self.root).replace(os.sep, "/")
        # A name under a mapped package: connector_watch.simulator.spec with connector_watch.simulator mapped.
        head = name.rpartition(".")[0]
        while head:
            package = self.module_files.get(head)
            if package is not None and package.endswith("__init__.py"):
                folder = Path(package).parent
                rest = name[len(head) + 1 :].replace(".", "/")
                for candidate in (folder / f"{rest}.py", folder / rest / "__init__.py"):
                    if (self.root / candidate).is_file():
                        return candidate.as_posix()
                return None
            head = head.rpartition(".")[0]
        return None
