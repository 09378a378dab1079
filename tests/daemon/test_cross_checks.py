"""Spec against corpus and connector, with no run and no history (pure)."""

from __future__ import annotations

from pathlib import Path

from connector_watch.daemon.cross_checks import cross_check
from connector_watch.simulator.spec import check_spec

SPEC = """endpoints:
  - path: /orders
    method: GET
    corpus: orders
    params:
      since: {role: filter, field: updated_at, op: gte}
      page: {role: page}
    response:
      pagination_style: page_number
      wrapper:
        records_key: orders
"""
RECORDS = [{"id": 1, "updated_at": "2025-01-01T00:00:00Z"}, {"id": 2, "updated_at": "2025-01-02T00:00:00Z"}]
CONNECTOR = "def read(self):\n    return self._get('/orders').json()['orders']\n"


def spec_of(tmp_path: Path, text: str):
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    spec, issues = check_spec(path, tmp_path / "corpus", check_files=False)
    assert spec is not None, issues
    return spec


def test_a_consistent_spec_has_nothing_to_say(tmp_path: Path) -> None:
    assert cross_check(spec_of(tmp_path, SPEC), "spec.yaml", {"orders": RECORDS}, [CONNECTOR]) == []


def test_a_filter_field_no_record_has_is_located_with_the_near_name(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, SPEC.replace("field: updated_at", "field: updated_at_x"))
    [finding] = cross_check(spec, "spec.yaml", {"orders": RECORDS}, [CONNECTOR])
    assert (finding.code, finding.location.range.start.line, finding.severity) == (
        "spec.filter_field_unknown", 5, "warning"
    )
    assert "did you mean 'updated_at'" in finding.message


def test_a_records_key_the_connector_never_names_is_a_warning(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, SPEC.replace("records_key: orders", "records_key: order_list"))
    [finding] = cross_check(spec, "spec.yaml", {"orders": RECORDS}, [CONNECTOR])
    assert finding.code == "spec.records_key_unread" and finding.location.range.start.line == 10


def test_a_parameter_the_connector_sends_that_the_spec_lost(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, SPEC.replace("since:", "since_x:"))
    [finding] = cross_check(spec, "spec.yaml", {"orders": RECORDS}, [CONNECTOR], sent_params={0: {"since", "page"}})
    assert finding.code == "spec.param_undeclared" and "it declares 'since_x'" in finding.message
    assert finding.location.range.start.line == 5


def test_the_index_gives_each_endpoint_the_parameters_its_nodes_sent() -> None:
    from connector_watch.daemon.index import Index

    index = Index()
    index.collected(
        {"nodes": [{"nodeId": "t.py::T::a", "file": "t.py"}], "files": {"t.py": {}}},
        {"t.py"},
    )
    index.finished(
        {
            "nodeId": "t.py::T::a",
            "outcome": "passed",
            "requests": [["GET", "/orders", 0, "fp", "spec.yaml", "orders.json", False]],
            "params": [["GET", "/orders", ["page", "since"]]],
        }
    )
    assert index.sent_params("spec.yaml") == {0: {"page", "since"}}
    assert index.sent_params("other.yaml") == {}
