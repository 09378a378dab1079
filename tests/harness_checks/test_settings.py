"""How the harness turns a test class and the environment into a simulator."""

from __future__ import annotations

import pytest
from connector_watch.tests.harness.settings import ENV_REPLAY_STRICT, resolve

from tests.unit.sources.zendesk import test_zendesk_lakeflow_connect as zendesk_suite  # not collected here


@pytest.mark.parametrize(("value", "derives"), [(None, True), ("1", False), ("true", False), ("0", True)])
def test_strict_replay_turns_off_answers_derived_through_the_spec(
    monkeypatch: pytest.MonkeyPatch, value: str | None, derives: bool
) -> None:
    monkeypatch.setenv("CONNECTOR_TEST_MODE", "simulate")
    if value is None:
        monkeypatch.delenv(ENV_REPLAY_STRICT, raising=False)
    else:
        monkeypatch.setenv(ENV_REPLAY_STRICT, value)
    simulator = resolve(zendesk_suite.TestZendeskConnector).simulator()
    assert simulator.derive_replay_misses is derives
    assert simulator.spec_path is not None and simulator.spec_path.name == "endpoints.yaml"
