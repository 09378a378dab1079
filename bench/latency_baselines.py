"""The latency benchmark's baselines: the same edits saved under a full ``pytest`` rerun and
under ``pytest --testmon``, each save timed to pytest's exit, with what ran and whether the
fault was caught.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.edits import EditKind, EditTarget
from bench.latency_util import clean_env, fmt, log, stats, summary_counts

PYTEST_FULL = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/sources")
PYTEST_TESTMON = ("-m", "pytest", "--testmon", "-q", "tests/unit/sources")


def run_pytest(root: Path, args: tuple[str, ...], timeout: float = 1800.0) -> dict[str, Any]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    elapsed = (time.perf_counter() - started) * 1000
    output = completed.stdout + completed.stderr
    return {
        "ms": round(elapsed, 1),
        "returncode": completed.returncode,
        "counts": summary_counts(completed.stdout),
        "tail": output.strip().splitlines()[-3:],
    }


def measure_baseline(
    root: Path,
    source: str,
    kinds: list[EditKind],
    repeats: int,
    args: tuple[str, ...],
    label: str,
    resync: bool = False,
) -> dict[str, Any]:
    per_kind: dict[str, Any] = {}
    for kind in kinds:
        target = EditTarget(root, kind, source)
        runs = []
        try:
            for cycle in range(1, repeats + 1):
                text = target.applied(cycle)
                started = time.perf_counter()
                target.write(text)
                run = run_pytest(root, args)
                run["ms"] = round((time.perf_counter() - started) * 1000, 1)
                runs.append(run)
                target.restore()
        finally:
            target.restore()
        if resync and target.relative.endswith(".py"):
            # testmon compares with what it saw last (the last applied version), not with the
            # original: one untimed run lets the next edit kind start from a clean slate.
            run_pytest(root, args)
        ran = [sum(r["counts"].get(k, 0) for k in ("passed", "failed", "errors", "skipped")) for r in runs]
        caught = [r["returncode"] not in (0, 5) for r in runs]
        per_kind[kind.id] = {
            "title": kind.title,
            "ms": stats([r["ms"] for r in runs]),
            "tests_run": stats(ran),
            "caught_failure": sum(caught),
            "fault": kind.fault,
            "runs": runs,
        }
        log(
            f"  {label}: {kind.title:24s} p50 {fmt(per_kind[kind.id]['ms'])} ms, "
            f"ran {ran}, "
            + (
                f"{'caught' if all(caught) else 'missed' if not any(caught) else 'partly caught'} the fault"
                if kind.fault
                else "(benign edit)"
            )
        )
    return per_kind
