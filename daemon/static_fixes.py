"""Verified fixes of static findings: a duplicate key, a value of the wrong type, seen on save.

No test fails for them (yet), so "verified" means: the finding is gone from the edited text, no
new error appears, and the tests that read the file still pass with the edit, rerun on the overlay.
Only then is the fix attached to the finding. Work goes through the causal scheduler's queue, so a
newer save cancels it (and the new check schedules it again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from connector_watch.daemon import fixes
from connector_watch.daemon.blame import FailureInput
from connector_watch.daemon.blame.causality import TriggerEvidence
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.diagnostics import Diagnostic, VerifiedFix
from connector_watch.daemon.fix_check import verify
from connector_watch.daemon.fixes import CandidateFix
from connector_watch.daemon.hunks import hunks
from connector_watch.daemon.index import Index
from connector_watch.daemon.overlay import Overlay
from connector_watch.daemon.results import Results
from connector_watch.daemon.sources_view import SourceView
from connector_watch.daemon.workspace import FileKind, Workspace

Check = Callable[[str, str, FileKind], Any]  # (path, text, kind) -> StaticResult


class StaticFixes:
    def __init__(
        self,
        workspace: Workspace,
        results: Results,
        index: Callable[[], Index],
        view: SourceView,
        scheduler: CausalScheduler,
        check: Check,
        publish: Callable[[], None],
        previous: Callable[[str], bytes | None] = lambda path: None,
    ) -> None:
        self.workspace = workspace
        self.results = results
        self._index = index
        self.view = view
        self.scheduler = scheduler
        self._check = check
        self._publish = publish
        self._previous = previous

    def schedule(self, path: str, kind: FileKind, diagnostics: list[Diagnostic]) -> None:
        """Queue the verification of every candidate fix of this file's fresh findings."""
        probe = FailureInput(node_id=path, outcome="static", failure=None, source=kind.source)
        for diagnostic in diagnostics:
            if diagnostic.severity not in ("error", "warning") or diagnostic.fixes:
                continue
            found = fixes.candidates(diagnostic, probe, self.workspace.layout, self.view)
            undo = self._undo_last_edit(path, diagnostic)
            if undo is not None and undo.key() not in {c.key() for c in found}:
                found.append(undo)
            for candidate in found:
                self.scheduler.schedule_job(
                    lambda overlay, d=diagnostic, c=candidate: self.verify(overlay, path, kind, d, c)
                )

    def _undo_last_edit(self, path: str, diagnostic: Diagnostic) -> CandidateFix | None:
        """The last save's hunk that holds the finding, undone (the value before the edit)."""
        before = self._previous(path)
        text = self.view.text(path)
        if before is None or text is None:
            return None
        try:
            old = before.decode("utf-8")
        except UnicodeDecodeError:
            return None
        line = diagnostic.location.range.start.line
        for hunk in hunks(path, old, text):
            first, last = hunk.new_lines()
            if first <= line <= last:
                trigger = TriggerEvidence(
                    path, "corpus", first, last, False, old, text,
                    (hunk.old_start, hunk.old_end), (hunk.new_start, hunk.new_end),
                )
                return fixes.restore(trigger, self.view)
        return None

    def _current(self, path: str, diagnostic: Diagnostic) -> list[Diagnostic] | None:
        """The file's findings, if ``diagnostic`` is still one of them (a newer check replaces them)."""
        found = self.results.static_by_origin.get(path, {}).get(path, [])
        return found if any(d is diagnostic for d in found) else None

    async def verify(
        self, overlay: Overlay, path: str, kind: FileKind, diagnostic: Diagnostic, candidate: CandidateFix
    ) -> None:
        if self._current(path, diagnostic) is None:
            return  # the file was checked again since: its own findings were queued
        try:
            text = self.workspace.absolute(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return
        edited = fixes.apply_edits(text, [e for e in candidate.edits if e.path == path])
        remaining = self._check(path, edited, kind).diagnostics.get(path, [])
        line = diagnostic.location.range.start.line
        if any(d.code == diagnostic.code and d.location.range.start.line == line for d in remaining):
            return
        errors_before = {d.key() for d in self.results.static.get(path, []) if d.severity == "error"}
        if any(d.severity == "error" and d.key() not in errors_before for d in remaining):
            return
        readers = sorted(n for n, record in self._index().nodes.items() if path in record.corpus_files)
        fix: VerifiedFix | None = VerifiedFix(
            candidate.title, candidate.edits, tuple(readers), "the finding is gone from the edited file"
        )
        if readers:
            fix = await verify(overlay, self.workspace, candidate, readers, env=self.scheduler.trial_env())
        if fix is None:
            return
        found = self._current(path, diagnostic)
        if found is None:
            return  # the file changed meanwhile: its findings were checked again
        updated = [replace(d, fixes=[*d.fixes, fix]) if d is diagnostic else d for d in found]
        self.results.replace_static(path, {**self.results.static_by_origin.get(path, {}), path: updated})
        self._publish()
