"""Modes: replay from a hand-written cassette, hybrid (spec first, cassette fallback), live, selection."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from connector_watch.simulator import (
    MODE_HYBRID,
    MODE_LIVE,
    MODE_RECORD,
    MODE_REPLAY,
    MODE_SIMULATE,
    Mode,
    NoMatchingInteraction,
    Simulator,
    SimulatorConfigError,
    mode_from_env,
)
from connector_watch.simulator.cassette import Cassette
from connector_watch.tests.simulator.conftest import write_spec


def interaction(
    method: str,
    url: str,
    query: dict[str, Any] | None = None,
    *,
    status: int = 200,
    body: Any = None,
    body_sha256: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> dict[str, Any]:
    text = json.dumps(body) if body is not None else None
    return {
        "request": {"method": method, "url": url, "query": query or {}, "body_sha256": body_sha256},
        "response": {
            "status_code": status,
            "headers": {"Content-Type": "application/json", "Content-Length": "999", **(headers or {})},
            "body_text": text,
            "body_b64": base64.b64encode(raw).decode() if raw is not None else None,
            "encoding": "utf-8",
            "url": url,
        },
    }


def write_cassette(path: Path, interactions: list[dict[str, Any]], version: int = 1) -> Path:
    path.write_text(json.dumps({"version": version, "source": "github", "interactions": interactions}))
    return path


API = "https://api.github.com"
SEARCH_BODY = json.dumps({"query": "x"}).encode()


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return write_cassette(
        tmp_path / "TestGithub.json",
        [
            interaction("GET", f"{API}/repos/o/r/issues", {"page": "1", "state": "all"}, body=[{"id": 1}]),
            interaction(
                "GET", f"{API}/repos/o/r/issues", {"page": "1", "state": "all"}, body=[{"id": 1, "v": 2}]
            ),
            interaction("GET", f"{API}/repos/o/r/issues", {"page": "2", "state": "all"}, body=[]),
            interaction(
                "GET", f"{API}/repos/o/r/commits", {"sha": "main"}, status=409, body={"message": "empty"}
            ),
            interaction(
                "POST", f"{API}/search", {}, body_sha256=hashlib.sha256(SEARCH_BODY).hexdigest(), body=[7]
            ),
            interaction("GET", f"{API}/zen", {}, raw=b"\xff\xfe binary", headers={"Content-Type": "x/bin"}),
            interaction("GET", f"{API}/labels", {"name": ["a", "b"]}, body=["a", "b"]),
        ],
    )


# --------------------------------------------------------------------------- replay


def test_replay_serves_recorded_responses_in_order_then_repeats_the_last(cassette: Path) -> None:
    with Simulator(mode="replay", cassette_path=cassette) as sim:
        first = requests.get(f"{API}/repos/o/r/issues?state=all&page=1").json()
        second = requests.get(f"{API}/repos/o/r/issues?page=1&state=all").json()  # query order is irrelevant
        third = requests.get(f"{API}/repos/o/r/issues?page=1&state=all").json()
        page2 = requests.get(f"{API}/repos/o/r/issues?page=2&state=all").json()
    assert (first, second, third, page2) == ([{"id": 1}], [{"id": 1, "v": 2}], [{"id": 1, "v": 2}], [])
    assert [e.mode for e in sim.trace] == ["replay"] * 4
    assert [e.outcome for e in sim.trace] == ["replayed"] * 4


def test_replay_synthesizes_records_that_vary_only_where_the_recording_varies(tmp_path: Path) -> None:
    recorded = [
        {
            "id": 1,
            "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "title": "first",
            "state": "open",
            "updated_at": "2024-05-01T10:00:00Z",
            "draft": False,
            "labels": ["a"],
            "user": {"login": "ann", "n": 1},
        },
        {
            "id": 2,
            "uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "title": "second",
            "state": "open",
            "updated_at": "2024-05-02T10:00:00Z",
            "draft": True,
            "labels": ["b"],
            "user": {"login": "bob", "n": 1},
        },
    ]
    path = write_cassette(
        tmp_path / "T.json", [interaction("GET", f"{API}/items", {"page": "1"}, body={"items": recorded})]
    )
    with Simulator(mode="replay", cassette_path=path, synthesize_count=3):
        first = requests.get(f"{API}/items", params={"page": 1}, timeout=5).json()["items"]
        again = requests.get(f"{API}/items", params={"page": 1}, timeout=5).json()["items"]
    assert first[:2] == recorded and len(first) == 5 and first == again  # deterministic per request
    added = first[2:]
    assert len({r["id"] for r in first}) == 5 and all(isinstance(r["id"], int) and r["id"] > 2 for r in added)
    assert len({r["uuid"] for r in first}) == 5 and all(len(r["uuid"]) == 36 for r in added)
    assert [r["title"] for r in added] == ["second-syn1", "second-syn2", "second-syn3"]
    assert all(r["updated_at"] > "2024-05-02T10:00:00Z" and r["updated_at"].endswith("Z") for r in added)
    assert all(r["state"] == "open" and r["user"]["n"] == 1 for r in added)  # the same in every recording
    assert all(r["draft"] is True and r["labels"] == ["b"] for r in added)  # booleans and lists are kept
    assert [r["user"]["login"] for r in added] == ["bob-syn1", "bob-syn2", "bob-syn3"]
    with Simulator(mode="replay", cassette_path=path):
        assert len(requests.get(f"{API}/items", params={"page": 1}, timeout=5).json()["items"]) == 2


def test_replay_is_host_insensitive(cassette: Path) -> None:
    """A recording against a local server on a random port replays anywhere."""
    with Simulator(mode="replay", cassette_path=cassette):
        response = requests.get("http://127.0.0.1:54321/repos/o/r/issues?state=all&page=2")
    assert response.status_code == 200 and response.json() == []


def test_replay_status_headers_and_binary_bodies(cassette: Path) -> None:
    with Simulator(mode="replay", cassette_path=cassette):
        conflict = requests.get(f"{API}/repos/o/r/commits?sha=main")
        binary = requests.get(f"{API}/zen")
    assert conflict.status_code == 409
    assert conflict.json() == {"message": "empty"}
    assert "Content-Length" not in conflict.headers  # stale after sampling; dropped
    assert binary.content == b"\xff\xfe binary"
    assert binary.headers["Content-Type"] == "x/bin"


def test_replay_matches_request_bodies_by_hash(cassette: Path) -> None:
    with Simulator(mode="replay", cassette_path=cassette):
        assert requests.post(f"{API}/search", data=SEARCH_BODY).json() == [7]
        with pytest.raises(NoMatchingInteraction):
            requests.post(f"{API}/search", data=b'{"query": "y"}')


def test_replay_repeated_query_keys(cassette: Path) -> None:
    with Simulator(mode="replay", cassette_path=cassette):
        assert requests.get(f"{API}/labels?name=a&name=b").json() == ["a", "b"]


def test_replay_miss_names_the_nearest_recorded_requests(cassette: Path) -> None:
    with (
        Simulator(mode="replay", cassette_path=cassette) as sim,
        pytest.raises(NoMatchingInteraction) as caught,
    ):
        requests.get(f"{API}/repos/o/r/issues?state=all&page=3")
    error = caught.value
    assert isinstance(error, requests.RequestException) and isinstance(error, AssertionError)
    assert error.nearest[0] in (
        "GET /repos/o/r/issues?page=1&state=all",
        "GET /repos/o/r/issues?page=2&state=all",
    )
    lines = str(error).splitlines()
    assert lines[0] == f"No cassette match for GET {API}/repos/o/r/issues?state=all&page=3 in {cassette}"
    assert lines[1] == "  Nearest recorded requests:"
    assert sim.trace.entries[0].outcome == "no-cassette-match"


def test_replay_ignore_query_params(cassette: Path) -> None:
    with Simulator(mode="replay", cassette_path=cassette, ignore_query_params=["state", "api_key"]):
        assert requests.get(f"{API}/repos/o/r/issues?page=2&api_key=secret").json() == []


def test_missing_cassette(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError) as caught,
        Simulator(mode="replay", cassette_path=tmp_path / "none.json"),
    ):
        pass
    assert str(caught.value) == (
        f"Cassette not found: {tmp_path / 'none.json'}\n"
        "  Fix: run with CONNECTOR_TEST_MODE=record first to create it."
    )
    empty = Simulator(mode="replay", cassette_path=tmp_path / "none.json", allow_missing_cassette=True)
    with empty, pytest.raises(NoMatchingInteraction):
        requests.get(f"{API}/anything")


def test_unsupported_cassette_version(tmp_path: Path) -> None:
    path = write_cassette(tmp_path / "v2.json", [], version=2)
    with pytest.raises(ValueError, match="Unsupported cassette version 2"):
        Cassette.load(path)


def test_cassette_round_trip(cassette: Path, tmp_path: Path) -> None:
    loaded = Cassette.load(cassette)
    loaded.save(tmp_path / "copy.json")
    again = Cassette.load(tmp_path / "copy.json")
    assert [i.to_dict() for i in again.interactions] == [i.to_dict() for i in loaded.interactions]
    assert again.source == "github"
    assert json.loads((tmp_path / "copy.json").read_text())["version"] == 1


# --------------------------------------------------------------------------- hybrid

HYBRID_SPEC = """
endpoints:
  - path: /repos/{owner}/{repo}/issues
    method: GET
    corpus: issues
