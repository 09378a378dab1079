"""Seeded faults on the public connectors repository: is each one blamed right, located, selected?

A catalogue of faults on a scratch copy of ``../shared/upstream-repo`` (the public community
connectors, with their own harness and simulator): corpus, spec, connector, test and environment
faults on more than five sources, including an innocent corpus edit that reveals a latent
connector bug. Each fault names the blame it deserves and the file and line at fault.

For each fault the benchmark, with real processes:

1. applies the edit to the copy (or sets the environment: the clock, a missing module);
2. runs plain ``pytest`` on the source's tests: the nodes that fail (and did not fail before the
   fault) are the ground truth;
3. runs ``connector-watch run --changed <file> --json --workspace COPY`` (after one full run that
   built the index) and reads which nodes it selected and the top diagnostic of each failing node;
4. reverts.

Scores: **top blame** (the first diagnostic of every failing node has the expected blame),
**location** (it points at the faulty file within 3 lines of the faulty line), **selection recall**
(every failing node was selected). Targets: >= 90 %, >= 80 %, 100 %. Blame and location are judged
apart from selection: a failing node the change did not select is run by a second
``run --changed <its test file>`` and judged there (``missed`` lists them).

    .venv/bin/python bench/upstream_faults.py                    # every fault, ~5-8 min on 2 cores
    .venv/bin/python bench/upstream_faults.py --only zendesk-corpus-type,actitime-clock
    .venv/bin/python bench/upstream_faults.py --keep /tmp/up     # reuse (or keep) the copy + venv

It writes ``bench/results/upstream_faults.json``. ``tests/upstream_blame/test_fault_catalogue.py``
runs a fixed sample of it in CI.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: python bench/upstream_faults.py
    sys.path.insert(0, str(REPO))

from bench.upstream_fault_catalogue import CATALOGUE, CI_SAMPLE, SOURCES, TESTS, Fault, json_edits  # noqa: E402

ENV_UPSTREAM = "CONNECTOR_WATCH_UPSTREAM_REPO"
LINE_TOLERANCE = 3
FAILED = ("failed", "error", "timeout", "crashed")


def upstream_repo() -> Path | None:
    """``../shared/upstream-repo`` from the repository root, or ``$CONNECTOR_WATCH_UPSTREAM_REPO``."""
    for candidate in (os.environ.get(ENV_UPSTREAM), REPO.parent / "shared" / "upstream-repo"):
        if candidate and (Path(candidate) / SOURCES).is_dir():
            return Path(candidate).resolve()
    return None


# ---------------------------------------------------------------------------- the workspace


def prepare_copy(snapshot: Path, dest: Path, sources: list[str] | None = None) -> Path:
    """A scratch copy of the snapshot (only ``sources``' tests when given), as it is: no configuration."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snapshot, dest, ignore=shutil.ignore_patterns(".git", "__pycache__", ".connector-watch"))
    if sources is not None:
        for test_dir in (dest / TESTS).iterdir():
            if test_dir.is_dir() and test_dir.name not in sources and test_dir.name != "__pycache__":
                shutil.rmtree(test_dir)
    return dest


def commit_copy(copy: Path) -> None:
    """Make the copy a git checkout of itself, so a fault is a change against ``HEAD`` (what causal
    blame compares with)."""
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(copy)], check=True)
    subprocess.run([*git, "-C", str(copy), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(copy), "commit", "-q", "-m", "snapshot"], check=True)


