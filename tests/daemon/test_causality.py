"""Causality before merits (pure): the trigger the counterfactual reruns found, judged."""

from __future__ import annotations

import json

from connector_watch.daemon.blame.causality import CausalEvidence, TriggerEvidence, revise
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range

CONNECTOR = Location("sources/shop/shop.py", Range.lines(41))
HELPER = Location("sources/shop/shop.py", Range.lines(80))


def merits(blame: str = "connector", code: str = "ground_truth.dropped", at: Location = HELPER) -> list[Diagnostic]:
    return [Diagnostic(blame, "3 record(s) served never came out of the connector", at, 0.7, code=code, node_ids=["n"])]


def trigger(path: str, kind: str, first: int = 10, last: int = 12, before: str | None = "", after: str | None = "") -> CausalEvidence:
    t = TriggerEvidence(path, kind, first, last, False, before, after)
    return CausalEvidence("trigger", "last pass", (t,), 2, note=f"passes with {t.describe()} reverted")


def test_a_spec_trigger_blames_the_spec_at_the_changed_key() -> None:
    [d] = revise(merits(), trigger("simulator/specs/shop/endpoints.yaml", "spec", 6, 6))
    assert (d.blame, d.location.path, d.location.range.start.line) == ("spec", "simulator/specs/shop/endpoints.yaml", 6)
    assert d.causal["status"] == "trigger" and d.causal["triggers"][0]["kind"] == "spec"
    assert any("trigger" in e for e in d.evidence) and d.confidence >= 0.9
    assert d.related[0].location == HELPER  # where it surfaced


def test_a_connector_trigger_points_at_its_hunk() -> None:
    [d] = revise(merits("corpus", "read.schema_parse"), trigger("sources/shop/shop.py", "connector", 41, 41))
    assert (d.blame, d.location.range.start.line) == ("connector", 41)


def test_valid_records_added_reveal_a_connector_bug() -> None:
    before = json.dumps([{"id": 1}, {"id": 2}], indent=2)
    after = json.dumps([{"id": 1}, {"id": 2}, {"id": 3}], indent=2)
    edit = trigger("simulator/specs/shop/corpus/orders.json", "corpus", 9, 11, before, after)
    [d] = revise(merits(at=CONNECTOR), edit)
    assert (d.blame, d.location) == ("connector", CONNECTOR)
    assert "revealed by valid records" in d.message
    assert d.related[0].location.path.endswith("orders.json")


def test_a_corpus_edit_that_changes_records_is_the_corpus() -> None:
    before = json.dumps([{"id": 1}, {"id": 2}])
    after = json.dumps([{"id": 1}, {"id": "two"}, {"id": 3}])
    [d] = revise(merits(), trigger("simulator/specs/shop/corpus/orders.json", "corpus", 1, 1, before, after))
    assert (d.blame, d.location.path) == ("corpus", "simulator/specs/shop/corpus/orders.json")


def test_added_records_with_a_static_error_are_not_innocent() -> None:
    before, after = json.dumps([{"id": 1}]), json.dumps([{"id": 1}, {"id": 1}])
    path = "simulator/specs/shop/corpus/orders.json"
    static = {path: [Diagnostic("corpus", "duplicate key", Location(path, Range.lines(0)), code="corpus.duplicate_key", source="static")]}
    [d] = revise(merits(), trigger(path, "corpus", 1, 1, before, after), static=static)
    assert d.blame == "corpus"


def test_a_failure_that_survives_reverting_everything_is_not_the_changes() -> None:
    evidence = CausalEvidence("not-caused", "last pass", (), 1, note="fails with every change since the last pass reverted")
    first, second = revise(merits(), evidence)
    assert first.blame == "environment" and second.blame == "connector"
    pre = revise(merits(), CausalEvidence("pre-existing", "git HEAD", (), 1, note="fails at the git HEAD too"))[0]
    assert pre.blame == "connector" and pre.confidence <= 0.6 and "judged on the failure alone" in pre.evidence[0]


def test_without_history_the_merits_stand_with_lower_confidence() -> None:
    [d] = revise(merits(), CausalEvidence("no-history", "none", note="not a git checkout"))
    assert d.blame == "connector" and d.confidence <= 0.6 and d.causal["status"] == "no-history"


