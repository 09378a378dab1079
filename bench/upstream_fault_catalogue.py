"""The catalogue of seeded faults on the public connectors repository (data, apart from the
runner in ``upstream_faults.py``): each ``Fault`` names its source, what was seeded (corpus, spec,
connector, test, environment), the edit or environment, the blame it deserves and the file and
line at fault; corpus transforms that are code (``json_edits``); the fixed sample CI runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CC = "src/databricks/labs/community_connector"
SOURCES = f"{CC}/sources"
SPECS = f"{CC}/source_simulator/specs"
TESTS = "tests/unit/sources"


@dataclass(frozen=True)
class Fault:
    id: str
    source: str
    kind: str  # what was seeded: corpus | spec | connector | test | environment
    blame: str  # the blame it deserves
    file: str  # the file edited (or, without an edit, the file the --changed run names)
    old: str | None = None  # the edit: ``old`` (must occur once) becomes ``new``
    new: str | None = None
    blamed_file: str | None = None  # where the diagnostic must point (default: ``file``)
    blamed_pattern: str | None = None  # a regex on that file's lines; default: the first changed line
    env: dict[str, str] = field(default_factory=dict)
    hide_modules: tuple[str, ...] = ()  # modules made unimportable (a missing dependency)
    note: str = ""

    @property
    def target(self) -> str:
        return self.blamed_file or self.file


def _c(source: str, name: str) -> str:
    return f"{SPECS}/{source}/corpus/{name}.json"


CATALOGUE: list[Fault] = [
    # ---- corpus
    Fault(
        "zendesk-corpus-type",
        "zendesk",
        "corpus",
        "corpus",
        _c("zendesk", "tickets"),
        '"requester_id": 50120,',
        '"requester_id": "n/a",',
        note="a string where every other record holds an integer (LongType)",
    ),
    Fault(
        "remberg-corpus-null-column",
        "remberg",
        "corpus",
        "corpus",
        _c("remberg", "tickets"),
        None,
        None,
        note="'summary' nulled in every record: a column no record populates",
    ),
    Fault(
        "shopify-corpus-emptied",
        "shopify",
        "corpus",
        "corpus",
        _c("shopify", "customers"),
        None,
        None,
        note="the customers corpus emptied: an incremental table reads nothing",
    ),
    # ---- spec
    Fault(
        "zendesk-spec-records-key",
        "zendesk",
        "spec",
        "spec",
        f"{SPECS}/zendesk/endpoints.yaml",
        "        records_key: tickets\n",
        "        records_key: ticket\n",
        note="the wrapper key renamed: the connector finds no records under 'tickets'",
    ),
    Fault(
        "github-spec-path",
        "github",
        "spec",
        "spec",
        f"{SPECS}/github/endpoints.yaml",
        '  - path: "/repos/{owner}/{repo}/commits"\n',
        '  - path: "/repos/{owner}/{repo}/commit"\n',
        note="the commits endpoint's path misspelt: the connector's request matches nothing",
    ),
    Fault(
        "remberg-spec-corpus-name",
        "remberg",
        "spec",
        "spec",
        f"{SPECS}/remberg/endpoints.yaml",
        "    corpus: tickets\n",
        "    corpus: ticket\n",
        note="the endpoint names a corpus that does not exist: served empty",
    ),
    # ---- connector
    Fault(
        "zendesk-connector-schema",
        "zendesk",
        "connector",
        "connector",
        f"{SOURCES}/zendesk/zendesk.py",
        'StructField("subject", StringType()),',
        'StructField("subject", LongType()),',
        note="a string field declared LongType",
    ),
    Fault(
        "github-connector-url",
        "github",
        "connector",
        "connector",
        f"{SOURCES}/github/github.py",
        'url = f"{self.base_url}/repos/{owner}/{repo}/commits"\n\n        records: list',
        'url = f"{self.base_url}/repos/{owner}/{repo}/commit"\n\n        records: list',
        note="the connector requests a misspelt path",
    ),
    Fault(
        "shopify-connector-cursor-field",
        "shopify",
        "connector",
        "connector",
        f"{SOURCES}/shopify/shopify_schemas.py",
        '"customers": {\n        "primary_keys": ["id"],\n        "cursor_field": "updated_at",',
        '"customers": {\n        "primary_keys": ["id"],\n        "cursor_field": "updated",',
        note="metadata names a cursor field the schema does not have",
    ),
    Fault(
        "shopify-connector-polls",
        "shopify",
        "connector",
        "connector",
        f"{SOURCES}/shopify/shopify.py",
        "        if since and since >= self._init_time:\n            return iter([]), start_offset\n",
        "        if since and since >= self._init_time:\n"
        '            return iter([]), {**start_offset, "polls": start_offset.get("polls", 0) + 1}\n',
        note="a caught-up read counts its polls in the offset: it never returns the offset it was given",
    ),
    # ---- test
    Fault(
        "zendesk-test-credentials",
        "zendesk",
        "test",
        "test",
        f"{TESTS}/zendesk/test_zendesk_lakeflow_connect.py",
        '    replay_config = {\n        "subdomain": "simulator",\n        "email": "simulator@example.com",\n'
        '        "api_token": "simulator-fake-token",\n    }\n',
        "",
        note="the stand-in credentials deleted: No credentials provided",
    ),
    Fault(
        "surveymonkey-test-source",
        "surveymonkey",
        "test",
        "test",
        f"{TESTS}/surveymonkey/test_surveymonkey_lakeflow_connect.py",
        'simulator_source = "surveymonkey"',
        'simulator_source = "survey_monkey"',
        note="simulator_source misspelt: no spec or corpus directory",
    ),
    # ---- environment
    Fault(
        "actitime-clock",
        "actitime",
        "environment",
        "environment",
        _c("actitime", "timetrack"),
        blamed_pattern=r'"date": "2026-09-04"',
        note="no edit: the corpus is dated Jun-Sep 2026, the connector reads from today - 30 days",
    ),
    Fault(
        "appsflyer-clock",
        "appsflyer",
        "environment",
        "environment",
        f"{TESTS}/appsflyer/configs/dev_table_config.json",
        blamed_pattern=r'"start_date": "2026-01-08"',
        note="no edit: a fixed start_date with 7-day batches needs more than 50 reads by now",
    ),
    Fault(
        "fhir-missing-dependency",
        "fhir",
        "environment",
        "environment",
        f"{SOURCES}/fhir/fhir_utils.py",
        blamed_pattern=r"^import jwt",
        hide_modules=("jwt",),
        note="no edit: PyJWT is not installed",
    ),
    # ---- an innocent edit that reveals a latent connector bug
    Fault(
        "azure-devops-innocent-null-committer",
        "azure_devops",
        "corpus",
        "connector",
        _c("azure_devops", "commits"),
        None,
        None,
        blamed_file=f"{SOURCES}/azure_devops/azure_devops.py",
        blamed_pattern=r'commit_date = commit\.get\("committer", \{\}\)\.get\("date"\)',
        note="a valid commit whose committer is null (the API sends null) crashes the connector's "
        ".get('committer', {}).get(...)",
    ),
]


#: Faults whose edit is a JSON transform of a corpus file (kept apart: they are code, not text).
def json_edits() -> dict[str, Any]:
    def null_summary(records: list[dict[str, Any]]) -> None:
        for record in records:
            record["summary"] = None

    def empty(records: list[Any]) -> list[Any]:
        return []

    def null_committer(records: list[dict[str, Any]]) -> None:
        extra = json.loads(json.dumps(records[0]))
        extra["commitId"] = "null-committer-1"
        extra["committer"] = None
        records.append(extra)

    return {
        "remberg-corpus-null-column": null_summary,
        "shopify-corpus-emptied": empty,
        "azure-devops-innocent-null-committer": null_committer,
    }


#: The fixed sample the CI test runs: five sources, one fault of each kind plus the clock.
CI_SAMPLE = (
    "zendesk-corpus-type",
    "zendesk-spec-records-key",
    "shopify-connector-cursor-field",
    "surveymonkey-test-source",
    "actitime-clock",
)
