"""A connector exception inside a public-harness ``[table]`` block: its traceback text read back.

Pure. ``[t] read_table() raised: …`` followed by ``traceback.format_exc()`` becomes a chain item
with the exception's own type, message and workspace-relative frames (an unknown endpoint its
``request``, an unknown query parameter its ``unknownParams``); one without a traceback keeps the
harness check of the method that raised, and :func:`borrow_frames` gives it the frames of the
same error seen earlier in the process."""

from __future__ import annotations

import re
from typing import Any

from connector_watch.daemon.public_text import (
    UNKNOWN_ENDPOINT,
    fix_line,
    literal_list,
    parse_conversion,
    relative,
)

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)\s*$')
_EXC_LINE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Endpoint|Interaction|Failed|Exit|Warning|Timeout|Failure|Interrupt)\b)(?::\s?(?P<message>.*))?$"
)
_UNKNOWN_PARAMS = re.compile(
    r"Unknown query parameter\(s\): (?P<unknown>\[[^\]]*\])\.(?: Allowed: (?P<allowed>\[[^\]]*\]))?"
)

_CALL_CHECK = {
    "read_table": "read.raised",
    "read_table_deletes": "deletes.raised",
    "read_table_metadata": "metadata.raised",
    "get_table_schema": "schema.raised",
    "get_partitions": "partition.raised",
    "read_partition": "partition.raised",
    "latest_offset": "stream.raised",
    "generate_rows_and_write": "write_back.write",
}


def raised_fact(
    table: str, call: str, error: str, exc_type: str, block: str, root: str, iterating: bool = False
) -> dict[str, Any]:
    method = re.match(r"[\w_]+", call).group(0)  # type: ignore[union-attr]
    message, traceback_text = _split_traceback(error)
    frames = parse_frames(traceback_text, root) if traceback_text else []
    inner_type, inner_message = _final_exception(traceback_text) if traceback_text else (None, None)
    if inner_message is None:
        inner_message = re.split(r"\n  Fix: ", message, maxsplit=1)[0].strip()
    endpoint = UNKNOWN_ENDPOINT.search(error)
    if inner_type is None and endpoint:
        inner_type = "UnknownEndpoint"
    item: dict[str, Any] = {
        "type": inner_type.rsplit(".", 1)[-1] if inner_type else exc_type,
        "module": inner_type.rsplit(".", 1)[0] if inner_type and "." in inner_type else None,
        "message": f"[{table}] {inner_message}",
        "frames": frames,
        "table": table,
        "call": method,
        "publicHarness": True,
    }
    if endpoint:
        item["request"] = {"method": endpoint.group("method"), "url": endpoint.group("url"), "nearest": []}
    params = _UNKNOWN_PARAMS.search(error)
    if params:
        item["unknownParams"] = {
            "unknown": literal_list(params.group("unknown")),
            "allowed": literal_list(params.group("allowed") or "[]"),
        }
    conversion = parse_conversion(inner_message)
    if conversion.get("spark_type"):
        item["conversion"] = {
            "path": None,
            "value": conversion.get("value"),
            "sparkType": conversion["spark_type"],
            "table": table,
        }
    if not frames and not endpoint:
        # No traceback to locate it: the harness check names the connector method that raised.
        check = _CALL_CHECK.get(method, "read.raised")
        item["harness"] = {
            "check": check,
            "table": table,
            "details": {"call": method, "error": inner_message, "while_iterating": iterating},
            "hint": fix_line(block),
        }
    return item


def _split_traceback(error: str) -> tuple[str, str | None]:
    marker = error.find("Traceback (most recent call last):")
    if marker < 0:
        return error, None
    return error[:marker].rstrip("\n"), error[marker:]


def parse_frames(text: str, root: str = "") -> list[dict[str, Any]]:
    """The frames of a ``traceback.format_exc()`` text (the last exception of a chained one)."""
    # A chained traceback repeats "Traceback (most recent call last):" per exception; the raise is
    # in the last one.
    parts = text.split("Traceback (most recent call last):")
    lines = parts[-1].splitlines()
    frames: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if not match:
            continue
        code = ""
        if i + 1 < len(lines) and not _FRAME.match(lines[i + 1]) and lines[i + 1].startswith("    "):
            code = lines[i + 1].strip()
        frames.append(
            {
                "file": relative(match.group("file"), root),
                "line": int(match.group("line")),
                "function": match.group("function"),
                "code": code[:200],
            }
        )
    return frames


def _final_exception(text: str) -> tuple[str | None, str | None]:
    """The ``module.Type: message`` line that ends a traceback text."""
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.startswith((" ", "\t")) or line.startswith("Traceback"):
            continue
        match = _EXC_LINE.match(line)
        if match:
            rest = "\n".join([match.group("message") or "", *lines[index + 1 :]]).strip()
            return match.group("type"), rest
    return None, None


# ---------------------------------------------------------------------------- tracebacks seen before

MEMO_LIMIT = 256


def borrow_frames(found: list[dict[str, Any]], memo: dict[tuple[Any, str], dict[str, Any]]) -> None:
    """Give a fact that kept only an exception's message (``Termination test error: e``) the frames
    of the same error on the same table seen earlier with its traceback (``read_table() raised: e``
    of ``test_read_table``, run before ``test_read_terminates`` in the same process). ``memo`` is
    the caller's, kept across a process's tests."""
    for fact in found:
        harness = fact.get("harness") or {}
        table = fact.get("table") or harness.get("table")
        if fact.get("frames") and fact.get("call"):
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            error = fact["message"].removeprefix(f"[{table}] ")
            memo[(table, error)] = {k: fact.get(k) for k in ("type", "module", "frames")}
        elif harness.get("check", "").endswith(".raised"):
            seen = memo.get((table, (harness.get("details") or {}).get("error") or ""))
            if seen:
                fact.update(seen)
                fact["borrowedFrames"] = True
                fact.pop("harness", None)
