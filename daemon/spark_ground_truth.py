"""Ground truth of a Spark read: the rows compared with the corpus records its requests selected.

Pure (reads the simulator traces and the corpus files). Every Spark process of one read writes
its simulator trace to a scratch directory (``simulatorTraceDir``); :func:`merge_traces` joins
them into one trace and the corpus it read, and :func:`ground_truth_problems` compares the rows
with it the way the harness's ``test_read_matches_corpus`` does (records lost, keys repeated,
rows dated after the read started), plus nulls the schema forbids. The problems it returns are
located and blamed by :mod:`connector_watch.daemon.spark_problems`.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from connector_watch.simulator.layout import Layout

MAX_LISTED = 10


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


def key_text(value: Any) -> Any:
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
        value = key_text(dotted_get(record, path))
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
