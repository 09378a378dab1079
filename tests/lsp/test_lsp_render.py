"""The language server's pure parts: diagnostics as LSP, quick fixes from verified fixes, hover.

Real objects throughout: ``Diagnostic``s with ``VerifiedFix``es as blame and the fix builder make
them, the bundled zendesk spec and corpus as text, an ``Index`` filled from the plugin's events.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related, TextEdit, VerifiedFix
from connector_watch.daemon.index import Index
from connector_watch.daemon.lsp_hover import (
    LastHits,
    corpus_readers,
    endpoint_at,
    endpoint_hover,
    endpoint_readers,
    record_at,
    record_hover,
)
from connector_watch.daemon.lsp_render import fix_title, lsp_diagnostic, overlaps, quick_fixes, workspace_edit
from connector_watch.daemon.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SPEC = "simulator/specs/zendesk/endpoints.yaml"
TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
NODE = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]"
ROOT = Path("/home/me/ws")


def uri(path: str) -> str:
    return (ROOT / path).as_uri()


def inside(path: str) -> str:
    return Workspace(REPO).inside(path)


def spec_diagnostic(fixes: list[VerifiedFix]) -> Diagnostic:
    return Diagnostic(
        "spec",
        "the response has no key 'ticket' (records_key): the connector reads 'tickets'",
        Location(SPEC, Range.lines(26, 8, 26, 30)),
        related=[
            Related(Location("sources/zendesk/zendesk.py", Range.lines(80)), "the connector reads it here")
        ],
        evidence=["response keys: tickets, after_url"],
        fix="use records_key 'tickets'",
        node_ids=[NODE],
        code="read.records_key",
        fixes=fixes,
    )


def records_key_fix(nodes: tuple[str, ...] = (NODE, NODE + "x")) -> VerifiedFix:
    return VerifiedFix(
        "use records_key 'tickets'",
        (TextEdit(SPEC, Range.lines(26, 21, 26, 27), "tickets"),),
        nodes,
        "2 tests passed with the fix applied (overlay rerun, 180 ms)",
    )


def test_a_diagnostic_has_the_blame_as_source_the_check_as_code_and_to_lsps_data() -> None:
    diagnostic = spec_diagnostic([])
    item = lsp_diagnostic(diagnostic, uri)
    assert item["source"] == "connector-watch(spec)"
    assert item["code"] == "read.records_key"
    assert item["relatedInformation"][0]["location"]["uri"] == uri("sources/zendesk/zendesk.py")
    expected = diagnostic.to_lsp(uri)["data"]
    assert {k: v for k, v in item["data"].items() if k != "blame"} == expected
    assert item["data"]["blame"] == "spec" and item["data"]["uri"] == uri(SPEC)
    # Without a check code the blame is the code.
    assert (
        lsp_diagnostic(Diagnostic("corpus", "m", Location(TICKETS, Range.lines(0))), uri)["code"] == "corpus"
    )


def test_one_quick_fix_per_verified_fix_the_first_preferred_with_what_ran_in_the_title() -> None:
    second = VerifiedFix(
        "rename the key to 'ticket' in the connector",
        (TextEdit("sources/zendesk/zendesk.py", Range.lines(80, 20, 80, 29), "'ticket'"),),
        (NODE,),
    )
    diagnostic = spec_diagnostic([records_key_fix(), second])
    actions = quick_fixes([diagnostic], uri, inside)
    assert [a["title"] for a in actions] == [
        "Verified: use records_key 'tickets' (2 tests pass)",
        "Verified: rename the key to 'ticket' in the connector (1 test passes)",
    ]
    assert [a["isPreferred"] for a in actions] == [True, False]
    assert {a["kind"] for a in actions} == {"quickfix"}
    assert actions[0]["edit"] == {
        "changes": {uri(SPEC): [{"range": Range.lines(26, 21, 26, 27).to_dict(), "newText": "tickets"}]}
    }
    assert actions[1]["edit"]["changes"].keys() == {uri("sources/zendesk/zendesk.py")}
    assert actions[0]["diagnostics"] == [lsp_diagnostic(diagnostic, uri)]


def test_no_code_action_without_a_verified_fix_nor_for_other_kinds() -> None:
    assert quick_fixes([spec_diagnostic([])], uri, inside) == []
    with_fix = spec_diagnostic([records_key_fix()])
    assert quick_fixes([with_fix], uri, inside, only=["refactor"]) == []
    assert len(quick_fixes([with_fix], uri, inside, only=["quickfix"])) == 1


def test_a_fix_editing_outside_the_workspace_is_not_offered_at_all() -> None:
    escaping = VerifiedFix(
        "edit elsewhere",
        (TextEdit(SPEC, Range.lines(1), "x"), TextEdit("../../etc/passwd", Range.lines(0), "x")),
        (NODE,),
    )
    assert workspace_edit(escaping, uri, inside) is None
    assert quick_fixes([spec_diagnostic([escaping])], uri, inside) == []


def test_fix_titles_and_range_overlap() -> None:
    assert fix_title(VerifiedFix("Verified rename", (), ())) == "Verified rename (verified on the overlay)"
    line = Range.lines(5, 0, 5, 10)
    assert overlaps(line, Range.lines(5, 3, 5, 3))  # a cursor inside
    assert overlaps(line, Range.lines(5, 10, 5, 12))  # touching
    assert not overlaps(line, Range.lines(6, 0, 6, 1))


# ---------------------------------------------------------------------------- hover


def _index() -> Index:
    """The index as the zendesk suite leaves it: two nodes reading tickets, one failing."""
    index = Index()
    nodes = [
        {
            "nodeId": NODE,
            "file": NODE.split("::")[0],
            "name": "test_read_table",
            "table": "tickets",
            "source": "zendesk",
        },
        {
            "nodeId": NODE.replace("test_read_table", "test_read_terminates"),
            "file": NODE.split("::")[0],
            "name": "test_read_terminates",
            "table": "tickets",
            "source": "zendesk",
        },
        {
            "nodeId": NODE.replace("tickets", "users"),
            "file": NODE.split("::")[0],
            "name": "test_read_table",
            "table": "users",
            "source": "zendesk",
        },
    ]
    index.collected({"nodes": nodes}, set())
    tickets_request = ["GET", "/api/v2/incremental/tickets/cursor.json", 0, "f0", SPEC, TICKETS]
    users_request = [
        "GET",
        "/api/v2/incremental/users/cursor.json",
        1,
        "f1",
        SPEC,
        "simulator/specs/zendesk/corpus/users.json",
    ]
    index.finished(
        {
            "nodeId": nodes[0]["nodeId"],
            "outcome": "failed",
            "requests": [tickets_request],
            "tables": [{"source": "zendesk", "table": "tickets", "metadata": {"primary_keys": ["id"]}}],
        }
    )
    index.finished({"nodeId": nodes[1]["nodeId"], "outcome": "passed", "requests": [tickets_request]})
    index.finished({"nodeId": nodes[2]["nodeId"], "outcome": "passed", "requests": [users_request]})
    return index


def spec_of(source: str | None) -> str | None:
    return SPEC if source == "zendesk" else None


def test_the_endpoint_under_the_cursor_is_the_whole_entry_from_its_path_line() -> None:
    text = (REPO / SPEC).read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(
        i for i, line in enumerate(lines) if "- path: /api/v2/incremental/tickets/cursor.json" in line
    )
    second = next(
        i for i, line in enumerate(lines) if "- path: /api/v2/incremental/users/cursor.json" in line
    )
    at_path = endpoint_at(text, SPEC, first)
    assert at_path is not None and at_path.index == 0
    assert (at_path.method, at_path.path, at_path.corpus) == (
        "GET",
        "/api/v2/incremental/tickets/cursor.json",
        "tickets",
    )
    records_key = next(i for i in range(first, second) if "records_key" in lines[i])
    assert endpoint_at(text, SPEC, records_key) == at_path  # a key of the entry
    assert endpoint_at(text, SPEC, second).index == 1
    assert endpoint_at(text, SPEC, 0) is None  # the header comment
    assert endpoint_at("endpoints: [\n", SPEC, 0) is None  # not YAML: no hover, no error


def test_an_endpoint_hover_lists_the_tests_that_hit_it_failures_first_and_the_last_request() -> None:
    index = _index()
    nodes, files = endpoint_readers(index, SPEC, 0, spec_of)
    assert [n.node_id for n in nodes] == sorted(
        [NODE, NODE.replace("test_read_table", "test_read_terminates")]
    )
    assert endpoint_readers(index, SPEC, 1, spec_of)[0][0].table == "users"
    hits = LastHits()
    for record in index.nodes.values():
        hits.node_finished(record, 3, spec_of, 0.0)
    text = (REPO / SPEC).read_text(encoding="utf-8")
    endpoint = endpoint_at(text, SPEC, 10)
    assert endpoint is not None
    hover = endpoint_hover(endpoint, SPEC, nodes, files, hits.endpoints.get((SPEC, 0)))
    value = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert "**GET /api/v2/incremental/tickets/cursor.json**" in value
    assert "**2 tests** hit this endpoint: 1 failed, 1 passed" in value
    listed = [line for line in value.splitlines() if line.startswith("- ")]
    assert listed[0].startswith("- ✗ failed: `TestZendeskConnector::test_read_table[tickets]`")
    assert "**Last request:** `GET /api/v2/incremental/tickets/cursor.json`" in value and "run 3" in value
    assert hover["range"]["start"] == {"line": endpoint.first_line, "character": 0}
    nobody = endpoint_hover(endpoint, SPEC, [], [], None)["contents"]["value"]
    assert "No test hit this endpoint" in nobody and "No request has reached it" in nobody


def test_the_corpus_record_under_the_cursor_with_its_key_and_readers() -> None:
    text = (REPO / TICKETS).read_text(encoding="utf-8")
    records = json.loads(text)
    line = text.splitlines().index(f'    "id": {records[2]["id"]},')
    record = record_at(text, line, 6)
    assert record is not None and record.path == (2,) and record.record == records[2]
    assert record_at(text, 0, 0) is None  # the opening bracket belongs to no record
    index = _index()
    nodes, files = corpus_readers(index, TICKETS)
    assert len(nodes) == 2 and files == []
    tables = [(t.source, t.table, t.metadata["primary_keys"]) for t in index.table_for_corpus(TICKETS)]
    hover = record_hover(record, TICKETS, tables, nodes, files, None)
    value = hover["contents"]["value"]
    assert f"**corpus record 3** of `{TICKETS}` · `id` = `{records[2]['id']}`" in value
    assert "Served as table `tickets` (zendesk)." in value
    assert "**2 tests** read this corpus file: 1 failed, 1 passed" in value
    assert hover["range"]["start"]["line"] < line < hover["range"]["end"]["line"]
    # Read by tests that report no table (the public harness): it says so, not "not run yet".
    unknown = record_hover(record, TICKETS, [], nodes, files, None)["contents"]["value"]
    assert "its readers report no table" in unknown and "have not run" not in unknown
    assert "have not run" in record_hover(record, TICKETS, [], [], [], None)["contents"]["value"]


def test_a_record_of_a_wrapped_corpus_and_of_a_broken_one() -> None:
    wrapped = '{"records": [\n  {"id": 1},\n  {"id": 2}\n]}\n'
    record = record_at(wrapped, 2, 4)
    assert record is not None and record.path == ("records", 1) and record.record == {"id": 2}
    broken = '[\n  {"id": 1},\n  {"id": 2,\n]\n'  # a trailing comma: located, not parsed
    record = record_at(broken, 1, 4)
    assert record is not None and record.path == (0,) and record.record is None


@pytest.mark.parametrize("outcome", ["passed", "failed"])
def test_the_last_hit_is_the_latest_node_to_finish(outcome: str) -> None:
    index = _index()
    hits = LastHits()
    first, second = NODE, NODE.replace("test_read_table", "test_read_terminates")
    index.nodes[second].outcome = outcome
    hits.node_finished(index.nodes[first], 1, spec_of, 1.0)
    hits.node_finished(index.nodes[second], 2, spec_of, 2.0)
    assert hits.corpora[TICKETS].node_id == second and hits.corpora[TICKETS].outcome == outcome
    assert hits.endpoints[(SPEC, 0)].run_id == 2
