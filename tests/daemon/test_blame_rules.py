"""Blame is a pure function: a structured failure + evidence → diagnostics. Rule by rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector_watch.daemon.blame import FailureInput, blame
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.daemon.sources_view import MemoryView
from connector_watch.simulator.layout import Layout

LAYOUT = Layout(Path("/ws"))
CONNECTOR = "sources/shop/shop.py"
SCHEMAS = "sources/shop/shop_schemas.py"
SPEC = "simulator/specs/shop/endpoints.yaml"
ORDERS = "simulator/specs/shop/corpus/orders.json"
TEST = "tests/unit/sources/shop/test_shop_lakeflow_connect.py"

CORPUS = [{"id": i, "total": 10 * i, "created_at": f"2025-01-0{i}T00:00:00Z"} for i in range(1, 6)]
VIEW = MemoryView(
    {
        CONNECTOR: "class Shop:\n    def read_table(self):\n        return self._get('/orders')\n",
        SCHEMAS: 'SCHEMA = StructType([\n    StructField("id", LongType()),\n    StructField("total", LongType()),\n])\n',
        SPEC: "endpoints:\n  - path: /orders\n    method: GET\n    corpus: orders\n",
        ORDERS: json.dumps(CORPUS, indent=2),
    }
)


def frame(path: str, line: int, function: str = "f") -> dict[str, Any]:
    return {"file": path, "line": line, "function": function, "code": ""}


def exc(
    type_: str, message: str = "", frames: list[dict[str, Any]] | None = None, **details: Any
) -> dict[str, Any]:
    return {
        "type": type_,
        "module": "x",
        "bases": [],
        "message": message,
        "frames": frames or [],
        "notes": [],
        **details,
    }


def served(seq: int = 1, count: int = 5, total: int = 5, url: str = "https://shop/orders") -> dict[str, Any]:
    return {
        "seq": seq,
        "mode": "simulate",
        "method": "GET",
        "url": url,
        "outcome": "served",
        "status": 200,
        "corpus": "orders",
        "corpusFile": ORDERS,
        "corpusMissing": False,
        "served": count,
        "futureServed": 0,
        "total": total,
        "hasMore": False,
        "page": None,
        "message": None,
        "nearest": [],
        "endpoint": {"index": 0, "key": "GET /orders", "specFile": SPEC, "line": 2, "fingerprint": "f"},
        "caller": {"file": CONNECTOR, "line": 3, "function": "read_table"},
    }


def failure(
    chain: list[dict[str, Any]],
    *,
    outcome: str = "failed",
    trace=None,
    changes=(),
    static=None,
    **kwargs: Any,
) -> FailureInput:
    return FailureInput(
        node_id=f"{TEST}::TestShop::test_read_table[orders]",
        outcome=outcome,
        failure={"when": "call", "chain": chain},
        trace=trace or [],
        test_file=TEST,
        test_line=8,
        source="shop",
        table="orders",
        recent_changes=set(changes),
        static=static or {},
        **kwargs,
    )


def lost_records(reason: str = "dropped", count: int = 1, **details: Any) -> dict[str, Any]:
    """A ground-truth failure: corpus records 4, 5, … of orders lost for ``reason``, asked in request #1."""
    lost = [
        {"corpus": "orders", "index": 4 + i, "key": 5 + i, "reason": reason, "request_seq": 1}
        | ({"page": 2} if reason == "never-requested" else {})
        for i in range(count)
    ]
    harness = {"check": "ground_truth", "table": "orders", "details": {"lost": lost, **details}}
    return exc("HarnessFailure", "lost", harness=harness)


def first(f: FailureInput) -> Diagnostic:
    diagnostics = blame(f, LAYOUT, VIEW)
    assert diagnostics, "no diagnostic"
    return diagnostics[0]


def test_a_spec_error_points_at_the_key() -> None:
    issue = {
        "file": SPEC,
        "line": 4,
        "column": 5,
        "endLine": 4,
        "endColumn": 11,
        "message": "endpoint #0 (GET /orders): unknown key 'corpse'; did you mean 'corpus'?",
        "severity": "error",
        "code": "unknown-key",
    }
    d = first(failure([exc("SpecError", "bad", issues=[issue])], outcome="error"))
    assert (d.blame, d.location.path, d.location.range.start.line, d.location.range.start.character) == (
        "spec",
        SPEC,
        3,
        4,
    )
    assert d.fix == "use 'corpus'"


def test_a_corpus_that_is_not_json_is_the_corpus() -> None:
    issue = {
        "file": ORDERS,
        "line": 7,
        "column": 3,
        "endLine": 7,
        "endColumn": 3,
        "message": "JSON syntax error",
        "severity": "error",
        "code": "corpus-syntax",
    }
    d = first(failure([exc("CorpusError", "bad", issues=[issue])]))
    assert (d.blame, d.location.path, d.location.range.start.line) == ("corpus", ORDERS, 6)


