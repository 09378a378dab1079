"""Replay and hybrid modes over a recorded cassette."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from connector_watch.simulator import NoMatchingInteraction, Simulator
from connector_watch.simulator.cassette import Cassette
from connector_watch.tests.record.helpers import SPECS, drain, record

from sources.github.github import GithubLakeflowConnect
from sources.msgraph.msgraph import MsgraphLakeflowConnect


def test_replay_serves_the_recording_anywhere_and_names_the_nearest_on_a_miss(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["github"]
    cassette = tmp_path / "TestGithub.json"
    live = GithubLakeflowConnect(server.config)
    recorded: list[Any] = []
    record(
        tmp_path,
        "github",
        server.config,
        lambda: recorded.extend(drain(live, "repositories")),
        cassette=cassette,
    )

    offline = {
        **server.config,
        "base_url": "http://127.0.0.1:9",
        "token": "another-token",
    }  # nothing listens there
    with Simulator(mode="replay", cassette_path=cassette):
        replayed = drain(GithubLakeflowConnect(offline), "repositories")
        assert replayed == recorded[:5]  # the sampled page
        with pytest.raises(NoMatchingInteraction) as missed:
            GithubLakeflowConnect(offline).read_table("issues", {}, {"max_records_per_batch": "4"})
    message = str(missed.value)
    assert "No cassette match for GET http://127.0.0.1:9/repos/octo-org/alpha/issues" in message
    assert "Nearest recorded requests:" in message and "/users/octo-org/repos?" in message


def test_credential_query_parameters_are_stored_redacted_and_still_replay(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["github"]
    cassette = tmp_path / "TestGithub.json"
    headers = {"Authorization": f"Bearer {server.config['token']}"}
    url = f"{server.base_url}/users/octo-org/repos"

    def call() -> None:
        requests.get(url, params={"per_page": 2, "api_key": "query-secret-123"}, headers=headers, timeout=10)

    record(tmp_path, "github", server.config, call, cassette=cassette)
    text = cassette.read_text()
    assert "query-secret-123" not in text
    stored = [i.request.query for i in Cassette.load(cassette).interactions]
    assert {"per_page": "2", "api_key": "***REDACTED***"} in stored
    with Simulator(mode="replay", cassette_path=cassette):
        response = requests.get(url, params={"per_page": 2, "api_key": "a-different-key"}, timeout=10)
    assert response.status_code in (200, 429) and response.json()


def test_hybrid_serves_the_spec_and_falls_back_to_the_cassette(fresh_server: Any, tmp_path: Path) -> None:
    server = fresh_server("github", drifts=["new_endpoint"])
    cassette = tmp_path / "TestGithub.json"
    connector = GithubLakeflowConnect(server.config)
    record(
        tmp_path,
        "github",
        server.config,
        lambda: drain(connector, "issues", {"max_records_per_batch": "3"}),
        cassette=cassette,
    )
    by_id = next(
        i for i in Cassette.load(cassette).interactions if i.request.path.startswith("/repositories/")
    )
    url = by_id.request.url.replace(server.base_url, "http://api.test")
    with Simulator(
        mode="hybrid", spec_path=SPECS / "github" / "endpoints.yaml", cassette_path=cassette
    ) as sim:
        from_cassette = requests.get(url, params=by_id.request.query, timeout=10)
        from_spec = requests.get("http://api.test/users/octo-org/repos", params={"per_page": 100}, timeout=10)
    assert from_cassette.json() == json.loads(by_id.response.body_text)
    assert len(from_spec.json()) == 21  # every corpus repository of octo-org: the spec, not the cassette
    assert [e.mode for e in sim.trace.entries] == ["replay", "simulate"]


def test_replay_answers_an_unrecorded_cursor_on_a_recorded_endpoint_from_the_recorded_records(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("github")  # no rate limit: one request, one recorded page
    cassette = tmp_path / "TestGithub.json"
    headers = {"Authorization": f"Bearer {server.config['token']}"}
    path = "/repos/octo-org/alpha/issues"
    query = {"state": "all", "sort": "updated", "direction": "asc", "per_page": 100}

    def call() -> None:
        requests.get(f"{server.base_url}{path}", params=query, headers=headers, timeout=10)

    record(tmp_path, "github", server.config, call, cassette=cassette)
    recorded = Cassette.load(cassette).interactions[0].response.json()
    assert len(recorded) == 5  # sampled
    since = sorted(r["updated_at"] for r in recorded)[2]
    spec = SPECS / "github" / "endpoints.yaml"
    with Simulator(mode="replay", cassette_path=cassette, spec_path=spec) as sim:
        later = requests.get(f"http://api.test{path}", params={**query, "since": since}, timeout=10)
        with pytest.raises(NoMatchingInteraction):  # an endpoint the recording never reached
            requests.get("http://api.test/repos/octo-org/alpha/commits", timeout=10)
    assert later.status_code == 200
    expected = sorted((r for r in recorded if r["updated_at"] >= since), key=lambda r: r["updated_at"])
    assert [r["id"] for r in later.json()] == [r["id"] for r in expected] and len(expected) == 3
    derived = sim.trace.entries[0]
    assert (derived.mode, derived.outcome, derived.corpus) == ("replay", "derived", "issues")
    assert derived.corpus_file.endswith("TestGithub.json")
    assert sim.trace.entries[1].outcome == "no-cassette-match"

    # Strict replay (the daemon's differential rerun) serves only recorded truth.
    strict = Simulator(mode="replay", cassette_path=cassette, spec_path=spec, derive_replay_misses=False)
    with strict, pytest.raises(NoMatchingInteraction):
        requests.get(f"http://api.test{path}", params={**query, "since": since}, timeout=10)
    # Without a spec there is nothing to derive from.
    with Simulator(mode="replay", cassette_path=cassette), pytest.raises(NoMatchingInteraction):
        requests.get(f"http://api.test{path}", params={**query, "since": since}, timeout=10)


def test_replay_matches_a_token_request_made_with_other_client_credentials(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["msgraph"]
    cassette = tmp_path / "TestMsgraph.json"
    connector = MsgraphLakeflowConnect(server.config)
    recorded: list[Any] = []
    record(
        tmp_path,
        "msgraph",
        server.config,
        lambda: recorded.extend(drain(connector, "users")),
        cassette=cassette,
    )
    stand_in = {**server.config, "client_id": "stand-in-client", "client_secret": "stand-in-secret"}
    with Simulator(mode="replay", cassette_path=cassette) as sim:
        replayed = drain(MsgraphLakeflowConnect(stand_in), "users")
    assert replayed and [r["id"] for r in replayed] == [r["id"] for r in recorded[: len(replayed)]]
    assert all(e.outcome == "replayed" for e in sim.trace.entries)
    assert any(e.method == "POST" and "token" in e.url for e in sim.trace.entries)


def test_derived_answers_never_inject_the_specs_simulated_errors(fresh_server: Any, tmp_path: Path) -> None:
    """zendesk's spec answers the first tickets call with a 429 in simulate mode; replay serves only data."""
    server = fresh_server("zendesk")
    cassette = tmp_path / "TestZendesk.json"
    auth = (f"{server.config['email']}/token", server.config["api_token"])
    path = "/api/v2/incremental/tickets/cursor.json"

    def call() -> None:
        requests.get(
            f"{server.base_url}{path}", params={"start_time": 0, "per_page": 5}, auth=auth, timeout=10
        )

    record(tmp_path, "zendesk", server.config, call, cassette=cassette)
    spec = SPECS / "zendesk" / "endpoints.yaml"
    with Simulator(mode="replay", cassette_path=cassette, spec_path=spec) as sim:
        later = requests.get(f"http://z.test{path}", params={"start_time": 1, "per_page": 5}, timeout=10)
    assert later.status_code == 200 and later.json()["tickets"]
    assert [e.outcome for e in sim.trace] == ["derived"]


def test_a_request_carrying_an_email_replays_though_the_cassette_holds_a_stand_in(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("github")
    cassette = tmp_path / "TestGithub.json"
    headers = {"Authorization": f"Bearer {server.config['token']}"}
    calls = [("/users/alice.smith@corp.com/hovercard", {}), ("/search/users", {"q": "bob@corp.com"})]

    def call() -> None:
        for path, params in calls:
            requests.get(f"{server.base_url}{path}", params=params, headers=headers, timeout=10)

    record(tmp_path, "github", server.config, call, cassette=cassette)
    assert "corp.com" not in cassette.read_text()
    with Simulator(mode="replay", cassette_path=cassette) as sim:
        for path, params in calls:
            requests.get(f"http://api.test{path}", params=params, timeout=10)
    assert [e.outcome for e in sim.trace] == ["replayed", "replayed"]
