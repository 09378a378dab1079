"""Schemas learnt without a run: each source's test class imported in a sandboxed child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connector_watch.daemon import schema_probe
from connector_watch.daemon.workspace import Workspace
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

ZENDESK = "sources/zendesk/zendesk.py"
INIT = "        super().__init__(options)\n        self._init_ts = datetime.now(timezone.utc)\n"


def _edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text(encoding="utf-8")
    assert old in text, f"stale edit of {path}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_learns_every_table_with_its_schema_and_metadata_and_caches_by_content(tmp_path: Path) -> None:
    root = copy_examples(tmp_path, sources=("zendesk", "github"))
    workspace = Workspace(root)
    first = {found.source: found for found in schema_probe.learn(workspace)}
    assert set(first) == {"zendesk", "github"}
    zendesk = first["zendesk"]
    assert zendesk.note is None and not zendesk.cached
    tickets = next(t for t in zendesk.tables if t["table"] == "tickets")
    fields = {f["name"]: f["type"] for f in tickets["schema"]["fields"]}
    assert fields["requester_id"] == "long" and tickets["metadata"]["primary_keys"] == ["id"]
    assert tickets["source"] == "zendesk" and tickets["testClass"] == "TestZendeskConnector"

    again = {found.source: found for found in schema_probe.learn(workspace)}
    assert again["zendesk"].cached and again["github"].cached
    assert again["zendesk"].tables == zendesk.tables

    # A change to the connector package probes that source again (and only it).
    _edit(
        root,
        "sources/zendesk/zendesk_schemas.py",
        '("requester_id", LongType())',
        '("requester", LongType())',
    )
    after = {found.source: found for found in schema_probe.learn(workspace)}
    assert not after["zendesk"].cached and after["github"].cached
    cache = json.loads((root / schema_probe.CACHE_FILE).read_text())
    assert cache["sources"]["zendesk"]["key"] == after["zendesk"].key != zendesk.key


def test_a_connector_that_needs_the_network_to_be_built_is_one_note(tmp_path: Path) -> None:
    root = copy_examples(tmp_path, sources=("zendesk",))
    _edit(root, ZENDESK, INIT, INIT + '        __import__("socket").create_connection(("192.0.2.1", 443))\n')
    [found] = schema_probe.learn(Workspace(root))
    assert found.tables == []
    assert "could not be built" in found.note and "network access is disabled" in found.note


def test_an_import_error_and_a_hang_are_notes_not_errors(tmp_path: Path) -> None:
    root = copy_examples(tmp_path, sources=("zendesk", "github"))
    _edit(
        root,
        "tests/unit/sources/github/test_github_lakeflow_connect.py",
        "from connector_watch.tests.unit.sources.test_suite",
        "import no_such_dependency_here  # noqa\nfrom connector_watch.tests.unit.sources.test_suite",
    )
    _edit(root, ZENDESK, INIT, INIT + "        __import__('time').sleep(3600)\n")
    found = {f.source: f for f in schema_probe.learn(Workspace(root), timeout=5)}
    assert "did not import" in found["github"].note and "no_such_dependency_here" in found["github"].note
    assert "longer than 5 s" in found["zendesk"].note
    assert found["github"].tables == found["zendesk"].tables == []


def test_the_probe_drops_live_credentials_and_the_test_mode(tmp_path: Path, monkeypatch) -> None:
    root = copy_examples(tmp_path, sources=("zendesk",))
    monkeypatch.setenv("CONNECTOR_TEST_MODE", "record")
    monkeypatch.setenv("CONNECTOR_TEST_CONFIG_JSON", json.dumps({"subdomain": ""}))
    [found] = schema_probe.learn(Workspace(root))
    assert found.note is None and {t["table"] for t in found.tables} >= {"tickets", "users"}
    assert not (root / "tests/unit/sources/zendesk/cassettes").exists()


def test_the_daemon_checks_corpora_against_learnt_schemas_without_a_run(tmp_path: Path) -> None:
    import asyncio
    import os

    from connector_watch.daemon.engine import Engine
    from connector_watch.daemon.options import EngineOptions
    from connector_watch.tests.daemon.catalogue import TICKETS
    from connector_watch.tests.support.workspace import edit_json

    root = copy_examples(tmp_path, sources=("zendesk",))
    edit_json(root / TICKETS, lambda records: records[1].update(requester_id="oops"))

    async def start_without_a_run() -> list:
        engine = Engine(root, EngineOptions(jobs=1, causal=False))
        await engine.start(watch=True, initial_run=False)
        try:
            await engine.schemas_learnt()
            return list(engine.results.static.get(TICKETS, []))
        finally:
            await engine.stop()

    cwd = os.getcwd()
    try:
        found = asyncio.run(start_without_a_run())
    finally:
        os.chdir(cwd)  # the engine works from its workspace
    [mismatch] = [d for d in found if d.code == "corpus.type_mismatch"]
    assert "requester_id" in mismatch.message and mismatch.location.path == TICKETS
