"""Verifying a candidate fix: the failing nodes rerun on the overlay with its edits applied.

A candidate (:mod:`connector_watch.daemon.fixes`) becomes a :class:`VerifiedFix` only when every
node it should turn green passes there. The user's files are never written: the overlay gets the
edited text, the rerun runs, the overlay gets the current text back.
"""

from __future__ import annotations

import time

from connector_watch.daemon.diagnostics import VerifiedFix, content_digest
from connector_watch.daemon.fixes import CandidateFix, apply_edits
from connector_watch.daemon.overlay import Overlay
from connector_watch.daemon.workspace import Workspace


async def verify(
    overlay: Overlay,
    workspace: Workspace,
    candidate: CandidateFix,
    nodes: list[str],
    env: dict[str, str] | None = None,
    skips_allowed: bool = False,
) -> VerifiedFix | None:
    """The fix, if ``nodes`` all pass with ``candidate`` applied; else None. A failing test that
    merely skips with it (an emptied table, a test left unrun behind a hang) is not made green.
    With ``skips_allowed`` (nodes that were not failing: a drift report's readers, some of which
    skip outside record mode) they may skip, as long as one of them passes."""
    contents: dict[str, bytes | None] = {}
    against: list[tuple[str, str]] = []
    for path in sorted({e.path for e in candidate.edits}):
        try:
            data = workspace.absolute(path).read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        against.append((path, content_digest(data)))
        contents[path] = apply_edits(text, [e for e in candidate.edits if e.path == path]).encode("utf-8")
    started = time.monotonic()
    finished = await overlay.run(sorted(nodes), contents, env=env)
    outcomes = [finished.get(n, {}).get("outcome") for n in nodes]
    accepted = ("passed", "skipped") if skips_allowed else ("passed",)
    if not nodes or "passed" not in outcomes or any(o not in accepted for o in outcomes):
        return None
    elapsed = (time.monotonic() - started) * 1000
    return VerifiedFix(
        candidate.title,
        candidate.edits,
        tuple(sorted(nodes)),
        f"{len(nodes)} test(s) pass with it applied (rerun on a private copy, {elapsed:.0f} ms)",
        tuple(against),
    )
