"""Tests left unrun behind a hung test of their file: never counted as passes, never robbed of
what they depend on, never forgotten across a restart."""

from __future__ import annotations

from connector_watch.daemon.impact import Selection
from connector_watch.daemon.index import Index, NodeRecord, dump, load
from connector_watch.daemon.run_state import Run, passed_nodes_and_files

FILE = "tests/unit/sources/github/test_github.py"
HUNG = f"{FILE}::TestGithub::test_read_table[issues]"
BLOCKED = f"{FILE}::TestGithub::test_read_table[repositories]"
PASSED = "tests/unit/sources/zendesk/test_zendesk.py::TestZendesk::test_list_tables"
CORPUS = "simulator/specs/github/corpus/repositories.json"


def _index_with_a_run_node() -> Index:
    index = Index()
    index.nodes[BLOCKED] = NodeRecord(BLOCKED, FILE)
    index.finished(
        {
            "nodeId": BLOCKED,
            "outcome": "passed",
            "requests": [["GET", "/user/repos", 0, "fp", "simulator/specs/github/endpoints.yaml", CORPUS]],
            "read": [CORPUS],
            "modules": ["sources/github/github.py"],
        }
    )
    return index


def test_a_blocked_node_keeps_what_its_last_run_touched_and_says_who_blocked_it() -> None:
    index = _index_with_a_run_node()
    before = index.nodes[BLOCKED]
    requests, read = set(before.requests), set(before.read)
    assert requests and read
    index.finished({"nodeId": BLOCKED, "outcome": "skipped", "blockedBy": HUNG, "requests": [], "read": []})
    record = index.nodes[BLOCKED]
    assert record.outcome == "skipped" and record.blocked_by == HUNG
    assert record.requests == requests and record.read == read  # a corpus edit still selects it
    index.finished({"nodeId": BLOCKED, "outcome": "passed", "requests": [], "read": []})
    assert index.nodes[BLOCKED].blocked_by is None


def test_who_blocked_a_node_survives_the_saved_index() -> None:
    index = _index_with_a_run_node()
    index.finished({"nodeId": BLOCKED, "outcome": "skipped", "blockedBy": HUNG})
    loaded = load(dump(index)).nodes[BLOCKED]
    assert loaded.blocked_by == HUNG
    assert loaded.requests == index.nodes[BLOCKED].requests


def test_a_blocked_node_is_not_a_pass_and_its_file_did_not_pass() -> None:
    run = Run(1, "save", [], Selection())
    run.finished = {HUNG: "timeout", BLOCKED: "skipped", PASSED: "passed"}
    run.blocked = {BLOCKED}
    vouched = passed_nodes_and_files(run)
    assert PASSED in vouched and "tests/unit/sources/zendesk/test_zendesk.py" in vouched
    assert BLOCKED not in vouched and FILE not in vouched
    run.blocked = set()
    run.finished[HUNG] = "passed"
    assert {BLOCKED, FILE} <= set(passed_nodes_and_files(run))  # a plain skip still vouches
