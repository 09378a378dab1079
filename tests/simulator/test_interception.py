"""Interception: ``requests`` and ``urllib.request.urlopen`` reach the simulator, and are restored."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import requests
from connector_watch.simulator import Simulator, UnknownEndpoint, interception
from connector_watch.tests.simulator.conftest import BASE, write_spec

SPEC = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      kind: {role: filter, field: kind, op: eq}
  - path: /search
    method: POST
    corpus: items
    params:
      kind: {role: filter, in: body, field: kind, op: eq}
  - path: /missing
    method: GET
    corpus: items
    errors: [{status: 404, body: {message: Not Found}}]
  - path: /broken
    method: GET
    corpus: items
    errors: [{status: 503}]
"""
CORPUS = {"items": [{"id": 1, "kind": "a"}, {"id": 2, "kind": "b"}]}
ORIGINAL_SEND = requests.sessions.Session.send
ORIGINAL_URLOPEN = urllib.request.urlopen


def test_urlopen_is_answered(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim, urllib.request.urlopen(f"{BASE}/items?kind=b", timeout=3) as response:
        assert response.status == 200
        assert response.getcode() == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.getheader("content-type") == "application/json"
        assert json.loads(response.read()) == [{"id": 2, "kind": "b"}]
        assert response.read() == b""  # consumed
        assert response.geturl() == f"{BASE}/items?kind=b"
    assert sim.trace.entries[0].timeout == 3


def test_urlopen_request_object_with_a_body(simulate) -> None:
    request = urllib.request.Request(
        f"{BASE}/search",
        data=json.dumps({"kind": "a"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with simulate(SPEC, CORPUS):
        body = json.loads(urllib.request.urlopen(request).read())
    assert body == [{"id": 1, "kind": "a"}]


def test_urlopen_reads_in_chunks(simulate) -> None:
    with simulate(SPEC, CORPUS):
        response = urllib.request.urlopen(f"{BASE}/items")
        chunks = [response.read(5), response.read(5), response.read()]
    assert json.loads(b"".join(chunks)) == CORPUS["items"]
    assert len(chunks[0]) == 5


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/broken", 503)])
def test_urlopen_raises_http_error_on_4xx_and_5xx(simulate, path: str, status: int) -> None:
    """The public shim returned 4xx/5xx as successes; urllib raises HTTPError."""
    with simulate(SPEC, CORPUS), pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{BASE}{path}")
    error = caught.value
    assert error.code == status
    assert error.url == f"{BASE}{path}"
    assert error.headers["Content-Type"] == "application/json"
    assert isinstance(json.loads(error.read()), dict)


def test_urlopen_unknown_endpoint(simulate) -> None:
    with simulate(SPEC, CORPUS), pytest.raises(UnknownEndpoint) as caught:
        urllib.request.urlopen(f"{BASE}/nowhere")
    assert caught.value.url == f"{BASE}/nowhere"


def test_sessions_made_before_the_simulator_are_intercepted(simulate) -> None:
    session = requests.Session()
    session.headers["Authorization"] = "Bearer x"
    with simulate(SPEC, CORPUS) as sim:
        assert session.get(f"{BASE}/items").json() == CORPUS["items"]
    assert len(sim.trace) == 1


def test_response_hooks_run(simulate) -> None:
    seen = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, *a, **k: seen.append(response.status_code))
    with simulate(SPEC, CORPUS):
        session.get(f"{BASE}/items")
        session.get(f"{BASE}/missing")
    assert seen == [200, 404]


def test_raise_for_status_works_on_simulated_responses(simulate) -> None:
    with simulate(SPEC, CORPUS):
        response = requests.get(f"{BASE}/missing")
    assert response.reason == "Not Found"
    with pytest.raises(requests.HTTPError, match="404 Client Error: Not Found"):
        response.raise_for_status()


def test_originals_are_restored_on_exit_even_after_an_error(simulate) -> None:
    with pytest.raises(RuntimeError), simulate(SPEC, CORPUS):
        assert requests.sessions.Session.send is not ORIGINAL_SEND
        assert urllib.request.urlopen is not ORIGINAL_URLOPEN
        assert interception.active()
        raise RuntimeError("test failure inside the block")
    assert requests.sessions.Session.send is ORIGINAL_SEND
    assert urllib.request.urlopen is ORIGINAL_URLOPEN
    assert not interception.active()


def test_the_innermost_simulator_answers(simulate, tmp_path) -> None:
    other = write_spec(
        tmp_path / "other",
        "endpoints:\n  - {path: /items, method: GET, corpus: items}\n",
        {"items": [{"id": 99}]},
    )
    with simulate(SPEC, CORPUS) as outer:
        with Simulator(mode="simulate", spec_path=other) as inner:
            assert requests.get(f"{BASE}/items").json() == [{"id": 99}]
        assert requests.get(f"{BASE}/items").json() == CORPUS["items"]
        assert interception.active()
    assert (len(outer.trace), len(inner.trace)) == (1, 1)
    assert not interception.active()


def test_stop_and_start_aliases(tmp_path) -> None:
    spec = write_spec(tmp_path, "endpoints:\n  - {path: /items, method: GET, corpus: items}\n", CORPUS)
    sim = Simulator(mode="simulate", spec_path=spec)
    sim.start()
    try:
        assert requests.get(f"{BASE}/items").status_code == 200
    finally:
        sim.stop()
    assert requests.sessions.Session.send is ORIGINAL_SEND
