"""The harness as a connector author meets it: run pytest on small connector workspaces and read
the outcome of every node.

Each test writes a tiny but real workspace (connector, spec, corpus, test class) into tmp_path and
runs pytest on it in a subprocess, the way a user does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pytest
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

CONNECTOR = """
from datetime import datetime, timezone
import requests
from pyspark.sql.types import LongType, StringType, StructField, StructType
from connector_watch.sources.interface import LakeflowConnect, is_initial_offset

SCHEMA = StructType([StructField("id", LongType(), False), StructField("name", StringType()),
                     StructField("updated_at", StringType())])


class ShopLakeflowConnect(LakeflowConnect):
    def __init__(self, options):
        super().__init__(options)
        self._cap = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def list_tables(self):
        return ["orders", "refunds"]

    def _check(self, table):
        if table not in self.list_tables():
            raise ValueError(f"unknown table {table}")

    def get_table_schema(self, table_name, table_options):
        self._check(table_name)
        return SCHEMA

    def read_table_metadata(self, table_name, table_options):
        self._check(table_name)
        return {"primary_keys": ["id"], "cursor_field": "updated_at", "ingestion_type": "cdc"}

    def read_table(self, table_name, start_offset, table_options):
        self._check(table_name)
        since = None if is_initial_offset(start_offset) else start_offset["updated_at"]
        records, page = [], 1
        while True:
            params = {"page": page, "per_page": 3, "until": self._cap}
            if since:
                params["since"] = since
            response = requests.get(f"https://shop.example/{table_name}", params=params, timeout=10)
            response.raise_for_status()
            batch = response.json()
            records.extend(r for r in batch if r["updated_at"] != since)
            if len(batch) < 3:  # PAGING
                break
            page += 1
        if not records:
            return iter([]), start_offset if start_offset is not None else {}
        return iter(records), {"updated_at": max(r["updated_at"] for r in records)}
"""

SPEC = """
endpoints:
  - path: /{table}
    method: GET
    corpus: orders
    params:
      since: {role: filter, field: updated_at, op: gte}
      until: {role: filter, field: updated_at, op: lte}
      page: {role: page}
      per_page: {role: per_page, default: 3, max: 3}
    response:
      pagination_style: page_number
      default_sort: "updated_at asc"
    synthesize_future_records: {cursor_field: updated_at, count: 2}
"""

TEST = """
from sources.shop.shop import ShopLakeflowConnect
from connector_watch.tests.unit.sources.test_suite import LakeflowConnectTests


class TestShopConnector(LakeflowConnectTests):
    connector_class = ShopLakeflowConnect
    simulator_source = "shop"
    replay_config = {"api_key": "stand-in"}
    sample_records = 50
