"""connector-watch: the one top-level import package of this distribution.

The repository keeps its parts in top-level folders (``daemon/``, ``simulator/``, ``sources/``,
``tests/``); installed, they are ``connector_watch.daemon``, ``connector_watch.simulator``,
``connector_watch.sources`` and ``connector_watch.tests`` (``setup.py`` maps them), so installing
connector-watch never adds a ``tests`` or ``sources`` package beside a user's own.
"""

from __future__ import annotations

from pathlib import Path

# Run from a source checkout without an install (or beside an editable one), the parts are the
# checkout's top-level folders.
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "daemon" / "__init__.py").is_file() and str(_checkout) not in __path__:
    __path__.append(str(_checkout))
