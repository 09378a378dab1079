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
:func:`diagnostics_for` rebuilds them from a problem.

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

How it runs: :class:`SparkStage` starts ``python -m connector_watch.daemon.spark_stage --serve``, a
long-lived worker process that keeps one SparkSession warm (Spark never runs in the
daemon's own process) and answers JSON lines on its stdin/stdout. The workspace root
goes first on the Python workers' ``PYTHONPATH``; Spark reuses those workers, and the
data source re-imports a connector package whose files changed since the worker last
imported it (:func:`connector_watch.sources.spark.runtime.refresh`), so every check reads current code.
Options come from the source's tests (see :mod:`connector_watch.sources.spark.config`). A worker that
dies or times out is reported as a :class:`SparkStageError`; the next ``check_source``
starts a fresh one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.simulator.layout import Layout

PROTOCOL_VERSION = 1
DEFAULT_START_TIMEOUT = 180.0
DEFAULT_CHECK_TIMEOUT = 600.0
MAX_LISTED = 10


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
        command = [self.python, "-m", "connector_watch.daemon.spark_stage", "--serve", "--workspace", str(self.root)]
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


# ============================================================================ checks (worker side, pure)


def _relative(layout: Layout, path: str | Path | None) -> str | None:
    return layout.relative(path) if path else None


def load_traces(trace_dir: str | Path) -> list[dict[str, Any]]:
    """The simulator traces the Spark processes of one read wrote (see ``simulatorTraceDir``)."""
    dumps = []
    for file in sorted(Path(trace_dir).glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            dumps.append(json.loads(file.read_text(encoding="utf-8")))
    return dumps


def merge_traces(
    dumps: Sequence[dict[str, Any]],
) -> tuple[Any, dict[str, list[Any]], dict[str, set[int]], str | None]:
    """One :class:`~simulator.trace.Trace` of every process's requests, the corpus they read
    (file records plus the simulator's future records, by index), the future indices and the
    corpus directory."""
    from connector_watch.simulator.trace import EndpointRef, Family, Trace, TraceEntry

    trace = Trace()
    future: dict[str, dict[int, Any]] = {}
    corpus_dir: str | None = None
    seq = 0
    for dump in dumps:
        corpus_dir = corpus_dir or dump.get("corpusDir")
        remap: dict[int, int] = {}
        for raw in dump.get("entries", []):
            seq += 1
            remap[raw["seq"]] = seq
            entry = TraceEntry(
                seq=seq,
                mode="simulate",
                method=raw.get("method") or "GET",
                url=raw.get("url") or "",
                outcome=raw.get("outcome") or "",
                status=raw.get("status"),
                corpus=raw.get("corpus"),
                served=list(raw.get("served") or []),
                message=raw.get("message"),
            )
            trace.entries.append(entry)
            if entry.corpus:
                trace.corpus_tables_read.add(entry.corpus)
        for family_id, raw in (dump.get("families") or {}).items():
            family = trace.families.get(family_id)
            if family is None:
                family = Family(
                    id=family_id,
                    endpoint=EndpointRef(**raw["endpoint"]),
                    corpus=raw.get("corpus"),
                    params=raw.get("params") or {},
                    matched=tuple(raw.get("matched") or ()),
                )
                trace.families[family_id] = family
            family.requests.extend(remap[s] for s in raw.get("requests") or [] if s in remap)
            family.served.update(raw.get("served") or [])
            if family.corpus:
                trace.corpus_tables_read.add(family.corpus)
        for name, records in (dump.get("future") or {}).items():
            future.setdefault(name, {}).update({int(i): r for i, r in records.items()})
    corpus: dict[str, list[Any]] = {}
    for name in sorted(trace.corpus_tables_read):
        records: list[Any] = []
        if corpus_dir:
            path = Path(corpus_dir) / f"{name}.json"
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(path.read_text(encoding="utf-8"))
                records = list(loaded) if isinstance(loaded, list) else []
        for index in sorted(future.get(name, {})):
            while len(records) < index:
                records.append(None)
            if len(records) == index:
                records.append(future[name][index])
        corpus[name] = records
    return trace, corpus, {n: set(v) for n, v in future.items()}, corpus_dir


def _key_text(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return None if value is None else str(value)


def _project(record: Any, paths: Sequence[str]) -> Any:
    """Only the primary-key fields of ``record``, as text (Spark's 7 and the corpus's "7" agree)."""
    from connector_watch.simulator.values import dotted_get, dotted_set

    if not isinstance(record, dict):
        return record
    out: dict[str, Any] = {}
    for path in paths:
        value = _key_text(dotted_get(record, path))
        if value is not None:
            dotted_set(out, path, value)
    return out


def _row_dict(row: Any) -> Any:
    return row.asDict(recursive=True) if hasattr(row, "asDict") else row


def _null_paths(record: Any, schema: Any, prefix: str = "") -> list[str]:
    """Dotted paths of fields the schema declares non-nullable that are null in ``record``."""
    from pyspark.sql.types import StructType

    found: list[str] = []
    if not isinstance(record, dict):
        return found
    for field in schema.fields:
        value = record.get(field.name)
        path = f"{prefix}{field.name}"
        if value is None:
            if not field.nullable:
                found.append(path)
        elif isinstance(field.dataType, StructType):
            found.extend(_null_paths(value, field.dataType, path + "."))
    return found


def ground_truth_problems(
    table: str,
    rows: Sequence[Any],
    schema: Any,
    metadata: Mapping[str, Any],
    dumps: Sequence[dict[str, Any]],
    layout: Layout,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compare a Spark read's rows with the corpus records its requests selected.

    Returns ``(summary, problems)``; ``summary`` holds ``expected`` and a ``note``.
    """
    from connector_watch.tests.harness.ground_truth import compare

    records = [_row_dict(r) for r in rows]
    pks = [str(p) for p in metadata.get("primary_keys") or []]
    ingestion_type = metadata.get("ingestion_type")
    problems: list[dict[str, Any]] = []

    nulls: dict[str, int] = Counter()
    for record in records:
        for path in _null_paths(record, schema):
            nulls[path] += 1
    for path, count in sorted(nulls.items()):
        problems.append(
            {
                "kind": "nulls",
                "table": table,
                "field": path,
                "count": count,
                "message": f"{count} row(s) hold null in '{path}', which the schema declares non-nullable",
            }
        )
    if pks and ingestion_type != "append":
        from connector_watch.simulator.values import dotted_get

        null_keys = [r for r in records if any(dotted_get(r, pk) is None for pk in pks)]
        if null_keys:
            problems.append(
                {
                    "kind": "primary_key",
                    "table": table,
                    "field": pks[0],
                    "count": len(null_keys),
                    "record": _jsonable(null_keys[0]),
                    "message": f"{len(null_keys)} row(s) have a null primary key {pks}",
                }
            )

    trace, corpus, future, corpus_dir = merge_traces(dumps)
    summary: dict[str, Any] = {"expected": None, "note": None}
    if not trace.families:
        summary["note"] = "no corpus ground truth (the read's requests selected no corpus records by filter)"
        return summary, problems
    projected_rows = [_project(r, pks) for r in records] if pks else records
    projected_corpus = {n: [_project(r, pks) for r in recs] if pks else recs for n, recs in corpus.items()}
    report = compare(table, projected_rows, trace, projected_corpus, pks, ingestion_type, future)
    summary["expected"] = report.expected
    summary["note"] = report.note
    corpus_path = (lambda name: Path(corpus_dir) / f"{name}.json") if corpus_dir else (lambda name: None)
    if report.lost:
        first = report.lost[0]
        problems.append(
            {
                "kind": "count",
                "reason": "lost",
                "table": table,
                "expected": report.expected,
                "actual": len(records),
                "message": f"Spark returned {len(records)} row(s); {len(report.lost)} of the {report.expected} "
                f"corpus record(s) the read selected are missing (first: key {first.key!r}, {first.reason})",
                "lost": [
                    {
                        "key": lost.key,
                        "reason": lost.reason,
                        "corpusFile": _relative(layout, corpus_path(lost.corpus)),
                        "recordIndex": lost.index,
                        "explanation": lost.explanation,
                    }
                    for lost in report.lost[:MAX_LISTED]
                ],
                "corpusFile": _relative(layout, corpus_path(first.corpus)),
                "recordIndex": first.index,
                "value": first.key,
            }
        )
    if report.duplicates_fail:
        problems.append(
            {
                "kind": "primary_key",
                "reason": "duplicate",
                "table": table,
                "field": ",".join(pks),
                "message": f"{len(report.duplicates)} primary key(s) appear more than once in a "
                f"{ingestion_type} table (first: {report.duplicates[0]['key']!r} x{report.duplicates[0]['count']})",
                "duplicates": report.duplicates[:MAX_LISTED],
                "value": report.duplicates[0]["key"],
            }
        )
    if report.future:
        problems.append(
            {
                "kind": "count",
                "reason": "future",
                "table": table,
                "message": f"{len(report.future)} row(s) dated after the read started came back (keys "
                f"{report.future[:5]!r}): the connector does not cap reads at its start time",
                "value": report.future[0],
            }
        )
    return summary, problems


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------- locating


def _file_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def schema_field_location(
    layout: Layout, source: str, table: str, field_path: str | None
) -> tuple[str, int] | None:
    """``(file, 1-based line)`` where the connector's schema declares ``field_path`` of ``table``.

    Follows the schema variables: ``"issues": ISSUES_SCHEMA`` → ``ISSUES_SCHEMA = ...`` →
    ``("user", USER)`` → ``USER = ...`` → ``("login", ...)``. Falls back to the first
    declaration of the last segment anywhere in the connector's package.
    """
    if not field_path:
        return None
    segments = [s for s in re.split(r"\.|\[\d+\]", field_path) if s]
    files = sorted(layout.source_dir(source).rglob("*.py")) if layout.source_dir(source).is_dir() else []
    texts = {f: t for f in files if (t := _file_text(f)) is not None}

    def definition(name: str) -> tuple[Path, int, int] | None:
        """The block of a top-level assignment ``NAME = ...`` (up to the next top-level line)."""
        pattern = re.compile(rf"^{re.escape(name)}\s*(?::[^=]*)?=", re.M)
        for file, text in texts.items():
            match = pattern.search(text)
            if match:
                body = text.find("\n", match.start()) + 1 or len(text)
                following = re.search(r"^\S", text[body:], re.M)
                return file, match.start(), body + following.start() if following else len(text)
        return None

    declaration = r"""(?:StructField\(\s*|\(\s*)["']{name}["']\s*,\s*(?P<type>[^\n]*)"""
    scope: tuple[Path, int, int] | None = None
    table_pattern = re.compile(rf"""["']{re.escape(table)}["']\s*:\s*(?P<var>[A-Za-z_]\w*)""")
    for text in texts.values():
        match = table_pattern.search(text)
        if match and match.group("var")[0].isupper():
            scope = definition(match.group("var"))
            if scope:
                break
    found: tuple[Path, int] | None = None
    for segment in segments:
        if scope is None:
            found = None
            break
        file, begin, end = scope
        hit = re.compile(declaration.format(name=re.escape(segment))).search(texts[file], begin, end)
        if hit is None:
            found = None
            break
        name_at = texts[file].index(segment, hit.start())
        found = (file, name_at)
        type_names = re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", hit.group("type"))
        # A named struct (``USER``) continues in its definition; an inline one right here.
        scope = definition(type_names[0]) if type_names else (file, hit.end(), end)
    if found is None:
        name = segments[-1] if segments else field_path
        pattern = re.compile(declaration.format(name=re.escape(name)))
        for file, text in texts.items():
            match = pattern.search(text)
            if match:
                found = (file, text.index(name, match.start()))
                break
    if found is None:
        return None
    file, offset = found
    return layout.relative(file), texts[file].count("\n", 0, offset) + 1


def corpus_record_location(
    layout: Layout,
    corpus_files: Iterable[Path],
    record: Any,
    keys: Mapping[str, Any] | None,
    field_path: str | None,
) -> dict[str, Any] | None:
    """Where a record the connector returned sits in the corpus: file, index, 1-based line of the field."""
    from connector_watch.simulator.locations import json_value_spans
    from connector_watch.simulator.values import dotted_get

    wanted = {k: _key_text(v) for k, v in (keys or {}).items() if v is not None}
    for file in corpus_files:
        text = _file_text(file)
        if text is None:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, list):
            continue
        index = None
        for i, candidate in enumerate(data):
            if candidate == record or (
                wanted
                and isinstance(candidate, dict)
                and all(_key_text(dotted_get(candidate, k)) == v for k, v in wanted.items())
            ):
                index = i
                break
        if index is None:
            continue
        top = re.split(r"[.\[]", field_path or "")[0]
        values, keys_spans = json_value_spans(text, max_depth=2)
        span = values.get((index, top)) or keys_spans.get((index, top)) or values.get((index,))
        dotted = (field_path or "").replace("[", ".").replace("]", "")
        kinds = Counter(
            type(value).__name__
            for r in data
            if isinstance(r, dict) and (value := dotted_get(r, dotted)) is not None
        )
        return {
            "corpusFile": layout.relative(file),
            "recordIndex": index,
            "corpusLine": span.start.line if span else None,
            "corpusColumn": span.start.column if span else None,
            "fieldTypes": dict(kinds),
        }
    return None


def connector_frame(
    layout: Layout, source: str, frames: Sequence[Mapping[str, Any]]
) -> tuple[str, int] | None:
    """The deepest traceback frame inside the source's connector package."""
    package = layout.source_dir(source).resolve()
    for frame in reversed(frames):
        path = Path(str(frame.get("file", "")))
        try:
            path.resolve().relative_to(package)
        except (ValueError, OSError):
            continue
        return layout.relative(path), int(frame.get("line") or 1)
    return None


def _def_line(layout: Layout, source: str, method: str) -> tuple[str, int] | None:
    for file in sorted(layout.source_dir(source).rglob("*.py")) if layout.source_dir(source).is_dir() else []:
        text = _file_text(file)
        if text is None:
            continue
        match = re.search(rf"^[ \t]*def {re.escape(method)}\b", text, re.M)
        if match:
            return layout.relative(file), text.count("\n", 0, match.start()) + 1
    return None


def _location(path: str | None, line: int | None, column: int | None = None) -> Location | None:
    if not path:
        return None
    return Location(path, Range.from_one_based(line or 1, column or 1))


def enrich(
    problem: dict[str, Any], layout: Layout, source: str, corpus_files: Sequence[Path]
) -> dict[str, Any]:
    """Add corpus, schema and connector locations, then the blamed diagnostics."""
    problem = dict(problem)
    problem.setdefault("source", source)
    kind = problem.get("kind")
    table = problem.get("table") or ""
    if kind in ("conversion", "nulls") and problem.get("field"):
        found = schema_field_location(layout, source, table, problem.get("field"))
        if found:
            problem["schemaFile"], problem["schemaLine"] = found
    if kind == "conversion":
        where = corpus_record_location(
            layout, corpus_files, problem.get("record"), problem.get("keys"), problem.get("field")
        )
        if where:
            problem.update(where)
        problem.setdefault(
            "message",
            f"field '{problem.get('field')}' = {problem.get('value')!r} does not convert to {problem.get('sparkType')}",
        )
    if kind == "error":
        found = connector_frame(layout, source, problem.get("frames") or [])
        if found:
            problem["connectorFile"], problem["connectorLine"] = found
        problem.setdefault("message", f"{problem.get('exception')}: {problem.get('message')}")
    if kind == "count" and problem.get("corpusFile") and problem.get("recordIndex") is not None:
        text = _file_text(layout.root / problem["corpusFile"])
        if text:
            from connector_watch.simulator.locations import json_value_spans

            values, _ = json_value_spans(text, max_depth=1)
            span = values.get((problem["recordIndex"],))
            problem["corpusLine"] = span.start.line if span else None
    problem["diagnostics"] = [d.to_dict() for d in diagnostics_for(problem, layout, source)]
    return problem


def diagnostics_for(problem: Mapping[str, Any], layout: Layout, source: str) -> list[Diagnostic]:
    """Blamed, located diagnostics for one problem (the same shape every other node publishes)."""
    kind = problem.get("kind")
    table = problem.get("table") or "?"
    code = f"spark.{kind}"
    prefix = f"[spark e2e {source}.{table}] "
    connector_file = str(layout.relative(layout.connector_file(source)))
    fallback = Location(connector_file, Range.lines(0))
    schema = _location(problem.get("schemaFile"), problem.get("schemaLine"))
    corpus = _location(problem.get("corpusFile"), problem.get("corpusLine"), problem.get("corpusColumn"))
    if kind == "conversion":
        field, value, spark_type = problem.get("field"), problem.get("value"), problem.get("sparkType")
        evidence = [
            f"field '{field}' holds {value!r} ({type(value).__name__}); the schema says {spark_type}",
            f"Spark read of {source}.{table} stopped at this record: {json.dumps(problem.get('record'), default=str)[:300]}",
        ]
        types = problem.get("fieldTypes") or {}
        if corpus:
            evidence.append(
                f"{problem.get('corpusFile')}[{problem.get('recordIndex')}] is the record; the field's types "
                f"across the corpus: {types}"
            )
        mine = type(value).__name__
        common = max(types.items(), key=lambda item: item[1])[0] if types else mine
        outlier = corpus is not None and mine != common and types.get(common, 0) > 1
        if outlier:
            assert corpus is not None
            return [
                Diagnostic(
                    "corpus",
                    f"{prefix}corpus value {value!r} of '{field}' does not fit the connector's schema ({spark_type}): "
                    "other records of the corpus hold this field with another type",
                    corpus,
                    0.7,
                    related=[Related(schema or fallback, "the schema declares the type here")],
                    evidence=evidence,
                    fix=f"give '{field}' a {spark_type} value in the corpus record",
                    code=code,
                )
            ]
        return [
            Diagnostic(
                "connector",
                f"{prefix}the schema declares '{field}' as {spark_type}, but the corpus value is {value!r} "
                f"({type(value).__name__})",
                schema or fallback,
                0.7,
                related=[Related(corpus, "the corpus value that does not convert")] if corpus else [],
                evidence=evidence,
                fix=f"declare '{field}' with a type that fits {type(value).__name__} values, or convert it in the connector",
                code=code,
            )
        ]
    if kind == "error":
        found = _location(problem.get("connectorFile"), problem.get("connectorLine"))
        return [
            Diagnostic(
                "connector",
                f"{prefix}{problem.get('message')}",
                found or fallback,
                0.6,
                evidence=[f"{problem.get('call')}() raised {problem.get('exception')} inside Spark"],
                code=code,
            )
        ]
    if kind == "nulls":
        return [
            Diagnostic(
                "connector",
                f"{prefix}{problem.get('message')}",
                schema or fallback,
                0.6,
                fix=f"declare '{problem.get('field')}' nullable, or make sure the connector always fills it",
                code=code,
            )
        ]
    method = "read_partition" if problem.get("partitioned") else "read_table"
    site = _def_line(layout, source, method)
    location = _location(*site) if site else fallback
    related = [Related(corpus, "the first corpus record concerned")] if corpus else []
    return [
        Diagnostic(
            "connector",
            f"{prefix}{problem.get('message')}",
            location or fallback,
            0.55,
            related=related,
            evidence=[e.get("explanation", "") for e in problem.get("lost", [])[:5] if e.get("explanation")],
            code=code,
        )
    ]


# ============================================================================ worker (Spark side)


class _Worker:
    def __init__(self, layout: Layout, spark: Any, scratch: Path) -> None:
        self.layout = layout
        self.spark = spark
        self.scratch = scratch

    def _reader(self, options: Mapping[str, str]) -> Any:
        return self.spark.read.format("lakeflow_connect").options(**options).load()

    def check(self, source: str, tables: Sequence[str] | None = None) -> list[dict[str, Any]]:
        from connector_watch.sources.spark.config import SourceConfigError, load_source_config
        from connector_watch.sources.spark.runtime import parse_problems

        layout = self.layout
        corpus_files = (
            sorted(layout.corpus_dir(source).glob("*.json")) if layout.corpus_dir(source).is_dir() else []
        )

        def source_error(message: str, exc: BaseException | None = None) -> list[dict[str, Any]]:
            problems = parse_problems(str(exc)) if exc is not None else []
            problem = (
                problems[0]
                if problems
                else {"kind": "error", "message": message, "exception": type(exc).__name__ if exc else None}
            )
            problem.setdefault("table", None)
            problem["message"] = message
            return [
                {
                    "source": source,
                    "table": None,
                    "outcome": "error",
                    "rows": 0,
                    "expected": None,
                    "durationMs": 0,
                    "note": None,
                    "problems": [enrich(problem, layout, source, corpus_files)],
                }
            ]

        try:
            config = load_source_config(layout, source)
        except SourceConfigError as exc:
            return source_error(str(exc))
        base = {
            **config.connection,
            "source": source,
            "simulatorMode": "simulate",
            "simulatorSpecsDir": str(layout.specs_dir()),
        }
        try:
            names = [r.tableName for r in self._reader({**base, "tableName": "_community_tables"}).collect()]
            if tables:
                unknown = [t for t in tables if t not in names]
                if unknown:
                    return source_error(f"{source} has no table(s) {unknown}; its tables are {names}")
                names = [t for t in names if t in tables]
            metadata_rows = self._reader(
                {
                    **base,
                    "tableName": "_community_table_metadata",
                    "tableNameList": json.dumps(names),
                    "tableConfigs": json.dumps(config.table_configs),
                }
            ).collect()
        except Exception as exc:
            return source_error(
                f"{source}: listing the tables through Spark failed: {_first_error_line(exc)}", exc
            )
        metadata = {r.tableName: r.asDict(recursive=True) for r in metadata_rows}
        return [
            self._check_table(source, table, base, config, metadata.get(table, {}), corpus_files)
            for table in names
        ]

    def _check_table(
        self,
        source: str,
        table: str,
        base: Mapping[str, str],
        config: Any,
        metadata: Mapping[str, Any],
        corpus_files: Sequence[Path],
    ) -> dict[str, Any]:
        from connector_watch.sources.spark.runtime import parse_problems

        trace_dir = Path(tempfile.mkdtemp(prefix=f"{source}-{table}-", dir=self.scratch))
        options = {
            **base,
            **config.table_options(table),
            "tableName": table,
            "simulatorTraceDir": str(trace_dir),
        }
        started = time.perf_counter()
        rows: list[Any] = []
        summary: dict[str, Any] = {"expected": None, "note": None}
        try:
            df = self._reader(options)
            schema = df.schema
            rows = df.collect()
        except Exception as exc:
            dumps = load_traces(trace_dir)
            problems = parse_problems(str(exc)) or [
                {
                    "kind": "error",
                    "table": table,
                    "exception": type(exc).__name__,
                    "message": _first_error_line(exc),
                }
            ]
            problems = problems[:1]  # the job stops at its first failure; later markers repeat it
            outcome = "error"
        else:
            dumps = load_traces(trace_dir)
            summary, problems = ground_truth_problems(table, rows, schema, metadata, dumps, self.layout)
            outcome = "failed" if problems else "passed"
        finally:
            shutil.rmtree(trace_dir, ignore_errors=True)
        partitioned = any(d.get("kind") == "partition" for d in dumps)
        for problem in problems:
            problem.setdefault("table", table)
            problem["partitioned"] = partitioned
        return {
            "source": source,
            "table": table,
            "outcome": outcome,
            "rows": len(rows),
            "expected": summary.get("expected"),
            "durationMs": round((time.perf_counter() - started) * 1000),
            "note": summary.get("note"),
            "problems": [enrich(p, self.layout, source, corpus_files) for p in problems],
        }


def _first_error_line(exc: BaseException) -> str:
    text = str(exc)
    errors = re.findall(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Problem)): (.+)$", text, re.M)
    if errors:
        name, message = errors[-1]
        return f"{name}: {message}"
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def serve(workspace: str, master: str | None, conf: Mapping[str, str]) -> int:
    """The worker: start Spark, then answer JSON-line requests on stdin until ``stop`` or EOF."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # anything else printing (Spark, connectors) goes to the log, not the protocol
    sys.stdout = sys.stderr

    def send(message: Mapping[str, Any]) -> None:
        protocol.write(json.dumps(message, default=str) + "\n")
        protocol.flush()

    layout = Layout.load(workspace)
    scratch = Path(tempfile.mkdtemp(prefix="work-", dir=os.getcwd()))
    os.environ["CONNECTOR_WATCH_WORKSPACE"] = str(layout.root)
    extra_paths = [layout.root]
    if (layout.root / "src").is_dir():
        extra_paths.append(layout.root / "src")
    try:
        from connector_watch.sources.spark import session as session_module

        started = time.perf_counter()
        settings = {
            "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            **conf,
        }
        spark = session_module.spark_session(
            master, app_name="connector-watch-e2e", conf=settings, python_path=extra_paths
        )
        session_ms = round((time.perf_counter() - started) * 1000)
    except Exception as exc:
        send({"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    send(
        {
            "event": "ready",
            "protocol": PROTOCOL_VERSION,
            "sessionStartMs": session_ms,
            "sparkVersion": spark.version,
            "master": spark.sparkContext.master,
        }
    )
    worker = _Worker(layout, spark, scratch)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                continue
            op = request.get("op")
            request_id = request.get("id")
            if op == "stop":
                break
            try:
                if op == "ping":
                    result: Any = {"ok": True, "master": spark.sparkContext.master}
                elif op == "check":
                    result = worker.check(str(request["source"]), request.get("tables"))
                else:
                    raise ValueError(f"unknown op {op!r}")
            except Exception as exc:
                send({"id": request_id, "error": f"{type(exc).__name__}: {exc}"})
            else:
                send({"id": request_id, "result": result})
    finally:
        with contextlib.suppress(Exception):
            spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connector_watch.daemon.spark_stage", description="The Spark e2e stage worker."
    )
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--master", default=None)
    parser.add_argument("--conf", default="{}", help="extra Spark settings as a JSON object")
    args = parser.parse_args(argv)
    return serve(args.workspace, args.master, json.loads(args.conf))


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "SparkStage",
    "SparkStageError",
    "diagnostics_for",
    "ground_truth_problems",
    "load_traces",
    "merge_traces",
    "schema_field_location",
]
