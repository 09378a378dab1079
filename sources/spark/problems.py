"""What a failed Spark read says: ``ConnectorProblem`` (a message plus a
``CONNECTOR_WATCH_PROBLEM {json}`` line that survives Spark's exception wrapping), the facts of a
connector exception (``failure_problem``), reading them back (``parse_problems``), and a record
cut to a readable size (``shown_record``). Part of the readers (merged with them into a single-file
connector by ``merge_source``), so stdlib only.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Sequence
from typing import Any

PROBLEM_MARKER = "CONNECTOR_WATCH_PROBLEM"
MAX_RECORD_CHARS = 4000


class DataSourceOptionError(ValueError):
    """A read whose options cannot work (missing source or table, bad simulator mode)."""


class ConnectorProblem(RuntimeError):
    """A failure inside a read, with a ``CONNECTOR_WATCH_PROBLEM {json}`` line for machines.

    Spark wraps exceptions from Python workers in its own; the marker line survives
    that, so a caller (the daemon's e2e stage) gets the facts without scraping prose.
    """

    def __init__(self, message: str, problem: dict[str, Any]) -> None:
        self.problem = problem
        payload = json.dumps(problem, default=str, ensure_ascii=False)
        super().__init__(f"{message}\n{PROBLEM_MARKER} {payload}")


def parse_problems(text: str) -> list[dict[str, Any]]:
    """Every ``CONNECTOR_WATCH_PROBLEM {json}`` payload in ``text`` (an exception's message)."""
    problems: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    start = 0
    while True:
        at = text.find(PROBLEM_MARKER + " ", start)
        if at < 0:
            return problems
        begin = at + len(PROBLEM_MARKER) + 1
        try:
            value, end = decoder.raw_decode(text, begin)
        except ValueError:
            start = begin
            continue
        if isinstance(value, dict) and value not in problems:
            problems.append(value)
        start = end


def failure_problem(exc: BaseException, table: str | None, call: str) -> dict[str, Any]:
    """Structured facts about an exception from connector code (for the problem marker)."""
    frames = [
        {"file": f.filename, "line": f.lineno, "function": f.name}
        for f in traceback.extract_tb(exc.__traceback__)
        if "/pyspark/" not in f.filename and "pyspark.zip" not in f.filename
    ]
    return {
        "kind": "error",
        "table": table,
        "call": call,
        "exception": type(exc).__name__,
        "message": str(exc).split(f"\n{PROBLEM_MARKER} ")[0][:2000],
        "frames": frames[-12:],
    }


def shown_record(record: Any, keep: Sequence[str] = ()) -> Any:
    """The record as JSON-able data; a large one keeps its short fields and the ``keep`` ones.

    Omitted fields are counted under ``"…"`` so a reader knows the record was cut.
    """
    data = json.loads(json.dumps(record, default=str, ensure_ascii=False))
    if len(json.dumps(data, ensure_ascii=False)) <= MAX_RECORD_CHARS or not isinstance(data, dict):
        return data
    wanted = {path.split(".")[0].split("[")[0] for path in keep}
    compact: dict[str, Any] = {}
    omitted = 0
    for key, value in data.items():
        if key in wanted or len(json.dumps(value, ensure_ascii=False)) <= 120:
            compact[key] = value
        else:
            omitted += 1
    if omitted:
        compact["…"] = f"{omitted} long field(s) omitted"
    return compact


def dotted(record: Any, path: str) -> Any:
    value = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
