"""Picking up where the last session left off: the index it saved, and which files changed since.

The daemon saves its index (what every node touched, its outcome) together with the digest of
every watched file as it was when the daemon was last idle: the files those outcomes are for. A
daemon started again without its initial run loads both, and reruns what the files changed since
then affect, plus the nodes that were failing (their diagnostics are not saved; a rerun rebuilds
them). Without saved digests nobody can say what changed: everything runs. The saved index also
serves the one-shot commands (``impact``, ``run --changed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_watch.daemon.impact import future_by_corpus
from connector_watch.daemon.index import Index, dump, load
from connector_watch.simulator.spec import Spec

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


def index_document(index: Index, specs: dict[str, Spec | None], digests: dict[str, str]) -> dict[str, Any]:
    """The index as saved for one-shot commands and the next session: with each spec's
    future-time directives and the file digests its outcomes are for."""
    index.spec_future = {
        path: {corpus: list(directive) for corpus, directive in future_by_corpus(spec).items()}
        for path, spec in specs.items()
        if spec is not None
    }
    return with_digests(dump(index), digests)


class IndexSaver:
    """Saves the index a little after runs settle (only while the engine is idle, so the outcomes
    match the files), the JSON written off the event loop."""

    def __init__(
        self,
        root: Path,
        document: Callable[[], dict[str, Any]],
        idle: Callable[[], bool],
        log: Callable[[str, str], None],
        delay: float = 2.0,
    ) -> None:
        self.target = root / INDEX_FILE
        self._document = document
        self._idle = idle
        self._log = log
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None

    def save(self) -> None:
        """Write the index now."""
        write_json(self.target, self._document())

    def schedule(self) -> None:
        if self._timer is not None and not self._timer.cancelled():
            return
        self._timer = asyncio.get_running_loop().call_later(self._delay, self._save_when_idle)

    def flush(self) -> None:
        """At shutdown: a save that was due is written now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            with contextlib.suppress(OSError):
                self.save()

    def _save_when_idle(self) -> None:
        self._timer = None
        if not self._idle():  # the outcomes would not match the files: wait for idle
            self.schedule()
            return
        future = asyncio.get_running_loop().run_in_executor(None, write_json, self.target, self._document())
        future.add_done_callback(
            lambda f: f.exception() and self._log("warning", f"cannot save the index: {f.exception()}")
        )
