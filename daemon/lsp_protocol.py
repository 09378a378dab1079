"""pygls pieces the language server needs: a protocol that answers a request it cannot read, and
one run's work-done progress (created by the server, then begin, reports, end in order)."""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

TITLE = "connector-watch"

_ANSWERED = object()  # a request already answered with an error while it was being read


class Protocol(LanguageServerProtocol):
    """pygls' protocol, answering a request whose params it cannot read with ``-32602`` (pygls
    logs it and never answers, leaving the client waiting)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            request_id = data.get("id")
            if "method" not in data or not isinstance(request_id, (int, str)) or isinstance(request_id, bool):
                raise
            cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
            error = type(exc)(f"{exc.message} for {data['method']}{cause}")
            self._send_response(request_id, error=error.to_response_error())
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is not _ANSWERED:
            super().handle_message(message)


class RunProgress:
    """One run's work-done progress: the server creates the token, then sends begin, reports and
    end in order. Until the client answers the creation only the latest report and the end wait."""

    def __init__(self, server: LanguageServer, token: str, message: str) -> None:
        self.server = server
        self.token = token
        self.message = message
        self._state = "asked"  # asked | ready | refused
        self._report: types.WorkDoneProgressReport | None = None
        self._end: str | None = None
        created = asyncio.ensure_future(server.work_done_progress.create_async(token))
        created.add_done_callback(self._created)

    def _created(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._state = "refused"
            return
        self._state = "ready"
        self.server.work_done_progress.begin(
            self.token, types.WorkDoneProgressBegin(title=TITLE, message=self.message, percentage=0)
        )
        if self._report is not None:
            self.server.work_done_progress.report(self.token, self._report)
        if self._end is not None:
            self.end(self._end)

    def report(self, done: int, total: int) -> None:
        value = types.WorkDoneProgressReport(
            message=f"{done}/{total}", percentage=int(100 * done / total) if total else None
        )
        if self._state == "ready":
            self.server.work_done_progress.report(self.token, value)
        else:
            self._report = value

    def end(self, message: str) -> None:
        if self._state == "ready":
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(self.token, None)
        else:
            self._end = message
