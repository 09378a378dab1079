"""One-shot runs spread over cores with pytest-xdist (``connector-watch run``).

A cold CI run has nothing warm to reuse, so it runs one ``pytest -n N`` process
with the event plugin loaded in every xdist worker (``-p connector_watch.daemon.plugin``); the
workers stream to the same socket the warm pool uses, and the engine treats the
events exactly as it treats the pool's.

The pytest process leads its own process group: a worker the watchdog finds hung in a test is
killed alone (xdist replaces it and carries on with the other tests), and whatever the group
still holds when the run ends or is abandoned (a killed worker's children, or the whole run when
the daemon is stopped) is killed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from connector_watch.daemon import plugin
from connector_watch.daemon.workers import (
    BASE_ARGS,
    EVENT_LINE_LIMIT,
    EventHandler,
    Job,
    WorkerPool,
    WorkerStream,
    log_name,
)


class XdistRunner(WorkerPool):
    """Same interface as :class:`WorkerPool`; each job is a fresh ``pytest -n N`` process.

    Files are dealt out whole (``--dist loadfile``): tests of one file that depend on each other's
    effects pass as in a plain run, and each file's class setup runs once.
    """

    #: The engine gives it one job: xdist spreads it over its workers.
    spreads_jobs = True

    def __init__(
        self,
        root: str | Path,
        *,
        workers: int,
        node_timeout: float = 30.0,
        log_dir: str | Path | None = None,
        python: str = sys.executable,
    ) -> None:
        super().__init__(root, node_timeout=node_timeout, log_dir=log_dir, python=python)
        self.workers = workers
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self.killed_path = os.path.join(self._tmp, "killed-nodes")

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_unix_server(
                self._on_connection, path=self.socket_path, limit=EVENT_LINE_LIMIT
            )
            os.chmod(self.socket_path, 0o600)
        if self._watchdog_task is None:
            self._watchdog_task = asyncio.create_task(self._watchdog())

    async def restart(self) -> None:
        """Nothing is kept warm between one-shot runs."""

    async def run(
        self,
        args: list[str],
        on_event: EventHandler,
        env: dict[str, str] | None = None,
        timeout: float | None = None,  # one-shot runs keep the pool's timeout
    ) -> Job:
        job = Job(id=f"x{next(self._ids)}", args=list(args), on_event=on_event, env=dict(env or {}))
        job.log_path = str(self.log_dir / log_name(job.id))
        self._jobs[job.id] = job
        parallel = ["-n", str(self.workers), "--dist", "loadfile"] if self.workers > 1 else ["-p", "no:xdist"]
        command = [
            self.python,
            "-m",
            "pytest",
            *parallel,
            "-p",
            "connector_watch.daemon.plugin",
            "-p",
            "no:testmon",
            *BASE_ARGS,
            *args,
        ]
        child_env = dict(os.environ)
        child_env.update(job.env)
        child_env.update(
            {
                plugin.ENV_EVENTS: self.socket_path,
                plugin.ENV_JOB: job.id,
                plugin.ENV_ROOT: self.root,
                plugin.ENV_TIMEOUT: str(self.node_timeout),
                plugin.ENV_KILLED: self.killed_path,
                "SPARK_LOCAL_IP": "127.0.0.1",
                "PYTHONPATH": self.root + os.pathsep + os.environ.get("PYTHONPATH", ""),
            }
        )
        process: asyncio.subprocess.Process | None = None
        try:
            with open(job.log_path, "wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *command,
                    cwd=self.root,
                    env=child_env,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            self._processes[job.id] = process
            job.pid = process.pid
            job.status = await process.wait()
            # Events still in flight; a run that never connected (pytest failed early) is not waited for.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(job.stream_closed.wait(), timeout=5.0 if job.streams else 0.5)
            job.done.set()
        finally:
            self._jobs.pop(job.id, None)
            self._processes.pop(job.id, None)
            if process is not None:
                _kill_group(process.pid)  # stragglers, or the whole run when this wait was cancelled
        return job

    async def _kill_stalled_worker(self, job: Job, stream: WorkerStream) -> None:
        """One xdist worker hung in a test: kill that worker; xdist replaces it and goes on. xdist
        gives a crashed worker's unfinished file (``loadfile``) to the next one, hung test
        included: the plugin there reads the killed tests from ``killed_path`` and passes over them."""
        if stream.pid is None:
            await self._kill_job(job)
            return
        if stream.current_node:
            with open(self.killed_path, "a", encoding="utf-8") as killed:
                killed.write(stream.current_node + "\n")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(stream.pid, signal.SIGKILL)

    async def _signal(self, job: Job, sig: int) -> None:
        process = self._processes.get(job.id)
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)

    async def close(self) -> None:
        for job in list(self._jobs.values()):
            await self._signal(job, signal.SIGKILL)
        await super().close()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
