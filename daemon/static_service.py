"""The workspace's static checks, kept current for the engine.

Every watched file is checked when the engine starts and again on each save; the findings replace
the file's earlier ones in :class:`~connector_watch.daemon.results.Results`. Specs parsed on the way
are kept (impact compares a spec before and after a save). Schemas no run reported are learnt in the
background by a sandboxed import of each connector (:mod:`connector_watch.daemon.schema_probe`), so
corpora can be linted against them. The checks themselves are pure functions in
:mod:`connector_watch.daemon.static_checks`; this module only reads files and keeps the results.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from connector_watch.daemon.corpus_lint import TableContext
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.index import Index
from connector_watch.daemon.results import Results
from connector_watch.daemon.static_checks import (
    Learnt,
    StaticResult,
    check_file,
    corpus_tables,
    learn_schemas,
    read_for_check,
)
from connector_watch.daemon.workspace import FileKind, Workspace
from connector_watch.simulator.spec import Spec

Log = Callable[[str, str], None]
#: Called with each file checked, its kind and its own findings (the static fixes start from them).
Checked = Callable[[str, FileKind, list[Diagnostic]], None]


class StaticService:
    """Checks files as they are saved (or as an editor holds them) and learns missing schemas."""

    def __init__(
        self,
        workspace: Workspace,
        results: Results,
        index: Callable[[], Index],
        log: Log,
        publish: Callable[[], None],
    ) -> None:
        self.workspace = workspace
        self.results = results
        self._index = index
        self._log = log
        self._publish = publish
        #: The spec of each spec file as last checked (``None`` while it does not parse).
        self.specs: dict[str, Spec | None] = {}
        #: Schemas learnt without a run, for the sources no run reported.
        self.learnt: Learnt = {}
        self.on_checked: Checked | None = None
        self._learning: list[asyncio.Task[None]] = []

    def check_workspace(self) -> None:
        """Every spec, test file and connector, as the engine starts (corpora are checked once
        their tables' schemas are known)."""
        for spec_file in self.workspace.spec_files():
            self.check(spec_file)
        for test_file in self.workspace.test_files():
            self.check(test_file)
        for source in self.workspace.sources():
            connector = self.workspace.relative(self.workspace.layout.connector_file(source))
            if self.workspace.absolute(connector).is_file():
                self.check(connector)

    def check(self, path: str) -> Spec | None:
        """Check ``path`` as it is on disk and store its findings; its spec, when it is one that parses."""
        kind = self.workspace.classify(path)
        try:
            text, unreadable = read_for_check(self.workspace.absolute(path), path, kind.kind)
        except OSError as exc:
            self._log("warning", f"cannot read {path}: {exc}")
            return None
        if unreadable is not None:
            self.results.replace_static(path, {path: [unreadable]})
            if kind.kind == "spec":
                self.specs[path] = None
            return None
        try:
            result = check_file(
                self.workspace,
                path,
                text,
                kind,
                tables_for_corpus=self.tables_for_corpus,
                sent_params=self._index().sent_params,
            )
        except Exception as exc:  # a checker bug must not take the daemon down
            self._log("error", f"static check of {path} failed: {exc!r}")
            return None
        self.results.replace_static(path, result.diagnostics)
        if self.on_checked is not None:
            self.on_checked(path, kind, result.diagnostics.get(path, []))
        if result.spec_checked:
            self.specs[path] = result.spec
            return result.spec
        return None

    def check_text(self, path: str, text: str) -> StaticResult:
        """The static checks of ``path`` as if it held ``text`` (an editor's unsaved buffer): the
        file is not read, nothing is stored or published."""
        return check_file(
            self.workspace, path, text, self.workspace.classify(path), tables_for_corpus=self.tables_for_corpus
        )

    def tables_for_corpus(self, corpus_path: str) -> list[TableContext]:
        """The tables a corpus file feeds, with the schemas known for them."""
        source = self.workspace.classify(corpus_path).source
        spec = (
            self.specs.get(self.workspace.relative(self.workspace.layout.spec_file(source)))
            if source
            else None
        )
        return corpus_tables(self._index(), spec, corpus_path, self.learnt)

    # ------------------------------------------------------------------ schemas no run reported
    def learn_later(self, sources: list[str] | None = None) -> asyncio.Task[None]:
        """In the background, learn the schemas no run reported (``sources``, default every source's)
        by a sandboxed import of each connector, then check those sources' corpora against them."""
        task = asyncio.create_task(self._learn(sources))
        self._learning.append(task)
        return task

    async def learnt_so_far(self) -> None:
        """Until the background learning started so far is done."""
        for task in list(self._learning):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _learn(self, sources: list[str] | None) -> None:
        try:
            learnt, notes = await asyncio.to_thread(learn_schemas, self.workspace, self._index(), sources)
        except Exception as exc:  # learning is a bonus: never take the daemon down
            self._log("warning", f"learning connectors' schemas failed: {exc!r}")
            return
        self.learnt = {**self.learnt, **learnt}
        for note in notes:
            self._log("info", note)
        for source in sorted({source for source, _ in learnt if source}):
            for corpus in self.workspace.corpus_files(source):
                self.check(corpus)
        self._publish()
