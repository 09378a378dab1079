"""The chaos suite's long tier: every trial of ``tests/chaos/trials.py`` at the long size.

    .venv/bin/python bench/chaos.py                         # every trial, long size; ~15-30 min
    .venv/bin/python bench/chaos.py --trials storms,hangs --size quick --output /tmp/chaos.json

Each trial drives a live ``connector-watch serve`` (a real process, loopback only) through one
kind of trouble: 500-save storms in each way editors save, deletes and renames, symlink loops, a
watched folder replaced, worker / zygote / daemon SIGKILLs, hangs (breakable and in C), crashes, a
50 MB corpus (its hung state compared too), files that are not UTF-8 or are binary. At every
checkpoint the idle daemon is compared with a cold ``connector-watch run --json`` on a copy of the
same files. Prints the table (trial × outcome) and writes every checkpoint to
``bench/results/chaos.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "bench" / "results" / "chaos.json"
#: Trials that SIGKILL the daemon get one of their own.
OWN_DAEMON = ("daemon_sigkill_initial_run", "daemon_sigkill_no_initial_run")


def main(argv: list[str] | None = None) -> int:
    from connector_watch.tests.chaos.driver import chaos_workspace
    from connector_watch.tests.chaos.trials import LONG, QUICK, TRIALS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = [name for name in TRIALS if not name.startswith("storm_")]  # "storms" covers each way
    parser.add_argument("--trials", default=",".join(default), help="comma-separated trial names")
    parser.add_argument("--size", choices=["quick", "long"], default="long")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    size = LONG if args.size == "long" else QUICK
    names = [n for n in args.trials.split(",") if n]
    unknown = [n for n in names if n not in TRIALS]
    if unknown:
        parser.error(f"unknown trials {unknown}; known: {sorted(TRIALS)}")

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="chaos-bench-") as scratch:
        template = chaos_workspace(Path(scratch) / "template")
        started: list[Any] = []  # stopped at the end, whatever happens (an interrupt too)
        try:
            rows = run_trials(names, size, template, Path(scratch), started)
        finally:
            for daemon in started:
                daemon.stop()

    document = {
        "benchmark": "chaos",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadBefore": load_before, "loadAfter": os.getloadavg()},
        "size": size.__dict__,
        "trials": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(table(rows))
    return 0 if all(r["outcome"] == "held" for r in rows) else 1


def run_trials(names: list[str], size: Any, template: Path, scratch: Path, started: list[Any]) -> list[dict[str, Any]]:
    """Each trial on a daemon (shared, or its own for the ones that kill it); one row per trial.
    Every daemon started is appended to ``started`` (the caller stops them)."""
    from connector_watch.tests.chaos.driver import LiveDaemon
    from connector_watch.tests.chaos.quick import DAEMON_ARGS
    from connector_watch.tests.chaos.trials import run_trial

    rows: list[dict[str, Any]] = []
    shared: LiveDaemon | None = None
    for number, name in enumerate(names):
        own = name in OWN_DAEMON
        if own or shared is None:
            root = scratch / f"workspace{number}"
            shutil.copytree(template, root, symlinks=True)
            daemon = LiveDaemon(root, *DAEMON_ARGS)
            started.append(daemon)
            daemon.start()
            if not own:
                shared = daemon
        else:
            daemon = shared
        began = time.monotonic()
        error = None
        checkpoints = []
        try:
            checkpoints = asyncio.run(run_trial(daemon, name, size, DAEMON_ARGS))
        except Exception as exc:  # a failed check inside a trial: recorded, the others go on
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        seconds = time.monotonic() - began
        divergences = sum(len(c.divergences) for c in checkpoints)
        outcome = "error" if error else ("diverged" if divergences else "held")
        rows.append(
            {
                "trial": name,
                "outcome": outcome,
                "checkpoints": [c.__dict__ for c in checkpoints],
                "divergences": divergences,
                "error": error,
                "seconds": round(seconds, 1),
                "daemonAlive": daemon.alive(),
                "tracebacks": len(daemon.tracebacks()),
            }
        )
        print(f"{name:32} {outcome:9} {len(checkpoints):3} checkpoints {divergences:3} divergences "
              f"{seconds:6.1f} s", file=sys.stderr, flush=True)
        if own:
            daemon.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| trial | checkpoints | divergences | outcome | time |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['trial']} | {len(row['checkpoints'])} | {row['divergences']} | {row['outcome']} "
            f"| {row['seconds']:.0f} s |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