def _unknown(path: str, nearest: list[str]) -> dict[str, Any]:
    entry = served()
    entry.update(
        outcome="unknown-endpoint",
        url=f"https://shop{path}",
        endpoint=None,
        corpus=None,
        corpusFile=None,
        served=0,
        total=None,
        nearest=nearest,
    )
    return entry


NEAREST = [f"GET /orders (/ws/{SPEC}:2)"]


def test_an_unknown_endpoint_after_a_spec_edit_is_the_spec() -> None:
    d = first(failure([exc("UnknownEndpoint")], trace=[_unknown("/orders", NEAREST)], changes={SPEC}))
    assert d.blame == "spec" and d.location.path == SPEC
    assert d.related and d.related[0].location.path == CONNECTOR


def test_an_unknown_endpoint_after_a_connector_edit_is_the_connector() -> None:
    d = first(failure([exc("UnknownEndpoint")], trace=[_unknown("/ordres", NEAREST)], changes={CONNECTOR}))
    assert (d.blame, d.location.path, d.location.range.start.line) == ("connector", CONNECTOR, 2)
    assert d.related[0].location.path == SPEC


def test_an_unknown_endpoint_that_looks_like_a_typo_is_the_connector() -> None:
    d = first(failure([exc("UnknownEndpoint")], trace=[_unknown("/ordrs", NEAREST)]))
    assert d.blame == "connector" and "misspelling of /orders" in d.message


def test_an_unknown_endpoint_nothing_resembles_is_the_spec() -> None:
    d = first(failure([exc("UnknownEndpoint")], trace=[_unknown("/invoices/summary", NEAREST)]))
    assert d.blame == "spec" and "no spec endpoint models GET /invoices/summary" in d.message


def test_a_paging_loop_is_named_by_the_repeated_request() -> None:
    trace = [served(seq=i) for i in range(30)]
    d = first(failure([exc("NodeTimeout", "timeout", [frame(CONNECTOR, 3)])], outcome="timeout", trace=trace))
    assert d.blame == "connector" and "30 times" in d.message and d.location.path == CONNECTOR


def test_a_hang_without_requests_points_at_the_line() -> None:
    d = first(
        failure(
            [exc("NodeTimeout", "timeout", [frame(TEST, 8), frame(CONNECTOR, 3, "read_table")])],
            outcome="timeout",
        )
    )
    assert (d.blame, d.location.path, d.location.range.start.line) == ("connector", CONNECTOR, 2)


def test_a_crash_is_the_environment() -> None:
    d = first(failure([], outcome="crashed", crash_status=-9))
    assert d.blame == "environment" and "signal 9" in d.message


def test_a_missing_third_party_module_is_the_environment() -> None:
    d = first(
        failure(
            [
                exc(
                    "ModuleNotFoundError",
                    "No module named 'shopify'",
                    [frame(CONNECTOR, 1)],
                    missingModule="shopify",
                )
            ],
            outcome="error",
        )
    )
    assert d.blame == "environment" and "shopify" in d.message


def test_a_missing_workspace_module_is_the_importer() -> None:
    d = first(
        failure(
            [
                exc(
                    "ModuleNotFoundError",
                    "No module named 'sources.shop.util'",
                    [frame(CONNECTOR, 1)],
                    missingModule="sources.shop.util",
                )
            ],
            outcome="error",
        )
    )
    assert d.blame == "connector"


def _parse_failure(value: Any, record: dict[str, Any]) -> dict[str, Any]:
    return exc(
        "HarnessFailure",
        "[orders] failed schema parsing",
        harness={
            "check": "read.schema_parse",
            "table": "orders",
            "details": {"field": "total", "value": value, "spark_type": "bigint", "record": record},
        },
    )


def test_a_value_unlike_the_rest_of_the_corpus_is_the_corpus() -> None:
    corpus = [dict(r) for r in CORPUS]
    corpus[2]["total"] = "thirty"
    view = MemoryView({**VIEW.files, ORDERS: json.dumps(corpus, indent=2)})
    d = blame(failure([_parse_failure("thirty", corpus[2])], trace=[served()]), LAYOUT, view)[0]
    assert d.blame == "corpus" and d.location.path == ORDERS
    text_line = next(
        i for i, line in enumerate(json.dumps(corpus, indent=2).splitlines()) if '"thirty"' in line
    )
    assert d.location.range.start.line == text_line
    assert d.related[0].location.path == SCHEMAS  # the schema declaration