"""


def _records(n: int = 8) -> list[dict]:
    return [
        {"id": i, "name": f"order {i}", "updated_at": f"2025-03-{i + 1:02d}T10:00:00Z"}
        for i in range(1, n + 1)
    ]


def _workspace(
    tmp_path: Path, connector: str = CONNECTOR, spec: str = SPEC, test: str = TEST, corpus: object = None
) -> Path:
    root = copy_examples(tmp_path / "ws", sources=())  # the toolkit alone
    (root / "sources/shop").mkdir(parents=True)
    (root / "sources/shop/__init__.py").write_text("")
    (root / "sources/shop/shop.py").write_text(textwrap.dedent(connector))
    (root / "simulator/specs/shop/corpus").mkdir(parents=True)
    (root / "simulator/specs/shop/endpoints.yaml").write_text(textwrap.dedent(spec))
    (root / "simulator/specs/shop/corpus/orders.json").write_text(
        corpus
        if isinstance(corpus, str)
        else json.dumps(corpus if corpus is not None else _records(), indent=2)
    )
    (root / "tests/unit/sources/shop").mkdir(parents=True)
    (root / "tests/unit/sources/shop/__init__.py").write_text("")
    (root / "tests/unit/sources/shop/test_shop_lakeflow_connect.py").write_text(textwrap.dedent(test))
    return root


def _pytest(
    root: Path, env: dict[str, str] | None = None, paths: tuple[str, ...] = ("tests/unit/sources/shop",)
) -> tuple[int, dict[str, str], str]:
    """Run the shop suite as a user would; returns (exit code, outcome by test name, output)."""
    junit = root / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--junitxml",
        str(junit),
        *paths,
    ]
    full_env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_TEST_MODE"}
    full_env.update(env or {}, PYTHONPATH=str(root))
    result = subprocess.run(command, cwd=root, env=full_env, capture_output=True, text=True, timeout=120)
    outcomes: dict[str, str] = {}
    if junit.is_file():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            status = "passed"
            for child in case:
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag, status)
            outcomes[case.get("name")] = status
    return result.returncode, outcomes, result.stdout + result.stderr


def test_a_correct_connector_passes_with_one_node_per_table(tmp_path: Path) -> None:
    code, outcomes, output = _pytest(_workspace(tmp_path))
    assert code == 0, output
    assert {
        "test_read_table[orders]",
        "test_read_table[refunds]",
        "test_read_matches_corpus[orders]",
        "test_read_terminates[refunds]",
        "test_get_table_schema[orders]",
    } <= set(outcomes)
    assert outcomes["test_read_matches_corpus[orders]"] == "passed"


def test_a_connector_that_stops_paging_loses_records_and_ground_truth_says_which_page(tmp_path: Path) -> None:
    # Reads one page, then jumps its offset to the end of the window: page 2 is never requested.
    buggy = CONNECTOR.replace("if len(batch) < 3:  # PAGING", "if True:").replace(
        'return iter(records), {"updated_at": max(r["updated_at"] for r in records)}',
        'return iter(records), {"updated_at": self._cap}',
    )
    root = _workspace(tmp_path, connector=buggy)
    code, outcomes, output = _pytest(root)
    assert code == 1
    assert outcomes["test_read_matches_corpus[orders]"] == "failed"
    assert "never requested" in output and "page 2" in output


def test_a_connector_that_does_not_cap_its_reads_is_caught(tmp_path: Path) -> None:
    root = _workspace(
        tmp_path, connector=CONNECTOR.replace('"until": self._cap', '"until": "2999-01-01T00:00:00Z"')
    )
    _code, outcomes, output = _pytest(root)
    assert outcomes["test_read_matches_corpus[orders]"] == "failed"
    assert "dated after the read started" in output


def test_an_unmodelled_endpoint_does_not_count_as_rejecting_an_invalid_table(tmp_path: Path) -> None:
    lenient = CONNECTOR.replace('            raise ValueError(f"unknown table {table}")', "            pass")
    lenient = lenient.replace(
        "    def get_table_schema(self, table_name, table_options):\n        self._check(table_name)",
        "    def get_table_schema(self, table_name, table_options):\n"
        "        self._check(table_name)\n        if table_name not in ('orders', 'refunds'):\n"
        "            raise ValueError(table_name)",
    )
    orders = SPEC.replace("path: /{table}", "path: /orders")
    spec = orders + orders.split("endpoints:\n", 1)[1].replace("path: /orders", "path: /refunds")
    _code, outcomes, output = _pytest(_workspace(tmp_path, connector=lenient, spec=spec))
    assert outcomes["test_invalid_table_name"] == "failed"
    assert "UnknownEndpoint" in output and "does not show it checked the table name" in output


def test_a_wrong_mode_is_one_clear_error(tmp_path: Path) -> None:
    code, outcomes, output = _pytest(_workspace(tmp_path), env={"CONNECTOR_TEST_MODE": "simulat"})
    assert code != 0
    assert "Invalid CONNECTOR_TEST_MODE='simulat'" in output
    assert "1 error in" in output, output  # one collection error, not one per node
    assert not [o for o in outcomes.values() if o == "failed"]


def test_missing_credentials_are_one_clear_error(tmp_path: Path) -> None:
    code, _, output = _pytest(
        _workspace(tmp_path, test=TEST.replace('replay_config = {"api_key": "stand-in"}', ""))
    )
    assert code != 0
    assert "No credentials provided." in output and "1 error in" in output


def test_a_connector_that_raises_on_import_is_one_located_error(tmp_path: Path) -> None:
    root = _workspace(
        tmp_path, connector="import requests\nraise RuntimeError('broken at import')\n" + CONNECTOR
    )
    code, _, output = _pytest(root)
    assert code != 0
    assert (
        "RuntimeError: broken at import" in output and "1 error in" in output
    )  # one error, not one per node
    assert "sources/shop/shop.py:2" in output


def test_a_spec_error_is_one_located_error(tmp_path: Path) -> None:
    code, _, output = _pytest(_workspace(tmp_path, spec=SPEC.replace("role: per_page", "role: perpage")))
    assert code != 0
    assert "endpoints.yaml:10:" in output and "did you mean 'per_page'" in output
    # One collection error, not one per node; pytest's short summary may repeat the message on a
    # wide terminal, so count in the error report above it.
    report = output.split("short test summary info")[0]
    assert report.count("unknown role 'perpage'") == 1
    assert "1 error in" in output


def test_a_corpus_that_is_not_json_is_a_located_error(tmp_path: Path) -> None:
    code, _outcomes, output = _pytest(_workspace(tmp_path, corpus='[{"id": 1,}]'))
    assert code != 0
    assert "orders.json:1:" in output and "JSON syntax error" in output


def test_a_spec_naming_a_missing_corpus_reads_empty_and_says_where(tmp_path: Path) -> None:
    _code, outcomes, output = _pytest(
        _workspace(tmp_path, spec=SPEC.replace("corpus: orders", "corpus: order"))
    )
    assert outcomes["test_read_table[orders]"] == "failed"
    assert "returned no records on the first call" in output


def test_a_suite_that_cannot_collect_is_one_error_and_the_other_suites_still_run(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    other = root / "tests/unit/sources/shop_no_credentials"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "test_shop_no_credentials.py").write_text(
        TEST.replace("TestShopConnector", "TestShopWithoutCredentials").replace(
            '    replay_config = {"api_key": "stand-in"}\n', ""
        )
    )
    code, _, output = _pytest(
        root, paths=("tests/unit/sources/shop", "tests/unit/sources/shop_no_credentials")
    )
    assert code == 1 and "Interrupted" not in output, output[-2000:]
    assert "No credentials provided" in output and "1 error" in output
    cases = list(ElementTree.parse(root / "junit.xml").getroot().iter("testcase"))
    healthy = [c for c in cases if c.get("classname", "").endswith("TestShopConnector")]
    assert healthy and all(not any(ch.tag in ("failure", "error") for ch in c) for c in healthy)


def test_upstream_suite_helpers_and_attributes_are_there_for_ported_test_classes(tmp_path: Path) -> None:
    ported = (
        TEST
        + """
    def test_upstream_helpers(self):
        assert self.config == {"api_key": "stand-in"} and isinstance(self.table_configs, dict)
        assert self._tables() == ["orders", "refunds"]
        assert self._opts("orders") == self.options("orders")
        assert self._config_dir().name == "configs"
        assert self._is_partitioned("orders") is False
        assert self._ingestion_type("orders") == "cdc"
"""
    )
    _, outcomes, output = _pytest(_workspace(tmp_path, test=ported))
    assert outcomes.get("test_upstream_helpers") == "passed", output[-2000:]
