"""The warm worker pool, seen from the engine.

One zygote process (:mod:`connector_watch.daemon.zygote`) holds the heavy libraries in memory;
each job is a forked child running ``pytest`` on some node IDs. Jobs stream
their events back over a Unix socket the pool listens on. The pool:

- starts the zygote and waits until it has preloaded;
- runs jobs concurrently (the engine decides how many, one per core);
- cancels a job with SIGINT (pytest still runs teardown), then SIGKILL after a
  grace period;
- kills a worker that stops talking for longer than the hard timeout: inside a test (per event
  stream, so one xdist worker's progress does not hide another's hang), and while importing or
  collecting (no test running and nothing heard from the job);
- notices a child that dies without finishing (crash, SIGKILL) and a zygote that
  dies, and restarts the zygote when asked (a preloaded library changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.daemon.zygote import NO_SHARED_PRELOAD

#: One event is one line; a collection of hundreds of tests or a long trace is a long line.
EVENT_LINE_LIMIT = 1 << 28
EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]

#: Arguments every run passes to pytest.
BASE_ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:unraisableexception",
    "-p",
    "no:threadexception",
    "-q",
    "--no-header",
    # A test file that cannot be imported must not keep the others from running, whatever the
    # workspace's own pytest configuration says (the public repository sets nothing).
    "--continue-on-collection-errors",
    "-rN",
)


LOG_SLOTS = 32


def log_name(job_id: str) -> str:
    """Job logs rotate through a few files: a long session does not fill the disk."""
    digits = "".join(c for c in job_id if c.isdigit()) or "0"
    return f"job-{int(digits) % LOG_SLOTS:02d}.log"


@dataclass
class WorkerStream:
    """One event connection: one pytest process (the warm child, or one xdist worker)."""

    pid: int | None
    last_event_at: float = field(default_factory=time.monotonic)
    current_node: str | None = None
    collecting: str | None = None  # the test file being imported / collected
    open: bool = True
    killed: bool = False  # by the watchdog

    def note(self, event: dict[str, Any]) -> None:
        self.last_event_at = time.monotonic()
        kind = event.get("event")
        if kind == "test_started":
            self.current_node = event.get("nodeId")
        elif kind == "test_finished":
            self.current_node = None
        elif kind == "collect_started":
            self.collecting = event.get("path")
        elif kind in ("collect_finished", "collected"):
            self.collecting = None


@dataclass
class Job:
    id: str
    args: list[str]
    on_event: EventHandler
    env: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    status: int | None = None
    cancelled: bool = False
    hard_killed: bool = False  # the watchdog killed the whole job
    last_event_at: float = field(default_factory=time.monotonic)  # any stream, or the job's start
    streams: list[WorkerStream] = field(default_factory=list)
    #: Nodes whose worker the watchdog killed in the middle of the test.
    timed_out_nodes: list[str] = field(default_factory=list)
    #: Nodes whose worker's stream ended in the middle of the test (it died, or was killed).
    lost_nodes: list[str] = field(default_factory=list)
    #: Set when the watchdog killed the job while no test was running (a hang at import or
    #: collection): the test files being collected then (empty when none had started).
    stalled_collecting: list[str] | None = None
    #: Lost nodes → the stack dump their worker left (a native crash, ``os._exit``, or the dump
    #: the watchdog asked for before killing it): where the test was when its worker died.
    stacks: dict[str, str] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)
    finisher: asyncio.Task[None] | None = None
    log_path: str | None = None

    def open_stream(self, pid: int | None) -> WorkerStream:
        stream = WorkerStream(pid)
        self.streams.append(stream)
        self.stream_closed.clear()
        self.last_event_at = stream.last_event_at
        return stream

    def close_stream(self, stream: WorkerStream) -> None:
        stream.open = False
        if stream.current_node is not None:
            self.lost_nodes.append(stream.current_node)
        if not any(s.open for s in self.streams):
            self.stream_closed.set()


def stalled_in_test(job: Job, now: float, limit: float) -> list[WorkerStream]:
    """Streams inside a test that have said nothing for longer than ``limit``."""
    return [
        s
        for s in job.streams
        if s.open and not s.killed and s.current_node is not None and now - s.last_event_at > limit
    ]


def stalled_outside_tests(job: Job, now: float, limit: float) -> bool:
    """No test running and nothing heard from the job for longer than ``limit``: a hang while
    pytest starts, imports a test module or collects."""
    running = any(s.open and s.current_node is not None for s in job.streams)
    return not running and now - job.last_event_at > limit


class WorkerPool:
    def __init__(
        self,
        root: str | Path,
        *,
        node_timeout: float = 30.0,
        hard_timeout_margin: float = 15.0,
        python: str = sys.executable,
        log_dir: str | Path | None = None,
        import_paths: list[str] | None = None,
        preload_shared: bool = True,
    ) -> None:
        self.root = str(Path(root).resolve())
        #: Import the workspace's shared code in the zygote (its jobs then only import what they
        #: test). Off for an overlay: its trials swap those very files, and a module the zygote
        #: imported would stay the version it imported, whatever a trial writes.
        self.preload_shared = preload_shared
        #: Put before the root on the workers' Python path (an overlay's ``src/``, say).
        self.import_paths = list(import_paths or [])
        self.node_timeout = node_timeout
        self.hard_timeout = node_timeout + hard_timeout_margin
        self.python = python
        self._tmp = tempfile.mkdtemp(prefix="connector-watch-")
        self.socket_path = os.path.join(self._tmp, "events.sock")
        self.log_dir = Path(log_dir) if log_dir else Path(self._tmp)
        self.log_dir.mkdir(parents=True, exist_ok=True)  # a job whose log cannot be opened runs nothing
        self.stacks_dir = self.log_dir / "stacks"
        self.preloaded: list[str] = []
        self.import_ms = 0.0
        self.restarts = 0
        self._zygote: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._server: asyncio.base_events.Server | None = None
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._reader_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._zygote_lock = asyncio.Lock()
        self._stopping = False
        self._revival: asyncio.Task[None] | None = None
        #: ``report(level, message)``: a failure of the pool (the zygote died) and its recovery.
        self.report: Callable[[str, str], None] = lambda level, message: None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_unix_server(
                self._on_connection, path=self.socket_path, limit=EVENT_LINE_LIMIT
            )
            os.chmod(self.socket_path, 0o600)
        await self._start_zygote()
        if self._watchdog_task is None:
            self._watchdog_task = asyncio.create_task(self._watchdog())

    async def _start_zygote(self) -> None:
        async with self._zygote_lock:
            if self._zygote is not None and self._zygote.returncode is None:
                return
            loop = asyncio.get_running_loop()
            self._ready = loop.create_future()
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([*self.import_paths, self.root, env.get("PYTHONPATH", "")])
            env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            if not self.preload_shared:
                env[NO_SHARED_PRELOAD] = "1"
            self._zygote = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "connector_watch.daemon.zygote",
                self.root,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=EVENT_LINE_LIMIT,
                stderr=asyncio.subprocess.DEVNULL,
                cwd=self.root,
                env=env,
            )
            self._reader_task = asyncio.create_task(self._read_zygote(self._zygote))
            ready = await asyncio.wait_for(self._ready, timeout=120)
            self.preloaded = ready.get("preloaded", [])
            self.import_ms = ready.get("importMs", 0.0)

    async def restart(self) -> None:
        """Replace the zygote (after a preloaded library changed). Running jobs are killed."""
        self.restarts += 1
        await self._stop_zygote()
        await self._start_zygote()

    async def _stop_zygote(self) -> None:
        zygote = self._zygote
        if zygote is None:
            return
        self._stopping = True
        for job in list(self._jobs.values()):
            job.cancelled = True
            await self._signal(job, signal.SIGKILL)
        if zygote.returncode is None:
            with contextlib.suppress(ProcessLookupError, BrokenPipeError, ConnectionResetError):
                zygote.stdin.write(b'{"cmd": "shutdown"}\n')  # type: ignore[union-attr]
                await zygote.stdin.drain()  # type: ignore[union-attr]
            try:
                await asyncio.wait_for(zygote.wait(), timeout=5)
            except asyncio.TimeoutError:
                zygote.kill()
                await zygote.wait()
        self._zygote = None
        self._stopping = False

    async def close(self) -> None:
        if self._watchdog_task:
            self._watchdog_task.cancel()
        if self._revival is not None:
            self._revival.cancel()
        await self._stop_zygote()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
        with contextlib.suppress(OSError):
            os.rmdir(self._tmp)

    @property
    def zygote_pid(self) -> int | None:
        return self._zygote.pid if self._zygote else None

    # ------------------------------------------------------------------ jobs
    def jobs(self) -> list[Job]:
        """Jobs whose child is still running."""
        return list(self._jobs.values())

    async def run(
        self,
        args: list[str],
        on_event: EventHandler,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Run pytest with ``args`` in a fresh child; returns when the child has exited.
        ``timeout``: the per-test timeout of this job (default: the pool's)."""
        if self._zygote is None or self._zygote.returncode is not None:
            await self._start_zygote()
        job = Job(id=f"j{next(self._ids)}", args=[*BASE_ARGS, *args], on_event=on_event, env=dict(env or {}))
        job.log_path = str(self.log_dir / log_name(job.id))
        self._jobs[job.id] = job
        command = {
            "cmd": "run",
            "job": job.id,
            "args": job.args,
            "events": self.socket_path,
            "env": job.env,
            "timeout": timeout or self.node_timeout,
            "log": job.log_path,
            "stacks": str(self.stacks_dir),
        }
        try:
            assert self._zygote is not None and self._zygote.stdin is not None
            self._zygote.stdin.write((json.dumps(command) + "\n").encode())
            await self._zygote.stdin.drain()
            await job.done.wait()
        except asyncio.CancelledError:
            # The caller gave up on it (a newer save made an overlay trial moot): its child must
            # not run on, unwatched, using a core and writing bytecode while the next trial swaps
            # files. Only this job: another may already be running in the same pool.
            if not job.done.is_set():
                job.cancelled = True
                with contextlib.suppress(Exception):
                    await self._signal(job, signal.SIGKILL)
            raise
        finally:
            self._jobs.pop(job.id, None)
        return job

    async def cancel(self, job: Job, grace: float = 3.0) -> None:
        """SIGINT (teardown runs), then SIGKILL if the child is still there after ``grace``."""
        job.cancelled = True
        await self._signal(job, signal.SIGINT)
        try:
            await asyncio.wait_for(job.done.wait(), timeout=grace)
        except asyncio.TimeoutError:
            await self._signal(job, signal.SIGKILL)

    async def kill(self, job: Job) -> None:
        await self._signal(job, signal.SIGKILL)

    async def _signal(self, job: Job, sig: int) -> None:
        if job.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, sig)
            return
        if self._zygote is not None and self._zygote.stdin is not None and self._zygote.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._zygote.stdin.write(
                    (json.dumps({"cmd": "signal", "job": job.id, "signal": int(sig)}) + "\n").encode()
                )
                await self._zygote.stdin.drain()

    # ------------------------------------------------------------------ plumbing
    async def _read_zygote(self, zygote: asyncio.subprocess.Process) -> None:
        assert zygote.stdout is not None
        while True:
            line = await zygote.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "ready" and self._ready is not None and not self._ready.done():
                self._ready.set_result(event)
            elif kind == "forked":
                job = self._jobs.get(event.get("job"))
                if job is not None:
                    job.pid = event["pid"]
            elif kind == "exited":
                job = self._jobs.get(event.get("job"))
                if job is not None:
                    job.status = event.get("status")
                    job.finisher = asyncio.create_task(self._finish(job))
        # The zygote is gone: every job it owned is over.
        await zygote.wait()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeError("the worker zygote exited before it was ready"))
        for job in list(self._jobs.values()):
            if job.status is None:
                job.status = -signal.SIGKILL
            job.done.set()
        if zygote is self._zygote and not self._stopping and self._revival is None:
            self.report(
                "error",
                f"the warm worker process (pid {zygote.pid}) died with status {zygote.returncode}: starting a new one",
            )
            self._revival = asyncio.create_task(self._revive())

    async def _revive(self) -> None:
        """Start a new zygote after one died (a run also starts one if it needs it first)."""
        try:
            await self._start_zygote()
            self.report("info", f"the warm worker process is running again (pid {self.zygote_pid})")
        except Exception as exc:
            self.report("error", f"cannot start a new warm worker process: {exc!r}; the next run tries again")
        finally:
            self._revival = None

    async def _finish(self, job: Job) -> None:
        # Deliver everything the child wrote before it exited, then release the waiter.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(job.stream_closed.wait(), timeout=2.0)
        job.done.set()

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        job: Job | None = None
        stream: WorkerStream | None = None
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "hello" and stream is None:
                    job = self._jobs.get(event.get("job"))
                    if job is not None:
                        stream = job.open_stream(event.get("pid"))
                        if job.pid is None:
                            job.pid = event.get("pid")
                    continue
                if job is None or stream is None:
                    continue
                stream.note(event)
                job.last_event_at = stream.last_event_at
                result = job.on_event(event)
                if asyncio.iscoroutine(result):
                    await result
        finally:
            if job is not None and stream is not None:
                self._take_stack(job, stream)
                job.close_stream(stream)
            writer.close()

    def _take_stack(self, job: Job, stream: WorkerStream) -> None:
        """A worker's stack dump file outlives it only when it died abnormally: keep the dump for
        the test it was running, and remove the file."""
        if stream.pid is None:
            return
        path = self.stacks_dir / f"{stream.pid}.txt"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        if stream.current_node is not None:
            job.stacks[stream.current_node] = text
        with contextlib.suppress(OSError):
            path.unlink()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for job in list(self._jobs.values()):
                await self._enforce_hard_timeout(job, time.monotonic())

    async def _enforce_hard_timeout(self, job: Job, now: float) -> None:
        if job.hard_killed:
            return
        for stream in stalled_in_test(job, now, self.hard_timeout):
            assert stream.current_node is not None
            job.timed_out_nodes.append(stream.current_node)
            stream.killed = True
            job.last_event_at = now  # what is left of the job gets a full window to go on
            await self._dump_stacks([stream])
            await self._kill_stalled_worker(job, stream)
        if not job.hard_killed and stalled_outside_tests(job, now, self.hard_timeout):
            job.stalled_collecting = sorted({s.collecting for s in job.streams if s.open and s.collecting})
            await self._dump_stacks([s for s in job.streams if s.open])
            await self._kill_job(job)

    async def _dump_stacks(self, streams: list[WorkerStream], wait: float = 0.3) -> None:
        """Ask hung workers where they are (SIGUSR2: faulthandler writes every thread's stack,
        even while a C call holds the interpreter) before they are killed."""
        asked = False
        for stream in streams:
            if stream.pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(stream.pid, signal.SIGUSR2)
                    asked = True
        if asked:
            await asyncio.sleep(wait)

    async def _kill_stalled_worker(self, job: Job, stream: WorkerStream) -> None:
        """A warm job is one pytest process: kill its group (with whatever the test started)."""
        await self._kill_job(job)

    async def _kill_job(self, job: Job) -> None:
        job.hard_killed = True
        await self.kill(job)
