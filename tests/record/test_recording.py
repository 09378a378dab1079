"""Recording: what a record session writes, how re-recording merges, and that secrets never reach disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from connector_watch.simulator.cassette import Cassette
from connector_watch.simulator.interactions import Interaction, RecordedRequest, RecordedResponse
from connector_watch.simulator.recording import (
    MAX_RESPONSES_PER_REQUEST,
    coverage_path,
    merge,
    validation_path,
)
from connector_watch.tests.record.helpers import drain, record

from sources.github.github import GithubLakeflowConnect
from sources.msgraph.msgraph import MsgraphLakeflowConnect
from sources.zendesk.zendesk import ZendeskLakeflowConnect


def _interaction(path: str, status: int, body: str, query: dict[str, Any] | None = None) -> Interaction:
    return Interaction(
        RecordedRequest("GET", f"https://api.example.com{path}", query or {}),
        RecordedResponse(status, {}, body),
    )


# --------------------------------------------------------------------------- merge


def test_merge_replaces_stale_recordings_adds_new_and_keeps_the_rest() -> None:
    old = [
        _interaction("/a", 200, "old-a"),
        _interaction("/b", 200, "old-b"),
        _interaction("/a", 200, "older-a"),
    ]
    fresh = [_interaction("/a", 200, "new-a"), _interaction("/c", 200, "new-c")]
    merged, stats = merge(old, fresh)
    assert [(i.request.path, i.response.body_text) for i in merged] == [
        ("/a", "new-a"),
        ("/b", "old-b"),
        ("/c", "new-c"),
    ]
    assert (stats.replaced, stats.added, stats.kept) == (1, 1, 1)


def test_merge_keeps_a_retry_sequence_and_collapses_repeats() -> None:
    fresh = [
        _interaction("/a", 429, "slow down"),
        _interaction("/a", 200, "page"),
        _interaction("/a", 200, "page"),
        _interaction("/a", 200, "after a write"),
        _interaction("/a", 200, "again"),
    ]
    merged, stats = merge([], fresh)
    assert [i.response.body_text for i in merged] == ["slow down", "page", "after a write"][
        :MAX_RESPONSES_PER_REQUEST
    ]
    assert stats.collapsed == 2


def test_merge_matches_on_query_and_ignores_ignored_params() -> None:
    old = [_interaction("/a", 200, "t1", {"page": "1", "ts": "1"})]
    fresh = [_interaction("/a", 200, "t2", {"page": "1", "ts": "2"})]
    assert len(merge(old, fresh)[0]) == 2
    assert [i.response.body_text for i in merge(old, fresh, frozenset({"ts"}))[0]] == ["t2"]


# --------------------------------------------------------------------------- a record session


def test_a_record_session_writes_a_sampled_cassette_and_both_reports(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["github"]
    connector = GithubLakeflowConnect(server.config)
    simulator = record(
        tmp_path, "github", server.config, lambda: drain(connector, "issues", {"max_records_per_batch": "20"})
    )
    result = simulator.recording
    assert result.cassette.is_file() and validation_path(result.cassette).is_file()
    assert coverage_path(result.cassette).is_file()

    cassette = Cassette.load(result.cassette)  # the public format, version 1
    raw = json.loads(result.cassette.read_text())
    assert raw["version"] == 1 and raw["source"] == "github"
    assert set(raw["interactions"][0]) == {"request", "response"}
    assert set(raw["interactions"][0]["request"]) == {"method", "url", "query", "body_sha256"}
    for interaction in cassette.interactions:
        if interaction.response.status_code == 200:
            assert len(json.loads(interaction.response.body_text)) <= 5  # sampled
            assert 'rel="next"' not in interaction.response.headers.get("Link", "")
    assert result.bytes_sampled < result.bytes_unsampled
    report = json.loads(validation_path(result.cassette).read_text())
    assert report["summary"]["endpoints_validated"] == 1 and report["summary"]["drift"] is False


def test_rerecording_replaces_stale_interactions_instead_of_keeping_them(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("zendesk")
    cassette = tmp_path / "TestZendesk.json"

    def read_groups() -> None:
        ZendeskLakeflowConnect(server.config).read_table("groups", {}, {"page_size": "100"})[0]

    first = record(tmp_path, "zendesk", server.config, read_groups, cassette=cassette).recording
    server.set_drift('extra_field:groups.color="teal"')
    second = record(tmp_path, "zendesk", server.config, read_groups, cassette=cassette).recording
    interactions = Cassette.load(cassette).interactions
    assert len(interactions) == first.interactions_written == second.interactions_written == 1
    assert second.merge.replaced == 1 and second.merge.added == 0
    assert '"color":"teal"' in interactions[0].response.body_text


def test_no_configured_or_issued_secret_reaches_any_written_file(live_servers: Any, tmp_path: Path) -> None:
    graph = live_servers["msgraph"]
    zendesk = live_servers["zendesk"]
    msgraph = MsgraphLakeflowConnect(graph.config)
    record(
        tmp_path,
        "msgraph",
        graph.config,
        lambda: [drain(msgraph, t, {"page_size": "5"}) for t in ("users", "organization")],
    )
    desk = ZendeskLakeflowConnect(zendesk.config)
    record(
        tmp_path,
        "zendesk",
        zendesk.config,
        lambda: drain(desk, "users", {"page_size": "5", "max_records_per_batch": "10"}),
    )
    issued = msgraph._access_token
    assert issued
    secrets = [graph.config["client_secret"], zendesk.config["api_token"], zendesk.config["email"], issued]
    files = sorted((tmp_path / "cassettes").iterdir())
    assert len(files) == 6  # two cassettes, two validation and two coverage reports
    for path in files:
        text = path.read_text()
        for secret in secrets:
            assert secret not in text, f"{secret[:4]}… leaked into {path.name}"
        assert "@northwind-outfitters.com" not in text  # emails are redacted too
    token_response = next(
        i
        for i in Cassette.load(tmp_path / "cassettes" / "TestMsgraph.json").interactions
        if i.request.method == "POST" and i.response.status_code == 200
    )
    assert json.loads(token_response.response.body_text)["access_token"] == "***REDACTED***"


def test_recordings_kept_from_an_older_cassette_are_scrubbed_too(live_servers: Any, tmp_path: Path) -> None:
    server = live_servers["zendesk"]
    cassette = tmp_path / "cassettes" / "TestZendesk.json"
    legacy = Cassette(
        "zendesk",
        [
            Interaction(
                RecordedRequest(
                    "GET", "https://northwind.zendesk.com/api/v2/users/me.json", {"api_key": "legacy-key-123"}
                ),
                RecordedResponse(
                    200, {"Set-Cookie": "sid=1"}, json.dumps({"user": {"email": "old@northwind.com"}})
                ),
            )
        ],
    )
    legacy.save(cassette)
    connector = ZendeskLakeflowConnect(server.config)
    record(
        tmp_path, "zendesk", server.config, lambda: connector.read_table("groups", {}, {}), cassette=cassette
    )
    text = cassette.read_text()
    assert "legacy-key-123" not in text and "old@northwind.com" not in text and "sid=1" not in text
    assert "/api/v2/users/me.json" in text  # kept, not dropped


def test_emails_in_requested_urls_reach_neither_the_cassette_nor_the_reports(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["github"]
    headers = {"Authorization": f"Bearer {server.config['token']}"}

    def calls() -> None:
        for path in ("/users/alice.smith@corp.com/hovercard", "/search/users?q=bob.jones%40corp.com"):
            requests.get(f"{server.base_url}{path}", headers=headers, timeout=10)

    simulator = record(tmp_path, "github", server.config, calls)
    written = [simulator.recording.cassette, simulator.recording.coverage, simulator.recording.validation]
    texts = {path.name: path.read_text() for path in written if path is not None}
    assert len(texts) == 3
    for name, text in texts.items():
        assert "alice.smith" not in text and "bob.jones" not in text, name
    assert "redacted-" in texts[simulator.recording.coverage.name]  # the unmatched URLs are still listed
