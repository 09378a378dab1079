"""Picking up where the last session left off: the index it saved, and which files changed since.

The daemon saves its index (what every node touched, its outcome) together with the digest of
every watched file as it was when the daemon was last idle: the files those outcomes are for. A
daemon started again without its initial run loads both, and reruns what the files changed since
then affect, plus the nodes that were failing (their diagnostics are not saved; a rerun rebuilds
them). Without saved digests nobody can say what changed: everything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector_watch.daemon.index import Index, load

INDEX_FILE = ".connector-watch/index.json"
DIGESTS_KEY = "fileDigests"


def read_saved(root: Path) -> tuple[Index, dict[str, str] | None]:
    """The saved index (empty when there is none or it cannot be read) and the file digests its
    outcomes are for (None when it has none)."""
    try:
        document = json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Index(), None
    if not isinstance(document, dict):
        return Index(), None
    digests = document.get(DIGESTS_KEY)
    valid = isinstance(digests, dict) and all(isinstance(v, str) for v in digests.values())
    return load(document), dict(digests) if valid else None


def changed_since(saved: dict[str, str], current: dict[str, str]) -> list[str]:
    """**Pure**: the files whose digest differs between two sessions (added, changed or deleted)."""
    return sorted(p for p in set(saved) | set(current) if saved.get(p, "") != current.get(p, ""))


def with_digests(document: dict[str, Any], digests: dict[str, str]) -> dict[str, Any]:
    return {**document, DIGESTS_KEY: dict(sorted(digests.items()))}


def write_json(target: Path, document: Any) -> None:
    """Write a JSON document whole: to a temporary file, then renamed over the target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    temporary.replace(target)
