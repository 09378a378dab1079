"""``.connector-watch/``: the daemon's state inside a workspace (index, schemas, logs, discovery).

It is made with a ``.gitignore`` that ignores everything in it, as pytest does for its cache, so
``git status`` stays clean and ``git add -A`` never commits a session's state.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

STATE_DIR = ".connector-watch"
_GITIGNORE = "# made by connector-watch: its state, never committed\n*\n"


def state_dir(root: Path) -> Path:
    """The workspace's state folder, made (with its ``.gitignore``) when missing."""
    folder = Path(root) / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            ignore.write_text(_GITIGNORE, encoding="utf-8")
    return folder