"""


def test_hybrid_uses_the_spec_first_and_the_cassette_elsewhere(cassette: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", HYBRID_SPEC, {"issues": [{"id": 42}]})
    with Simulator(mode="hybrid", spec_path=spec, cassette_path=cassette) as sim:
        from_spec = requests.get(f"{API}/repos/o/r/issues?state=all&page=1").json()
        from_tape = requests.get(f"{API}/repos/o/r/commits?sha=main")
        with pytest.raises(NoMatchingInteraction):
            requests.get(f"{API}/nowhere")
    assert from_spec == [{"id": 42}]
    assert from_tape.status_code == 409
    assert [e.mode for e in sim.trace] == ["simulate", "replay", "replay"]


def test_hybrid_takes_fallback_cassette(cassette: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", HYBRID_SPEC, {"issues": []})
    with Simulator(mode=Mode.HYBRID, spec_path=spec, fallback_cassette=cassette):
        assert requests.get(f"{API}/zen").content == b"\xff\xfe binary"


def test_hybrid_without_a_cassette_file_is_spec_only(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", HYBRID_SPEC, {"issues": [{"id": 1}]})
    with Simulator(mode="hybrid", spec_path=spec, cassette_path=tmp_path / "not-yet.json"):
        assert requests.get(f"{API}/repos/o/r/issues").json() == [{"id": 1}]
        with pytest.raises(NoMatchingInteraction):
            requests.get(f"{API}/repos/o/r/pulls")


# --------------------------------------------------------------------------- live (local server only)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200 if self.path != "/fail" else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_live_mode_passes_requests_through_and_traces_them(local_server: str) -> None:
    with Simulator(mode="live", record=False) as sim:
        ok = requests.get(f"{local_server}/items?a=1", timeout=5)
        failed = requests.get(f"{local_server}/fail", timeout=5)
    assert ok.json() == {"path": "/items?a=1"}
    assert failed.status_code == 500
    assert [(e.mode, e.outcome, e.status) for e in sim.trace] == [
        ("live", "live", 200),
        ("live", "live", 500),
    ]
    assert len(sim.interactions) == 2
    assert sim.interactions[0].request.query == {"a": "1"}


def test_record_is_an_alias_of_live(local_server: str) -> None:
    with Simulator(mode="record", record=False) as sim:
        assert requests.get(f"{local_server}/x", timeout=5).status_code == 200
    assert sim.mode is Mode.LIVE


# --------------------------------------------------------------------------- selecting a mode


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("simulate", Mode.SIMULATE),
        ("replay", Mode.REPLAY),
        ("live", Mode.LIVE),
        ("record", Mode.LIVE),
        ("hybrid", Mode.HYBRID),
        (" Record ", Mode.LIVE),
        ("SIMULATE", Mode.SIMULATE),
        (Mode.REPLAY, Mode.REPLAY),
    ],
)
def test_mode_parse(text: Any, mode: Mode) -> None:
    assert Mode.parse(text) is mode


def test_mode_constants() -> None:
    assert (MODE_SIMULATE, MODE_REPLAY, MODE_LIVE, MODE_RECORD, MODE_HYBRID) == (
        "simulate",
        "replay",
        "live",
        "record",
        "hybrid",
    )
    assert Mode.RECORD is Mode.LIVE


def test_invalid_mode_message() -> None:
    with pytest.raises(SimulatorConfigError) as caught:
        Simulator(mode="simulated")
    assert str(caught.value) == (
        "Invalid mode='simulated'. Expected one of: ['simulate', 'replay', 'record', 'live', 'hybrid']"
    )


def test_mode_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECTOR_TEST_MODE", raising=False)
    assert mode_from_env() is None
    assert mode_from_env(Mode.SIMULATE) is Mode.SIMULATE
    monkeypatch.setenv("CONNECTOR_TEST_MODE", "  ")
    assert mode_from_env(Mode.REPLAY) is Mode.REPLAY
    monkeypatch.setenv("CONNECTOR_TEST_MODE", "RECORD")
    assert mode_from_env() is Mode.LIVE
    monkeypatch.setenv("CONNECTOR_TEST_MODE", "x")
    with pytest.raises(ValueError) as caught:
        mode_from_env()
    assert str(caught.value) == (
        "Invalid CONNECTOR_TEST_MODE='x'. Expected one of: ['simulate', 'replay', 'record', 'live', 'hybrid']"
    )
