"""A faulthandler stack dump per pytest worker process, for the test a crash or hang stopped.

Read back by :mod:`connector_watch.daemon.pytest_output` to blame a crashed or hung test at the
line its main thread was running.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import threading


class StackDumps:
    """Where this process was when it died: ``<dir>/<pid>.txt`` gets a faulthandler dump of every
    thread on a fatal signal (a native crash), on SIGUSR2 (the pool's watchdog sends it before it
    kills a worker that hung where the per-test timer cannot break in), and when code calls
    ``os._exit``. The first line names the main thread, whose stack is the test's. A process that
    ends normally removes its file."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{os.getpid()}.txt")
        self.file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - open while the process lives
        self.file.write(f"main thread 0x{threading.main_thread().ident or 0:016x}\n")
        self.file.flush()
        faulthandler.enable(file=self.file, all_threads=True)
        faulthandler.register(signal.SIGUSR2, file=self.file, all_threads=True)
        self._real_exit = os._exit
        os._exit = self._exit

    def _exit(self, status: int) -> None:
        with contextlib.suppress(Exception):
            self.file.write(f"os._exit({status}) called\n")
            self.file.flush()
            faulthandler.dump_traceback(file=self.file, all_threads=True)
        self._real_exit(status)

    def close(self) -> None:
        os._exit = self._real_exit
        with contextlib.suppress(Exception):
            faulthandler.unregister(signal.SIGUSR2)
            faulthandler.disable()
            self.file.close()
            os.unlink(self.path)
