"""Save-to-result latency on the public connectors repository, against its full suite, in one run.

On a scratch copy of the pinned snapshot (``../shared/upstream-repo``, or ``--snapshot``), installed
editable in its own virtualenv beside connector-watch (``tests/support/upstream.py``), with no
configuration, the benchmark:

1. times plain ``pytest tests/unit/sources`` (the suite as its users run it: one process,
   ``--continue-on-collection-errors``), ``--full-repeats`` times;
2. starts a real daemon engine on the copy (watchdog, warm workers, blame; 2 workers, 20 ms
   debounce) whose first run is the full suite, then saves ``--edits`` times each:
   - a **corpus** edit: one record's ``subject`` in zendesk's ``tickets.json``;
   - a **spec** edit: the ``count`` extra of zendesk's tickets endpoint;
   - a **connector** edit: a module-level constant appended to ``zendesk.py``;
   each save followed by its revert (also timed, not reported), after one untimed warm-up pair per
   kind, and records save → first result and save → run finished from the engine's events
   (``bench/driver.py``);
3. asks the same daemon to rerun everything (``--full-repeats`` times): the full rerun on warm
   workers.

It prints medians and ratios and writes every figure to ``bench/results/upstream.json``
(``--output``). The issue's targets (a one-file corpus edit's first result ≤ 150 ms p50, ≥ 100× faster
than the full suite) are printed as met or missed; nothing asserts them.

    .venv/bin/python bench/upstream.py                 # ~5 minutes on 2 cores
    .venv/bin/python bench/upstream.py --edits 5 --full-repeats 1 --output /tmp/upstream.json

The script runs itself a second time inside the copy's virtualenv (``--inner``): the engine and
its workers must import the copy's packages.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: python bench/upstream.py
    sys.path.insert(0, str(REPO))

DEFAULT_OUTPUT = REPO / "bench" / "results" / "upstream.json"
PACKAGE = "src/databricks/labs/community_connector"
TESTS = "tests/unit/sources"
TICKETS = f"{PACKAGE}/source_simulator/specs/zendesk/corpus/tickets.json"
SPEC = f"{PACKAGE}/source_simulator/specs/zendesk/endpoints.yaml"
CONNECTOR = f"{PACKAGE}/sources/zendesk/zendesk.py"
TARGETS = {"corpus_first_result_p50_ms": 150.0, "full_suite_speedup_min": 100.0}
_STARTED = time.perf_counter()


def log(message: str) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"[{time.perf_counter() - _STARTED:7.1f}s load {load}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- edits


def _sub_once(pattern: str, replacement: Any, text: str) -> str:
    result, count = re.subn(pattern, replacement, text, count=1)
    if count != 1:
        raise AssertionError(f"benchmark edit is stale: {pattern!r} not found")
    return result


def edit_corpus(text: str, cycle: int) -> str:
    return _sub_once(r'("subject": ")([^"]*)(")', lambda m: f"{m.group(1)}{m.group(2)} (edit {cycle}){m.group(3)}", text)


def edit_spec(text: str, cycle: int) -> str:
    # The tickets endpoint's static ``count`` extra: its fingerprint changes, the connector ignores it.
    return _sub_once(r"(records_key: tickets\n(?:.*\n){0,3}?\s+count: )\d+", lambda m: f"{m.group(1)}{5 + cycle}", text)


def edit_connector(text: str, cycle: int) -> str:
    return text.rstrip("\n") + f"\n\n_BENCH_EDIT = {cycle}  # bench/upstream.py connector edit\n"


EDITS = (("corpus", TICKETS, edit_corpus), ("spec", SPEC, edit_spec), ("connector", CONNECTOR, edit_connector))


# ---------------------------------------------------------------------------------------------- stats


def p(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if q < 100 else values[-1]


def summary(values: list[float]) -> dict[str, float | None]:
    return {"p50": p(values, 50), "p95": p(values, 95), "min": min(values) if values else None, "n": len(values)}


# ---------------------------------------------------------------------------------------------- inner


def plain_full_run(root: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:testmon",
        "--continue-on-collection-errors", TESTS,
    ]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    tail = [line for line in result.stdout.splitlines() if line.strip()][-1:]
    return {"seconds": round(seconds, 2), "exit": result.returncode, "summary": tail[0] if tail else ""}


def inner(args: argparse.Namespace) -> dict[str, Any]:
    from connector_watch.daemon.options import EngineOptions

    from bench.driver import DaemonDriver

    root = Path(args.workspace)
    document: dict[str, Any] = {"workspace": str(root), "edits": args.edits}
    full_runs = []
    for i in range(args.full_repeats):
        log(f"plain pytest, full suite ({i + 1}/{args.full_repeats})")
        full_runs.append(plain_full_run(root))
        log(f"  {full_runs[-1]['seconds']} s: {full_runs[-1]['summary']}")
    document["plain_pytest_full"] = full_runs

    log("starting the daemon (its first run is the full suite)")
    driver = DaemonDriver(root, EngineOptions(jobs=2, debounce=0.02))
    try:
        document["daemon_startup_s"] = round(driver.startup_s, 2)
        document["daemon_first_run_outcomes"] = driver.outcomes()
        document["preloaded_modules"] = len(driver.engine.pool.preloaded)
        log(f"  ready in {driver.startup_s:.1f} s: {driver.outcomes()}")
        results: dict[str, Any] = {}
        for kind, relative, apply in EDITS:
            path = root / relative
            original = path.read_text(encoding="utf-8")
            timings = []
            try:
                driver.save(relative, apply(original, 0))  # warm-up: first import, page cache
                driver.save(relative, original)
                for cycle in range(1, args.edits + 1):
                    timing = driver.save(relative, apply(original, cycle))
                    timings.append(timing.to_dict())
                    driver.save(relative, original)
                    time.sleep(args.pause)
            finally:
                path.write_text(original, encoding="utf-8")
                driver.wait_idle()
            first = [t["first_result_ms"] for t in timings if t["first_result_ms"] is not None]
            done = [t["run_finished_ms"] for t in timings if t["run_finished_ms"] is not None]
            results[kind] = {
                "path": relative,
                "first_result_ms": summary(first),
                "run_finished_ms": summary(done),
                "nodes_selected": sorted({t["nodes_selected"] for t in timings}),
                "counts": timings[-1]["counts"] if timings else {},
                "saves": timings,
            }
            log(f"  {kind}: first result p50 {results[kind]['first_result_ms']['p50']} ms, finished p50 "
                f"{results[kind]['run_finished_ms']['p50']} ms, nodes {results[kind]['nodes_selected']}")
        document["edits_by_kind"] = results

        reruns = []
        for i in range(args.full_repeats):
            log(f"daemon: rerun everything ({i + 1}/{args.full_repeats})")
            mark = time.perf_counter()
            driver.in_loop(driver.engine.rerun_all)
            driver.wait_idle(1800)
            reruns.append(round(time.perf_counter() - mark, 2))
        document["daemon_full_rerun_s"] = reruns
        document["daemon_outcomes"] = driver.outcomes()
    finally:
        driver.close()

    return document


# ---------------------------------------------------------------------------------------------- outer


def report(document: dict[str, Any]) -> None:
    full = statistics.median(r["seconds"] for r in document["plain_pytest_full"]) * 1000
    rows = []
    for kind, data in document["edits_by_kind"].items():
        first, done = data["first_result_ms"]["p50"], data["run_finished_ms"]["p50"]
        rows.append((kind, data["nodes_selected"], first, data["first_result_ms"]["p95"], done, full / first if first else None))
    print(f"\nplain pytest, full suite: {full / 1000:.1f} s; daemon full rerun: {document['daemon_full_rerun_s']} s")
    print(f"{'edit':<10} {'nodes':<10} {'first p50':>10} {'first p95':>10} {'done p50':>10} {'x full':>8}")
    for kind, nodes, first, first95, done, ratio in rows:
        print(f"{kind:<10} {nodes!s:<10} {first:>10.0f} {first95:>10.0f} {done:>10.0f} {ratio:>8.0f}")
    corpus = document["edits_by_kind"]["corpus"]["first_result_ms"]["p50"]
    ratio = full / corpus
    targets = {
        "corpus_first_result_p50_ms": {"target": TARGETS["corpus_first_result_p50_ms"], "value": corpus,
                                       "met": corpus <= TARGETS["corpus_first_result_p50_ms"]},
        "full_suite_speedup": {"target": TARGETS["full_suite_speedup_min"], "value": round(ratio, 1),
                               "met": ratio >= TARGETS["full_suite_speedup_min"]},
    }
    document["targets"] = targets
    for name, target in targets.items():
        print(f"target {name}: {target['value']} vs {target['target']} → {'met' if target['met'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", help="the public repository snapshot (default: ../shared/upstream-repo)")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument("--full-repeats", type=int, default=2)
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        print(json.dumps(inner(args)))
        return 0

    from connector_watch.tests.support.upstream import clean_env, copy_snapshot, snapshot, virtualenv

    source = Path(args.snapshot) if args.snapshot else snapshot()
    if source is None:
        print("bench/upstream.py: no snapshot of the public repository (../shared/upstream-repo)", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="cw-upstream-bench-"))
    root = scratch / "lakeflow-community-connectors"
    log(f"copying {source} to {root} and installing it")
    copy_snapshot(source, root)
    python = virtualenv(scratch / "venv", root)
    load_before = os.getloadavg()
    command = [str(python), str(Path(__file__).resolve()), "--inner", "--workspace", str(root),
               "--edits", str(args.edits), "--pause", str(args.pause), "--full-repeats", str(args.full_repeats)]
    result = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env={**clean_env(), "PYTHONPATH": str(REPO)})
    if result.returncode != 0:
        print(result.stdout[-3000:], file=sys.stderr)
        return result.returncode
    document = json.loads(result.stdout.strip().splitlines()[-1])
    document["machine"] = {
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before,
        "load_after": os.getloadavg(), "date": time.strftime("%Y-%m-%d"),
    }
    report(document)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}")
    if not args.keep:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
