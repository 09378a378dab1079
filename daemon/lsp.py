"""``connector-watch lsp``: the engine behind the Language Server Protocol, over stdio (pygls).

Another front end of the one :class:`~connector_watch.daemon.engine.Engine` (``watch`` and
``serve`` are the others): it subscribes to the engine's events and turns them into LSP messages.

- ``textDocument/publishDiagnostics``: every file the engine publishes (static findings, blamed
  test failures, drift; republished when a causal verdict revises a node). An unsaved buffer's
  static checks (``didChange``, debounced) stand in for the file's saved state until the buffer
  matches the file again; reruns follow saved files, which the engine's watcher sees.
- ``textDocument/codeAction``: one quick fix per *verified* fix of the diagnostics in range
  (:mod:`~connector_watch.daemon.lsp_render`); the editor applies it, the daemon never writes.
- ``textDocument/hover``: who reads a spec endpoint or corpus record (:mod:`~connector_watch.daemon.lsp_hover`).
- ``workspace/executeCommand``: ``connector-watch.rerunAll``, ``connector-watch.rerunFailed``.
- ``$/progress`` (work-done progress the server creates) from each run's start to its end, and
  ``window/logMessage`` for what the engine logs.

The workspace is ``--workspace`` or the client's root (``initialize``); the engine starts on
``initialized`` and stops on ``shutdown``, on ``exit``, when the client closes stdin, or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_watch.daemon import events as ev
from connector_watch.daemon import lsp_hover, lsp_render
from connector_watch.daemon.diagnostics import Diagnostic, Position, Range
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.lsp_protocol import Protocol, RunProgress
from connector_watch.daemon.options import engine_options
from connector_watch.daemon.utf16 import code_point_column, editor_lines, utf16_column
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

NAME = "connector-watch"
VERSION = "0.1.0"
RERUN_ALL = "connector-watch.rerunAll"
RERUN_FAILED = "connector-watch.rerunFailed"
#: Quiet time after the last keystroke before an unsaved buffer is checked.
CHANGE_DEBOUNCE = 0.12
LOG_TYPES = {"error": 1, "warning": 2, "info": 3, "debug": 4}

logger = logging.getLogger(__name__)
_converter = get_converter()


class _Server(LanguageServer):
    """pygls' server, reporting its own errors (a message it cannot parse, a handler that failed
    outside a request) through ``window/logMessage`` rather than pop-ups."""

    front: LspFront | None = None

    def report_server_error(self, error: Exception, source: Any) -> None:
        if self.front is not None:
            self.front.log_to_client("error", f"{NAME}: {type(error).__name__}: {error}")


class LspFront:
    def __init__(self, args: Any) -> None:
        self.args = args
        self.server = _Server(NAME, VERSION, protocol_cls=Protocol)
        self.server.front = self
        self.engine: Engine | None = None
        #: Unsaved buffers' static findings: buffer path → file → findings (they stand in for the
        #: checks of the saved file while the buffer differs from it).
        self.buffers: dict[str, dict[str, list[Diagnostic]]] = {}
        self.hits = lsp_hover.LastHits()
        self._checks: dict[str, asyncio.TimerHandle] = {}
        self._uris: dict[str, str] = {}  # workspace path → the URI the client opened it as
        self._progress: dict[int, RunProgress] = {}
        self._start: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closing = False
        self._reporting = False
        _register(self)

    # ------------------------------------------------------------------ lifecycle
    def on_initialize(self, params: types.InitializeParams) -> None:
        root = self._root(params)
        if not root.is_dir():
            raise ValueError(f"workspace {root} is not a directory")
        self.args.workspace = root
        self.engine = Engine(root, engine_options(self.args))
        self._unsubscribe = self.engine.subscribe(self.on_event)

    def _root(self, params: types.InitializeParams) -> Path:
        if self.args.workspace is not None:
            return Path(self.args.workspace).resolve()
        uri = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
        if uri:
            return Path(to_fs_path(uri) or ".").resolve()
        if params.root_path:
            return Path(params.root_path).resolve()
        self.log_to_client("warning", f"{NAME}: the client named no workspace; using {Path.cwd()}")
        return Path.cwd().resolve()

    def on_initialized(self, params: types.InitializedParams) -> None:
        if self.engine is not None and self._start is None:
            self._start = asyncio.ensure_future(self._start_engine(self.engine))

    async def _start_engine(self, engine: Engine) -> None:
        try:
            await engine.start(initial_run=not self.args.no_initial_run)
        except Exception as exc:
            self.log_to_client("error", f"{NAME} could not start its workers: {exc!r}")

    async def close(self) -> None:
        """Stop the engine (its workers, watcher and overlay); nothing is sent after this."""
        if self._closing:
            return
        self._closing = True
        for handle in self._checks.values():
            handle.cancel()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.engine is not None and self._start is not None:
            with contextlib.suppress(BaseException):
                await self._start
            await self.engine.stop()

    # ------------------------------------------------------------------ engine events → LSP
    def on_event(self, event: ev.Event) -> None:
        if self._closing:
            return
        if isinstance(event, ev.DiagnosticsPublished):
            overlaid = any(event.path in found for found in self.buffers.values())
            self.publish(event.path, None if overlaid else event.diagnostics)
        elif isinstance(event, ev.FilesChanged):
            for path in event.paths:
                if path in self.buffers:  # the engine checked the saved file: does the buffer still differ?
                    asyncio.get_running_loop().call_soon(self._check_buffer, path)
        elif isinstance(event, ev.TestFinished):
            self._remember_hits(event)
        elif isinstance(event, ev.LogMessage):
            self.log_to_client(event.level, event.message)
        elif isinstance(event, ev.RunStarted):
            self._run_started(event)
        elif isinstance(event, ev.Progress):
            progress = self._progress.get(event.run_id)
            if progress is not None:
                progress.report(event.done, event.total)
        elif isinstance(event, ev.RunFinished):
            progress = self._progress.pop(event.run_id, None)
            if progress is not None:
                progress.end(_counts_text(event.counts, event.cancelled))

    def publish(self, path: str, diagnostics: list[Diagnostic] | None = None) -> None:
        """Send every diagnostic of one file (the engine's, with unsaved buffers' static findings)."""
        engine = self._engine()
        if diagnostics is None:
            diagnostics = engine.results.diagnostics_of(path, self.buffers)
        in_utf16 = [engine.wire.positions.diagnostic(d) for d in diagnostics]  # as the client counts
        params = lsp_render.publish_params(engine.workspace.uri(path), in_utf16, engine.workspace.uri)
        self.server.text_document_publish_diagnostics(
            _converter.structure(params, types.PublishDiagnosticsParams)
        )

    def log_to_client(self, level: str, message: str) -> None:
        if self._closing or self._reporting:
            return
        self._reporting = True  # a failure to send must not report itself forever
        try:
            self.server.window_log_message(
                types.LogMessageParams(types.MessageType(LOG_TYPES.get(level, 3)), message)
            )
        except Exception as exc:
            logger.warning("cannot send a log message to the client: %r", exc)
        finally:
            self._reporting = False

    def _remember_hits(self, event: ev.TestFinished) -> None:
        engine = self._engine()
        record = engine.index.nodes.get(event.node_id)
        if record is not None:
            self.hits.node_finished(record, event.run_id, self._spec_of, time.time())

    def _spec_of(self, source: str | None) -> str | None:
        workspace = self._engine().workspace
        return workspace.relative(workspace.layout.spec_file(source)) if source else None

    # ------------------------------------------------------------------ progress
    def _run_started(self, event: ev.RunStarted) -> None:
        capabilities = self.server.client_capabilities
        if not (capabilities and capabilities.window and capabilities.window.work_done_progress):
            return
        count = len(event.nodes)  # empty when whole test files run (at startup, before collection)
        message = f"{count} test{'s' if count != 1 else ''} ({event.trigger})" if count else event.trigger
        self._progress[event.run_id] = RunProgress(self.server, f"{NAME}/run/{event.run_id}", message)

    # ------------------------------------------------------------------ unsaved buffers
    def on_change(self, params: types.DidChangeTextDocumentParams) -> None:
        path = self._path(params.text_document.uri)
        if path is None:
            return
        self._uris[path] = params.text_document.uri  # the client's spelling of it
        loop = asyncio.get_running_loop()
        previous = self._checks.pop(path, None)
        if previous is not None:
            previous.cancel()
        self._checks[path] = loop.call_later(CHANGE_DEBOUNCE, self._check_buffer, path)

    def on_open(self, params: types.DidOpenTextDocumentParams) -> None:
        path = self._path(params.text_document.uri)
        if path is not None:
            self._uris[path] = params.text_document.uri
        if path is not None and self._differs_from_disk(path, params.text_document.text):
            self._check_buffer(path)

    def on_save_or_close(self, uri: str, *, closed: bool) -> None:
        """A saved buffer is checked again (its overlay goes once the file matches it; the watcher
        reruns what the save affects); a closed one's unsaved text is gone."""
        path = self._path(uri)
        if path is None:
            return
        if closed:
            handle = self._checks.pop(path, None)
            if handle is not None:
                handle.cancel()
            self._uris.pop(path, None)
            self._drop_buffer(path)
        elif path in self.buffers:
            self._check_buffer(path)

    def _check_buffer(self, path: str) -> None:
        """Run the static checks on the buffer's text (not the file); publish what changes."""
        self._checks.pop(path, None)
        if self._closing or self.engine is None:
            return
        uri = self._uris.get(path) or self._engine().workspace.uri(path)
        document = self.server.workspace.get_text_document(uri)
        try:
            text = document.source
        except OSError:
            return
        if not self._differs_from_disk(path, text):
            self._drop_buffer(path)
            return
        try:
            result = self._engine().check_text(path, text)
        except Exception as exc:  # a checker bug must not take the server down
            self.log_to_client("error", f"static check of the unsaved {path} failed: {exc!r}")
            return
        touched = set(self.buffers.get(path, {})) | set(result.diagnostics)
        self.buffers[path] = result.diagnostics
        for file in sorted(touched):
            self.publish(file)

    def _drop_buffer(self, path: str) -> None:
        found = self.buffers.pop(path, None)
        for file in sorted(found or {}):
            self.publish(file)

    def _differs_from_disk(self, path: str, text: str) -> bool:
        try:  # bytes: reading text would turn \r\n into \n, and every CRLF file would differ
            return self._engine().workspace.absolute(path).read_bytes() != text.encode("utf-8")
        except (OSError, ValueError):
            return True

    def _as_the_client_has_it(self, path: str) -> bytes | None:
        """The bytes of ``path`` as the client holds it: its open buffer, else the file on disk."""
        uri = self._uris.get(path)
        if uri is not None:
            try:
                return self.server.workspace.get_text_document(uri).source.encode("utf-8")
            except Exception:  # not open after all: the file on disk
                pass
        try:
            return self._engine().workspace.absolute(path).read_bytes()
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ requests
    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        path = self._path(params.text_document.uri)
        if path is None:
            return None
        engine = self._engine()
        wanted = _range(params.range)
        # Ours that overlap the range, or that the client names (Neovim sends the cursor's position
        # and the line's diagnostics): matched by place and message, never taken from the client.
        named = {(d.range.start.line, d.range.start.character, d.message) for d in params.context.diagnostics}
        # A fix applies only to the contents it was verified against: not to a buffer with unsaved
        # edits, nor to a file saved since (once applied and saved, it stays published until the
        # rerun: offered again, it would apply twice).
        current = [
            dataclasses.replace(d, fixes=[f for f in d.fixes if f.applies_to(self._as_the_client_has_it)])
            if d.fixes
            else d
            for d in engine.results.diagnostics_of(path, self.buffers)
        ]
        diagnostics = [
            d
            for d in map(engine.wire.positions.diagnostic, current)
            if d.fixes
            and (
                lsp_render.overlaps(d.location.range, wanted)
                or (d.location.range.start.line, d.location.range.start.character, d.message) in named
            )
        ]
        only = [str(kind) for kind in params.context.only] if params.context.only is not None else None
        actions = lsp_render.quick_fixes(
            diagnostics, engine.workspace.uri, engine.workspace.inside, only=only
        )
        return [_converter.structure(a, types.CodeAction) for a in actions] or None

    async def hover(self, params: types.HoverParams) -> types.Hover | None:
        path = self._path(params.text_document.uri)
        if path is None:
            return None
        engine = self._engine()
        kind = engine.workspace.classify(path)
        if kind.kind not in ("spec", "corpus"):
            return None
        try:
            text = self.server.workspace.get_text_document(params.text_document.uri).source
        except OSError:
            return None
        lines = editor_lines(text)
        line = params.position.line
        in_line = lines[line] if 0 <= line < len(lines) else ""
        character = code_point_column(in_line, params.position.character)  # the client counts UTF-16
        if kind.kind == "spec":
            endpoint = lsp_hover.endpoint_at(text, path, line)
            if endpoint is None:
                return None
            nodes, files = lsp_hover.endpoint_readers(engine.index, path, endpoint.index, self._spec_of)
            hit = self.hits.endpoints.get((path, endpoint.index))
            hover = lsp_hover.endpoint_hover(endpoint, path, nodes, files, hit)
        else:
            # Parsed off the event loop: a corpus of megabytes takes seconds in pure Python, and
            # the engine (runs, other requests) shares this loop.
            record = await asyncio.to_thread(lsp_hover.record_at, text, line, character)
            if record is None:
                return None
            tables = [
                (t.source, t.table, list((t.metadata or {}).get("primary_keys") or []))
                for t in engine.index.table_for_corpus(path)
            ]
            nodes, files = lsp_hover.corpus_readers(engine.index, path)
            hover = lsp_hover.record_hover(record, path, tables, nodes, files, self.hits.corpora.get(path))
            for end in ("start", "end"):  # back in UTF-16, as the client counts
                at = hover["range"][end]
                if 0 <= at["line"] < len(lines):
                    at["character"] = utf16_column(lines[at["line"]], at["character"])
        return _converter.structure(hover, types.Hover)

    def rerun(self, failed: bool) -> dict[str, Any]:
        engine = self._engine()
        if failed:
            nodes = engine.index.failing() + sorted(engine.results.collect_errors)
            engine.rerun_failed()
            return {"accepted": bool(nodes), "nodeIds": nodes}
        engine.rerun_all()
        return {"accepted": True, "nodeIds": sorted(engine.index.nodes)}

    # ------------------------------------------------------------------ helpers
    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("the server is not initialized")
        return self.engine

    def _path(self, uri: str) -> str | None:
        """A client's URI as a workspace path; None for anything outside the workspace."""
        fs_path = to_fs_path(uri) if uri.startswith("file:") else None
        if fs_path is None:
            return None
        try:
            return self._engine().workspace.inside(fs_path)
        except ValueError:
            return None


def _counts_text(counts: dict[str, int], cancelled: bool) -> str:
    text = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n) or "nothing ran"
    return f"cancelled ({text})" if cancelled else text


def _range(value: types.Range) -> Range:
    return Range(
        Position(value.start.line, value.start.character), Position(value.end.line, value.end.character)
    )


def _register(front: LspFront) -> None:
    server = front.server

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        front.on_initialize(params)

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        front.on_initialized(params)

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: Any) -> None:
        await front.close()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        front.on_open(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        front.on_change(params)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        front.on_save_or_close(params.text_document.uri, closed=False)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        front.on_save_or_close(params.text_document.uri, closed=True)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return front.code_actions(params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(params: types.HoverParams) -> types.Hover | None:
        return await front.hover(params)

    @server.command(RERUN_ALL)
    def rerun_all(*args: Any) -> dict[str, Any]:
        return front.rerun(failed=False)

    @server.command(RERUN_FAILED)
    def rerun_failed(*args: Any) -> dict[str, Any]:
        return front.rerun(failed=True)


__all__ = ["RERUN_ALL", "RERUN_FAILED", "LspFront"]
