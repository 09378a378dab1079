"""Record mode as a new user meets it: real suites against real live servers, in a private workspace.

Each example source's suite runs in record mode (``CONNECTOR_TEST_MODE=record``) as a pytest
subprocess against its live server; the cassette and both reports must appear, write-back must run,
and no secret may reach disk. Then the full loop on one source: drift the live data, rerun, read the
report, re-seed the corpus, and see the drift gone and simulate mode green.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator.cassette import Cassette
from connector_watch.simulator.live_servers.process import start
from connector_watch.simulator.scrub import secret_values
from connector_watch.tests.record.conftest import cassette_paths, read_json
from connector_watch.tests.record.helpers import line_of
from connector_watch.tests.support.suites import SuiteRun, run_suite
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow
SOURCES = ("github", "zendesk", "hubspot", "msgraph")
WRITE_BACK = {"github": "issues", "zendesk": "tickets", "hubspot": "contacts"}


def _record_everything(root: Path) -> tuple[Path, dict[str, SuiteRun], dict[str, dict[str, str]]]:
    workspace = copy_examples(root / "workspace")
    refused_space = copy_examples(root / "refused", sources=("msgraph",))
    servers = {source: start(source, rate_limit="first") for source in SOURCES}
    try:
        refused = {**servers["msgraph"].config, "client_secret": "not-the-secret"}
        # (workspace, source, config, mode, config file): ``live`` is ``record`` under its other name,
        # and the config may come inline (CONNECTOR_TEST_CONFIG_JSON) or from a file (..._PATH).
        jobs = {s: (workspace, s, servers[s].config, "record", None) for s in SOURCES}
        jobs["msgraph"] = (
            workspace,
            "msgraph",
            servers["msgraph"].config,
            "live",
            root / "secrets" / "msgraph.json",
        )
        jobs["refused"] = (refused_space, "msgraph", refused, "record", None)
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {
                name: pool.submit(run_suite, ws, source, mode=mode, config=config, config_path=path)
                for name, (ws, source, config, mode, path) in jobs.items()
            }
            runs = {name: future.result() for name, future in futures.items()}
        return workspace, runs, {s: dict(servers[s].config) for s in SOURCES}
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every example suite recorded once (concurrently), plus a run with refused credentials.

    Under pytest-xdist the workers share one recording (the first one makes it, under a lock).
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "record-workflow"
    with open(shared / "record-workflow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "done.json"
        if done.is_file():
            data = json.loads(done.read_text())
            return (
                Path(data["workspace"]),
                {k: SuiteRun(**v) for k, v in data["runs"].items()},
                data["configs"],
            )
        root.mkdir(parents=True, exist_ok=True)
        workspace, runs, configs = _record_everything(root)
        done.write_text(
            json.dumps(
                {
                    "workspace": str(workspace),
                    "runs": {k: asdict(v) for k, v in runs.items()},
                    "configs": configs,
                }
            )
        )
        return workspace, runs, configs


@pytest.mark.parametrize("source", SOURCES)
def test_record_mode_runs_the_whole_suite_against_the_live_api(recorded: Any, source: str) -> None:
    _, runs, _ = recorded
    run: SuiteRun = runs[source]
    assert run.returncode == 0, run.output[-3000:]
    assert not run.by_outcome("failed") and not run.by_outcome("error")
    assert run.node("test_read_table[") and all(o == "passed" for _, o in run.node("test_read_table["))


@pytest.mark.parametrize("source", SOURCES)
def test_the_recorded_suite_replays_offline_with_stand_in_credentials(recorded: Any, source: str) -> None:
    """Replay serves what was recorded; the requests a sampled recording never saw (the next cursor of
    an incremental read, a token request with other client credentials) are answered from it too."""
    workspace, _, _ = recorded
    run = run_suite(workspace, source, mode="replay")  # the test class's replay_config, no server
    assert run.returncode == 0, run.output[-3000:]
    terminates = run.node("test_read_terminates[")
    assert terminates and all(o == "passed" for _, o in terminates), run.messages


@pytest.mark.parametrize("source", sorted(WRITE_BACK))
def test_write_back_runs_against_the_live_server(recorded: Any, source: str) -> None:
    _, runs, _ = recorded
    run: SuiteRun = runs[source]
    for name in ("test_write_to_source", "test_incremental_after_write", "test_list_insertable_tables"):
        assert [o for _, o in run.node(f"::{name}")] == ["passed"], run.messages
    deletes = [o for _, o in run.node("::test_delete_and_read_deletes")]
    assert deletes == (["passed"] if source == "hubspot" else ["skipped"]) or deletes == ["passed"]


@pytest.mark.parametrize("source", SOURCES)
def test_the_cassette_and_both_reports_appear_and_the_baseline_validates(recorded: Any, source: str) -> None:
    workspace, _, _ = recorded
    cassette, validation, coverage = cassette_paths(workspace, source)
    assert cassette.is_file() and validation.is_file() and coverage.is_file()
    assert Cassette.load(cassette).interactions
    report = read_json(validation)
    assert report["summary"]["drift"] is False, json.dumps(report["endpoints"], indent=1)[:3000]
    assert {row["status"] for row in report["endpoints"]} == {"validated"}
    covered = read_json(coverage)
    assert covered["never_hit"] == [] and covered["unmatched"] == []
    recording = covered["recording"]
    assert recording["body_bytes_sampled"] < recording["body_bytes_unsampled"]


@pytest.mark.parametrize("source", SOURCES)
def test_no_secret_reaches_the_cassette_or_the_reports(recorded: Any, source: str) -> None:
    workspace, _, configs = recorded
    config = configs[source]
    secrets = secret_values(config) + ([config["email"]] if "email" in config else [])
    assert secrets
    for path in cassette_paths(workspace, source):
        text = path.read_text()
        for secret in secrets:
            assert secret not in text, f"a {source} credential leaked into {path.name}"


def test_table_options_from_dev_table_config_apply_in_record_mode(recorded: Any) -> None:
    workspace, _, _ = recorded
    cassette, _, _ = cassette_paths(workspace, "github")
    issue_pages = {
        i.request.query.get("per_page")
        for i in Cassette.load(cassette).interactions
        if i.request.path.endswith("/issues")
    }
    assert "7" in issue_pages  # configs/dev_table_config.json: issues.max_records_per_batch = 7


def test_refused_credentials_fail_fast_with_the_401(recorded: Any) -> None:
    _, runs, _ = recorded
    run: SuiteRun = runs["refused"]
    failed = run.by_outcome("failed")
    assert failed and run.seconds < 60
    assert all("401" in run.messages[node] for node in failed), {n: run.messages[n][:200] for n in failed}
    assert any("invalid_client" in run.messages[node] for node in failed)


def test_drift_is_reported_then_reseeding_clears_it_and_simulate_mode_stays_green(
    recorded: Any, tmp_path: Path
) -> None:
    workspace = copy_examples(tmp_path / "workspace", sources=("zendesk",))
    cassette, validation, coverage = cassette_paths(workspace, "zendesk")
    spec = workspace / "simulator" / "specs" / "zendesk" / "endpoints.yaml"
    corpus = workspace / "simulator" / "specs" / "zendesk" / "corpus"
    # 1. the suite was recorded against the live API as it is (the ``recorded`` fixture): a cassette
    #    and both reports, no drift. Continue from that recording.
    shutil.copytree(cassette_paths(recorded[0], "zendesk")[0].parent, cassette.parent)
    assert read_json(validation)["summary"]["drift"] is False and coverage.is_file()
    interactions_before = len(Cassette.load(cassette).interactions)
    with start("zendesk") as server:
        # 2. the live API drifts: tickets gain a field, groups come under another key
        server.set_drift("extra_field", "renamed_wrapper")
        second = run_suite(workspace, "zendesk", mode="record", config=server.config)
        assert second.returncode == 0, second.output[-2000:]
        report = read_json(validation)
        rows = {row["spec_path"]: row for row in report["endpoints"]}
        tickets = rows["/api/v2/incremental/tickets/cursor.json"]
        extra = next(f for f in tickets["findings"] if f["kind"] == "extra_field")
        assert extra["path"] == "encoded_id"
        assert extra["location"]["file"].endswith("zendesk/corpus/tickets.json")
        assert extra["related"][0]["line"] == line_of(spec, "corpus: tickets")
        wrapper = next(f for f in rows["/api/v2/groups.json"]["findings"] if f["kind"] == "wrapper_key")
        assert wrapper["location"]["line"] == line_of(spec, "records_key: groups")
        assert "records_key: group_list" in wrapper["fix"]
        # re-recording replaced the stale interactions rather than piling new ones on
        assert len(Cassette.load(cassette).interactions) <= interactions_before + 5

        # 3. re-seed the corpus from the cassette, as the report suggests (WORKFLOW.md R3)
        reseed = subprocess.run(
            [
                sys.executable,
                "-m",
                "connector_watch.simulator.tools.cassette_to_corpus",
                "--cassette",
                str(cassette),
                "--spec",
                str(spec),
                "--output",
                str(corpus),
            ],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert reseed.returncode == 0, reseed.stderr
        assert "tickets.json" in reseed.stdout and "encoded_id" in reseed.stdout
        assert any("encoded_id" in t for t in json.loads((corpus / "tickets.json").read_text()))

        # 4. the field's drift is gone from the next recording (the wrapper still needs a spec edit),
        # 5. and offline, simulate mode over the re-seeded corpus passes (WORKFLOW.md R6); both at once
        server.set_drift("extra_field")
        with ThreadPoolExecutor(max_workers=2) as pool:
            third_run = pool.submit(run_suite, workspace, "zendesk", mode="record", config=server.config)
            final_run = pool.submit(run_suite, workspace, "zendesk", mode="simulate")
            third, final = third_run.result(), final_run.result()
        assert third.returncode == 0, third.output[-2000:]
        kinds = {f["kind"] for row in read_json(validation)["endpoints"] for f in row["findings"]}
        assert "extra_field" not in kinds and read_json(validation)["summary"]["drift"] is False
    assert final.returncode == 0, final.output[-3000:]
    assert not final.by_outcome("failed") and not final.by_outcome("error")
