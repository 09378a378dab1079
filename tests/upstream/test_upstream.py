"""connector-watch on the public connectors repository, as it is: real processes on a scratch copy,
no configuration.

The copy keeps a representative subset of the sources' tests (see ``conftest.py``); every check
compares with what plain ``pytest`` says on the same copy.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from connector_watch.tests.upstream.conftest import PACKAGE, TESTS, Upstream

pytestmark = [pytest.mark.upstream, pytest.mark.slow]

SPECS = f"{PACKAGE}/source_simulator/specs"
TICKETS = f"{SPECS}/zendesk/corpus/tickets.json"
ZENDESK_SPEC = f"{SPECS}/zendesk/endpoints.yaml"
ZENDESK_TEST = f"{TESTS}/zendesk/test_zendesk_lakeflow_connect.py"
ZENDESK_CLASS = f"{ZENDESK_TEST}::TestZendeskConnector"
#: The zendesk harness tests that read the tickets table (the others make no tickets request).
TICKET_READERS = {
    f"{ZENDESK_CLASS}::{name}"
    for name in ("test_read_table", "test_read_terminates", "test_every_column_populated_by_at_least_one_record")
}
FAILING = ("failed", "error", "timeout", "crashed")


# ---------------------------------------------------------------------------- plain pytest, the reference


def _junit_outcomes(path: Path, root: Path) -> dict[str, str]:
    """Node ID → outcome from pytest's JUnit file; a file that did not collect is keyed by its path."""
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        if not classname:  # a collection error: name is the module's dotted name
            node = name.replace(".", "/") + ".py"
        else:
            parts = classname.split(".")
            split = next(i for i in range(len(parts), 0, -1) if (root / ("/".join(parts[:i]) + ".py")).is_file())
            node = "::".join(["/".join(parts[:split]) + ".py", *parts[split:], name])
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                break
        outcomes[node] = outcome
    return outcomes


