"""The public harness's failure texts read as our harness's facts (``daemon/public_harness.py``).

The fixtures are real: ``str(exception)`` of every failure the public suites raised on a copy of
the public connectors repository with the faults of ``bench/upstream_faults.py`` seeded (and a few
more, ``x-*``), its path replaced by ``/ROOT``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from connector_watch.daemon import public_harness, public_text, public_tracebacks
from connector_watch.daemon.plugin_payloads import describe_exception
from connector_watch.tests.harness.failures import HarnessFailure

FIXTURES = Path(__file__).parent / "fixtures" / "public_harness_failures.jsonl"
ROOT = "/ROOT"
CC = "src/databricks/labs/community_connector"


def _fixtures() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]


def _facts(fault: str, node: str = "") -> list[dict[str, Any]]:
    [record] = [f for f in _fixtures() if f["fault"] == fault and node in f["node"]]
    return public_harness.facts(record["type"], record["message"], ROOT)


def _harness(fact: dict[str, Any]) -> dict[str, Any]:
    return fact["harness"]


def test_every_public_failure_text_becomes_facts() -> None:
    unread = [
        (f["fault"], f["node"])
        for f in _fixtures()
        if not public_harness.facts(f["type"], f["message"], ROOT)
    ]
    # The one text that is not the harness's: an AttributeError of the harness's own code.
    assert unread == [
        ("x-zendesk-schema-dict", "TestZendeskConnector::test_every_column_populated_by_at_least_one_record")
    ]


def test_one_fact_per_table_block() -> None:
    facts = _facts("appsflyer-clock")
    assert [_harness(f)["table"] for f in facts] == [
        "installs_report",
        "in_app_events_report",
        "uninstall_events_report",
        "organic_installs_report",
        "organic_in_app_events_report",
        "organic_uninstall_events_report",
    ]
    for fact in facts:
        assert _harness(fact)["check"] == "read.terminates"
        assert _harness(fact)["details"]["offsets"] == [{"cursor": "2026-11-04"}]
        assert _harness(fact)["details"]["iterations"] == 50
        assert fact["message"].startswith(f"[{_harness(fact)['table']}] read_table did not converge")
        assert "Trigger.AvailableNow" in _harness(fact)["hint"]


def test_a_conversion_error_names_the_value_and_types_as_our_harness_does() -> None:
    [fact] = _facts("zendesk-corpus-type")
    harness = _harness(fact)
    assert harness["check"] == "read.schema_parse" and harness["table"] == "tickets"
    details = harness["details"]
    assert details["record_index"] == 0 and details["field"] is None
    assert details["value"] == "n/a" and details["python_type"] == "str" and details["spark_type"] == "bigint"
    [connector] = _facts("zendesk-connector-schema")
    assert _harness(connector)["details"]["value"] == "juliet-846"
    [missing] = _facts("x-github-non-nullable", "test_read_table")
    assert _harness(missing)["details"]["missing_field"] == "not_there"


def test_empty_first_reads_carry_the_ingestion_type() -> None:
    facts = _facts("actitime-clock")
    assert [(_harness(f)["check"], _harness(f)["table"]) for f in facts] == [
        ("read.empty_first_read", "timetrack"),
        ("read.empty_first_read", "leavetime"),
    ]
    assert _harness(facts[0])["details"] == {"ingestion_type": "append", "call": "read_table"}


def test_a_connector_exception_keeps_its_traceback_as_frames() -> None:
    [fact] = _facts("azure-devops-innocent-null-committer", "test_read_table")
    assert fact["type"] == "AttributeError" and "harness" not in fact
    assert fact["message"] == "[commits] 'NoneType' object has no attribute 'get'"
    last = fact["frames"][-1]
    assert last["file"] == f"{CC}/sources/azure_devops/azure_devops.py"
    assert (last["line"], last["function"]) == (321, "_fetch_commits")
    assert last["code"].startswith('commit_date = commit.get("committer", {})')
    assert fact["frames"][0]["file"] == "tests/unit/sources/test_suite.py"


def test_an_exception_without_traceback_is_a_check_on_the_method_that_raised() -> None:
    [fact] = _facts("azure-devops-innocent-null-committer", "test_read_terminates")
    assert fact["frames"] == []
    assert _harness(fact)["check"] == "read.raised"
    assert _harness(fact)["details"]["error"] == "'NoneType' object has no attribute 'get'"
    facts = _facts("x-zendesk-iter-raises", "test_read_table")
    assert {_harness(f)["details"]["error"] for f in facts} == {"boom in iterator"}
    assert all(_harness(f)["details"]["while_iterating"] for f in facts)


def test_an_unmodelled_request_is_an_unknown_endpoint_with_its_url() -> None:
    url = "https://api.github.com/repos/yyoli-db/lakeflow-community-connectors/commit"
    [traced] = _facts("github-connector-url", "TestGithubConnector::test_read_table")
    assert traced["type"] == "UnknownEndpoint"
    assert traced["request"] == {"method": "GET", "url": url, "nearest": []}
    assert (f"{CC}/sources/github/github.py", 221) in {(f["file"], f["line"]) for f in traced["frames"]}
    [untraced] = _facts("github-connector-url", "test_read_terminates")
    assert untraced["request"]["url"] == url and untraced["frames"] == []
    [direct] = _facts("github-connector-url", "TestFilterCommitsSince")  # raised, not a harness text
    assert direct["type"] == "UnknownEndpoint" and direct["request"]["url"] == url


def test_setup_errors_are_configuration_spec_or_corpus_facts() -> None:
    for fault in ("zendesk-test-credentials", "x-zendesk-mode"):
        [fact] = _facts(fault)
        assert _harness(fact)["check"] == "config"
    [credentials] = _facts("zendesk-test-credentials")
    assert "replay_config" in _harness(credentials)["hint"]
    [source] = _facts("surveymonkey-test-source")
    assert _harness(source)["details"] == {
        "missing_spec": f"{CC}/source_simulator/specs/survey_monkey/endpoints.yaml"
    }
    [role] = _facts("x-zendesk-spec-role")
    [issue] = role["issues"]
    assert (
        role["type"] == "SpecError" and issue["file"] == f"{CC}/source_simulator/specs/zendesk/endpoints.yaml"
    )
    assert issue["endpoint"] == 0 and issue["line"] is None and "unknown role 'sortby'" in issue["message"]
    [syntax] = _facts("x-zendesk-spec-yaml")
    assert syntax["issues"][0]["line"] == 13 and syntax["issues"][0]["code"] == "yaml-syntax"


@pytest.mark.parametrize(
    ("fault", "node", "check", "details"),
    [
        ("remberg-corpus-null-column", "", "read.null_columns", {"columns": ["summary"], "checked": 5}),
        ("x-zendesk-null-pk", "", "read.null_primary_key", {"fields": ["id"], "record": None}),
        ("x-zendesk-null-all", "test_read_table", "read.all_null", {"record": None}),
        ("x-zendesk-read-list", "test_read_table", "read.shape", {}),
        ("x-zendesk-read-list", "test_read_terminates", "read.shape", {}),
        ("x-zendesk-offset-none", "", "read.offset", {}),
        ("x-zendesk-schema-dict", "test_get_table_schema", "schema.type", {}),
        ("x-zendesk-read-list", "test_invalid_table_name", "invalid_table", {}),
        ("x-zendesk-empty-tables", "", "list_tables", {}),
        (
            "shopify-corpus-emptied",
            "",
            "read.empty_first_read",
            {"ingestion_type": "cdc", "call": "read_table"},
        ),
    ],
)
def test_each_check_has_our_code_and_detail_keys(fault: str, node: str, check: str, details: dict) -> None:
    fact = _facts(fault, node)[0]
    assert _harness(fact)["check"] == check
    assert _harness(fact)["details"] == details


def test_metadata_naming_a_field_the_schema_lacks() -> None:
    [fact] = _facts("shopify-connector-cursor-field")
    details = _harness(fact)["details"]
    assert _harness(fact)["check"] == "metadata.not_in_schema" and details["missing"] == ["updated"]
    assert "updated_at" in details["schema_fields"]


def test_texts_that_are_not_the_public_harness_give_nothing() -> None:
    assert public_harness.facts("ValueError", "[Errno 2] something else", ROOT) == []
    assert public_harness.facts("KeyError", "'id'", ROOT) == []
    assert public_harness.facts("Failed", "", ROOT) == []


def test_spark_types_read_as_simple_strings() -> None:
    assert public_text.spark_simple("LongType()") == "bigint"
    assert public_text.spark_simple("DecimalType(10,2)") == "decimal(10,2)"
    assert public_text.spark_simple("TimestampType()") == "timestamp"


def test_a_chained_traceback_keeps_the_frames_of_the_last_exception() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/ROOT/a.py", line 1, in first\n    x()\n'
        "KeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/ROOT/b.py", line 7, in second\n    raise ValueError("v")\n'
        "ValueError: v\n"
    )
    assert public_tracebacks.parse_frames(text, ROOT) == [
        {"file": "b.py", "line": 7, "function": "second", "code": 'raise ValueError("v")'}
    ]


def test_the_plugin_attaches_facts_to_a_public_failure_and_not_to_ours() -> None:
    message = _fixtures()[0]["message"]  # actitime's two empty first reads
    try:
        pytest.fail(message)
    except pytest.fail.Exception as exc:
        chain = describe_exception(exc, ROOT)
    assert [f["harness"]["table"] for f in chain[0]["facts"]] == ["timetrack", "leavetime"]
    ours = describe_exception(HarnessFailure("x", check="read.shape", table="t"), ROOT)
    assert "facts" not in ours[0] and ours[0]["harness"]["check"] == "read.shape"


def test_a_message_without_traceback_borrows_the_frames_seen_with_it_before() -> None:
    memo: dict = {}
    [traced] = _facts("azure-devops-innocent-null-committer", "test_read_table")
    public_tracebacks.borrow_frames([traced], memo)
    [bare] = _facts("azure-devops-innocent-null-committer", "test_read_terminates")
    public_tracebacks.borrow_frames([bare], memo)
    assert bare["borrowedFrames"] and "harness" not in bare and bare["type"] == "AttributeError"
    assert (bare["frames"][-1]["line"], bare["frames"][-1]["function"]) == (321, "_fetch_commits")
    [other] = _facts("x-zendesk-iter-raises", "test_read_terminates")[:1]
    public_tracebacks.borrow_frames([other], memo)  # nothing seen for that error: it stays a check
    assert other["harness"]["check"] == "read.raised" and other["frames"] == []


def test_a_strict_endpoints_400_names_the_unknown_parameters() -> None:
    [fact] = _facts("x-zendesk-strict-params")
    assert fact["unknownParams"] == {"unknown": ["start_time"], "allowed": []}
    assert fact["frames"][-1]["file"] == f"{CC}/sources/zendesk/zendesk.py"
