"""What a pytest run printed, read for the engine: where its traceback points, and one line saying
how it stopped. Pure text functions (``read_log`` aside), so they are unit-testable."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

#: pytest exit statuses that stop a session early: interrupted, internal error, usage error.
PYTEST_STOPPED = {2: "interrupted", 3: "internal error", 4: "usage error"}
OUTPUT_TAIL_LINES = 20


def read_log(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def output_tail(output: str) -> list[str]:
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    return lines[-OUTPUT_TAIL_LINES:]


_FRAME_PATTERNS = (
    re.compile(r'^\s*File "(?P<path>[^"]+\.py)", line (?P<line>\d+)'),  # a Python traceback
    re.compile(r"^(?P<path>\S+\.py):(?P<line>\d+): in "),  # pytest's short traceback
    re.compile(r"^ImportError while loading conftest '(?P<path>[^']+)'"),
)


def pytest_output_location(output: str, root: str) -> tuple[str, int] | None:
    """The deepest place in the workspace pytest's output names: (relative path, zero-based line)."""
    found = None
    for line in output.splitlines():
        for pattern in _FRAME_PATTERNS:
            match = pattern.match(line)
            if match is None:
                continue
            relative = _inside(match.group("path"), root)
            if relative is not None:
                number = match.groupdict().get("line")
                found = (relative, int(number) - 1 if number else 0)
            break
    return found


def _inside(path: str, root: str) -> str | None:
    absolute = os.path.normpath(os.path.join(root, path))
    if not absolute.startswith(root.rstrip(os.sep) + os.sep):
        return None
    relative = os.path.relpath(absolute, root).replace(os.sep, "/")
    parts = relative.split("/")
    return None if ".venv" in parts or "site-packages" in parts else relative


def pytest_stopped_message(output: str, status: int | None, root: str) -> str:
    """One line: how pytest stopped, and the error it printed last (paths relative to ``root``)."""
    how = PYTEST_STOPPED.get(status or 0, f"exit status {status}")
    output = output.replace(root.rstrip(os.sep) + os.sep, "")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    headline = next(
        (line for line in lines if line.startswith(("ImportError while loading", "ERROR:"))), None
    )
    said = errors[-1] if errors else (lines[-1] if lines else "no output")
    detail = f"{headline.rstrip('.')}: {said}" if headline and headline != said else said
    return f"pytest stopped before running any test ({how}, exit status {status}): {detail}"


# ---------------------------------------------------------------------------- stack dumps

_DUMP_HEADER = re.compile(r"^(?:(?:Current thread|Thread) (?P<ident>0x[0-9a-fA-F]+)|Stack) \(most recent call first\):")
#: The os._exit wrapper that writes a dump before the process ends: its own frame is not the culprit.
_EXIT_WRAPPER = "daemon/stack_dumps.py"
_DUMP_FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+) in (?P<function>.+)$')
_DUMP_REASON = re.compile(r"^(?:Fatal Python error: .+|os\._exit\(-?\d+\) called)$")


def stack_dump_frames(text: str, root: str) -> tuple[str | None, list[dict[str, Any]]]:
    """What a worker's faulthandler dump (``stack_dumps.StackDumps``) says: why it was written (a fatal
    error, ``os._exit``; None for the watchdog's request), and the main thread's frames of the last
    dump, outermost first like a traceback (paths relative to ``root`` when inside it)."""
    lines = text.splitlines()
    main = lines[0].split()[-1].lower() if lines and lines[0].startswith("main thread ") else None
    reason = None
    blocks: list[tuple[str | None, bool, list[dict[str, Any]]]] = []
    for line in lines[1:]:
        if _DUMP_REASON.match(line):
            reason, blocks = line.rstrip(), []  # a later dump replaces an earlier one
            continue
        header = _DUMP_HEADER.match(line)
        if header:
            ident = header.group("ident")
            blocks.append((ident.lower() if ident else None, line.startswith(("Current", "Stack")), []))
            continue
        frame = _DUMP_FRAME.match(line)
        if frame and blocks:
            path = frame.group("path")
            blocks[-1][2].append(
                {
                    "file": _inside(path, root) or path,
                    "line": int(frame.group("line")),
                    "function": frame.group("function").strip(),
                    "code": "",
                }
            )
    chosen = next((b for b in reversed(blocks) if main is not None and b[0] == main), None)
    chosen = chosen or next((b for b in reversed(blocks) if b[1]), None) or (blocks[-1] if blocks else None)
    frames = list(reversed(chosen[2])) if chosen else []
    if frames and frames[-1]["function"] == "_exit" and frames[-1]["file"].endswith(_EXIT_WRAPPER):
        frames.pop()  # the os._exit wrapper that wrote the dump (daemon/stack_dumps.py)
    return reason, frames


def lost_node_failure(
    dump: str, root: str, outcome: str, view: Any
) -> dict[str, Any]:
    """A failure record for a test whose worker died (``crashed``) or was killed hung (``timeout``),
    shaped like the plugin's exception chains so blame can place it: one pseudo-exception whose
    frames are the main thread's stack from the worker's dump (``view.text(path)`` fills in each
    workspace frame's source line)."""
    reason, frames = stack_dump_frames(dump, root)
    for frame in frames:
        text = view.text(frame["file"]) if not frame["file"].startswith("/") else None
        lines = text.splitlines() if text else []
        if 0 < frame["line"] <= len(lines):
            frame["code"] = lines[frame["line"] - 1].strip()[:200]
    kind = "WorkerDied" if outcome == "crashed" else "WorkerHung"
    return {
        "when": "call",
        "chain": [
            {
                "type": kind,
                "module": "connector_watch.daemon",
                "bases": [],
                "message": reason or ("killed by the watchdog" if outcome == "timeout" else "died"),
                "frames": frames,
                "notes": [],
            }
        ],
    }