def test_a_type_every_record_shares_is_the_connectors_schema() -> None:
    corpus = [dict(r, total=str(r["total"]) + ".5") for r in CORPUS]
    view = MemoryView({**VIEW.files, ORDERS: json.dumps(corpus, indent=2)})
    d = blame(failure([_parse_failure(corpus[0]["total"], corpus[0])], trace=[served()]), LAYOUT, view)[0]
    assert d.blame == "connector" and d.location.path == SCHEMAS and d.location.range.start.line == 2


def test_after_a_corpus_edit_a_misfit_is_the_corpus() -> None:
    corpus = [dict(r, total="x") for r in CORPUS]
    view = MemoryView({**VIEW.files, ORDERS: json.dumps(corpus, indent=2)})
    d = blame(failure([_parse_failure("x", corpus[0])], trace=[served()], changes={ORDERS}), LAYOUT, view)[0]
    assert d.blame == "corpus"


def _empty_read() -> dict[str, Any]:
    return exc(
        "HarnessFailure",
        "returned no records",
        harness={"check": "read.empty_first_read", "table": "orders", "details": {}},
    )


def test_records_served_but_not_returned_are_the_connectors() -> None:
    d = first(failure([_empty_read()], trace=[served(count=5)]))
    assert d.blame == "connector" and d.location.path == CONNECTOR


def test_records_served_but_not_returned_after_a_spec_edit_are_the_specs() -> None:
    d = first(failure([_empty_read()], trace=[served(count=5)], changes={SPEC}))
    assert d.blame == "spec" and d.location.path == SPEC


def test_an_empty_corpus_is_the_corpus() -> None:
    view = MemoryView({**VIEW.files, ORDERS: "[]"})
    d = blame(failure([_empty_read()], trace=[served(count=0, total=0)]), LAYOUT, view)[0]
    assert d.blame == "corpus" and "is empty" in d.message


def test_columns_the_corpus_never_fills_are_the_corpus() -> None:
    harness = {"check": "read.null_columns", "table": "orders", "details": {"columns": ["discount"]}}
    d = first(failure([exc("HarnessFailure", "Columns null", harness=harness)], trace=[served()]))
    assert d.blame == "corpus" and d.location.path == ORDERS


def test_columns_the_corpus_fills_but_the_connector_drops_are_the_connectors() -> None:
    harness = {"check": "read.null_columns", "table": "orders", "details": {"columns": ["total"]}}
    d = first(failure([exc("HarnessFailure", "Columns null", harness=harness)], trace=[served()]))
    assert d.blame == "connector" and d.location.path == SCHEMAS


def test_giving_up_on_a_declared_429_is_the_connector() -> None:
    declared = served()
    declared.update(outcome="declared-error", status=429, served=0)
    d = first(failure([exc("HTTPError", "429 Client Error")], trace=[declared]))
    assert d.blame == "connector" and "instead of retrying" in d.message
    assert d.related[0].location.path == SPEC


def test_an_exception_in_connector_code_points_at_its_line() -> None:
    d = first(
        failure(
            [exc("KeyError", "'results'", [frame(TEST, 8), frame(CONNECTOR, 3, "read_table")])],
            trace=[served()],
        )
    )
    assert (d.blame, d.location.path, d.location.range.start.line) == ("connector", CONNECTOR, 2)
    assert "KeyError" in d.message


def test_an_assertion_in_the_test_file_is_the_test() -> None:
    d = first(failure([exc("AssertionError", "assert 1 == 2", [frame(TEST, 12, "test_custom")])]))
    assert (d.blame, d.location.path, d.location.range.start.line) == ("test", TEST, 11)


def test_a_configuration_error_is_the_test() -> None:
    harness = {"check": "config", "table": None, "details": {}, "hint": "set replay_config"}
    d = first(
        failure([exc("HarnessConfigError", "No credentials provided.", harness=harness)], outcome="error")
    )
    assert d.blame == "test" and d.fix == "set replay_config"


def test_a_clock_dependent_corpus_is_the_environment() -> None:
    static = {
        ORDERS: [
            Diagnostic(
                "corpus",
                "cursor in the future",
                Location(ORDERS, Range.lines(20)),
                0.6,
                code="corpus.future_cursor",
                source="static",
            )
        ]
    }
    d = first(failure([lost_records()], trace=[served()], static=static))
    assert d.blame == "environment" and d.location.range.start.line == 20


def test_records_on_pages_never_requested_are_the_connectors_paging() -> None:
    d = first(failure([lost_records("never-requested")], trace=[served()]))
    assert d.blame == "connector" and "never requested" in d.message
    assert {r.location.path for r in d.related} == {SPEC, ORDERS}


def test_every_diagnostic_names_its_node() -> None:
    f = failure([exc("KeyError", "'x'", [frame(CONNECTOR, 3)])])
    diagnostics = blame(f, LAYOUT, VIEW)
    assert diagnostics and all(d.node_ids == [f.node_id] for d in diagnostics)


