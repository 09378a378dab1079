"""The Spark end-to-end stage: every table of a source read through Spark, checked against the corpus.

API (all the engine needs)::

    stage = SparkStage(root, master=None)       # root: the workspace; master: None = local[*]
    info = await stage.start()                  # starts the warm worker; {"sessionStartMs", ...}
    results = await stage.check_source("github")            # one dict per table, see below
    results = await stage.check_source("github", ["issues"]) # only some tables
    await stage.stop()

    async with SparkStage(root) as stage: ...   # start/stop as a context manager

``check_source`` returns, per table::

    {"source": "github", "table": "issues", "outcome": "passed" | "failed" | "error",
     "rows": 22, "expected": 22, "durationMs": 812, "note": None,
     "problems": [problem, ...]}

and each problem carries what blame needs::

    {"kind": "conversion" | "count" | "primary_key" | "nulls" | "error",
     "source", "table", "message",
     "field", "value", "sparkType", "record", "keys",      # conversion (and field/value for the others)
     "reason",                                             # count: "lost" | "future"; primary_key: "duplicate"
     "corpusFile", "recordIndex", "corpusLine",            # where the record sits (line 1-based)
     "schemaFile", "schemaLine",                           # where the schema declares the field
     "connectorFile", "connectorLine", "frames",           # error: the deepest connector frame, the stack
     "lost": [{"key", "corpusFile", "recordIndex", "reason", "explanation"}],   # count/lost
     "diagnostics": [Diagnostic.to_dict(), ...]}           # ready to publish: blamed and located

Paths are relative to ``root``. Keys a kind does not use are absent. The diagnostics
follow blame's rules: a conversion error is the connector's schema (underlined at the
field's declaration, the corpus value as related location) unless the corpus value is
the odd one out among that field's values, then the corpus record is blamed.
:func:`connector_watch.daemon.spark_problems.diagnostics_for` rebuilds them from a problem.

``outcome`` is ``error`` when the read itself failed (conversion errors included: the
Spark job stops at the first bad value), ``failed`` when it completed but the rows
differ from the corpus ground truth, ``passed`` otherwise. Problems that do not
belong to one table (the source's options cannot be found, the connector cannot
list its tables) come back as a single result with ``"table": None``.

What is checked, per table, with the simulator switched on inside every Spark process:

- the read completes, and every value converts to the table's schema;
- **row counts and primary keys** against the corpus ground truth: each corpus record
  that the read's own requests selected (every Spark process writes its simulator
  trace to a scratch directory) comes back exactly once (cdc tables may repeat a key),
  and no record dated after the read started comes back (the same comparison as the
  harness's ``test_read_matches_corpus``);
- no null primary key, and no null where the schema forbids it.

How it runs: :class:`SparkStage` starts ``python -m connector_watch.daemon.spark_worker --serve``
(:mod:`connector_watch.daemon.spark_worker`), a long-lived worker process that keeps one
SparkSession warm (Spark never runs in the daemon's own process) and answers JSON lines on its
stdin/stdout; the checks it runs are :mod:`.spark_ground_truth` and :mod:`.spark_problems`. The workspace root
goes first on the Python workers' ``PYTHONPATH``; Spark reuses those workers, and the
data source re-imports a connector package whose files changed since the worker last
imported it (:func:`connector_watch.sources.spark.runtime.refresh`), so every check reads current code.
Options come from the source's tests (see :mod:`connector_watch.sources.spark.config`). A worker that
dies or times out is reported as a :class:`SparkStageError`; the next ``check_source``
starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_START_TIMEOUT = 180.0
DEFAULT_CHECK_TIMEOUT = 600.0


class SparkStageError(RuntimeError):
    """The stage's worker could not start, died, or did not answer in time."""


# ============================================================================ client (daemon side)


