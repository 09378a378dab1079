"""Record mode in the daemon: the live API drifts, and the daemon blames the drift.

A real local live server (``connector_watch.simulator.live_servers``) plays the Zendesk API with an extra field the
corpus lacks; the daemon runs the suite in record mode, reads the validation report the run wrote,
and publishes ``drift`` diagnostics located at the spec or corpus, naming the nodes concerned.
"""

from __future__ import annotations

import json

import pytest
from connector_watch.daemon.engine import Engine
from connector_watch.simulator.live_servers.process import start
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow


@pytest.fixture
def recording_engine(tmp_path, monkeypatch):
    root = copy_examples(tmp_path / "ws", sources=("zendesk",))
    with start("zendesk", drifts=["extra_field"]) as server:
        config = tmp_path / "zendesk.json"
        config.write_text(json.dumps(server.config))
        monkeypatch.setenv("CONNECTOR_TEST_MODE", "record")  # the workers inherit the environment
        monkeypatch.setenv("CONNECTOR_TEST_CONFIG_PATH", str(config))
        live = LiveEngine(root, node_timeout=30.0, watch=False, mode="record")
        try:
            yield live
        finally:
            live.close()


def test_live_drift_becomes_located_drift_diagnostics(recording_engine: LiveEngine) -> None:
    engine: Engine = recording_engine.engine
    drift = [
        d for diagnostics in engine.results.file_diagnostics().values() for d in diagnostics if d.blame == "drift"
    ]
    assert drift, "no drift diagnostics after a record run against a drifting server"
    extra = [d for d in drift if "encoded_id" in d.message]
    assert extra, [d.message for d in drift]
    diagnostic = extra[0]
    assert diagnostic.location.path.startswith(("simulator/specs/zendesk/", "tests/unit/sources/zendesk/"))
    assert diagnostic.fix
    assert any("[tickets]" in n for n in diagnostic.node_ids)
    cassette = recording_engine.root / "tests/unit/sources/zendesk/cassettes/TestZendeskConnector.json"
    assert cassette.is_file()


def test_live_drift_gets_a_corpus_fix_verified_by_replay_and_simulation(recording_engine: LiveEngine) -> None:
    recording_engine.call(recording_engine.engine.wait_verdicts())
    drift = [
        d for diagnostics in recording_engine.file_diagnostics().values() for d in diagnostics if d.blame == "drift"
    ]
    fixed = [d for d in drift if d.fixes]
    assert fixed, [(d.code, d.message) for d in drift]
    fix = fixed[0].fixes[0]
    assert "re-seed" in fix.title and "replaying the recording and simulating" in fix.note
    [edit] = fix.edits
    assert edit.path.endswith("corpus/tickets.json") and "encoded_id" in edit.new_text
    assert "encoded_id" not in (recording_engine.root / edit.path).read_text()  # offered, never applied
