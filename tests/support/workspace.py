"""A private copy of the bundled example workspace, for tests that edit files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns("__pycache__", "cassettes", ".connector-watch", "*.pyc", "_generated_*")


def copy_examples(destination: Path, sources: tuple[str, ...] | None = None) -> Path:
    """Copy connectors, specs, corpora, tests and pyproject into ``destination``.

    ``sources`` limits the copy to some example sources (the toolkit is always copied).
    """
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("simulator", "tests", "sources"):
        shutil.copytree(REPO / name, destination / name, ignore=IGNORE, dirs_exist_ok=True)
    shutil.copy(REPO / "pyproject.toml", destination / "pyproject.toml")
    if sources is not None:
        examples = [p.name for p in (REPO / "simulator" / "specs").iterdir() if p.is_dir()]
        for name in examples:
            if name in sources:
                continue
            for root in ("sources", "simulator/specs", "tests/unit/sources"):
                shutil.rmtree(destination / root / name, ignore_errors=True)
    return destination


def json_edit(change: Callable[[Any], Any]) -> Callable[[str], str]:
    """A text transform: parse JSON, let ``change(data)`` modify (or return) it, dump it indented."""

    def apply(text: str) -> str:
        data = json.loads(text)
        result = change(data)
        return json.dumps(data if result is None else result, indent=2) + "\n"

    return apply


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Apply :func:`json_edit` to a file in place."""
    path.write_text(json_edit(change)(path.read_text(encoding="utf-8")), encoding="utf-8")
