"""Helpers of the latency benchmark: a timestamped log line, percentiles and the stats of a
list of timings (and their format in tables), a process's memory, the load, the environment
of a baseline pytest run, the git revision measured, and the counts of pytest's summary line.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_STARTED = time.perf_counter()


def log(message: str) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"[{time.perf_counter() - _STARTED:7.1f}s load {load}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def stats(values: list[float | None]) -> dict[str, Any] | None:
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return {
        "n": len(present),
        "missing": len(values) - len(present),
        "p50": round(percentile(present, 0.5), 2),
        "p95": round(percentile(present, 0.95), 2),
        "min": round(min(present), 2),
        "max": round(max(present), 2),
        "mean": round(sum(present) / len(present), 2),
    }


def rss_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process in KiB (from /proc; empty where unavailable)."""
    result: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    result[key] = int(value.split()[0])
    except OSError:
        pass
    return result


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def clean_env() -> dict[str, str]:
    """The environment for the baseline pytest runs, without the calling pytest's own settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "COV_CORE_")) and k not in ("CONNECTOR_WATCH_WORKSPACE",)
    }


def git_revision() -> dict[str, Any]:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return {"commit": head, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)")


def summary_counts(output: str) -> dict[str, int]:
    """Counts from pytest's last summary line (``3 passed, 127 deselected in 2.10s``)."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        found = _COUNT.findall(line)
        if found or "no tests ran" in line:
            counts: dict[str, int] = {}
            for number, word in found:
                word = {"error": "errors", "warning": "warnings"}.get(word, word)
                counts[word] = counts.get(word, 0) + int(number)
            return counts
    return {}


def fmt(summary: dict[str, Any] | float | None, key: str = "p50") -> str:
    if summary is None:
        return "—"
    value = summary[key] if isinstance(summary, dict) else summary
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
