"""Blame of public-harness failures: facts without a request trace, judged from the files.

A small workspace in the public repository's layout (in memory), and facts as
``daemon/public_harness.py`` reads them from the public suite's real texts.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

from connector_watch.daemon import public_harness
from connector_watch.daemon.blame import FailureInput, blame
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.sources_view import MemoryView
from connector_watch.simulator.layout import Layout

CC = "src/databricks/labs/community_connector"
LAYOUT = Layout(
    Path("/ws"), sources=f"{CC}/sources", specs=f"{CC}/source_simulator/specs", tests="tests/unit/sources"
)
CONNECTOR = f"{CC}/sources/shop/shop.py"
DOC = f"{CC}/sources/shop/shop_api_doc.md"
SPEC = f"{CC}/source_simulator/specs/shop/endpoints.yaml"
ORDERS = f"{CC}/source_simulator/specs/shop/corpus/orders.json"
TEST = "tests/unit/sources/shop/test_shop_lakeflow_connect.py"
TABLE_CONFIG = "tests/unit/sources/shop/configs/dev_table_config.json"
NODE = f"{TEST}::TestShopConnector::test_read_table"

TODAY = date.today()
OLD = [TODAY - timedelta(days=120 - i) for i in range(3)]  # aged out of a 30-day window
CONNECTOR_TEXT = """from datetime import datetime, timedelta, timezone

SCHEMA = StructType([
    StructField("id", LongType()),
    StructField("note", StringType()),
    StructField("day", StringType()),
])
METADATA = {"orders": {"primary_keys": ["id"], "cursor_field": "day", "ingestion_type": "cdc"}}


class Shop:
    def __init__(self, options):
        self._init = datetime.now(timezone.utc)

    def read_table(self, table, offset, options):
        start = offset.get("day") or (self._init - timedelta(days=30)).date().isoformat()
        body = self._get(f"{self.base}/shop/orders", {"since": start})
        return iter(body["orders"]), {"day": datetime.now(timezone.utc).isoformat()}
"""
SPEC_TEXT = """endpoints:
  - path: /shop/orders
    method: GET
    corpus: orders
    response:
      wrapper:
        records_key: orders