def test_a_wrapper_mismatch_after_a_spec_edit_points_at_records_key() -> None:
    spec = (
        "endpoints:\n  - path: /orders\n    method: GET\n    corpus: orders\n    response:\n      wrapper:\n"
        "        records_key: order\n  - path: /other\n    method: GET\n    corpus: orders\n"
    )
    view = MemoryView({**VIEW.files, SPEC: spec})
    d = blame(failure([_empty_read()], trace=[served(count=5)], changes={SPEC}), LAYOUT, view)[0]
    assert (d.blame, d.location.path, d.location.range.start.line) == ("spec", SPEC, 6)


def test_a_ground_truth_failure_carries_its_expected_and_actual_to_every_diagnostic() -> None:
    diff = {
        "expected": "2 record(s)\norders[4] key 5: returned",
        "actual": "1 record(s)\norders[4] key 5: missing",
    }
    diagnostics = blame(failure([lost_records(diff=diff)], trace=[served()]), LAYOUT, VIEW)
    assert diagnostics and all(d.diff == diff for d in diagnostics)
    lsp = diagnostics[0].to_lsp(lambda path: f"file:///w/{path}")
    assert lsp["data"]["diff"] == diff
    assert Diagnostic.from_dict(diagnostics[0].to_dict()).diff == diff
    other = first(failure([exc("KeyError", "'x'", [frame(CONNECTOR, 3)])]))
    assert other.diff is None and "diff" not in other.to_lsp(str)["data"] and "diff" not in other.to_dict()


def test_counts_in_the_message_cover_every_lost_record_not_only_the_listed_ones() -> None:
    listed_ten = lost_records("never-requested", 10, lost_count=12, lost_by_reason={"never-requested": 12})
    d = first(failure([listed_ten], trace=[served()]))
    assert d.message.startswith("12 corpus record(s) sit on pages the connector never requested"), d.message


def test_records_dropped_after_a_spec_edit_point_at_its_records_key_and_the_reading_line() -> None:
    spec = (
        "endpoints:\n  - path: /orders\n    method: GET\n    corpus: orders\n    response:\n"
        "      wrapper:\n        records_key: order_list\n"
    )
    view = MemoryView({**VIEW.files, SPEC: spec})
    edited = failure([lost_records()], trace=[served()], changes=[SPEC])
    d = blame(edited, LAYOUT, view)[0]
    assert (d.blame, d.location.path, d.location.range.start.line) == ("spec", SPEC, 6)  # records_key
    assert any(r.location.path == CONNECTOR and r.location.range.start.line == 2 for r in d.related)
    assert "the spec changed" in (d.fix or "")
    untouched = blame(failure([lost_records()], trace=[served()]), LAYOUT, view)[0]
    assert (untouched.blame, untouched.location.path) == ("connector", CONNECTOR)


HELPER_CONNECTOR = (
    "class Shop:\n"  # 1
    "    def read_table(self):\n"  # 2
    "        page = 1\n"  # 3
    "        while True:\n"  # 4
    "            rows = self._get('/orders', page)\n"  # 5
    "            if not rows: break\n"  # 6
    "            page += 1\n"  # 7
    "    def _get(self, path, page):\n"  # 8
    "        return requests.get(path, params={'page': page}).json()\n"  # 9
)


def test_lost_pages_point_at_the_loop_that_called_a_shared_request_helper_not_the_helper() -> None:
    view = MemoryView({**VIEW.files, CONNECTOR: HELPER_CONNECTOR})
    entry = served()
    entry["caller"] = {"file": CONNECTOR, "line": 9, "function": "_get", "outer": [{"line": 5, "function": "read_table"}]}
    d = blame(failure([lost_records("never-requested")], trace=[entry]), LAYOUT, view)[0]
    assert (d.blame, d.location.path, d.location.range.start.line) == ("connector", CONNECTOR, 4)  # the loop's call
    chain = [r for r in d.related if r.message == "called from read_table()"]
    assert len(chain) == 1 and (chain[0].location.path, chain[0].location.range.start.line) == (CONNECTOR, 4)


def test_a_request_made_inline_in_a_paging_loop_is_located_at_the_request() -> None:
    inline = "class Shop:\n    def read_table(self):\n        while True:\n            rows = requests.get('/orders')\n"
    view = MemoryView({**VIEW.files, CONNECTOR: inline})
    entry = served()
    entry["caller"] = {"file": CONNECTOR, "line": 4, "function": "read_table", "outer": [{"line": 9, "function": "x"}]}
    d = blame(failure([lost_records("never-requested")], trace=[entry]), LAYOUT, view)[0]
    assert (d.location.path, d.location.range.start.line) == (CONNECTOR, 3)
