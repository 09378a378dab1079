"""``connector-watch lsp`` on stdio: the protocol's own copies of stdin and stdout, the message loop
(pygls' ``run_async``), and stopping the engine however the session ends (``exit``, EOF, SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any, BinaryIO

from connector_watch.daemon.lsp import LspFront
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)


def _protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    """The protocol's own copies of stdin and stdout. Then fd 0 reads /dev/null and fd 1 writes to
    stderr: nothing else in this process, nor a child it starts, can write into the protocol."""
    sys.stdout.flush()
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return protocol_in, protocol_out


class _PipeReader:
    """pygls' reader interface over an asyncio stream: no thread is left blocked reading when the
    server stops (the thread-pool reader would keep the process alive until the client closes)."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream

    async def readline(self) -> bytes:
        return await self.stream.readline()

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


async def _reader(stdin: BinaryIO, server: LanguageServer) -> Any:
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=1 << 20)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
    except ValueError:  # a regular file: read it in a thread
        return StdinAsyncReader(stdin, server.thread_pool)
    return _PipeReader(stream)


async def serve(front: LspFront, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Speak LSP on these streams until the client exits or goes away, then stop the engine."""
    server = front.server
    server.protocol.set_writer(StdoutWriter(stdout))
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await run_async(
            stop_event=threading.Event(),
            reader=await _reader(stdin, server),
            protocol=server.protocol,
            logger=logger,
            error_handler=server.report_server_error,
        )
    finally:
        await front.close()


def lsp_command(args: Any) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="connector-watch lsp: %(message)s")
    stdin, stdout = _protocol_streams()
    front = LspFront(args)
    try:
        asyncio.run(serve(front, stdin, stdout))
    except SystemExit as exc:  # ``exit``: 0 after ``shutdown``, 1 without
        return exc.code if isinstance(exc.code, int) else 0
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    return 0


__all__ = ["lsp_command", "serve"]
