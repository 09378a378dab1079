"""Verified fixes of live drift (record mode): the spec or corpus updated from the validation report.

The workflow's rule in record mode is "fix the spec first": the live API is the truth. For a drift
finding the daemon builds the edit the report implies —

- ``wrapper_key``: the spec's ``records_key`` set to where the live API keeps its records;
- ``extra_field`` / ``missing_field`` / ``type_mismatch``: the corpus table re-seeded from the
  recorded live records (``cassette_to_corpus``, run as a child process: it reads the workspace);

— and offers it only when the nodes that reached the drifting endpoint pass with it on the overlay,
both replaying the cassette (the recorded truth) and simulating from the edited spec and corpus.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.diagnostics import Diagnostic, Position, Range, TextEdit, VerifiedFix
from connector_watch.daemon.fix_check import verify
from connector_watch.daemon.fixes import CandidateFix
from connector_watch.daemon.overlay import Overlay
from connector_watch.daemon.results import Results
from connector_watch.daemon.utf16 import editor_lines
from connector_watch.daemon.workspace import Workspace

RESEED = ("drift.extra_field", "drift.missing_field", "drift.type_mismatch")


class DriftFixes:
    def __init__(
        self,
        workspace: Workspace,
        results: Results,
        scheduler: CausalScheduler,
        publish: Callable[[], None],
    ) -> None:
        self.workspace = workspace
        self.results = results
        self.scheduler = scheduler
        self._publish = publish

    def schedule(self, report_path: str, diagnostics: list[Diagnostic]) -> None:
        seen: set[str] = set()
        for diagnostic in diagnostics:
            if not diagnostic.node_ids or diagnostic.fixes or diagnostic.code in seen:
                continue
            if diagnostic.code == "drift.wrapper_key" or diagnostic.code in RESEED:
                seen.add(diagnostic.code or "")
                self.scheduler.schedule_job(
                    lambda overlay, d=diagnostic: self.verify(overlay, report_path, d)
                )

    async def verify(self, overlay: Overlay, report_path: str, diagnostic: Diagnostic) -> None:
        if not any(d is diagnostic for d in self.results.drift.get(report_path, [])):
            return  # a newer report replaced it
        if diagnostic.code == "drift.wrapper_key":
            candidate = self._records_key(diagnostic)
        else:
            candidate = await self._reseed(report_path, diagnostic)
        if candidate is None:
            return
        nodes = sorted(diagnostic.node_ids)
        replayed = await verify(
            overlay, self.workspace, candidate, nodes, env={"CONNECTOR_TEST_MODE": "replay"}, skips_allowed=True
        )
        simulated = await verify(
            overlay, self.workspace, candidate, nodes, env={"CONNECTOR_TEST_MODE": "simulate"}, skips_allowed=True
        )
        if replayed is None or simulated is None:
            return
        fix = VerifiedFix(
            candidate.title,
            candidate.edits,
            tuple(nodes),
            f"{len(nodes)} test(s) pass with it, replaying the recording and simulating from the edited files",
            replayed.against if replayed.against == simulated.against else (),
        )
        if not fix.against:
            return  # a file changed between the two reruns: the next report verifies it again
        current = self.results.drift.get(report_path, [])
        if not any(d is diagnostic for d in current):
            return
        self.results.replace_drift(
            report_path, [replace(d, fixes=[*d.fixes, fix]) if d is diagnostic else d for d in current]
        )
        self._publish()

    def _records_key(self, diagnostic: Diagnostic) -> CandidateFix | None:
        live = next((e[len("live: ") :] for e in diagnostic.evidence if e.startswith("live: ")), None)
        if not live:
            return None
        live_key = live.strip("'\"")
        path, row = diagnostic.location.path, diagnostic.location.range.start.line
        try:
            line = editor_lines(self.workspace.absolute(path).read_text(encoding="utf-8"))[row]
        except (OSError, IndexError, UnicodeDecodeError):
            return None
        match = re.search(r"(records_key:\s*)([\w.$@-]+)", line)
        if not match:
            return None
        edit = TextEdit(path, Range(Position(row, match.start(2)), Position(row, match.end(2))), live_key)
        return CandidateFix(f"set records_key to '{live_key}', where the live API keeps its records", (edit,))

    async def _reseed(self, report_path: str, diagnostic: Diagnostic) -> CandidateFix | None:
        """The drifting corpus table as ``cassette_to_corpus`` re-seeds it from the recording."""
        corpus = diagnostic.location.path
        source = self.workspace.classify(corpus).source
        if source is None or self.workspace.classify(corpus).kind != "corpus":
            return None
        cassette = report_path.removesuffix(".validation.json")
        spec = self.workspace.relative(self.workspace.layout.spec_file(source))
        corpus_dir = self.workspace.layout.corpus_dir(source)
        with tempfile.TemporaryDirectory(prefix="connector-watch-reseed-") as scratch:
            target = Path(scratch) / "corpus"
            shutil.copytree(corpus_dir, target)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "connector_watch.simulator.tools.cassette_to_corpus",
                "--cassette",
                str(self.workspace.absolute(cassette)),
                "--spec",
                str(self.workspace.absolute(spec)),
                "--output",
                str(target),
                cwd=str(self.workspace.root),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if await process.wait() != 0:
                return None
            reseeded = target / Path(corpus).name
            try:
                new_text = reseeded.read_text(encoding="utf-8")
                old_text = self.workspace.absolute(corpus).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
        if new_text == old_text:
            return None
        lines = old_text.count("\n") + 1
        edit = TextEdit(corpus, Range(Position(0, 0), Position(lines, 0)), new_text)
        return CandidateFix(f"re-seed {corpus} from the recorded live records", (edit,))