def test_clock_data_stays_environment_whatever_triggered_it() -> None:
    clock = merits("environment", "ground_truth.clock", Location("simulator/specs/shop/corpus/orders.json", Range.lines(3)))
    [d] = revise(clock, trigger("simulator/specs/shop/corpus/orders.json", "corpus", 3, 3))
    assert d.blame == "environment" and d.causal["status"] == "trigger"


def test_a_pending_verdict_changes_nothing_but_says_so() -> None:
    [d] = revise(merits(), CausalEvidence("pending", "last pass"))
    assert (d.blame, d.location, d.causal["status"]) == ("connector", HELPER, "pending")


def test_a_spec_edit_the_recorded_api_agrees_with_blames_the_connectors_request() -> None:
    from connector_watch.daemon.blame import FailureInput, blame
    from connector_watch.daemon.sources_view import MemoryView
    from connector_watch.simulator.layout import Layout

    spec_path = "simulator/specs/shop/endpoints.yaml"
    connector = "sources/shop/shop.py"
    test_file = "tests/unit/sources/shop/test_shop_lakeflow_connect.py"
    cassette = "tests/unit/sources/shop/cassettes/TestShop.json"
    old_spec = "endpoints:\n  - path: /v2/things\n    method: GET\n    corpus: things\n"
    new_spec = old_spec.replace("/v2/things", "/v2/thing")
    files = {
        spec_path: new_spec,
        connector: "class Shop:\n    def read_table(self):\n        return requests.get(BASE + '/v2/things')\n",
    }
    recorded = {"interactions": [{"request": {"method": "GET", "url": "https://api.example.com/v2/thing"}}]}
    trigger = TriggerEvidence(spec_path, "spec", 1, 1, False, old_spec, new_spec, (1, 2), (1, 2))
    causal = CausalEvidence("trigger", "last pass", (trigger,), 1, note="passes with the spec change reverted")
    entry = {
        "seq": 1, "method": "GET", "url": "https://api.example.com/v2/things", "outcome": "unknown-endpoint",
        "nearest": [f"GET /v2/thing ({spec_path}:2)"],
        "caller": {"file": connector, "line": 3, "function": "read_table", "outer": []},
    }

    def judged(view_files: dict[str, str]) -> Diagnostic:
        failure = FailureInput(
            node_id=f"{test_file}::TestShop::test_read_table[things]", outcome="failed",
            failure={"chain": [{"type": "UnknownEndpoint", "message": "no endpoint", "frames": []}]},
            trace=[entry], test_file=test_file, source="shop", causal=causal,
        )
        return blame(failure, Layout.load("/nonexistent"), MemoryView(view_files))[0]

    without_recording = judged(files)
    assert (without_recording.blame, without_recording.location.path) == ("spec", spec_path)
    with_recording = judged({**files, cassette: json.dumps(recorded)})
    assert (with_recording.blame, with_recording.location.path) == ("connector", connector)
    assert "matches the recorded live API" in with_recording.message


def test_a_shared_code_trigger_is_the_culprit_at_its_line_not_the_harness_that_noticed() -> None:
    harness = Location("tests/unit/sources/test_write_back_suite.py", Range.lines(89, 0))
    libs = "src/databricks/labs/community_connector/libs/simulated_source/store.py"
    [d] = revise(merits("test", "public.assertion", at=harness), trigger(libs, "shared", 78, 78))
    assert (d.blame, d.location.path, d.location.range.start.line) == ("connector", libs, 78)
    assert "shared code change" in d.message
    assert any(r.location == harness for r in d.related)  # where it surfaced is still said
    suite = "tests/unit/sources/test_suite.py"
    [d] = revise(merits("connector", at=HELPER), trigger(suite, "shared", 5, 5))
    assert (d.blame, d.location.path) == ("test", suite)
    [d] = revise(merits("test", at=harness), trigger("simulator/specs/shop/notes.md", "shared", 1, 1))
    assert d.blame == "test" and d.location == harness  # not code: the merits stand