class SparkStage:
    """Async client of the warm Spark worker (see the module docstring)."""

    def __init__(
        self,
        root: str | Path,
        master: str | None = None,
        *,
        python: str = sys.executable,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        conf: Mapping[str, str] | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.master = master
        self.python = python
        self.start_timeout = start_timeout
        self.check_timeout = check_timeout
        self.conf = dict(conf or {})
        # Made at start(), removed by a clean stop(): the worker's working directory and log.
        self._scratch = Path(tempfile.gettempdir()) / f"connector-watch-spark-{os.getpid()}-{id(self):x}"
        self.log_path = Path(log_path) if log_path else self._scratch / "spark-stage.log"
        self.info: dict[str, Any] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._ids = 0
        self._log_file: Any = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> dict[str, Any]:
        """Start the worker and its SparkSession; returns ``{"sessionStartMs", "sparkVersion", "master", "pid"}``."""
        if self.running:
            return self.info
        command = [self.python, "-m", "connector_watch.daemon.spark_worker", "--serve", "--workspace", str(self.root)]
        if self.master:
            command += ["--master", self.master]
        if self.conf:
            command += ["--conf", json.dumps(self.conf)]
        self._scratch.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the worker's lifetime
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # the worker puts the workspace on its Python workers' path itself
        started = time.perf_counter()
        self._process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log_file,
            cwd=str(self._scratch),
            env=env,
            start_new_session=True,  # its own process group: stop() ends the JVM and Python workers too
            limit=64 * 1024 * 1024,
        )
        try:
            message = await asyncio.wait_for(self._read_message(), timeout=self.start_timeout)
        except asyncio.TimeoutError:
            await self._kill()
            raise SparkStageError(
                f"the Spark worker did not start within {self.start_timeout:.0f} s (log: {self.log_path})"
            )
        if message.get("event") != "ready":
            await self._kill()
            raise SparkStageError(
                message.get("error") or f"the Spark worker failed to start (log: {self.log_path})"
            )
        self.info = {
            **{k: v for k, v in message.items() if k != "event"},
            "startMs": round((time.perf_counter() - started) * 1000),
            "pid": self._process.pid,
        }
        return self.info

    async def stop(self) -> None:
        """Stop Spark and the worker (SIGTERM, then SIGKILL, to its own process group)."""
        process = self._process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.write(b'{"op": "stop"}\n')
                await process.stdin.drain()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=20)
        await self._kill()
        await self._reap()
        # A clean stop leaves nothing behind; the log of a worker that failed was named in the
        # SparkStageError already (and stays until the next stop).
        shutil.rmtree(self._scratch, ignore_errors=True)

    async def __aenter__(self) -> SparkStage:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ requests
    async def check_source(self, source: str, tables: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Read every table (or ``tables``) of ``source`` through Spark and check it (see the module docstring)."""
        return await self._request(
            {"op": "check", "source": source, "tables": list(tables) if tables else None}
        )

    async def ping(self) -> dict[str, Any]:
        return await self._request({"op": "ping"}, timeout=30)

    async def _request(self, payload: dict[str, Any], timeout: float | None = None) -> Any:
        async with self._lock:
            if not self.running:
                await self.start()
            process = self._process
            assert process is not None and process.stdin is not None
            self._ids += 1
            request_id = self._ids
            process.stdin.write((json.dumps({**payload, "id": request_id}) + "\n").encode())
            limit = timeout or self.check_timeout
            try:
                await process.stdin.drain()
                message = await asyncio.wait_for(self._read_message(), timeout=limit)
                while isinstance(message.get("id"), int) and message["id"] < request_id:
                    # The answer to a request whose caller was cancelled: the worker finished it anyway.
                    message = await asyncio.wait_for(self._read_message(), timeout=limit)
            except asyncio.TimeoutError:
                await self._kill()
                raise SparkStageError(
                    f"the Spark worker did not answer {payload.get('op')} {payload.get('source') or ''} within "
                    f"{limit:.0f} s; it was stopped (log: {self.log_path})"
                )
            except (ConnectionError, SparkStageError):
                await self._kill()
                raise
            if message.get("id") != request_id:
                await self._kill()
                raise SparkStageError(f"the Spark worker answered out of turn: {message!r}")
            if "error" in message:
                raise SparkStageError(message["error"])
            return message.get("result")

    async def _read_message(self) -> dict[str, Any]:
        process = self._process
        assert process is not None and process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                code = await process.wait()
                raise SparkStageError(f"the Spark worker exited (status {code}); log: {self.log_path}")
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                message = json.loads(text)
            except ValueError:
                continue  # not ours (the protocol only writes JSON lines)
            if isinstance(message, dict):
                return message

    def _leftovers(self) -> list[int]:
        """Live processes started for this stage: they all run in its scratch directory.

        PySpark's Python workers put themselves in their own process groups and leave on
        their own once the JVM is gone; this finds the ones that are slow to.
        """
        found = []
        proc = Path("/proc")
        if not proc.is_dir():
            return found
        scratch = str(self._scratch)
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if (cwd == scratch or cwd.startswith(scratch + "/")) and state != "Z":
                found.append(int(entry.name))
        return found

    async def _reap(self, grace: float = 5.0) -> None:
        deadline = time.monotonic() + grace
        while self._leftovers() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for pid in self._leftovers():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    async def _kill(self) -> None:
        process = self._process
        if process is not None:
            if process.returncode is None:
                for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, sig)
                    try:
                        await asyncio.wait_for(process.wait(), timeout=wait)
                        break
                    except asyncio.TimeoutError:
                        continue
            else:
                # The worker is gone; its JVM and Python workers may not be.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        self._process = None
        if self._log_file is not None:
            with contextlib.suppress(Exception):
                self._log_file.close()
            self._log_file = None


__all__ = ["SparkStage", "SparkStageError"]
