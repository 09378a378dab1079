"""The chaos trials: each drives a live daemon through one kind of trouble and, at each checkpoint,
compares its idle state with a cold ``connector-watch run --json`` on the same files.

A trial is ``async def trial(live, size) -> None``; it records checkpoints on ``live`` and leaves
the workspace as it found it. ``size`` scales it: :data:`QUICK` is the tier CI runs (bounded in
count and time), :data:`LONG` the tier ``bench/chaos.py`` runs. Broken states are chosen so that
the files alone decide the verdict (an outlier value, a syntax error, a crash, a hang): a verdict
that rests on what the daemon saw change is, by design, something a cold run cannot know.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.tests.chaos.driver import (
    EDITOR_SAVES,
    GITHUB_CONNECTOR,
    GITHUB_SPEC,
    GITHUB_TESTS,
    LiveDaemon,
    cold_run,
    cold_states,
    daemon_states,
    divergences,
    not_compared,
    outcome_counts,
    save,
)

REPOSITORIES = "simulator/specs/github/corpus/repositories.json"
ISSUES = "simulator/specs/github/corpus/issues.json"
READ_REPOSITORIES = "    def _read_repositories(self) -> Iterator[dict]:\n"


@dataclass(frozen=True)
class Size:
    saves: int  # saves per storm
    gap: float  # at most this long between two saves of a storm (seconds, random)
    storms: int  # storms per way of saving
    big_corpus_mb: int
    compare_broken_big_corpus: bool  # whether a 50 MB corpus's hung state is compared too
    kills: int  # worker kills per trial


QUICK = Size(saves=60, gap=0.012, storms=1, big_corpus_mb=50, compare_broken_big_corpus=False, kills=1)
LONG = Size(saves=500, gap=0.01, storms=4, big_corpus_mb=50, compare_broken_big_corpus=True, kills=5)


@dataclass
class Checkpoint:
    trial: str
    label: str
    divergences: list[str]
    counts: dict[str, int]
    seconds: float
    not_compared: int = 0  # nodes left unrun because a test of their file hung (see NodeState.blocked)


@dataclass
class Chaos:
    """A live daemon plus what the trials found."""

    daemon: LiveDaemon
    cold_args: tuple[str, ...] = ()
    checkpoints: list[Checkpoint] = field(default_factory=list)
    trial: str = ""

    @property
    def root(self) -> Path:
        return self.daemon.root

    async def check(self, label: str) -> dict[str, Any]:
        """Wait until the daemon is idle; compare it with a cold run on the same files. The
        daemon's snapshot, for the trial's own checks."""
        started = time.monotonic()
        snapshot = await self.daemon.settle()
        cold = await asyncio.to_thread(cold_run, self.root, *self.cold_args)
        mine, theirs = daemon_states(snapshot), cold_states(cold)
        point = Checkpoint(
            self.trial, label, divergences(mine, theirs), outcome_counts(mine),
            round(time.monotonic() - started, 2), len(not_compared(mine, theirs)),
        )
        self.checkpoints.append(point)
        return snapshot

    def logs(self, component: str) -> list[tuple[str, str]]:
        """(level, message) of the ``window/logMessage`` notifications from one part of the daemon."""
        session = self.daemon.session
        return [(m["level"], m["message"]) for m in (session.component_logs if session else [])
                if m.get("component") == component]

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def write(self, relative: str, data: bytes, how: str = "temp_rename") -> None:
        save(self.root / relative, data, how)

    def failed(self) -> list[Checkpoint]:
        return [c for c in self.checkpoints if c.divergences]


Trial = Callable[[Chaos, Size], Awaitable[None]]


# ---------------------------------------------------------------------------- broken contents


def outlier_corpus(good: bytes) -> bytes:
    """The repositories corpus with one record's id a string: a corpus fault the file shows."""
    records = json.loads(good)
    records[0]["id"] = "not-a-number"
    return (json.dumps(records, indent=2) + "\n").encode()