@pytest.fixture(scope="module")
def reference(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What plain pytest collects and gives on the copy (the workspace's config): the connectors'
    tests in one process, and the repository's own tests of its libraries, simulator and pipeline
    (the rest of ``testpaths``), each folder or module in a process of its own: run together, their
    outcomes depend on the import order (three modules that pass alone error in one batch)."""
    folder = tmp_path_factory.mktemp("reference")
    nodes: set[str] = set()
    outcomes: dict[str, str] = {}
    exits = []
    unit = upstream.path("tests/unit")
    shared = sorted(
        p.relative_to(upstream.root).as_posix()
        for p in unit.iterdir()
        if p.name not in ("sources", "__pycache__", "__init__.py") and (p.is_dir() or p.suffix == ".py")
    )
    for name, selection in (("sources", [TESTS]), *((f"shared{i}", [path]) for i, path in enumerate(shared))):
        collected = upstream.pytest("--collect-only", "-qq", "--continue-on-collection-errors", *selection)
        nodes |= {line.strip() for line in collected.stdout.splitlines() if line.startswith("tests/") and "::" in line}
        junit = folder / f"{name}.xml"
        run = upstream.pytest("-q", "--continue-on-collection-errors", f"--junitxml={junit}", *selection)
        outcomes.update(_junit_outcomes(junit, upstream.root))
        exits.append(run.returncode)
    return {"nodes": nodes, "outcomes": outcomes, "exit": exits[0]}


@pytest.fixture(scope="module")
def full_run(upstream: Upstream, reference: dict[str, Any]) -> dict[str, Any]:
    """``connector-watch run --json`` on the copy, no configuration (it also writes the index)."""
    code, document = upstream.cli_json("run", "--json")
    return {"exit": code, "document": document, "results": {r["nodeId"]: r for r in document["results"]}}


# ---------------------------------------------------------------------------- 1 + 3: layout, conventions


def test_check_on_the_clean_snapshot_exits_0_with_warnings_only_where_true(upstream: Upstream) -> None:
    code, document = upstream.cli_json("check", "--json")
    diagnostics = document["diagnostics"]
    assert code == 0 and not [d for d in diagnostics if d["severity"] == "error"]
    by_path: dict[str, list[dict[str, Any]]] = {}
    for d in diagnostics:
        by_path.setdefault(d["location"]["path"], []).append(d)
    # Corpora the github spec names but does not ship are served as empty on purpose: a note.
    missing = [d for d in by_path.get(f"{SPECS}/github/endpoints.yaml", []) if d["code"] == "corpus.missing-corpus"]
    assert missing and {d["severity"] for d in missing} == {"information"}
    # Corpora only a spec handler reads are used; stub endpoints without a corpus are fine.
    for used in (f"{SPECS}/fhir/corpus/Patient.json", f"{SPECS}/adme/corpus/Wellbore.json"):
        assert used not in by_path, by_path.get(used)
    assert not [d for d in by_path.get(f"{SPECS}/dicomweb/endpoints.yaml", []) if d["severity"] != "information"]


def test_a_run_of_a_source_whose_tests_pass_exits_0(upstream: Upstream) -> None:
    """Before any other run (no index: nothing failed before), so only zendesk's tests run."""
    assert not upstream.path(".connector-watch/index.json").exists()
    code, document = upstream.cli_json("run", "--json", "--changed", ZENDESK_TEST)
    assert code == 0, document["summary"]
    assert document["summary"]["passed"] >= 7 and document["summary"]["staticErrors"] == 0


# ---------------------------------------------------------------------------- 4: nothing dropped, as pytest


def test_a_full_run_reports_a_result_for_every_node_pytest_collects(full_run, reference) -> None:
    results = full_run["results"]
    missing = reference["nodes"] - set(results)
    assert not missing, f"{len(missing)} collected node(s) without a result, e.g. {sorted(missing)[:5]}"
    assert len(reference["nodes"]) > 500
    assert any(n.startswith("tests/unit/libs/") for n in reference["nodes"])  # all of testpaths


def test_every_outcome_is_the_one_plain_pytest_gives_node_for_node(full_run, reference) -> None:
    ours = {node: r["outcome"] for node, r in full_run["results"].items()}
    theirs = reference["outcomes"]
    differ = {n: (theirs[n], ours.get(n)) for n in theirs if ours.get(n) != theirs[n]}
    assert not differ, f"{len(differ)} node(s) differ (pytest, connector-watch): {dict(list(differ.items())[:8])}"
    extra = {n: o for n, o in ours.items() if n not in theirs}
    assert not extra, f"results plain pytest does not have: {dict(list(extra.items())[:8])}"


def test_a_file_that_cannot_collect_is_one_located_error_and_the_others_still_run(
    upstream: Upstream, full_run, reference
) -> None:
    errors = [r for r in full_run["results"].values() if "::" not in r["nodeId"]]
    assert {r["nodeId"] for r in errors} == {n for n, o in reference["outcomes"].items() if "::" not in n}
    for result in errors:
        assert result["outcome"] == "error" and result["diagnostics"], result["nodeId"]
        location = result["diagnostics"][0]["location"]
        assert upstream.path(location["path"]).is_file(), location
        assert result["message"]
    summary = full_run["document"]["summary"]
    assert summary["passed"] == sum(1 for o in reference["outcomes"].values() if o == "passed") > 500


def test_static_findings_are_counted_apart_and_the_exit_code_follows_the_tests(full_run, reference) -> None:
    summary = full_run["document"]["summary"]
    assert summary["staticErrors"] == 0 and summary["staticWarnings"] > 0
    blamed_corpus = sum(d["blame"] == "corpus" for r in full_run["results"].values() for d in r["diagnostics"])
    assert summary["byBlame"]["corpus"] <= blamed_corpus  # the static warnings are not test results
    failing = sum(summary[k] for k in FAILING)
    assert full_run["exit"] == (1 if failing else 0) == (1 if reference["exit"] else 0)


def test_an_import_error_in_one_file_is_located_and_the_others_still_run(upstream: Upstream) -> None:
    broken = f"{TESTS}/zendesk/test_cw_broken_import.py"
    upstream.path(broken).write_text("import json\n\nfrom tests.unit.sources.no_such_module import Thing\n")
    try:
        code, document = upstream.cli_json("run", "--json", "--changed", broken, ZENDESK_TEST)
    finally:
        upstream.path(broken).unlink()
    results = {r["nodeId"]: r for r in document["results"]}
    assert code == 1
    assert results[broken]["outcome"] == "error"
    location = results[broken]["diagnostics"][0]["location"]
    assert (location["path"], location["range"]["start"]["line"]) == (broken, 2)
    zendesk = [r for n, r in results.items() if n.startswith(ZENDESK_CLASS)]
    assert len(zendesk) >= 9 and all(r["outcome"] in ("passed", "skipped") for r in zendesk)


# ---------------------------------------------------------------------------- 2: evidence → selection


def _impact(upstream: Upstream, *paths: str) -> dict[str, list[str]]:
    code, document = upstream.cli_json("impact", *paths)
    assert code == 0
    return {n["nodeId"]: n["reasons"] for n in document["nodes"]}


def _not_follow_ups(selected: dict[str, list[str]]) -> set[str]:
    return {n for n, reasons in selected.items() if not all(r.endswith(" last time") for r in reasons)}


def test_the_index_holds_requests_matched_to_spec_endpoints_and_files(upstream: Upstream, full_run) -> None:
    index = json.loads(upstream.path(".connector-watch/index.json").read_text())
    with_requests = [n for n in index["nodes"] if n["requests"]]
    assert len(with_requests) > 50
    matched = [r for n in with_requests for r in n["requests"] if r[2] is not None]
    assert any(r[5] == TICKETS for r in matched)
    assert any(TICKETS in n["loaded"] for n in index["nodes"])


def test_a_corpus_edit_selects_the_tests_that_read_it_and_not_the_others(upstream: Upstream, full_run) -> None:
    selected = _not_follow_ups(_impact(upstream, TICKETS))
    assert selected == TICKET_READERS


def test_a_breaking_corpus_edit_fails_only_tests_it_selects(upstream: Upstream, full_run) -> None:
    """Recall against the truth: plain pytest on the broken copy fails nothing impact left out."""
    path = upstream.path(TICKETS)
    original = path.read_text()
    records = json.loads(original)
    records[0]["id"] = "not-a-number"
    path.write_text(json.dumps(records, indent=2))
    try:
        selected = set(_impact(upstream, TICKETS))
        broken = upstream.pytest("-q", "-rA", f"{TESTS}/zendesk")
    finally:
        path.write_text(original)
    failed = {line.split(" ", 1)[1].split(" - ")[0] for line in broken.stdout.splitlines() if line.startswith("FAILED ")}
    assert failed, broken.stdout[-2000:]
    assert failed <= selected


def test_a_spec_endpoint_edit_selects_the_tests_whose_requests_land_on_it(upstream: Upstream, full_run) -> None:
    path = upstream.path(ZENDESK_SPEC)
    original = path.read_text()
    anchor = '    corpus: tickets\n'
    assert anchor in original
    path.write_text(original.replace(anchor, anchor + "    description: edited by the upstream suite\n", 1))
    try:
        selected = _not_follow_ups(_impact(upstream, ZENDESK_SPEC))
    finally:
        path.write_text(original)
    assert selected == TICKET_READERS


def test_an_edit_of_the_shared_libs_selects_every_sources_tests(upstream: Upstream, full_run) -> None:
    selected = _impact(upstream, f"{PACKAGE}/libs/utils.py")
    sources = {n.split("/")[3] for n in selected if n.startswith(f"{TESTS}/")}
    assert sources == set(upstream.sources)
    # The repository's own tests of the module are tests too (pytest's testpaths), and rerun.
    assert any(n.startswith("tests/unit/libs/test_utils.py::") for n in selected), sorted(selected)[:5]
    harness = {n for n in selected if n.endswith("::test_read_table")}
    assert len(harness) >= len(upstream.sources) - 1  # every harness class


def test_a_connector_edit_selects_its_test_files(upstream: Upstream, full_run) -> None:
    selected = _not_follow_ups(_impact(upstream, f"{PACKAGE}/sources/zendesk/zendesk.py"))
    assert {n.split("::")[0] for n in selected} == {ZENDESK_TEST}


# ---------------------------------------------------------------------------- the warm daemon on a save


class JsonLinesDaemon:
    """``connector-watch watch --json`` as a real process, read line by line."""

    def __init__(self, upstream: Upstream) -> None:
        command = [str(upstream.python), "-m", "connector_watch.daemon", "watch", "--json", "--workspace", str(upstream.root)]
        self.process = subprocess.Popen(command, cwd=upstream.root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.events: list[dict[str, Any]] = []

    def lines(self, timeout: float) -> Iterator[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = self.process.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            self.events.append(event)
            yield event
        runs = [
            (e["method"], {k: e["params"].get(k) for k in ("runId", "trigger", "paths", "cancelled", "counts")})
            for e in self.events
            if e.get("method") in ("run/started", "run/finished")
        ]
        raise TimeoutError(
            f"no expected event in {timeout} s; last: {[e.get('method') for e in self.events[-5:]]}; runs: {runs[-6:]}"
        )

    def until_run_finished(self, timeout: float, paths: list[str] | None = None) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        run_id = None
        for event in self.lines(timeout):
            seen.append(event)
            params = event.get("params", {})
            if event["method"] == "run/started" and (paths is None or set(paths) <= set(params["paths"])):
                run_id = params["runId"]
            if event["method"] == "run/finished" and params["runId"] == run_id and not params["cancelled"]:
                return seen
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def test_the_warm_daemon_reruns_the_readers_of_a_saved_corpus_and_blames_it(upstream: Upstream) -> None:
    daemon = JsonLinesDaemon(upstream)
    path = upstream.path(TICKETS)
    original = path.read_text()
    try:
        daemon.until_run_finished(timeout=300)
        records = json.loads(original)
        records[0]["id"] = "not-a-number"
        path.write_text(json.dumps(records, indent=2))
        events = daemon.until_run_finished(timeout=120, paths=[TICKETS])
        started = next(e for e in events if e["method"] == "run/started" and TICKETS in e["params"]["paths"])
        selected = {n["nodeId"] for n in started["params"]["nodes"]}
        finished = {e["params"]["nodeId"]: e["params"] for e in events if e["method"] == "test/finished"}
        assert selected >= TICKET_READERS
        assert not {n for n in selected if n.startswith(ZENDESK_CLASS)} - TICKET_READERS
        failed = [p for n, p in finished.items() if p["outcome"] == "failed" and n.startswith(ZENDESK_CLASS)]
        assert failed, {n: p["outcome"] for n, p in finished.items()}
        assert all(p["diagnostics"] for p in failed)
        path.write_text(original)
        events = daemon.until_run_finished(timeout=120, paths=[TICKETS])
        healed = {e["params"]["nodeId"]: e["params"]["outcome"] for e in events if e["method"] == "test/finished"}
        assert all(healed[p["nodeId"]] == "passed" for p in failed)
    finally:
        path.write_text(original)
        daemon.close()


def test_the_suite_runs_on_a_copy_not_the_snapshot(upstream: Upstream) -> None:
    assert os.access(upstream.root, os.W_OK) and "shared" not in upstream.root.parts