"""
CORPUS = [{"id": i + 1, "note": f"n{i}", "day": d.isoformat()} for i, d in enumerate(OLD)]


def view(**changes: str) -> MemoryView:
    files = {
        CONNECTOR: CONNECTOR_TEXT,
        SPEC: SPEC_TEXT,
        ORDERS: json.dumps(CORPUS, indent=2),
        TEST: 'class TestShopConnector(LakeflowConnectTests):\n    connector_class = Shop\n    simulator_source = "shop"\n'
        '    replay_config = {"token": "x"}\n',
        DOC: "# Shop\n\n`GET /shop/orders` lists orders.\n",
        TABLE_CONFIG: json.dumps(
            {"orders": {"start_date": "2026-01-08", "max_days_per_batch": "7"}}, indent=2
        ),
    }
    files.update(changes)
    return MemoryView(files)


def judge(exc_type: str, text: str, files: MemoryView | None = None, node: str = NODE) -> list[Diagnostic]:
    chain = [
        {
            "type": exc_type,
            "message": text,
            "frames": [],
            "facts": public_harness.facts(exc_type, text, "/ws"),
        }
    ]
    failure = FailureInput(
        node_id=node,
        outcome="failed",
        failure={"when": "call", "chain": chain},
        test_file=TEST,
        test_line=1,
        source="shop",
        message=text,
    )
    return blame(failure, LAYOUT, files or view())


def line_of(files: MemoryView, path: str, needle: str) -> int:
    """0-based line of the first line containing ``needle``."""
    return next(i for i, text in enumerate(files.text(path).splitlines()) if needle in text)


EMPTY = (
    "[orders] read_table() returned no records on the first call (start_offset={}) in simulate mode under "
    "ingestion_type='cdc'.\n  Fix: confirm the corpus has records"
)


def test_corpus_dated_before_the_connectors_window_is_the_clock() -> None:
    [d] = judge("Failed", EMPTY)
    assert d.blame == "environment" and d.code == "read.empty_first_read.clock"
    assert d.location.path == ORDERS
    assert d.location.range.start.line == line_of(view(), ORDERS, OLD[-1].isoformat())
    assert any("now − 30 days" in e for e in d.evidence) and any(OLD[0].isoformat() in e for e in d.evidence)
    assert d.related[0].location.path == CONNECTOR


def test_an_empty_first_read_with_fresh_data_is_the_connectors() -> None:
    fresh = [{**r, "day": TODAY.isoformat()} for r in CORPUS]
    [d] = judge("Failed", EMPTY, view(**{ORDERS: json.dumps(fresh, indent=2)}))
    assert d.blame == "connector" and d.location.path == CONNECTOR


def test_an_empty_corpus_a_missing_corpus_and_an_unread_records_key() -> None:
    [empty] = judge("Failed", EMPTY, view(**{ORDERS: "[]\n"}))
    assert (empty.blame, empty.location.path, empty.location.range.start.line) == ("corpus", ORDERS, 0)
    renamed = SPEC_TEXT.replace("corpus: orders", "corpus: order")
    [missing] = judge("Failed", EMPTY, view(**{SPEC: renamed}))
    assert missing.blame == "spec" and missing.location.path == SPEC
    assert missing.location.range.start.line == line_of(view(**{SPEC: renamed}), SPEC, "corpus: order")
    wrapped = SPEC_TEXT.replace("records_key: orders", "records_key: data")
    [key] = judge("Failed", EMPTY, view(**{SPEC: wrapped}))
    assert key.blame == "spec" and key.location.range.start.line == line_of(
        view(**{SPEC: wrapped}), SPEC, "records_key"
    )


def _terminates(last: str) -> str:
    return (
        f'[orders] read_table did not converge in 50 iterations (last offset: {{"day": "{last}"}}).\n'
        "  Fix: read_table() must eventually return the same offset it was given."
    )


def test_a_fixed_start_date_outgrown_by_the_clock_is_the_environment() -> None:
    reached = (TODAY - timedelta(days=20)).isoformat()
    [d] = judge("Failed", _terminates(reached), node=f"{TEST}::TestShopConnector::test_read_terminates")
    assert d.blame == "environment" and d.code == "read.terminates.clock"
    assert d.location.path == TABLE_CONFIG
    assert d.location.range.start.line == line_of(view(), TABLE_CONFIG, '"start_date"')
    assert any("start_date=2026-01-08" in e for e in d.evidence)


def test_an_offset_that_follows_the_wall_clock_is_the_connectors_line() -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.123456+00:00", time.gmtime())
    [d] = judge("Failed", _terminates(now), node=f"{TEST}::TestShopConnector::test_read_terminates")
    assert d.blame == "connector" and d.location.path == CONNECTOR
    assert d.location.range.start.line == line_of(view(), CONNECTOR, '{"day": datetime.now(')


def _conversion(value: str, spark: str = "LongType()") -> str:
    return (
        f"[orders] Record 1 failed schema parsing: Error converting '{value}' (<class 'str'>) to {spark}: "
        f"invalid literal for int() with base 10: '{value}'\n  Fix: Check that read_table() returns raw values"
    )


def test_a_value_only_one_record_holds_with_that_type_is_the_corpus() -> None:
    odd = [dict(r) for r in CORPUS]
    odd[1]["id"] = "two"
    files = view(**{ORDERS: json.dumps(odd, indent=2)})
    [d] = judge("Failed", _conversion("two"), files)
    assert d.blame == "corpus" and d.location.path == ORDERS
    assert d.location.range.start.line == line_of(files, ORDERS, '"two"')


def test_a_type_every_record_agrees_on_is_the_schemas() -> None:
    [d] = judge("Failed", _conversion("n1").replace("Record 1", "Record 1"))
    assert d.blame == "connector" and d.location.path == CONNECTOR
    assert d.location.range.start.line == line_of(view(), CONNECTOR, 'StructField("note"')


def _unknown(path: str) -> str:
    return (
        f"[orders] read_table() raised: No endpoint spec matches GET https://api.shop.example{path}\n"
        "  Fix: add an entry under 'endpoints:' in the spec file, or fall back to a cassette.\n"
        "Traceback (most recent call last):\n"
        f'  File "/ws/{CONNECTOR}", line 17, in read_table\n'
        '    body = self._get(f"{self.base}/shop/orders", {"since": start})\n'
        "handler.UnknownEndpoint: No endpoint spec matches GET https://api.shop.example" + path + "\n"
    )


def test_the_api_documentation_referees_a_request_no_endpoint_models() -> None:
    # The connector asks for what the documentation says; the spec misspells it.
    misspelt = SPEC_TEXT.replace("/shop/orders", "/shop/order")
    files = view(**{SPEC: misspelt})
    [spec] = judge("Failed", _unknown("/shop/orders"), files)
    assert spec.blame == "spec" and spec.location.path == SPEC
    assert spec.location.range.start.line == line_of(files, SPEC, "path: /shop/order")
    assert any("documentation" in e for e in spec.evidence)
    # The connector misspells it; the spec has the documented path.
    wrong = CONNECTOR_TEXT.replace('f"{self.base}/shop/orders"', 'f"{self.base}/shop/ordrs"')
    files = view(**{CONNECTOR: wrong})
    [connector] = judge("Failed", _unknown("/shop/ordrs"), files)
    assert connector.blame == "connector" and connector.location.path == CONNECTOR
    assert connector.location.range.start.line == line_of(files, CONNECTOR, "/shop/ordrs")


def test_configuration_errors_point_at_the_test_class_attribute() -> None:
    text = (
        "No credentials provided.\n  Fix: for simulate/replay tests, set ``replay_config`` on the test class."
    )
    [d] = judge("AssertionError", text)
    assert d.blame == "test" and d.location.path == TEST
    assert d.location.range.start.line == line_of(view(), TEST, "replay_config")
    missing = f"[Errno 2] No such file or directory: '/ws/{CC}/source_simulator/specs/shp/endpoints.yaml'"
    [source] = judge("FileNotFoundError", missing)
    assert source.location.range.start.line == line_of(view(), TEST, "simulator_source")


def test_one_diagnostic_per_table_error() -> None:
    text = EMPTY + "\n\n" + EMPTY.replace("[orders]", "[refunds]")
    diagnostics = judge("Failed", text)
    assert [d.blame for d in diagnostics] == ["environment", "connector"]
    assert all(d.node_ids == [NODE] for d in diagnostics)


def test_a_parameter_a_strict_endpoint_rejects_is_judged_by_the_api_documentation() -> None:
    text = (
        '[orders] read_table() raised: Shop API error: 400 {"error": "Unknown query parameter(s): [\'since\']. '
        'Allowed: []", "status": 400}\nTraceback (most recent call last):\n'
        f'  File "/ws/{CONNECTOR}", line 17, in read_table\n    body = self._get(...)\n'
        'Exception: Shop API error: 400 {"error": "Unknown query parameter(s): [\'since\']. Allowed: []"}\n'
    )
    strict = SPEC_TEXT.replace("    corpus: orders\n", "    corpus: orders\n    strict_params: true\n")
    [connector] = judge("Failed", text, view(**{SPEC: strict}))
    assert connector.blame == "connector" and connector.location.path == CONNECTOR
    assert connector.location.range.start.line == line_of(view(), CONNECTOR, '{"since": start}')
    documented = view(**{SPEC: strict, DOC: "# Shop\n\n`GET /shop/orders?since=<date>` lists orders.\n"})
    [spec] = judge("Failed", text, documented)
    assert spec.blame == "spec" and spec.location.path == SPEC


def test_an_offset_that_counts_reads_is_the_connectors_line_that_counts() -> None:
    counting = CONNECTOR_TEXT.replace(
        '        return iter(body["orders"]), {"day": datetime.now(timezone.utc).isoformat()}\n',
        '        return iter(body["orders"]), {"day": start, "polls": offset.get("polls", 0) + 1}\n',
    )
    files = view(**{CONNECTOR: counting})
    text = (
        '[orders] read_table did not converge in 50 iterations (last offset: {"day": "2026-01-01", "polls": 49}).\n'
        "  Fix: read_table() must eventually return the same offset it was given."
    )
    [d] = judge("Failed", text, files, node=f"{TEST}::TestShopConnector::test_read_terminates")
    assert d.blame == "connector" and "'polls'" in d.message
    assert d.location.range.start.line == line_of(files, CONNECTOR, '"polls": offset.get')
