"""A private copy of the bundled example workspace, for tests that edit files."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def edit_json(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Load a JSON file, let ``change(data)`` modify it, and write it back indented."""
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    result = change(data)
    path.write_text(json.dumps(data if result is None else result, indent=2) + "\n", encoding="utf-8")
