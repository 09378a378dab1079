"""A catalogue of edits to the example workspace: seeded faults in every blame category, and
benign edits. The blame catalogue test checks who each fault is blamed on and where; the
selection catalogue test checks that the daemon reruns every node a full run says changed.

Each edit is a text substitution (or JSON transform) on one file of a copy of the examples
(sources zendesk and github).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector_watch.tests.support.workspace import json_edit

ZENDESK = "sources/zendesk/zendesk.py"
ZENDESK_SCHEMAS = "sources/zendesk/zendesk_schemas.py"
ZENDESK_SPEC = "simulator/specs/zendesk/endpoints.yaml"
ZENDESK_TEST = "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py"
ZENDESK_TABLE_CONFIG = "tests/unit/sources/zendesk/configs/dev_table_config.json"
TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
GROUPS = "simulator/specs/zendesk/corpus/groups.json"
USERS = "simulator/specs/zendesk/corpus/users.json"
GITHUB = "sources/github/github.py"
GITHUB_SPEC = "simulator/specs/github/endpoints.yaml"
GITHUB_TEST = "tests/unit/sources/github/test_github_lakeflow_connect.py"
ISSUES = "simulator/specs/github/corpus/issues.json"
COMMITS = "simulator/specs/github/corpus/commits.json"
HARNESS_RECORDS = "tests/harness/records.py"


def replace(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def apply(text: str) -> str:
        if old not in text:
            raise AssertionError(f"catalogue edit is stale: {old!r} not found")
        return text.replace(old, new, count)

    return apply


def _set(index: int, field: str, value: Any) -> Callable[[Any], None]:
    def change(records: list[dict[str, Any]]) -> None:
        records[index][field] = value

    return change


def _duplicate(index: int) -> Callable[[Any], None]:
    def change(records: list[dict[str, Any]]) -> None:
        records.append(dict(records[index]))

    return change


@dataclass(frozen=True)
class Edit:
    id: str
    path: str
    apply: Callable[[str], str]
    blame: str | None = None  # the expected blame of the primary diagnostic; None: a benign edit
    blamed_path: str | None = None  # where that diagnostic must point (default: the edited file)
    failing: str | None = None  # a substring of a node ID (or the test file) that must fail

    @property
    def expected_path(self) -> str:
        return self.blamed_path or self.path


FAULTS: list[Edit] = [
    # connector
    Edit(
        "connector-key-error",
        GITHUB,
        replace(
            "updated = parse_timestamp(issue[ISSUE_CURSOR])", "updated = parse_timestamp(issue['updated'])"
        ),
        blame="connector",
        failing="test_read_table[issues]",
    ),
    Edit(
        "connector-stops-paging",
        ZENDESK,
        replace("            page += 1\n", "            return\n"),
        blame="connector",
        failing="test_read_matches_corpus[groups]",
    ),
    Edit(
        "connector-wrong-url",
        ZENDESK,
        replace('f"{self._base_url}/api/v2/groups.json"', 'f"{self._base_url}/api/v2/group.json"'),
        blame="connector",
        failing="[groups]",
    ),
    Edit(
        "connector-no-cap",
        ZENDESK,
        replace(
            "            if at > self._cap:\n                return",
            "            if False:\n                return",
        ),
        blame="connector",
        failing="[tickets]",
    ),
    Edit(
        "connector-schema-type",
        ZENDESK_SCHEMAS,
        replace(
            '("created_at", TimestampType()),\n    ("updated_at", '
            'TimestampType()),\n    ("generated_timestamp"',
            '("created_at", LongType()),\n    ("updated_at", TimestampType()),\n    ("generated_timestamp"',
        ),
        blame="connector",
        failing="test_read_table[tickets]",
    ),
    # spec
    Edit(
        "spec-unknown-key",
        ZENDESK_SPEC,
        replace(
            "    response:\n      pagination_style: next_url",
            "    response:\n      pagination_styl: next_url",
        ),
        blame="spec",
        failing=ZENDESK_TEST,
    ),
    Edit(
        "spec-records-key",
        ZENDESK_SPEC,
        replace("records_key: tickets", "records_key: ticket"),
        blame="spec",
        failing="[tickets]",
    ),
    Edit(
        "spec-missing-endpoint",
        GITHUB_SPEC,
        replace("path: /repos/{owner}/{repo}/issues\n", "path: /repos/{owner}/{repo}/issue\n"),
        blame="spec",
        failing="[issues]",
    ),
    # corpus
    Edit(
        "corpus-type",
        TICKETS,
        json_edit(_set(3, "id", "not-a-number")),
        blame="corpus",
        failing="test_read_table[tickets]",
    ),
    Edit("corpus-duplicate-key", COMMITS, json_edit(_duplicate(2)), blame="corpus", failing="[commits]"),
    Edit(
        "corpus-not-json", GROUPS, lambda text: text.replace("[", "[[", 1), blame="corpus", failing="[groups]"
    ),
    Edit("corpus-emptied", USERS, lambda text: "[]\n", blame="corpus", failing="test_read_table[users]"),
    # test (harness, configuration, test file)
    Edit(
        "test-table-config-syntax",
        ZENDESK_TABLE_CONFIG,
        lambda text: text.replace("{", "{{", 1),
        blame="test",
        failing=ZENDESK_TEST,
    ),
    Edit(
        "test-wrong-source",
        ZENDESK_TEST,
        replace('simulator_source = "zendesk"', 'simulator_source = "zendeks"'),
        blame="test",
        failing=ZENDESK_TEST,
    ),
    Edit(
        "test-assertion",
        GITHUB_TEST,
        lambda text: (
            text
            + (
                "\n    def test_custom_expectation(self):\n        assert self.connector.list_tables() == ['commits']\n"
            )
        ),
        blame="test",
        failing="test_custom_expectation",
    ),
    # environment
    Edit(
        "environment-missing-dependency",
        ZENDESK,
        replace("import requests\n", "import requests\nimport zendesk_sdk\n"),
        blame="environment",
        failing=ZENDESK_TEST,
    ),
    Edit(
        "environment-worker-crash",
        ZENDESK,
        replace(
            "            body = self._get(\n",
            "            import os, signal\n"
            "            os.kill(os.getpid(), signal.SIGKILL)\n"
            "            body = self._get(\n",
        ),
        blame="environment",
        failing="[groups]",
        blamed_path=ZENDESK_TEST,
    ),
    Edit(
        "environment-clock",
        USERS,
        json_edit(_set(-1, "updated_at", "2099-01-01T00:00:00Z")),
        blame="environment",
        failing="[users]",
    ),
]

BENIGN: list[Edit] = [
    Edit("benign-corpus-title", ISSUES, json_edit(_set(0, "title", "A retitled issue"))),
    Edit("benign-spec-comment", ZENDESK_SPEC, lambda text: "# a comment\n" + text),
    Edit("benign-spec-per-page-max", GITHUB_SPEC, replace("max: 100", "max: 99")),
    Edit("benign-connector-comment", GITHUB, lambda text: text + "\n# a trailing comment\n"),
    Edit("benign-table-config", ZENDESK_TABLE_CONFIG, replace('"page_size": "8"', '"page_size": "9"')),
    Edit("benign-harness", HARNESS_RECORDS, lambda text: text + "\n# harness comment\n"),
]