def make_venv(venv: Path, copy: Path) -> Path:
    """A venv that sees connector-watch's environment and imports the copy's packages (as installed
    editable)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # ``--system-site-packages`` of a venv made from our venv reaches the base interpreter, not our
    # venv: a .pth adds our site-packages (with its editable connector-watch) behind the new one's.
    (Path(purelib) / "connector_watch_parent.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    # What ``pip install -e`` of the copy amounts to (its packages live under ``src/``), without a build
    # backend or an index: CI machines may have neither ``wheel`` nor the network.
    (Path(purelib) / "upstream_copy.pth").write_text(str(copy / "src") + "\n")
    return python


def hidden_modules_dir(root: Path, modules: tuple[str, ...]) -> Path:
    """A directory that, first on PYTHONPATH, makes ``modules`` fail to import as if not installed."""
    directory = root / "hidden-modules"
    directory.mkdir(parents=True, exist_ok=True)
    for name in modules:
        (directory / f"{name}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n", encoding="utf-8"
        )
    return directory


# ---------------------------------------------------------------------------- one fault


@dataclass
class Applied:
    original: str | None
    line: int  # 1-based, in ``fault.target``


def apply(fault: Fault, copy: Path) -> Applied:
    """Seed the fault; returns what :func:`revert` needs and the expected (1-based) line."""
    path = copy / fault.file
    original = path.read_text(encoding="utf-8")
    edits = json_edits()
    if fault.id in edits:
        data = json.loads(original)
        result = edits[fault.id](data)
        changed = json.dumps(result if result is not None else data, indent=2) + "\n"
    elif fault.old is not None:
        if original.count(fault.old) < 1:
            raise AssertionError(f"{fault.id}: the edit is stale ({fault.old!r} not in {fault.file})")
        changed = original.replace(fault.old, fault.new or "", 1)
    else:
        changed = None
    if changed is not None:
        path.write_text(changed, encoding="utf-8")
    return Applied(original if changed is not None else None, expected_line(fault, copy, original, changed))


def revert(fault: Fault, copy: Path, applied: Applied) -> None:
    if applied.original is not None:
        (copy / fault.file).write_text(applied.original, encoding="utf-8")


def expected_line(fault: Fault, copy: Path, before: str, after: str | None) -> int:
    if fault.blamed_pattern:
        lines = (copy / fault.target).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if re.search(fault.blamed_pattern, line):
                return number
        raise AssertionError(f"{fault.id}: {fault.blamed_pattern!r} matches no line of {fault.target}")
    if after is None:
        return 1
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    for tag, _i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            # A deletion points at the line that now stands where the deleted ones were.
            return j1 + 1
    return 1


def _environment(fault: Fault, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_TEST_", "PYTEST_"))}
    env.update(fault.env)
    if fault.hide_modules:
        hidden = hidden_modules_dir(scratch, fault.hide_modules)
        env["PYTHONPATH"] = os.pathsep.join([str(hidden), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    return env


_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - .*)?$")


def failing_nodes(
    python: Path, copy: Path, source: str | list[str], env: dict[str, str], timeout: float = 300
) -> set[str]:
    """Nodes plain pytest fails or errors on in the sources' tests (a file that cannot be collected
    counts as its file path)."""
    sources = [source] if isinstance(source, str) else source
    completed = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-rfE",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            "--continue-on-collection-errors",
            *(f"{TESTS}/{name}" for name in sources),
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    nodes = set()
    for line in completed.stdout.splitlines():
        match = _SUMMARY.match(line.strip())
        if match:
            nodes.add(match.group(2))
    return nodes


def connector_watch(
    python: Path, copy: Path, args: list[str], env: dict[str, str], timeout: float = 600
) -> dict[str, Any]:
    completed = subprocess.run(
        [str(python), "-m", "connector_watch.daemon", *args, "--json", "--workspace", str(copy)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    try:
        return json.loads(completed.stdout)
    except ValueError:
        raise RuntimeError(
            f"connector-watch {' '.join(args)} gave no JSON (exit {completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        ) from None


@dataclass
class Outcome:
    fault: str
    source: str
    kind: str
    expected_blame: str
    expected_location: str
    failing: list[str]
    selected_failing: list[str]
    missed: list[str]
    blames: dict[str, str]  # failing node → top blame
    locations: dict[str, str]  # failing node → top location (path:line, 1-based)
    blame_ok: bool
    location_ok: bool
    recall_ok: bool
    seconds: float
    note: str = ""


def _covers(node: str, selected: set[str]) -> bool:
    """A ground-truth node (or a file that did not collect) is covered by the selection."""
    if node in selected:
        return True
    return any(s == node or s.startswith(node + "::") or node.startswith(s + "::") for s in selected)


def _result_for(node: str, results: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if node in results:
        return results[node]
    for node_id, result in results.items():
        related = node_id.startswith(node + "::") or node.startswith(node_id + "::")
        if (related or node_id == node.split("::")[0]) and result.get("outcome") in FAILED:
            return result
    return None


def measure(fault: Fault, copy: Path, python: Path, baseline: dict[str, set[str]], scratch: Path) -> Outcome:
    started = time.monotonic()
    applied = apply(fault, copy)
    env = _environment(fault, scratch)
    try:
        truth = failing_nodes(python, copy, fault.source, env)
        before = baseline.get(fault.source, set())
        failing = truth if fault.kind == "environment" and not fault.old else truth - before
        report = connector_watch(python, copy, ["run", "--changed", fault.file], env)
        results = {r["nodeId"]: r for r in report.get("results", [])}
        selected = set(results)
        missed = sorted(n for n in failing if not _covers(n, selected))
        if missed:
            # Blame is judged apart from selection: run the test files of the nodes the change missed.
            files = sorted({n.split("::")[0] for n in missed})
            forced = connector_watch(python, copy, ["run", "--changed", *files], env)
            for result in forced.get("results", []):
                results.setdefault(result["nodeId"], result)
    finally:
        revert(fault, copy, applied)
    expected = f"{fault.target}:{applied.line}"
    blames, locations = {}, {}
    for node in sorted(failing):
        result = _result_for(node, results)
        diagnostics = (result or {}).get("diagnostics") or []
        if diagnostics:
            top = diagnostics[0]
            blames[node] = top["blame"]
            start = top["location"]["range"]["start"]["line"] + 1
            locations[node] = f"{top['location']['path']}:{start}"
        else:
            blames[node] = "(none)" if result is None else f"(no diagnostic: {result.get('outcome')})"
            locations[node] = ""

    def located(where: str) -> bool:
        if not where:
            return False
        path, _, line = where.rpartition(":")
        return path == fault.target and abs(int(line) - applied.line) <= LINE_TOLERANCE

    return Outcome(
        fault=fault.id,
        source=fault.source,
        kind=fault.kind,
        expected_blame=fault.blame,
        expected_location=expected,
        failing=sorted(failing),
        selected_failing=sorted(n for n in failing if _covers(n, selected)),
        missed=missed,
        blames=blames,
        locations=locations,
        blame_ok=bool(failing) and all(b == fault.blame for b in blames.values()),
        location_ok=bool(failing) and all(located(w) for w in locations.values()),
        recall_ok=bool(failing) and not missed,
        seconds=round(time.monotonic() - started, 1),
        note=fault.note,
    )


def baseline_failures(python: Path, copy: Path, sources: list[str], scratch: Path) -> dict[str, set[str]]:
    env = _environment(Fault("baseline", "", "", "", ""), scratch)
    failing = failing_nodes(python, copy, sources, env)
    return {source: {n for n in failing if n.startswith(f"{TESTS}/{source}/")} for source in sources}


def run_catalogue(
    faults: list[Fault], copy: Path, python: Path, scratch: Path, log: Any = print
) -> dict[str, Any]:
    sources = sorted({f.source for f in faults})
    started = time.monotonic()
    baseline = baseline_failures(python, copy, sources, scratch)
    full = connector_watch(python, copy, ["run"], _environment(Fault("index", "", "", "", ""), scratch))
    log(
        f"index built by a full run: {full['summary']['total']} nodes in "
        f"{full['summary']['durationMs'] / 1000:.1f} s"
    )
    outcomes = []
    for fault in faults:
        outcome = measure(fault, copy, python, baseline, scratch)
        outcomes.append(outcome)
        log(
            f"{fault.id:42} blame {'ok ' if outcome.blame_ok else 'MISS'} location "
            f"{'ok ' if outcome.location_ok else 'MISS'} recall {'ok ' if outcome.recall_ok else 'MISS'} "
            f"({len(outcome.failing)} failing, {outcome.seconds:.0f} s)"
        )
    scored = [o for o in outcomes if o.failing]
    summary = {
        "faults": len(outcomes),
        "faultsWithFailures": len(scored),
        "sources": sorted({o.source for o in outcomes}),
        "blameAccuracy": _ratio(sum(o.blame_ok for o in scored), len(scored)),
        "locationAccuracy": _ratio(sum(o.location_ok for o in scored), len(scored)),
        "selectionRecall": _ratio(
            sum(len(o.selected_failing) for o in scored), sum(len(o.failing) for o in scored)
        ),
        "seconds": round(time.monotonic() - started, 1),
    }
    return {"summary": summary, "outcomes": [asdict(o) for o in outcomes]}


def _ratio(hit: int, total: int) -> float | None:
    return round(hit / total, 3) if total else None


def render(document: dict[str, Any]) -> str:
    lines = []
    for o in document["outcomes"]:
        marks = "".join("x" if not ok else "." for ok in (o["blame_ok"], o["location_ok"], o["recall_ok"]))
        lines.append(f"{marks} {o['fault']:42} expected {o['expected_blame']:11} at {o['expected_location']}")
        if not o["failing"]:
            lines.append("      no node failed under plain pytest")
        for node in o["failing"]:
            lines.append(
                f"      {node.split('/')[-1][:90]}: {o['blames'].get(node)} at {o['locations'].get(node)}"
            )
        if o["missed"]:
            lines.append(f"      not selected: {o['missed']}")
    s = document["summary"]
    lines.append(
        f"\n{s['faultsWithFailures']}/{s['faults']} faults failed under pytest, on {len(s['sources'])} sources: "
        f"top blame {s['blameAccuracy']}, location {s['locationAccuracy']}, selection recall "
        f"{s['selectionRecall']} (targets 0.9, 0.8, 1.0) in {s['seconds']} s"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated fault ids")
    parser.add_argument("--ci-sample", action="store_true", help="the CI test's fixed sample")
    parser.add_argument("--keep", metavar="DIR", help="build (or reuse) the copy and venv under DIR")
    parser.add_argument(
        "--git",
        action="store_true",
        help="commit the clean copy to git first, so causal blame can revert a fault (default: merits only)",
    )
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "upstream_faults.json"))
    args = parser.parse_args(argv)
    snapshot = upstream_repo()
    if snapshot is None:
        print(
            "no upstream snapshot: set CONNECTOR_WATCH_UPSTREAM_REPO or place it at ../shared/upstream-repo"
        )
        return 2
    faults = CATALOGUE
    if args.only or args.ci_sample:
        wanted = set(args.only.split(",")) if args.only else set(CI_SAMPLE)
        faults = [f for f in CATALOGUE if f.id in wanted]
    scratch = (
        Path(args.keep)
        if args.keep
        else Path(os.environ.get("TMPDIR", "/tmp")) / f"upstream-faults-{os.getpid()}"
    )
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / "repo"
    sources = sorted({f.source for f in faults})
    if not (copy / "pyproject.toml").is_file() or not args.keep:
        prepare_copy(snapshot, copy, sources)
        if args.git:
            commit_copy(copy)
    python = make_venv(scratch / "venv", copy)
    try:
        document = run_catalogue(faults, copy, python, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(render(document))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
