"""Soak: 10,000 saves of mixed kinds compressed into minutes, against one live daemon.

    .venv/bin/python bench/soak.py                                   # 100 bursts of 100 saves
    .venv/bin/python bench/soak.py --bursts 10 --saves 50 --output /tmp/soak.json   # a quick look

``connector-watch serve`` (a real process) watches a git checkout of the GitHub example. The
saves come in bursts, each save a random kind, written in a random one of the four ways editors
save: a corpus record broken and fixed, a valid corpus edit, a file saved unchanged, a comment
toggled in the connector, the spec and the test file, the issues corpus deleted and put back, a
corpus saved as Latin-1. After each burst the daemon is let settle; its memory (RSS of the serve
process and of its warm worker processes) and open file handles are sampled; every
``--compare-every`` bursts, and at the end, its idle state is compared with a cold
``connector-watch run --json`` on the same files. Targets: 0 divergences, memory growth under
20 MB (from the end of the warm-up bursts to the end).

Prints a summary and writes every sample to ``bench/results/soak.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "bench" / "results" / "soak.json"
REPOSITORIES = "simulator/specs/github/corpus/repositories.json"
ISSUES = "simulator/specs/github/corpus/issues.json"
CONNECTOR = "sources/github/github.py"
SPEC = "simulator/specs/github/endpoints.yaml"
TESTS = "tests/unit/sources/github/test_github_lakeflow_connect.py"
MB = 1024 * 1024

#: (kind, weight): how often each kind of save comes.
KINDS = (
    ("corpus_broken_or_fixed", 30),
    ("corpus_valid_edit", 20),
    ("unchanged", 15),
    ("connector_comment", 8),
    ("spec_comment", 7),
    ("test_comment", 5),
    ("corpus_deleted_or_back", 5),
    ("corpus_latin1", 5),
    ("issues_reverted", 5),
)


class Saves:
    """The kinds of save, each a toggle between the committed content and a variant."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        from connector_watch.tests.chaos.trials import outlier_corpus

        self.root = root
        self.rng = rng
        self.committed = {p: (root / p).read_bytes() for p in (REPOSITORIES, ISSUES, CONNECTOR, SPEC, TESTS)}
        self.broken = outlier_corpus(self.committed[REPOSITORIES])
        self.edits = 0

    def current(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None

    def toggle(self, path: str, variant: bytes, how: str) -> None:
        from connector_watch.tests.chaos.driver import save

        now = self.current(path)
        save(self.root / path, self.committed[path] if now == variant else variant, how)

    def one(self, kind: str, how: str) -> None:
        from connector_watch.tests.chaos.driver import save

        if kind == "corpus_broken_or_fixed":
            self.toggle(REPOSITORIES, self.broken, how)
        elif kind == "corpus_valid_edit":
            self.edits += 1
            records = json.loads(self.committed[ISSUES])
            records[self.edits % len(records)]["title"] += f" (edit {self.edits})"
            save(self.root / ISSUES, (json.dumps(records, indent=2) + "\n").encode(), how)
        elif kind == "unchanged":
            path = self.rng.choice([REPOSITORIES, CONNECTOR, SPEC])
            now = self.current(path)
            if now is not None:
                save(self.root / path, now, how)
        elif kind == "connector_comment":
            self.toggle(CONNECTOR, self.committed[CONNECTOR] + b"\n# soak\n", how)
        elif kind == "spec_comment":
            self.toggle(SPEC, self.committed[SPEC] + b"\n# soak\n", how)
        elif kind == "test_comment":
            self.toggle(TESTS, self.committed[TESTS] + b"\n# soak\n", how)
        elif kind == "corpus_deleted_or_back":
            if self.current(ISSUES) is None:
                save(self.root / ISSUES, self.committed[ISSUES], how)
            else:
                (self.root / ISSUES).unlink()
        elif kind == "corpus_latin1":
            self.toggle(ISSUES, self.committed[ISSUES].replace(b'"title": "', b'"title": "caf\xe9 ', 1), how)
        elif kind == "issues_reverted":
            save(self.root / ISSUES, self.committed[ISSUES], how)

    def restore(self) -> None:
        from connector_watch.tests.chaos.driver import save

        for path, data in self.committed.items():
            if self.current(path) != data:
                save(self.root / path, data)


def process_memory(pid: int) -> int:
    """VmRSS of a process, in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


async def soak(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from connector_watch.tests.chaos.driver import (
        EDITOR_SAVES,
        LiveDaemon,
        cold_run,
        cold_states,
        daemon_states,
        divergences,
        not_compared,
    )
    from connector_watch.tests.chaos.quick import DAEMON_ARGS

    rng = random.Random(args.seed)
    daemon = LiveDaemon(root, *DAEMON_ARGS).start()
    assert daemon.proc is not None
    pid = daemon.proc.pid
    saves = Saves(root, rng)
    kinds = [k for k, w in KINDS for _ in range(w)]
    samples: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    started = time.monotonic()
    try:
        session = await daemon.connect()
        await daemon.settle(timeout=600)

        def sample(burst: int) -> dict[str, Any]:
            zygotes = daemon.processes()["zygote"]
            return {
                "burst": burst,
                "saves": burst * args.saves,
                "seconds": round(time.monotonic() - started, 1),
                "daemonRss": process_memory(pid),
                "zygoteRss": sum(process_memory(z) for z in zygotes),
                "openFiles": open_files(pid),
                "notifications": sum(session.counts.values()),
            }

        async def compare(burst: int) -> None:
            snapshot = await daemon.settle(timeout=600)
            cold = await asyncio.to_thread(cold_run, root, *DAEMON_ARGS)
            mine, theirs = daemon_states(snapshot), cold_states(cold)
            found = divergences(mine, theirs)
            comparisons.append(
                {"burst": burst, "divergences": found, "notCompared": len(not_compared(mine, theirs)),
                 "failing": sum(s.outcome in ("failed", "error", "crashed", "timeout") for s in mine.values())}
            )
            print(f"  burst {burst}: {len(found)} divergence(s), {comparisons[-1]['failing']} failing",
                  file=sys.stderr, flush=True)

        samples.append(sample(0))
        for burst in range(1, args.bursts + 1):
            for _ in range(args.saves):
                kind = rng.choice(kinds)
                counts[kind] = counts.get(kind, 0) + 1
                saves.one(kind, rng.choice(EDITOR_SAVES))
                await asyncio.sleep(rng.uniform(0, args.gap))
            await daemon.settle(timeout=600)
            samples.append(sample(burst))
            last = samples[-1]
            print(f"burst {burst}/{args.bursts}: rss {last['daemonRss'] / MB:.1f} MB, "
                  f"{last['openFiles']} fds, {last['seconds']:.0f} s", file=sys.stderr, flush=True)
            if burst % args.compare_every == 0 or burst == args.bursts:
                await compare(burst)
        saves.restore()
        await compare(args.bursts + 1)
        samples.append(sample(args.bursts + 1))
    finally:
        await daemon.disconnect()
        alive = daemon.alive()
        tracebacks = len(daemon.tracebacks())
        daemon.stop()
    warm = samples[min(args.warmup, len(samples) - 1)]
    end = samples[-1]
    return {
        "saves": args.bursts * args.saves,
        "kinds": counts,
        "seconds": round(time.monotonic() - started, 1),
        "memory": {
            "daemonStartMb": round(samples[0]["daemonRss"] / MB, 1),
            "daemonWarmMb": round(warm["daemonRss"] / MB, 1),
            "daemonEndMb": round(end["daemonRss"] / MB, 1),
            "daemonPeakMb": round(max(s["daemonRss"] for s in samples) / MB, 1),
            "growthAfterWarmupMb": round((end["daemonRss"] - warm["daemonRss"]) / MB, 1),
            "zygoteWarmMb": round(warm["zygoteRss"] / MB, 1),
            "zygoteEndMb": round(end["zygoteRss"] / MB, 1),
        },
        "openFiles": {"start": samples[0]["openFiles"], "warm": warm["openFiles"], "end": end["openFiles"],
                      "peak": max(s["openFiles"] for s in samples)},
        "comparisons": len(comparisons),
        "divergences": sum(len(c["divergences"]) for c in comparisons),
        "notCompared": sum(c["notCompared"] for c in comparisons),
        "daemonAlive": alive,
        "tracebacks": tracebacks,
        "samples": samples,
        "comparisonDetails": comparisons,
    }


def main(argv: list[str] | None = None) -> int:
    from connector_watch.tests.chaos.driver import chaos_workspace

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=100)
    parser.add_argument("--saves", type=int, default=100, help="saves per burst")
    parser.add_argument("--gap", type=float, default=0.008, help="at most this long between saves (s)")
    parser.add_argument("--compare-every", type=int, default=5, help="bursts between cold-run comparisons")
    parser.add_argument("--warmup", type=int, default=5, help="bursts before memory growth is counted")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        root = chaos_workspace(Path(scratch) / "workspace")
        result = asyncio.run(soak(args, root))
        shutil.rmtree(root, ignore_errors=True)
    document = {
        "benchmark": "soak",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadBefore": load_before, "loadAfter": os.getloadavg()},
        "targets": {"divergences": 0, "memoryGrowthMb": 20},
        **result,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    memory = result["memory"]
    print(
        f"{result['saves']} saves in {result['seconds'] / 60:.1f} min; {result['comparisons']} comparisons with a "
        f"cold run: {result['divergences']} divergence(s); daemon RSS {memory['daemonWarmMb']} MB after warm-up → "
        f"{memory['daemonEndMb']} MB at the end ({memory['growthAfterWarmupMb']:+} MB, peak "
        f"{memory['daemonPeakMb']} MB); open files {result['openFiles']['warm']} → {result['openFiles']['end']}"
    )
    ok = result["divergences"] == 0 and memory["growthAfterWarmupMb"] < 20 and result["daemonAlive"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
