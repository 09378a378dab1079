"""Errors a connector author sees: an unmodelled request, a broken corpus, a missing one."""

from __future__ import annotations

import pytest
import requests
from connector_watch.simulator import CorpusError, Simulator, SimulatorConfigError, SpecError, UnknownEndpoint
from connector_watch.simulator.locations import LocatedSyntaxError, parse_json
from connector_watch.tests.simulator.conftest import BASE, write_spec

SPEC = """
endpoints:
  - path: /repos/{owner}/{repo}/issues
    method: GET
    corpus: issues
  - path: /repos/{owner}/{repo}/commits
    method: GET
    corpus: commits
  - path: /users/{user}/repos
    method: GET
    corpus: repos
  - path: /rate_limit
    method: GET
    corpus: rate
    response: {single_entity: true}
"""
CORPUS = {"issues": [], "commits": [], "repos": [], "rate": {}}


def test_unknown_endpoint_is_a_request_exception_naming_the_request(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim, pytest.raises(UnknownEndpoint) as caught:
        requests.get(f"{BASE}/repos/octo/alpha/isues?state=all&page=2")
    error = caught.value
    assert isinstance(error, requests.RequestException)  # connector error handling sees it
    assert isinstance(error, LookupError)  # as the public simulator's
    message = str(error)
    assert message.splitlines()[0] == (
        f"No endpoint in the spec matches GET {BASE}/repos/octo/alpha/isues?state=all&page=2"
    )
    assert error.method == "GET"
    assert error.url == f"{BASE}/repos/octo/alpha/isues?state=all&page=2"
    assert error.nearest[0].startswith("GET /repos/{owner}/{repo}/issues (")
    assert error.nearest[0].endswith("endpoints.yaml:2)")
    assert len(error.nearest) == 3
    assert "Nearest spec paths: GET /repos/{owner}/{repo}/issues" in message
    assert "Fix: add an entry under 'endpoints:' in " in message
    entry = sim.trace.entries[0]
    assert entry.outcome == "unknown-endpoint"
    assert entry.nearest == error.nearest
    assert entry.endpoint is None


def test_unknown_method_on_a_known_path(simulate) -> None:
    with simulate(SPEC, CORPUS), pytest.raises(UnknownEndpoint) as caught:
        requests.post(f"{BASE}/rate_limit", json={})
    assert caught.value.method == "POST"
    assert caught.value.nearest[0].startswith("GET /rate_limit (")


def test_broad_connector_error_handling_catches_it(simulate) -> None:
    """``except requests.RequestException`` (a connector's retry/skip path) sees the error."""
    with simulate(SPEC, CORPUS):
        try:
            requests.get(f"{BASE}/nowhere")
        except requests.RequestException as exc:
            caught = exc
    assert isinstance(caught, UnknownEndpoint)


def test_corpus_that_is_not_json_is_a_located_error(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
    """
    bad_json = '[\n  {"id": 1},\n  {"id": 2,}\n]\n'
    with simulate(spec, raw_corpus={"items": bad_json}) as sim, pytest.raises(CorpusError) as caught:
        requests.get(f"{BASE}/items")
    issue = caught.value.issue
    assert issue.file.endswith("corpus/items.json")
    assert (issue.line, issue.column) == (3, 12)
    assert issue.message == (
        "JSON syntax error: Expecting property name enclosed in double quotes (a trailing comma at line 3?)"
    )
    assert str(caught.value) == f"{issue.file}:3:12: error: {issue.message}"
    assert isinstance(caught.value, ValueError)
    entry = sim.trace.entries[0]
    assert entry.outcome == "corpus-error"
    assert entry.message == str(caught.value)


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ('[\n  {"id": 1}\n  {"id": 2}\n]\n', (3, 3), "(a comma missing at the end of line 2?)"),
        ("[1,]", (1, 4), "(a trailing comma at line 1?)"),
        ('{"a": 1 "b": 2}', (1, 9), ""),  # mid-line: the position itself says it
    ],
)
def test_json_syntax_errors_say_where_the_mistake_usually_is(text: str, where: tuple, hint: str) -> None:
    with pytest.raises(LocatedSyntaxError) as caught:
        parse_json(text, "corpus/items.json")
    assert (caught.value.span.start.line, caught.value.span.start.column) == where
    assert str(caught.value).endswith(hint) and "JSON syntax error" in str(caught.value)


def test_corpus_nested_too_deeply_is_a_located_error_not_a_recursion_crash(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
    """
    with (
        simulate(spec, raw_corpus={"items": "[" * 100_000 + "]" * 100_000}),
        pytest.raises(CorpusError) as caught,
    ):
        requests.get(f"{BASE}/items")
    assert caught.value.issue.file.endswith("corpus/items.json")
    assert "nested too deeply" in caught.value.issue.message


def test_corpus_that_is_not_utf8_is_a_located_error(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
    """
    with simulate(spec) as sim:
        (sim.corpus_dir / "items.json").write_bytes(b'["caf\xe9"]')
        with pytest.raises(CorpusError, match="corpus is not valid UTF-8: byte 0x"):
            requests.get(f"{BASE}/items")


def test_list_endpoint_over_an_object_corpus(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
    """
    with simulate(spec, {"items": {"id": 1}}), pytest.raises(CorpusError) as caught:
        requests.get(f"{BASE}/items")
    assert "corpus 'items' is a JSON dict, but endpoint GET /items" in str(caught.value)
    assert "make it an array or set single_entity: true" in str(caught.value)


def test_missing_corpus_is_served_empty_and_traced(simulate) -> None:
    spec = """
    endpoints:
      - path: /pulls
        method: GET
        corpus: pulls
        response: {wrapper: {records_key: data, extras: {total: {computed: total}}}}
    """
    with simulate(spec, {}) as sim:
        assert requests.get(f"{BASE}/pulls").json() == {"data": [], "total": 0}
    missing = [i for i in sim.spec.issues if i.code == "missing-corpus"]
    assert len(missing) == 1 and not missing[0].blocking
    assert (missing[0].line, missing[0].column) == (4, 13)
    entry = sim.trace.entries[0]
    assert entry.corpus_missing is True and entry.served == []


def test_a_blocking_spec_error_stops_the_simulator_at_enter(tmp_path) -> None:
    spec = write_spec(
        tmp_path, "endpoints:\n  - path: /x\n    method: GET\n    corpus: x\n    paramz: {}\n", {}
    )
    sim = Simulator(mode="simulate", spec_path=spec)
    with pytest.raises(SpecError) as caught:
        sim.__enter__()
    assert str(caught.value).startswith(f"{spec}:5:5: error: endpoint #0 (GET /x): unknown key 'paramz'")
    # nothing was patched
    assert requests.sessions.Session.send.__module__ == "requests.sessions"


def test_broken_yaml_is_one_located_error(tmp_path) -> None:
    spec = write_spec(tmp_path, "endpoints:\n  - path: /x\n    method: [GET\n", {})
    with pytest.raises(SpecError) as caught, Simulator(mode="simulate", spec_path=spec):
        pass
    [issue] = caught.value.issues
    assert (issue.line, issue.code) == (3, "yaml-syntax")  # the unclosed [ , not the end of file where the parser noticed it
    assert issue.message.startswith("YAML syntax error: ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "simulate"}, "'simulate' mode requires spec_path (and corpus_dir)"),
        ({"mode": "replay"}, "'replay' mode requires cassette_path"),
        ({"mode": "hybrid", "spec_path": "x.yaml"}, "'hybrid' mode requires cassette_path"),
        ({"mode": "live"}, "'live' mode requires cassette_path"),
    ],
)
def test_missing_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(SimulatorConfigError) as caught:
        Simulator(**kwargs)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
