"""Coverage: hits per spec endpoint, spec endpoints never hit, requests matching no spec entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from connector_watch.tests.record.helpers import SPECS, coverage_of, drain, line_of, record

from sources.github.github import GithubLakeflowConnect
from sources.hubspot.hubspot import HubspotLakeflowConnect


def test_hits_are_counted_per_spec_endpoint_and_unread_endpoints_are_listed(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["github"]
    connector = GithubLakeflowConnect(server.config)  # repos "alpha,beta": issues fan out per repository
    simulator = record(
        tmp_path, "github", server.config, lambda: drain(connector, "issues", {"max_records_per_batch": "50"})
    )
    coverage = coverage_of(simulator)
    rows = {row["url"]: row for row in coverage["endpoints"]}
    issues = rows["/repos/{owner}/{repo}/issues"]
    assert issues["distinct_urls"] == 2 and issues["count"] >= 2  # both repositories, one row
    assert issues["spec_line"] == line_of(
        SPECS / "github" / "endpoints.yaml", "path: /repos/{owner}/{repo}/issues"
    )
    assert all(
        {"since", "state", "sort", "direction", "per_page"} <= set(shape) for shape in issues["param_shapes"]
    )
    never = {(e["method"], e["path"]) for e in coverage["never_hit"]}
    assert never == {("GET", "/users/{owner}/repos"), ("GET", "/repos/{owner}/{repo}/commits")}
    assert coverage["summary"]["spec_endpoints"] == 3 and coverage["summary"]["spec_endpoints_hit"] == 1
    assert coverage["unmatched"] == []


def test_body_keys_are_shapes_and_calls_without_timeout_are_named(live_servers: Any, tmp_path: Path) -> None:
    server = live_servers["hubspot"]
    connector = HubspotLakeflowConnect(server.config)
    headers = {"Authorization": f"Bearer {server.config['access_token']}"}

    def read() -> None:
        connector.read_table("companies", {}, {"page_size": "5", "max_records_per_batch": "5"})
        requests.get(f"{server.base_url}/crm/v3/owners", headers=headers)  # no timeout: capped, and noted

    coverage = coverage_of(record(tmp_path, "hubspot", server.config, read))
    search = next(r for r in coverage["endpoints"] if r["url"] == "/crm/v3/objects/companies/search")
    assert search["param_shapes"] == [["body.filterGroups", "body.limit", "body.properties", "body.sorts"]]
    assert coverage["summary"]["calls_without_timeout"] >= 1
    assert coverage["calls_without_timeout"][0]["caller"].endswith("test_coverage.py:" + str(_line_of_call()))


def _line_of_call() -> int:
    text = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(text) if "no timeout: capped" in line) + 1
