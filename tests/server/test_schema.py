"""What the daemon sends when tests fail (diagnostics everywhere) follows the schema.

Every client of these tests validates every message (see ``support.py``); these tests make sure the
messages with the richest content, failures with diagnostics, are among them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from connector_watch.tests.server.support import (
    Client,
    Daemon,
    notifications_of,
    request_message,
    run,
    schema_violations,
)

pytestmark = pytest.mark.slow  # a real `connector-watch serve` subprocess

CORPUS = "simulator/specs/github/corpus/issues.json"


def test_a_run_with_failures_follows_the_schema(failing_daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await failing_daemon.client() as client:
            run_id, messages = await client.run_to_end({"source": "github"})
            failed = [
                m
                for m in notifications_of(messages, "test/finished", run_id)
                if m["params"]["outcome"] == "failed"
            ]
            assert failed, "the broken corpus failed no test"
            diagnostics = [d for m in failed for d in m["params"]["diagnostics"]]
            assert any(d["code"] == "corpus" and d["data"]["path"] == CORPUS for d in diagnostics), (
                diagnostics
            )
            assert messages[-1]["params"]["counts"]["failed"] == len(failed)

    run(scenario())
    failing_daemon.assert_healthy()


def test_a_snapshot_with_diagnostics_follows_the_schema(failing_daemon: Daemon) -> None:
    async def initialize_unchecked() -> dict[str, Any]:
        async with await Client.open(failing_daemon.url) as client:
            await client.ws.send(request_message(1, "initialize", {"protocolVersion": "1.0"}))
            return json.loads(await client.ws.recv())  # read raw: checked below, not on receipt

    response = run(initialize_unchecked())
    assert CORPUS in response["result"]["snapshot"]["diagnostics"], "the broken corpus has no diagnostics"
    assert schema_violations(response, lambda _id: "initialize") == []
