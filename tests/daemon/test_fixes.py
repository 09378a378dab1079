"""Candidate fixes (pure): the edit each kind of evidence implies, and applying edits."""

from __future__ import annotations

import json

from connector_watch.daemon.blame.causality import CausalEvidence, TriggerEvidence
from connector_watch.daemon.blame.context import FailureInput
from connector_watch.daemon.diagnostics import Diagnostic, Location, Position, Range, TextEdit
from connector_watch.daemon.fixes import apply_edits, candidates
from connector_watch.daemon.hunks import hunks
from connector_watch.daemon.sources_view import MemoryView
from connector_watch.simulator.layout import Layout

LAYOUT = Layout.load("/nonexistent-workspace")
SPEC = "simulator/specs/shop/endpoints.yaml"
CORPUS = "simulator/specs/shop/corpus/orders.json"
TEST = "tests/unit/sources/shop/test_shop_lakeflow_connect.py"


def failure(**kwargs) -> FailureInput:
    return FailureInput(node_id="n", outcome="failed", failure=kwargs.pop("failure", None), **kwargs)


def test_a_spec_trigger_is_restored_line_for_line() -> None:
    before = "endpoints:\n  - path: /orders\n    response:\n      wrapper: {records_key: orders}\n"
    after = before.replace("records_key: orders", "records_key: order")
    [hunk] = hunks(SPEC, before, after)
    trigger = TriggerEvidence(
        SPEC, "spec", 3, 3, False, before, after, (hunk.old_start, hunk.old_end), (hunk.new_start, hunk.new_end)
    )
    causal = CausalEvidence("trigger", "last pass", (trigger,), 1)
    diagnostic = Diagnostic("spec", "lost", Location(SPEC, Range.lines(3)))
    [fix] = candidates(diagnostic, failure(causal=causal), LAYOUT, MemoryView({SPEC: after}))
    assert apply_edits(after, list(fix.edits)) == before
    assert fix.title == "change `wrapper: {records_key: order}` back to `wrapper: {records_key: orders}`"


def test_a_connector_trigger_is_never_reverted() -> None:
    path = "sources/shop/shop.py"
    before, after = "x = 1\n", "x = 2\n"
    trigger = TriggerEvidence(path, "connector", 0, 0, False, before, after, (0, 1), (0, 1))
    diagnostic = Diagnostic("connector", "boom", Location(path, Range.lines(0)))
    assert candidates(diagnostic, failure(causal=CausalEvidence("trigger", "b", (trigger,))), LAYOUT, MemoryView({path: after})) == []


def test_a_duplicate_key_gets_a_fresh_value() -> None:
    records = [{"id": 1, "total": 5}, {"id": 7, "total": 6}, {"id": 1, "total": 5}]
    text = json.dumps(records, indent=2)
    row = text.splitlines().index('    "id": 1,', 5)
    diagnostic = Diagnostic("corpus", "duplicate", Location(CORPUS, Range.lines(row)), code="corpus.duplicate_key")
    [fix] = candidates(diagnostic, failure(), LAYOUT, MemoryView({CORPUS: text}))
    assert [r["id"] for r in json.loads(apply_edits(text, list(fix.edits)))] == [1, 7, 8]


def test_a_numeric_string_becomes_the_schema_type_and_a_word_does_not() -> None:
    text = '[\n  {\n    "id": "42",\n    "name": "x"\n  }\n]\n'
    diagnostic = Diagnostic(
        "corpus", "corpus value '42' of 'id' does not fit the connector's schema (bigint)",
        Location(CORPUS, Range.lines(2)), code="read.schema_parse",
    )
    [fix] = candidates(diagnostic, failure(), LAYOUT, MemoryView({CORPUS: text}))
    assert json.loads(apply_edits(text, list(fix.edits)))[0]["id"] == 42
    word = text.replace('"42"', '"forty-two"')
    assert candidates(diagnostic, failure(), LAYOUT, MemoryView({CORPUS: word})) == []


def test_a_missing_replay_option_is_added_to_the_test_class() -> None:
    text = 'class TestShop:\n    replay_config = {\n        "api_key": "k",\n    }\n'
    chain = [{"type": "KeyError", "message": "'subdomain'"}]
    diagnostic = Diagnostic("test", "KeyError", Location(TEST, Range.lines(1)))
    [fix] = candidates(diagnostic, failure(failure={"chain": chain}, test_file=TEST), LAYOUT, MemoryView({TEST: text}))
    assert '"subdomain": "stand-in",' in apply_edits(text, list(fix.edits)).splitlines()[2]


def test_a_spec_path_takes_the_request_keeping_its_parameters() -> None:
    spec = "endpoints:\n  - path: /shops/{shop}/orderz\n    method: GET\n"
    trace = [{"outcome": "unknown-endpoint", "url": "https://api.example.com/shops/acme/orders?page=1", "method": "GET"}]
    diagnostic = Diagnostic("spec", "no endpoint", Location(SPEC, Range.lines(1)), code="simulator.unknown_endpoint")
    [fix] = candidates(diagnostic, failure(trace=trace), LAYOUT, MemoryView({SPEC: spec}))
    assert "path: /shops/{shop}/orders\n" in apply_edits(spec, list(fix.edits))


def test_edits_apply_from_the_end_so_positions_hold() -> None:
    text = "abc\ndef\n"
    edits = [
        TextEdit("f", Range(Position(0, 0), Position(0, 1)), "X"),
        TextEdit("f", Range(Position(1, 1), Position(1, 3)), "YY"),
        TextEdit("f", Range(Position(2, 0), Position(2, 0)), "new\n"),
    ]
    assert apply_edits(text, edits) == "Xbc\ndYY\nnew\n"


def test_a_long_lines_fix_title_shows_the_part_that_changed() -> None:
    from connector_watch.daemon.fixes import _around_the_difference

    now = "response: {pagination_style: none, wrapper: {records_key: items, next_key: meta.next_page_url, extra: 1}}"
    then = now.replace("records_key: items", "records_key: results")
    shown_now, shown_then = _around_the_difference(now, then)
    assert "records_key: items" in shown_now and "records_key: results" in shown_then
    assert shown_now.startswith("…") and len(shown_now) <= 64
    assert _around_the_difference("records_key: ticket", "records_key: tickets") == (
        "records_key: ticket",
        "records_key: tickets",
    )
