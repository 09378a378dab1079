"""The one-shot report: one problem told once, whichever check found it."""

from __future__ import annotations

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.daemon.report import NodeResult, RunReport, render_sarif, render_text

TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
NODE = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py::TestZendeskConnector::test_read_table[tickets]"


def _diagnostic(message: str, line: int, source: str, path: str = TICKETS) -> Diagnostic:
    return Diagnostic("corpus", message, Location(path, Range.lines(line, 10)), source=source)


def test_a_static_finding_a_failing_test_reports_at_the_same_place_is_listed_once() -> None:
    from_test = _diagnostic("corpus value 'x' of 'id' does not fit the schema (bigint)", 250, "run")
    from_test.node_ids = [NODE]
    same_place = _diagnostic("'id' holds a string where 29 other records hold an int", 250, "static")
    elsewhere = _diagnostic("duplicate key 'id' 7", 12, "static")
    report = RunReport([NodeResult(NODE, "failed", 5.0, [from_test])], [same_place, elsewhere], 10.0)
    assert report.all_diagnostics() == [from_test, elsewhere]
    text = render_text(report)
    assert "== corpus (2) ==" in text and "holds a string" not in text
    assert len(render_sarif(report)["runs"][0]["results"]) == 2
    summary = report.summary()
    # Test results and static findings are counted apart.
    assert summary["byBlame"]["corpus"] == 1 and summary["staticByBlame"]["corpus"] == 2
    assert summary["staticErrors"] == 2 and summary["staticWarnings"] == 0


def test_one_problem_failing_several_tests_is_told_once_with_every_test() -> None:
    first, second = f"{NODE}[a]", f"{NODE}[b]"
    in_first = Diagnostic("spec", "unknown path", Location(TICKETS, Range.lines(3, 1)), node_ids=[first])
    in_second = Diagnostic("spec", "unknown path", Location(TICKETS, Range.lines(3, 1)), node_ids=[second])
    report = RunReport(
        [NodeResult(first, "failed", 1.0, [in_first]), NodeResult(second, "failed", 1.0, [in_second])], [], 2.0
    )
    (told,) = report.all_diagnostics()
    assert told.node_ids == [first, second]
    assert in_first.node_ids == [first]  # the node's own diagnostic is not changed
    text = render_text(report)
    assert text.count("unknown path") == 1
    assert first.split("::", 1)[-1] in text and second.split("::", 1)[-1] in text
