"""The live validator: each kind of drift is named, located (spec line or corpus record) and given a fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from connector_watch.tests.record.helpers import (
    SPECS,
    coverage_of,
    drain,
    findings,
    line_of,
    record,
    report_of,
)

from sources.github.github import GithubLakeflowConnect
from sources.hubspot.hubspot import HubspotLakeflowConnect
from sources.msgraph.msgraph import MsgraphLakeflowConnect
from sources.zendesk.zendesk import ZendeskLakeflowConnect

GITHUB_SPEC = SPECS / "github" / "endpoints.yaml"
ZENDESK_SPEC = SPECS / "zendesk" / "endpoints.yaml"


def _only(report: dict[str, Any], kind: str) -> dict[str, Any]:
    found = findings(report, kind)
    assert len(found) == 1, f"expected one {kind} finding, got {found}"
    return found[0]


def test_an_extra_field_names_the_field_the_corpus_record_and_the_spec_line(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("github", drifts=["extra_field"])
    connector = GithubLakeflowConnect(server.config)
    simulator = record(
        tmp_path, "github", server.config, lambda: drain(connector, "issues", {"max_records_per_batch": "50"})
    )
    report = report_of(simulator)
    finding = _only(report, "extra_field")
    assert finding["path"] == "issue_dependencies_summary" and finding["live"] == ["dict"]
    assert finding["location"]["file"].endswith("simulator/specs/github/corpus/issues.json")
    assert finding["location"]["line"] == 2  # the first corpus record
    related = finding["related"][0]
    assert related["file"].endswith("simulator/specs/github/endpoints.yaml")
    assert related["line"] == line_of(GITHUB_SPEC, "corpus: issues")
    assert "cassette_to_corpus" in finding["fix"]
    printed = subprocess.run(
        [sys.executable, "-m", "connector_watch.simulator.validator", str(simulator.recording.validation)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 1  # drift
    assert "mismatched  GET /repos/{owner}/{repo}/issues" in printed.stdout
    assert "record field 'issue_dependencies_summary' in live missing from corpus" in printed.stdout
    row = next(r for r in report["endpoints"] if r["spec_path"] == "/repos/{owner}/{repo}/issues")
    assert row["status"] == "mismatched"
    assert any("issue_dependencies_summary" in issue for issue in row["issues"])  # the public string form too


def test_a_changed_type_in_a_nested_field_is_an_error_at_its_corpus_record(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("hubspot", drifts=["changed_type"])
    connector = HubspotLakeflowConnect(server.config)
    simulator = record(
        tmp_path, "hubspot", server.config, lambda: drain(connector, "companies", {"page_size": "10"})
    )
    finding = _only(report_of(simulator), "type_mismatch")
    assert finding["path"] == "properties.numberofemployees"
    assert finding["live"] == ["int"] and finding["spec"] == ["str"]
    assert finding["severity"] == "error"
    assert finding["location"]["file"].endswith("hubspot/corpus/companies.json")
    assert "change 'properties.numberofemployees' to int values" in finding["fix"]


def test_a_renamed_wrapper_key_points_at_records_key(fresh_server: Any, tmp_path: Path) -> None:
    server = fresh_server("zendesk", drifts=["renamed_wrapper"])
    connector = ZendeskLakeflowConnect(server.config)
    simulator = record(
        tmp_path, "zendesk", server.config, lambda: drain(connector, "groups", {"page_size": "100"})
    )
    finding = _only(report_of(simulator), "wrapper_key")
    assert finding["location"]["line"] == line_of(ZENDESK_SPEC, "records_key: groups")
    assert finding["fix"] == "set response.wrapper.records_key: group_list"


def test_removed_and_nulled_fields_are_reported_both_ways(fresh_server: Any, tmp_path: Path) -> None:
    server = fresh_server("zendesk", drifts=["removed_field", "null_field"])
    connector = ZendeskLakeflowConnect(server.config)
    options = {"page_size": "100", "max_records_per_batch": "100"}
    simulator = record(
        tmp_path,
        "zendesk",
        server.config,
        lambda: [drain(connector, t, options) for t in ("tickets", "users")],
    )
    report = report_of(simulator)
    missing = _only(report, "missing_field")
    assert missing["path"] == "raw_subject" and missing["location"]["file"].endswith(
        "zendesk/corpus/tickets.json"
    )
    nulls = [f for f in findings(report, "nullability") if f["path"] == "time_zone"]
    assert nulls and "live is always null" in nulls[0]["message"]


def test_a_new_endpoint_is_no_spec_with_a_suggested_path_and_unmatched_coverage(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("github", drifts=["new_endpoint"])
    connector = GithubLakeflowConnect(server.config)
    simulator = record(
        tmp_path, "github", server.config, lambda: drain(connector, "issues", {"max_records_per_batch": "3"})
    )
    report = report_of(simulator)
    row = next(r for r in report["endpoints"] if r["status"] == "no_spec")
    assert row["suggested_path"] == "/repositories/{repository_id}/issues"
    assert "- path: /repositories/{repository_id}/issues" in row["findings"][0]["fix"]
    assert report["summary"]["endpoints_missing_spec"] == 1
    coverage = coverage_of(simulator)
    assert [u["url"] for u in coverage["unmatched"]] == ["/repositories/{repository_id}/issues"]
    assert coverage["unmatched"][0]["nearest"][0].startswith("GET /repos/{owner}/{repo}/issues")


def test_a_wrong_pagination_style_is_reported_at_the_spec_line(live_servers: Any, tmp_path: Path) -> None:
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    text = (SPECS / "msgraph" / "endpoints.yaml").read_text()
    users = text.index("path: /v1.0/users")
    broken = text[:users] + text[users:].replace(
        "pagination_style: odata_next_link", "pagination_style: none", 1
    )
    (spec_dir / "endpoints.yaml").write_text(broken)
    (spec_dir / "corpus").symlink_to(SPECS / "msgraph" / "corpus")
    server = live_servers["msgraph"]
    connector = MsgraphLakeflowConnect(server.config)
    simulator = record(
        tmp_path,
        "msgraph",
        server.config,
        lambda: drain(connector, "users", {"page_size": "5"}),
        spec_path=spec_dir / "endpoints.yaml",
    )
    finding = next(f for f in findings(report_of(simulator), "pagination"))
    assert "@odata.nextLink" in finding["message"]
    assert finding["fix"].startswith("set response.pagination_style: odata_next_link")
    assert finding["location"]["line"] == line_of(spec_dir / "endpoints.yaml", "pagination_style: none")


def test_rejected_credentials_are_an_auth_error_and_throttling_is_not_drift(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("github", rate_limit="first")
    good = GithubLakeflowConnect(server.config)
    bad = GithubLakeflowConnect({**server.config, "token": "ghp_wrong-token"})

    def read() -> None:
        drain(good, "repositories")
        with pytest.raises(requests.HTTPError, match="401"):
            drain(bad, "issues")

    report = report_of(record(tmp_path, "github", server.config, read))
    repos = next(r for r in report["endpoints"] if r["spec_path"] == "/users/{owner}/repos")
    assert repos["status"] == "validated" and repos["statuses"] == {"200": 1, "429": 1}
    assert _only(report, "transient_status")["severity"] == "info"
    auth = _only(report, "auth")
    assert auth["severity"] == "error" and "credentials" in auth["fix"]


def test_no_drift_validates_every_endpoint(live_servers: Any, tmp_path: Path) -> None:
    server = live_servers["hubspot"]
    connector = HubspotLakeflowConnect(server.config)
    options = {"page_size": "4", "max_records_per_batch": "7"}
    tables = ("contacts", "companies", "owners", "engagements")
    simulator = record(
        tmp_path, "hubspot", server.config, lambda: [drain(connector, t, options) for t in tables]
    )
    report = report_of(simulator)
    assert report["summary"]["drift"] is False
    assert {r["status"] for r in report["endpoints"]} == {"validated"}
    assert not [f for f in findings(report) if f["severity"] != "info"]


def test_the_cli_reads_the_public_validators_reports_and_exits_1_on_their_drift(tmp_path: Path) -> None:
    upstream = {
        "version": 1,
        "generated_at": "2026-01-01T00:00:00Z",
        "endpoints": [
            {
                "method": "GET",
                "spec_path": "/items",
                "sample_url": "https://x/items",
                "status": "mismatched",
                "calls": 2,
                "matched": 1,
                "mismatched": 1,
                "no_spec": 0,
                "issues": ["top-level keys in live missing from spec: ['total']"],
            },
            {
                "method": "GET",
                "spec_path": None,
                "sample_url": "https://x/other?a=1",
                "status": "no_spec",
                "calls": 1,
                "matched": 0,
                "mismatched": 0,
                "no_spec": 1,
                "issues": [],
            },
        ],
        "summary": {
            "endpoints_total": 2,
            "endpoints_validated": 0,
            "endpoints_mismatched": 1,
            "endpoints_missing_spec": 1,
        },
    }
    path = tmp_path / "TestX.json.validation.json"
    path.write_text(json.dumps(upstream))
    drifting = subprocess.run(
        [sys.executable, "-m", "connector_watch.simulator.validator", str(path)], capture_output=True, text=True, timeout=60
    )
    assert drifting.returncode == 1
    assert "issue: top-level keys in live missing from spec: ['total']" in drifting.stdout
    for row in upstream["endpoints"]:
        row["status"] = "validated"
    path.write_text(json.dumps(upstream))
    clean = subprocess.run(
        [sys.executable, "-m", "connector_watch.simulator.validator", str(path)], capture_output=True, text=True, timeout=60
    )
    assert clean.returncode == 0, clean.stdout
