"""The live servers behave like the APIs they stand for: auth, paging, filtering, 429s, OAuth, writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
import requests
from connector_watch.simulator.live_servers.framework import CONTROL_HEADER, Drift
from connector_watch.simulator.live_servers.process import start
from connector_watch.tests.record.helpers import REPO, SPECS

TIMEOUT = 10


def _get(url: str, **kwargs: Any) -> requests.Response:
    """A GET that retries a 429 once (the session servers throttle each route's first call)."""
    response = requests.get(url, timeout=TIMEOUT, **kwargs)
    if response.status_code == 429:
        response = requests.get(url, timeout=TIMEOUT, **kwargs)
    return response


def test_the_command_line_prints_the_base_url_serves_and_stops() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connector_watch.simulator.live_servers", "github", "--port", "0", "--drift", "extra_field"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert base_url.startswith("http://127.0.0.1:")
        assert requests.get(f"{base_url}/users/octo-org/repos", timeout=TIMEOUT).status_code == 401
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "drift: extra_field:issues.issue_dependencies_summary" in err
    assert "CONNECTOR_TEST_CONFIG_JSON=" in err


def test_bad_options_are_clear_errors() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "connector_watch.simulator.live_servers", "zendesk", "--drift", "new_endpoint"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "no new_endpoint drift" in bad.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "connector_watch.simulator.live_servers", "hubspot", "--list-drifts"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "changed_type     companies.properties.numberofemployees" in listing.stdout
    with pytest.raises(ValueError, match="unknown drift"):
        Drift.parse("renamed_field", {})


def test_a_server_never_outlives_the_process_that_started_it() -> None:
    script = "from simulator.live_servers.process import start; import os; s = start('zendesk'); print(s.process.pid, flush=True); os._exit(0)"
    parent = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    pid = int(parent.stdout.strip())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the live server kept running after its parent exited")


def _alive(pid: int) -> bool:
    """Running (an exited process no one has reaped yet is a zombie, not running)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    ("source", "path", "marker"),
    [
        ("github", "/users/octo-org/repos", "Bad credentials"),
        ("zendesk", "/api/v2/groups.json", "Couldn't authenticate you"),
        ("hubspot", "/crm/v3/owners", "INVALID_AUTHENTICATION"),
        ("msgraph", "/v1.0/users", "InvalidAuthenticationToken"),
    ],
)
def test_every_api_refuses_missing_credentials(
    live_servers: Any, source: str, path: str, marker: str
) -> None:
    response = requests.get(live_servers[source].base_url + path, timeout=TIMEOUT)
    assert response.status_code == 401 and marker in response.text


def test_rate_limits_answer_429_with_retry_after(fresh_server: Any) -> None:
    server = fresh_server("hubspot", rate_limit="first")
    headers = {"Authorization": f"Bearer {server.config['access_token']}"}
    first = requests.get(f"{server.base_url}/crm/v3/owners", headers=headers, timeout=TIMEOUT)
    second = requests.get(f"{server.base_url}/crm/v3/owners", headers=headers, timeout=TIMEOUT)
    assert (
        first.status_code == 429
        and first.headers["Retry-After"] == "0"
        and first.json()["errorType"] == "RATE_LIMIT"
    )
    assert second.status_code == 200 and len(second.json()["results"]) == 20


def test_github_pages_with_link_headers_and_filters_since(live_servers: Any) -> None:
    server = live_servers["github"]
    headers = {"Authorization": f"Bearer {server.config['token']}"}
    url = f"{server.base_url}/repos/octo-org/alpha/issues"
    first = _get(url, headers=headers, params={"state": "all", "per_page": 3})
    assert (
        len(first.json()) == 3
        and 'rel="next"' in first.headers["Link"]
        and 'rel="last"' in first.headers["Link"]
    )
    every = _get(url, headers=headers, params={"state": "all", "per_page": 100}).json()
    cutoff = sorted(i["updated_at"] for i in every)[len(every) // 2]
    recent = _get(url, headers=headers, params={"state": "all", "per_page": 100, "since": cutoff}).json()
    assert 0 < len(recent) < len(every) and all(i["updated_at"] >= cutoff for i in recent)
    assert _get(f"{server.base_url}/repos/octo-org/nope/issues", headers=headers).status_code == 404


def test_zendesk_exports_page_by_cursor_to_the_end_of_the_stream(live_servers: Any) -> None:
    server = live_servers["zendesk"]
    auth = (f"{server.config['email']}/token", server.config["api_token"])
    url: str | None = f"{server.base_url}/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=7"
    seen: list[int] = []
    while url:
        body = _get(url, auth=auth).json()
        seen += [t["id"] for t in body["tickets"]]
        url = None if body["end_of_stream"] else body["after_url"]
    assert (
        len(seen)
        == len(set(seen))
        >= len(json.loads((SPECS / "zendesk" / "corpus" / "tickets.json").read_text()))
    )
    too_recent = _get(
        f"{server.base_url}/api/v2/incremental/tickets/cursor.json",
        auth=auth,
        params={"start_time": int(time.time())},
    )
    assert too_recent.status_code == 400 and "Too recent" in too_recent.text


def test_hubspot_search_filters_sorts_and_pages(live_servers: Any) -> None:
    server = live_servers["hubspot"]
    headers = {"Authorization": f"Bearer {server.config['access_token']}"}
    url = f"{server.base_url}/crm/v3/objects/companies/search"
    body: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1722000000000"}
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["name", "hs_lastmodifieddate"],
        "limit": 4,
    }
    response = requests.post(url, json=body, headers=headers, timeout=TIMEOUT)
    if response.status_code == 429:
        response = requests.post(url, json=body, headers=headers, timeout=TIMEOUT)
    page = response.json()
    stamps = [r["properties"]["hs_lastmodifieddate"] for r in page["results"]]
    assert stamps == sorted(stamps) and all(s >= "2024-07-26" for s in stamps)
    assert page["total"] > 4 and page["paging"]["next"]["after"] == "4"
    assert set(page["results"][0]["properties"]) >= {"name", "hs_lastmodifieddate", "hs_object_id"}


def test_msgraph_issues_tokens_by_client_credentials(live_servers: Any) -> None:
    server = live_servers["msgraph"]
    config = server.config
    token_url = f"{config['login_url']}/{config['tenant_id']}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": config["client_id"],
        "scope": "https://graph.microsoft.com/.default",
    }
    refused = requests.post(token_url, data={**form, "client_secret": "wrong"}, timeout=TIMEOUT)
    if refused.status_code == 429:
        refused = requests.post(token_url, data={**form, "client_secret": "wrong"}, timeout=TIMEOUT)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    token = requests.post(
        token_url, data={**form, "client_secret": config["client_secret"]}, timeout=TIMEOUT
    ).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
    users = _get(
        f"{config['base_url']}/users",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        params={"$top": 5},
    )
    assert len(users.json()["value"]) == 5 and "$skiptoken=" in users.json()["@odata.nextLink"]


def test_writes_are_read_back(fresh_server: Any) -> None:
    server = fresh_server("hubspot")
    headers = {"Authorization": f"Bearer {server.config['access_token']}"}
    base = server.base_url
    created = requests.post(
        f"{base}/crm/v3/objects/contacts",
        json={"properties": {"email": "new@example.com"}},
        headers=headers,
        timeout=TIMEOUT,
    ).json()
    conflict = requests.post(
        f"{base}/crm/v3/objects/contacts",
        json={"properties": {"email": "new@example.com"}},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert conflict.status_code == 409
    assert (
        requests.delete(
            f"{base}/crm/v3/objects/contacts/{created['id']}", headers=headers, timeout=TIMEOUT
        ).status_code
        == 204
    )
    archived = requests.get(
        f"{base}/crm/v3/objects/contacts",
        params={"archived": "true", "limit": 100},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert created["id"] in [c["id"] for c in archived.json()["results"]]
    assert server.reset()["tables"]["contacts_archived"] == 8  # reset drops the writes


def test_the_control_api_needs_its_token(live_servers: Any) -> None:
    server = live_servers["github"]
    assert requests.get(f"{server.base_url}/_live/state", timeout=TIMEOUT).status_code == 403
    state = requests.get(
        f"{server.base_url}/_live/state", headers={CONTROL_HEADER: server.control_token}, timeout=TIMEOUT
    ).json()
    assert state["source"] == "github" and state["tables"]["issues"] >= 25


def test_start_and_stop_leave_no_process() -> None:
    server = start("msgraph")
    assert server.running
    server.stop()
    assert server.process.poll() is not None and not server.workdir.exists()
