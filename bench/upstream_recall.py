"""Selection recall on the public connectors repository: does ``impact`` pick every test a change
breaks, and how much does it leave out?

On a scratch copy of the snapshot (installed as in ``bench/upstream.py``), after one full
``connector-watch run`` (which fills the index), for every source with a spec:

- **corpus** faults, on each corpus file some test's requests reached (``--corpora`` per source at
  most): the file emptied (``[]``), and its first record's scalars swapped to another type;
- a **spec** fault: the path of an endpoint that serves a corpus no longer matches what the
  connector asks for;
- a **connector** fault: ``read_table`` raises at its first line;

and one **shared** fault: ``libs/utils.py``'s ``parse_value`` raises. For each fault the truth is
plain ``pytest`` on the source's tests (everything, for the shared fault), minus what already failed
without it; the selection is ``connector-watch impact <file>`` (reruns of earlier failures left
out). Recall is the share of newly failing tests the selection holds; the selection's size is given
as a share of the source's tests.

    .venv/bin/python bench/upstream_recall.py            # ~10 minutes on 2 cores
    .venv/bin/python bench/upstream_recall.py --sources zendesk,github --output /tmp/recall.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from connector_watch.tests.support.upstream import (  # noqa: E402
    PACKAGE,
    TESTS,
    clean_env,
    copy_snapshot,
    snapshot,
    virtualenv,
)

SPECS = f"{PACKAGE}/source_simulator/specs"
DEFAULT_OUTPUT = REPO / "bench" / "results" / "upstream_recall.json"
#: Test folders a source's tests need beside their own in one process (stand-in modules).
NEEDS = {"hl7_v2": ["google_analytics_aggregated"]}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Copy:
    def __init__(self, root: Path, python: Path) -> None:
        self.root, self.python = root, python

    def cli(self, *args: str) -> Any:
        command = [str(self.python), "-m", "connector_watch.daemon", args[0], "--workspace", str(self.root), *args[1:]]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, env=clean_env())
        return json.loads(result.stdout)

    def failing(self, folders: list[str]) -> set[str]:
        junit = self.root / ".connector-watch" / "recall-junit.xml"
        command = [str(self.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   "--continue-on-collection-errors", f"--junitxml={junit}", *folders]
        subprocess.run(command, cwd=self.root, capture_output=True, text=True, env=clean_env(), timeout=900)
        failing = set()
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            if any(child.tag in ("failure", "error") for child in case):
                failing.add(_node_id(self.root, case.get("classname", ""), case.get("name", "")))
        return failing


def _node_id(root: Path, classname: str, name: str) -> str:
    if not classname:
        return name.replace(".", "/") + ".py"
    parts = classname.split(".")
    split = next(i for i in range(len(parts), 0, -1) if (root / ("/".join(parts[:i]) + ".py")).is_file())
    return "::".join(["/".join(parts[:split]) + ".py", *parts[split:], name])


# ---------------------------------------------------------------------------------------------- faults


def _flip(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return f"n{value}"
    if isinstance(value, str):
        return 12345
    return value


def corpus_faults(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        return []
    faults = [("corpus emptied", "[]\n" if isinstance(data, list) else "{}\n")]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = {k: _flip(v) for k, v in data[0].items()}
        faults.append(("corpus first record's types swapped", json.dumps([first, *data[1:]], indent=2)))
    return faults


def spec_fault(path: Path, corpora: set[str]) -> tuple[str, str] | None:
    text = path.read_text(encoding="utf-8")
    for match in re.finditer(r"- path: *\"?(/[^\"\n]*)\"?\n(?:(?!\s*- path:).*\n){0,4}?\s*corpus: *(\w+)", text):
        if match.group(2) in corpora:
            start, end = match.span(1)
            return (f"spec endpoint {match.group(1)} moved", text[:start] + "/moved" + text[start:end] + text[end:])
    return None


def connector_fault(path: Path) -> tuple[str, str] | None:
    text = path.read_text(encoding="utf-8")
    match = re.search(r"\n(\s+)def read_table\(self[^)]*\)[^:]*:\n", text)
    if match is None:
        return None
    indent = match.group(1) + "    "
    insert = f'{indent}raise RuntimeError("seeded connector fault")\n'
    return ("connector read_table raises", text[: match.end()] + insert + text[match.end() :])


# ---------------------------------------------------------------------------------------------- measure


def measure(copy: Copy, path: str, faulty: str, folders: list[str], baseline: set[str], source_nodes: set[str]) -> dict[str, Any]:
    file = copy.root / path
    original = file.read_text(encoding="utf-8")
    file.write_text(faulty, encoding="utf-8")
    try:
        document = copy.cli("impact", path)
        failing = copy.failing(folders) - baseline
    finally:
        file.write_text(original, encoding="utf-8")
    selected = {
        n["nodeId"] for n in document["nodes"] if not all(r.endswith(" last time") for r in n["reasons"])
    }
    covered = {n for n in failing if n in selected or n.split("::")[0] in selected}
    return {
        "failing": len(failing),
        "selected_failing": len(covered),
        "missed": sorted(failing - covered),
        "selected": len(selected),
        "selected_of_source": len(selected & source_nodes),
        "source_tests": len(source_nodes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot")
    parser.add_argument("--sources", help="comma-separated (default: every source with a spec)")
    parser.add_argument("--corpora", type=int, default=2, help="corpus files per source")
    parser.add_argument("--shared", action="store_true", help="with --sources: the shared fault too")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args(argv)
    source = Path(args.snapshot) if args.snapshot else snapshot()
    if source is None:
        print("bench/upstream_recall.py: no snapshot of the public repository", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="cw-upstream-recall-"))
    root = scratch / "lakeflow-community-connectors"
    log(f"copying and installing the snapshot into {scratch}")
    copy_snapshot(source, root)
    copy = Copy(root, virtualenv(scratch / "venv", root))
    log("connector-watch run (fills the index)")
    copy.cli("run", "--json")
    index = json.loads((root / ".connector-watch" / "index.json").read_text())
    by_source: dict[str, set[str]] = {}
    reached: dict[str, set[str]] = {}
    for node in index["nodes"]:
        name = node["file"].split("/")[3]
        by_source.setdefault(name, set()).add(node["nodeId"])
        for request in node["requests"]:
            if request[5]:
                reached.setdefault(name, set()).add(request[5])
    sources = sorted(p.parent.name for p in (root / SPECS).glob("*/endpoints.yaml"))
    if args.sources:
        sources = [s for s in sources if s in args.sources.split(",")]
    faults: list[dict[str, Any]] = []
    for name in sources:
        if not (root / TESTS / name).is_dir():
            continue
        folders = [f"{TESTS}/{n}" for n in (*NEEDS.get(name, []), name)]
        baseline = copy.failing(folders)
        candidates: list[tuple[str, str, str]] = []
        corpus_files = sorted(c for c in reached.get(name, set()) if (root / c).is_file())[: args.corpora]
        for corpus in corpus_files:
            candidates += [(corpus, what, text) for what, text in corpus_faults(root / corpus)]
        spec = spec_fault(root / SPECS / name / "endpoints.yaml", {Path(c).stem for c in reached.get(name, set())})
        if spec:
            candidates.append((f"{SPECS}/{name}/endpoints.yaml", *spec))
        connector = root / PACKAGE / "sources" / name / f"{name}.py"
        fault = connector_fault(connector) if connector.is_file() else None
        if fault:
            candidates.append((f"{PACKAGE}/sources/{name}/{name}.py", *fault))
        for path, what, text in candidates:
            result = measure(copy, path, text, folders, baseline, by_source.get(name, set()))
            faults.append({"source": name, "path": path, "fault": what, **result})
            log(f"{name}: {what}: {result['selected_failing']}/{result['failing']} failing selected, "
                f"{result['selected_of_source']}/{result['source_tests']} of its tests selected")
    utils = f"{PACKAGE}/libs/utils.py"
    if args.sources and not args.shared:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
        return _write(args.output, faults)
    text = (root / utils).read_text(encoding="utf-8")
    faulty = re.sub(r"(\ndef parse_value\(.*\n)", r'\1    raise ValueError("seeded shared fault")\n', text, count=1)
    everything = set().union(*by_source.values())
    result = measure(copy, utils, faulty, [TESTS], copy.failing([TESTS]), everything)
    faults.append({"source": "*", "path": utils, "fault": "libs/utils.py parse_value raises", **result})
    log(f"shared: {result['selected_failing']}/{result['failing']} failing selected")
    status = _write(args.output, faults)
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    return status


def _write(output: str, faults: list[dict[str, Any]]) -> int:
    failing = sum(f["failing"] for f in faults)
    covered = sum(f["selected_failing"] for f in faults)
    detected = [f for f in faults if f["failing"]]
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "faults": len(faults),
        "faults_with_failing_tests": len(detected),
        "failing_tests": failing,
        "failing_tests_selected": covered,
        "recall": round(covered / failing, 4) if failing else None,
        "faults_fully_covered": sum(1 for f in detected if f["selected_failing"] == f["failing"]),
        "mean_selected_share_of_source": round(
            sum(f["selected_of_source"] / f["source_tests"] for f in faults if f["source_tests"] and f["source"] != "*")
            / max(1, sum(1 for f in faults if f["source_tests"] and f["source"] != "*")),
            4,
        ),
        "by_fault": faults,
    }
    Path(output).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in document.items() if k != "by_fault"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
