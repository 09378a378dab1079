"""The Spark stage's worker process: one warm SparkSession answering JSON lines on stdin/stdout.

Run as ``python -m connector_watch.daemon.spark_worker --serve --workspace ROOT`` by
:class:`connector_watch.daemon.spark_stage.SparkStage` (Spark never runs in the daemon's own
process). Requests are ``{"id", "op": "check" | "ping" | "stop", ...}``; each answer is
``{"id", "result"}`` or ``{"id", "error"}``, after one ``{"event": "ready", ...}`` (or
``"failed"``) once the session is up. A check reads every table of a source through the
``lakeflow_connect`` data source with the simulator on, then compares and locates
(:mod:`.spark_ground_truth`, :mod:`.spark_problems`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from connector_watch.daemon.spark_ground_truth import ground_truth_problems, load_traces
from connector_watch.daemon.spark_problems import enrich
from connector_watch.simulator.layout import Layout

PROTOCOL_VERSION = 1


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
        prog="python -m connector_watch.daemon.spark_worker", description="The Spark e2e stage worker."
    )
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--master", default=None)
    parser.add_argument("--conf", default="{}", help="extra Spark settings as a JSON object")
    args = parser.parse_args(argv)
    return serve(args.workspace, args.master, json.loads(args.conf))


if __name__ == "__main__":
    sys.exit(main())
