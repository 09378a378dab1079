"""The differential rerun: a failed node is rerun against its recorded live traffic (cassette).

Passing on the cassette but failing on spec + corpus points at the spec or corpus; failing on both
points at the connector.
"""

from __future__ import annotations

import pytest
from connector_watch.daemon.blame import differential_verdict
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.simulator.live_servers.process import start
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.suites import run_suite
from connector_watch.tests.support.workspace import copy_examples

NODE = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]"
SPEC = "simulator/specs/zendesk/endpoints.yaml"


def _connector_diagnostic(code: str = "read.empty_first_read") -> Diagnostic:
    return Diagnostic(
        "connector",
        "the simulator served 5 record(s) but the connector returned none",
        Location("sources/zendesk/zendesk.py", Range.lines(197)),
        0.6,
        related=[Related(Location(SPEC, Range.lines(9)), "the endpoint")],
        node_ids=[NODE],
        code=code,
    )


def test_passing_on_the_cassette_moves_blame_from_the_connector_to_the_spec() -> None:
    revised = differential_verdict([_connector_diagnostic()], {"outcome": "passed"}, NODE)
    assert revised[0].blame == "spec" and revised[0].location.path == SPEC
    assert "passes against the recorded live traffic" in revised[0].evidence[0]
    assert revised[1].blame == "connector" and revised[1].confidence <= 0.4


def test_passing_on_the_cassette_with_a_corpus_value_named_blames_the_corpus() -> None:
    corpus = Location("simulator/specs/zendesk/corpus/tickets.json", Range.lines(40))
    diagnostic = Diagnostic(
        "connector",
        "the schema declares 'id' as bigint",
        Location("sources/zendesk/x.py", Range.lines(3)),
        0.65,
        related=[Related(corpus, "the corpus value")],
        node_ids=[NODE],
        code="read.schema_parse",
    )
    revised = differential_verdict([diagnostic], {"outcome": "passed"}, NODE)
    assert revised[0].blame == "corpus" and revised[0].location == corpus


def test_failing_on_both_strengthens_the_connector() -> None:
    before = _connector_diagnostic()
    revised = differential_verdict([before], {"outcome": "failed", "failure": {"chain": []}}, NODE)
    assert revised[0].blame == "connector" and revised[0].confidence > before.confidence
    assert "fails against the recorded live traffic" in revised[0].evidence[0]


def test_an_incomplete_recording_is_inconclusive() -> None:
    before = _connector_diagnostic()
    replay = {"outcome": "failed", "failure": {"chain": [{"type": "NoMatchingInteraction"}]}}
    revised = differential_verdict([before], replay, NODE)
    assert revised[0].blame == "connector" and revised[0].confidence == before.confidence
    assert "inconclusive" in revised[0].evidence[0]


@pytest.mark.slow
def test_the_daemon_reruns_a_failed_node_against_its_cassette(tmp_path) -> None:
    root = copy_examples(tmp_path / "ws", sources=("zendesk",))
    with start("zendesk") as server:
        run_suite(root, "zendesk", mode="record", config_path=tmp_path / "zendesk.json", config=server.config)
    assert (root / "tests/unit/sources/zendesk/cassettes/TestZendeskConnector.json").is_file()

    live = LiveEngine(root)
    try:
        original = live.read(SPEC)
        live.save(SPEC, original.replace("records_key: tickets", "records_key: ticket", 1))
        failing = [n for n in live.failing() if n.endswith("test_read_table[tickets]")]
        assert failing
        diagnostic = live.node_diagnostics(failing[0])[0]
        assert diagnostic.blame == "spec"
        assert any("passes against the recorded live traffic" in e for e in diagnostic.evidence), (
            diagnostic.evidence
        )
        live.save(SPEC, original)
        assert live.failing() == set()
    finally:
        live.close()
