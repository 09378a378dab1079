"""The one-shot commands as CI and scripts use them: exit codes and the documented JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from connector_watch.tests.daemon.catalogue import TICKETS, ZENDESK_SPEC
from connector_watch.tests.support.workspace import copy_examples, edit_json

pytestmark = pytest.mark.slow
BIN = [sys.executable, "-m", "connector_watch.daemon"]


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [*BIN, *args, "--workspace", str(root)]
        if args[0] in ("check", "impact")
        else [*BIN, args[0], "--workspace", str(root), *args[1:]],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_examples(tmp_path_factory.mktemp("cli"), sources=("zendesk", "github"))
    first = _cli(root, "run", "--json")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    return root


def _diagnostic_shape(d: dict) -> None:
    assert set(d) >= {"blame", "confidence", "message", "location", "related", "evidence", "fix"}
    assert set(d["location"]) == {"path", "range"}
    assert set(d["location"]["range"]) == {"start", "end"}
    assert set(d["location"]["range"]["start"]) == {"line", "character"}
    assert not d["location"]["path"].startswith("/")


def test_run_json_reports_every_node_and_exits_0_when_green(workspace: Path) -> None:
    result = _cli(workspace, "run", "--json")
    document = json.loads(result.stdout)
    assert result.returncode == 0
    summary = document["summary"]
    assert summary["total"] == len(document["results"]) > 40
    assert summary["failed"] == summary["error"] == 0
    assert {"nodeId", "outcome", "durationMs", "diagnostics"} <= set(document["results"][0])


def test_run_on_a_broken_corpus_exits_1_with_a_located_corpus_diagnostic(
    workspace: Path, tmp_path: Path
) -> None:
    path = workspace / TICKETS
    original = path.read_text()
    edit_json(path, lambda records: records[3].__setitem__("id", "not-a-number"))
    try:
        sarif, junit = tmp_path / "out.sarif", tmp_path / "out.xml"
        result = _cli(workspace, "run", "--json", "--sarif", str(sarif), "--junit", str(junit))
        assert result.returncode == 1
        document = json.loads(result.stdout)
        failed = [r for r in document["results"] if r["outcome"] == "failed"]
        assert failed and all("zendesk" in r["nodeId"] for r in failed)
        diagnostic = next(d for r in failed for d in r["diagnostics"] if d["blame"] == "corpus")
        _diagnostic_shape(diagnostic)
        assert diagnostic["location"]["path"] == TICKETS
        assert document["summary"]["byBlame"]["corpus"] >= 1

        log = json.loads(sarif.read_text())
        assert log["version"] == "2.1.0"
        results = log["runs"][0]["results"]
        assert any(
            r["ruleId"] == "corpus"
            and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == TICKETS
            for r in results
        )
        suites = ElementTree.parse(junit).getroot()
        failures = [c for c in suites.iter("testcase") if c.find("failure") is not None]
        assert failures and "[corpus]" in failures[0].find("failure").get("message")

        text = _cli(workspace, "run")
        assert "== corpus" in text.stdout and TICKETS in text.stdout and "fix:" in text.stdout
    finally:
        path.write_text(original)


def test_run_changed_runs_only_what_the_change_affects(workspace: Path) -> None:
    path = workspace / TICKETS
    original = path.read_text()
    edit_json(path, lambda records: records[0].__setitem__("subject", "edited"))
    try:
        result = _cli(workspace, "run", "--json", "--changed", str(path))
        document = json.loads(result.stdout)
        ran = {r["nodeId"] for r in document["results"]}
        assert ran and all("[tickets]" in n for n in ran), sorted(ran)
        assert result.returncode == 0
    finally:
        path.write_text(original)


def test_impact_lists_nodes_with_reasons(workspace: Path) -> None:
    result = _cli(workspace, "impact", TICKETS)
    document = json.loads(result.stdout)
    assert document["indexed"] is True
    nodes = {n["nodeId"]: n["reasons"] for n in document["nodes"]}
    assert nodes and all("[tickets]" in n for n in nodes)
    assert all("corpus tickets changed" in reasons[0] for reasons in nodes.values())
    spec = json.loads(_cli(workspace, "impact", ZENDESK_SPEC).stdout)
    assert spec["nodes"] == []  # unchanged on disk since the index was written: nothing would differ


def test_check_is_clean_on_the_examples_and_fails_on_a_broken_spec(workspace: Path) -> None:
    clean = _cli(workspace, "check", "--json")
    assert clean.returncode == 0, clean.stdout
    assert [d for d in json.loads(clean.stdout)["diagnostics"] if d["severity"] == "error"] == []
    path = workspace / ZENDESK_SPEC
    original = path.read_text()
    path.write_text(original.replace("records_key: tickets", "records_kee: tickets", 1))
    try:
        broken = _cli(workspace, "check", "--json", str(path))
        assert broken.returncode == 1
        diagnostics = json.loads(broken.stdout)["diagnostics"]
        assert len(diagnostics) == 1, diagnostics  # not also "records_key is missing"
        assert diagnostics[0]["blame"] == "spec" and "did you mean 'records_key'" in diagnostics[0]["message"]
        _diagnostic_shape(diagnostics[0])
        line = next(i for i, text in enumerate(path.read_text().splitlines()) if "records_kee" in text)
        assert diagnostics[0]["location"]["range"]["start"]["line"] == line
    finally:
        path.write_text(original)


def test_check_imports_a_specs_handlers_from_the_workspace_wherever_it_runs(tmp_path: Path) -> None:
    """msgraph's spec names ``simulator.handlers.msgraph:…``: the workspace's own module, found as the
    test workers find it, not through the caller's PYTHONPATH or working directory."""
    workspace = copy_examples(tmp_path / "ws", sources=("msgraph",))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    spec = "simulator/specs/msgraph/endpoints.yaml"
    assert "handler: \"simulator.handlers." in (workspace / spec).read_text()
    result = subprocess.run(
        [*BIN, "check", "--json", "--workspace", str(workspace), spec],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["diagnostics"] == []


def test_check_before_any_run_type_checks_corpora_against_schemas_it_learns(tmp_path: Path) -> None:
    root = copy_examples(tmp_path, sources=("zendesk",))
    edit_json(root / TICKETS, lambda records: records[1].update(requester_id="oops"))
    fresh = _cli(root, "check", "--json")
    assert fresh.returncode == 1, fresh.stdout + fresh.stderr
    document = json.loads(fresh.stdout)
    assert document["notes"] == []
    [mismatch] = [d for d in document["diagnostics"] if d["code"] == "corpus.type_mismatch"]
    assert mismatch["location"]["path"] == TICKETS and "requester_id" in mismatch["message"]
    line = (root / TICKETS).read_text().splitlines()[mismatch["location"]["range"]["start"]["line"]]
    assert '"requester_id": "oops"' in line
    assert (root / ".connector-watch" / "schemas.json").is_file()  # a warm check does not import again
    blind = _cli(root, "check", "--json", "--no-learn")
    assert blind.returncode == 0
    notes = json.loads(blind.stdout)["notes"]
    assert len(notes) == 1 and "zendesk" in notes[0] and "--no-learn" in notes[0]
    text = _cli(root, "check", "--no-learn")
    assert "note: corpus records of zendesk were checked for JSON syntax and consistency only" in text.stderr
    missing = _cli(root, "check", str(root / "no-such.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "no-such.json" in missing.stderr


def test_check_after_a_run_type_checks_corpora_without_a_note(workspace: Path) -> None:
    result = _cli(workspace, "check", "--json")
    assert json.loads(result.stdout)["notes"] == []
