"""Stale bytecode: forget the cached compilation of a Python file that changed.

The warm workers let Python and pytest cache compiled modules (``__pycache__``) to keep reruns
fast. Both caches trust a source file's modification time (in whole seconds) and size: an edit
that keeps the size within the same second (``==`` to ``!=``, a digit for another) would run the
old code. Whoever changes a ``.py`` file the workers may import (a save the daemon noticed, a
trial swapping versions on the overlay) forgets its cached compilations first.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def forget_bytecode(source: Path) -> None:
    """Remove every cached compilation of ``source`` (CPython's and pytest's rewritten ones)."""
    if source.suffix != ".py":
        return
    cache = source.parent / "__pycache__"
    if not cache.is_dir():
        return
    for cached in cache.glob(f"{source.stem}.*.pyc"):
        with contextlib.suppress(OSError):
            cached.unlink()
