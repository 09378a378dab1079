"""Test modules that only import after another one ran in the same process.

Some suites install stand-in modules at import time (``sys.modules['google'] = MagicMock()`` in a
test file) that other test files then rely on without installing them themselves: in the public
repository the hl7_v2 tests import only after a google_analytics test file was collected. A plain
full ``pytest`` run collects every file in one process, in order, so they pass there. The daemon
runs the files a change affects, often without the one that installs the stand-in; rather than
report an import error plain ``pytest`` never shows, the plugin imports the files that install the
missing module first (without running their tests) and collects the failing file again.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from pathlib import Path

_SKIP_DIRS = frozenset({"venv", "node_modules", "__pycache__", "site-packages", "build", "dist"})


def missing_module(exc: BaseException | None) -> str | None:
    """The top-level name of the module whose absence made this import fail, if that is what happened."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name.split(".")[0]
        exc = exc.__cause__ or exc.__context__
    return None


def stand_in_providers(test_files: Iterable[Path], name: str, exclude: Iterable[Path] = ()) -> list[Path]:
    """The test files (in pytest's order) that assign ``sys.modules['<name>']`` or a submodule of it."""
    pattern = re.compile(r"sys\.modules\s*\[\s*['\"]" + re.escape(name) + r"(\.[\w.]+)?['\"]\s*\]\s*=")
    skipped = {p.resolve() for p in exclude}
    found = []
    for path in sorted(test_files):
        if path.resolve() in skipped:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "sys.modules" in text and pattern.search(text):
            found.append(path)
    return found


def test_files_under(root: Path, patterns: Iterable[str] = ("test_*.py", "*_test.py")) -> list[Path]:
    """Test files under ``root`` (not in virtualenvs, dependencies, caches or hidden folders)."""
    found = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        found.extend(Path(current) / f for f in files if any(fnmatch.fnmatch(f, p) for p in patterns))
    return sorted(found)