def connector_with(good: bytes, lines: str) -> bytes:
    """The GitHub connector with ``lines`` run first thing when it reads repositories."""
    text = good.decode()
    assert READ_REPOSITORIES in text
    return text.replace(READ_REPOSITORIES, READ_REPOSITORIES + lines, 1).encode()


def connector_line(good: bytes) -> int:
    """The 1-based line of the first statement :func:`connector_with` inserts."""
    text = good.decode()
    return text[: text.index(READ_REPOSITORIES)].count("\n") + 2


def node(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    """The snapshot's node whose ID ends with ``name``."""
    found = [n for n in snapshot["nodes"] if n["nodeId"].endswith(name)]
    assert len(found) == 1, f"{len(found)} nodes end with {name}"
    return found[0]


def place(diagnostic: dict[str, Any]) -> tuple[str, str, int]:
    """(blame, path, 1-based line) of an LSP-shaped diagnostic."""
    return diagnostic["code"], diagnostic["data"]["path"], diagnostic["range"]["start"]["line"] + 1


def points_at(diagnostic: dict[str, Any], blame: str, path: str, line: int) -> bool:
    """Whether an LSP-shaped diagnostic blames ``blame`` over a range of ``path`` holding 1-based
    ``line`` (causal blame widens a place to the hunk that triggered the failure)."""
    rng = diagnostic["range"]
    return (diagnostic["code"], diagnostic["data"]["path"]) == (blame, path) and (
        rng["start"]["line"] <= line - 1 <= rng["end"]["line"]
    )


# ---------------------------------------------------------------------------- trials


def storm(how: str) -> Trial:
    """Many saves of a corpus, alternating good and bad, written one way, ending bad, then good."""

    async def trial(chaos: Chaos, size: Size) -> None:
        good = chaos.read(REPOSITORIES)
        try:
            for number in range(size.storms):
                await save_storm(chaos, how, size, ends_broken=True, seed=number)
                await chaos.check(f"storm {number + 1}: {size.saves} saves, ending broken")
        finally:
            chaos.write(REPOSITORIES, good, how)
        await chaos.check("restored")

    trial.__name__ = f"storm_{how}"
    return trial


async def storms(chaos: Chaos, size: Size) -> None:
    """``size.storms`` rounds of one storm per way of saving, in turn ending broken and fixed: each
    end state checked."""
    good = chaos.read(REPOSITORIES)
    try:
        for number in range(size.storms * len(EDITOR_SAVES)):
            how = EDITOR_SAVES[number % len(EDITOR_SAVES)]
            broken = number % 2 == 0
            await save_storm(chaos, how, size, ends_broken=broken, seed=number)
            await chaos.check(f"{how}: {size.saves} saves, ending {'broken' if broken else 'fixed'}")
    finally:
        chaos.write(REPOSITORIES, good)


async def save_storm(chaos: Chaos, how: str, size: Size, *, ends_broken: bool, seed: int) -> None:
    """``size.saves`` saves of the repositories corpus written ``how``, alternating the committed
    version and a broken one, the last one broken or not."""
    clean = _committed(chaos, REPOSITORIES)
    bad = outlier_corpus(clean)
    last, other = (bad, clean) if ends_broken else (clean, bad)
    rng = random.Random(f"{how}-{size.saves}-{seed}")
    for i in range(size.saves):
        chaos.write(REPOSITORIES, last if (size.saves - 1 - i) % 2 == 0 else other, how)
        await asyncio.sleep(rng.uniform(0, size.gap))


def _committed(chaos: Chaos, relative: str) -> bytes:
    """A file as git HEAD has it (the chaos workspace's starting state)."""
    return subprocess.run(
        ["git", "-C", str(chaos.root), "show", f"HEAD:{relative}"], capture_output=True, check=True
    ).stdout


async def delete_and_rename(chaos: Chaos, size: Size) -> None:
    """A corpus deleted and put back; the connector module and the test file renamed away and back."""
    root = chaos.root
    corpus = chaos.read(ISSUES)
    (root / ISSUES).unlink()
    await chaos.check("corpus deleted")
    chaos.write(ISSUES, corpus)
    os.replace(root / GITHUB_CONNECTOR, root / "sources/github/github_renamed.py")
    await chaos.check("connector module renamed away")
    os.replace(root / "sources/github/github_renamed.py", root / GITHUB_CONNECTOR)
    renamed_tests = GITHUB_TESTS.replace("test_github_", "test_gh_")
    os.replace(root / GITHUB_TESTS, root / renamed_tests)
    await chaos.check("test file renamed")
    os.replace(root / renamed_tests, root / GITHUB_TESTS)
    await chaos.check("all back")


async def symlink_loop(chaos: Chaos, size: Size) -> None:
    """A symlink loop in the sources and the tests; saves before and after it goes still count."""
    root = chaos.root
    links = [root / "sources/loop_a", root / "sources/loop_b", root / "tests/unit/sources/github/loop"]
    os.symlink("loop_b", links[0])
    os.symlink("loop_a", links[1])
    os.symlink("loop", links[2])
    good = chaos.read(REPOSITORIES)
    try:
        assert chaos.daemon.session is not None
        answer = await chaos.daemon.session.request("impact", {"paths": ["sources/loop_a"]})
        assert answer.get("error", {}).get("code") == -32011, answer
        assert "loop" in answer["error"]["message"], answer
        chaos.write(REPOSITORIES, outlier_corpus(good))
        await chaos.check("loop made, corpus broken")
    finally:
        for link in links:
            link.unlink()
    chaos.write(REPOSITORIES, good)
    await chaos.check("loop removed, corpus fixed")


async def watched_folder_replaced(chaos: Chaos, size: Size) -> None:
    """The whole ``sources`` folder moved away and copied back (a branch switch does this): its
    watch dies; the daemon restarts the watcher, rescans, and sees the saves made meanwhile."""
    root = chaos.root
    good = chaos.read(GITHUB_CONNECTOR)
    os.replace(root / "sources", root / "sources.moved")
    shutil.copytree(root / "sources.moved", root / "sources", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(root / "sources.moved")
    chaos.write(GITHUB_CONNECTOR, connector_with(good, "        raise RuntimeError('broken after the move')\n"))
    await chaos.check("sources replaced, connector broken")
    levels = [level for level, _ in chaos.logs("watcher")]
    assert "error" in levels and "info" in levels, f"the watcher's death and restart were not reported: {levels}"
    chaos.write(GITHUB_CONNECTOR, good)
    await chaos.check("connector fixed")


async def worker_sigkill(chaos: Chaos, size: Size) -> None:
    """Workers SIGKILLed in the middle of a run (the tests are slowed so one is running)."""
    good = chaos.read(GITHUB_CONNECTOR)
    slow = connector_with(good, "        time.sleep(0.4)\n")
    for kill in range(size.kills):
        chaos.write(GITHUB_CONNECTOR, slow if kill % 2 == 0 else good)
        deadline = time.monotonic() + 30
        while not chaos.daemon.processes()["workers"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        chaos.daemon.kill_workers()
        await chaos.check(f"worker killed mid-run ({kill + 1})")
    chaos.write(GITHUB_CONNECTOR, good)
    await chaos.check("restored")


async def zygote_sigkill(chaos: Chaos, size: Size) -> None:
    """The warm zygote SIGKILLed while idle: the next save still runs (the pool restarts it)."""
    assert chaos.daemon.kill_zygote(), "no zygote to kill"
    good = chaos.read(REPOSITORIES)
    chaos.write(REPOSITORIES, outlier_corpus(good))
    await chaos.check("zygote killed, corpus broken")
    levels = [level for level, _ in chaos.logs("workers")]
    assert "error" in levels and "info" in levels, f"the zygote's death and restart were not reported: {levels}"
    chaos.write(REPOSITORIES, good)
    await chaos.check("restored")


async def hangs(chaos: Chaos, size: Size) -> None:
    """A connector that loops (the per-test timer stops it) and one that hangs in a C call holding
    the interpreter (only the watchdog's kill stops it)."""
    good = chaos.read(GITHUB_CONNECTOR)
    line = connector_line(good)
    chaos.write(GITHUB_CONNECTOR, connector_with(good, "        while True:\n            time.sleep(0.01)\n"))
    snapshot = await chaos.check("connector loops")
    hung = node(snapshot, "test_read_table[repositories]")
    assert hung["outcome"] == "timeout", hung
    assert points_at(hung["diagnostics"][0], "connector", GITHUB_CONNECTOR, line + 1), hung["diagnostics"][0]
    regex = "        import re\n        re.match(r'(a+)+$', 'a' * 64 + 'b')\n"
    chaos.write(GITHUB_CONNECTOR, connector_with(good, regex))
    snapshot = await chaos.check("connector hangs in C")
    hung = node(snapshot, "test_read_table[repositories]")
    assert hung["outcome"] == "timeout", hung  # killed by the watchdog: the timer cannot break in
    assert points_at(hung["diagnostics"][0], "connector", GITHUB_CONNECTOR, line + 1), hung["diagnostics"][0]
    assert f"{GITHUB_CONNECTOR}:{line + 1}" in hung["diagnostics"][0]["message"], hung["diagnostics"][0]
    chaos.write(GITHUB_CONNECTOR, good)
    await chaos.check("restored")
    # Nothing hangs any more: no test may still be left unrun behind the hang (the comparison with
    # the cold run skips such nodes, so it must be asked).
    assert chaos.checkpoints[-1].not_compared == 0, chaos.checkpoints[-1]


async def crashes(chaos: Chaos, size: Size) -> None:
    """A connector that calls ``os._exit`` while reading."""
    good = chaos.read(GITHUB_CONNECTOR)
    chaos.write(GITHUB_CONNECTOR, connector_with(good, "        import os\n        os._exit(3)\n"))
    snapshot = await chaos.check("connector calls os._exit")
    crashed = node(snapshot, "test_read_table[repositories]")
    assert crashed["outcome"] == "crashed", crashed
    exits = connector_line(good) + 1
    assert points_at(crashed["diagnostics"][0], "connector", GITHUB_CONNECTOR, exits), crashed["diagnostics"][0]
    assert f"{GITHUB_CONNECTOR}:{exits}" in crashed["diagnostics"][0]["message"], crashed["diagnostics"][0]
    assert any(level == "warning" for level, _ in chaos.logs("workers"))
    chaos.write(GITHUB_CONNECTOR, good)
    await chaos.check("restored")


async def big_corpus(chaos: Chaos, size: Size) -> None:
    """A corpus of ``size.big_corpus_mb`` MB (the tests that read it slow down or hang), then the
    original back: every node it held up runs again."""
    good = chaos.read(ISSUES)
    records = json.loads(good)
    filler = "x" * 2000
    grown: list[dict[str, Any]] = []
    target = size.big_corpus_mb * 1_000_000
    total = 0
    while total < target:
        for record in records:
            copy = dict(record, body=filler, id=record["id"] + len(grown) * 10_000_000_000)
            grown.append(copy)
            total += len(filler) + 1500
    chaos.write(ISSUES, json.dumps(grown).encode())
    if size.compare_broken_big_corpus:
        snapshot = await chaos.check(f"{size.big_corpus_mb} MB corpus")
    else:
        snapshot = await chaos.daemon.settle(timeout=600)
    held_up = [n["nodeId"] for n in snapshot["nodes"] if n["outcome"] in ("timeout", "skipped")
               and (n["outcome"] == "timeout" or "hung past the timeout" in (n.get("message") or ""))]
    assert any("[issues]" in n for n in held_up), f"nothing hung on a {size.big_corpus_mb} MB corpus"
    chaos.write(ISSUES, good)
    snapshot = await chaos.check("corpus restored")
    stuck = [
        n["nodeId"] for n in snapshot["nodes"]
        if n["nodeId"] in held_up and (n["outcome"] == "timeout" or "hung past" in (n.get("message") or ""))
    ]
    assert not stuck, f"still held up after the corpus was restored: {stuck}"


async def not_utf8_and_binary(chaos: Chaos, size: Size) -> None:
    """A corpus saved as Latin-1, binary bytes in the connector and in the spec."""
    corpus, connector, spec = chaos.read(ISSUES), chaos.read(GITHUB_CONNECTOR), chaos.read(GITHUB_SPEC)
    chaos.write(ISSUES, corpus.replace(b'"title": "', b'"title": "caf\xe9 ', 1))
    await chaos.check("corpus in Latin-1")
    chaos.write(ISSUES, corpus)
    chaos.write(GITHUB_CONNECTOR, bytes(range(256)) * 8)
    await chaos.check("connector is binary")
    chaos.write(GITHUB_CONNECTOR, connector)
    chaos.write(GITHUB_SPEC, spec[:200] + b"\x00\xff\xfe binary \x00" + spec[200:])
    await chaos.check("spec has binary bytes")
    chaos.write(GITHUB_SPEC, spec)
    await chaos.check("restored")


def daemon_sigkill(initial_run: bool) -> Trial:
    """The daemon SIGKILLed in the middle of a run after a save, the corpus fixed while it is down,
    broken again, then the daemon started again (with or without its initial run)."""

    async def trial(chaos: Chaos, size: Size) -> None:
        daemon = chaos.daemon
        good = chaos.read(REPOSITORIES)
        await daemon.settle()
        await asyncio.sleep(2.5)  # the daemon saves its index a little after runs settle
        chaos.write(REPOSITORIES, outlier_corpus(good))
        deadline = time.monotonic() + 30
        while not daemon.processes()["workers"] and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await daemon.disconnect()
        daemon.sigkill()
        chaos.write(GITHUB_CONNECTOR, chaos.read(GITHUB_CONNECTOR) + b"\n# edited while the daemon was down\n")
        daemon.args = tuple(a for a in daemon.args if a != "--no-initial-run")
        if not initial_run:
            daemon.args = (*daemon.args, "--no-initial-run")
        daemon.start()
        await daemon.connect()
        await chaos.check(f"restarted {'with' if initial_run else 'without'} initial run, corpus broken")
        chaos.write(REPOSITORIES, good)
        await chaos.check("corpus fixed")

    trial.__name__ = f"daemon_sigkill_{'initial_run' if initial_run else 'no_initial_run'}"
    return trial


#: Every trial, by name (the quick tier runs them all at :data:`QUICK` size).
TRIALS: dict[str, Trial] = {
    "storms": storms,
    **{f"storm_{how}": storm(how) for how in EDITOR_SAVES},
    "delete_and_rename": delete_and_rename,
    "symlink_loop": symlink_loop,
    "watched_folder_replaced": watched_folder_replaced,
    "worker_sigkill": worker_sigkill,
    "zygote_sigkill": zygote_sigkill,
    "hangs": hangs,
    "crashes": crashes,
    "big_corpus": big_corpus,
    "not_utf8_and_binary": not_utf8_and_binary,
    "daemon_sigkill_initial_run": daemon_sigkill(True),
    "daemon_sigkill_no_initial_run": daemon_sigkill(False),
}


async def run_trial(daemon: LiveDaemon, name: str, size: Size, cold_args: tuple[str, ...]) -> list[Checkpoint]:
    """One trial on a started daemon, through a fresh session (closed afterwards)."""
    await daemon.connect()
    chaos = Chaos(daemon, cold_args, trial=name)
    try:
        await TRIALS[name](chaos, size)
    finally:
        await daemon.disconnect()
    return chaos.checkpoints
