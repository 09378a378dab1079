"""A dead, slow or refusing live API is a clear error within seconds, never a hang."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from connector_watch.simulator import Simulator
from connector_watch.simulator.live import LiveAPIError, capped_timeout, live_timeout_cap
from connector_watch.tests.record.helpers import SPECS, findings, record

from sources.hubspot.hubspot import HubspotLakeflowConnect
from sources.zendesk.zendesk import ZendeskLakeflowConnect


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_api_fails_at_once_with_a_fix(tmp_path: Path) -> None:
    config = {"access_token": "pat-xyz-123456", "base_url": f"http://127.0.0.1:{_closed_port()}"}
    connector = HubspotLakeflowConnect(config)  # retries connection errors five times with backoff
    started = time.monotonic()
    spec = SPECS / "hubspot" / "endpoints.yaml"
    simulator = Simulator(mode="record", cassette_path=tmp_path / "c.json", spec_path=spec)
    with simulator, pytest.raises(LiveAPIError) as error:
        list(connector.read_table("owners", {}, {})[0])
    assert time.monotonic() - started < 2.0
    assert error.value.kind == "unreachable" and not isinstance(error.value, requests.RequestException)
    assert "live API unreachable: GET http://127.0.0.1:" in str(error.value)
    assert "python -m connector_watch.simulator.live_servers" in str(error.value)
    assert not (tmp_path / "c.json").exists()  # nothing was recorded, nothing written


def test_a_slow_api_times_out_at_the_record_mode_cap(
    fresh_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fresh_server("zendesk", delay=3.0)
    connector = ZendeskLakeflowConnect(server.config)  # its own timeout is (10, 60) with five attempts
    monkeypatch.setenv("CONNECTOR_TEST_LIVE_TIMEOUT", "0.5")
    started = time.monotonic()
    with Simulator(mode="record", cassette_path=tmp_path / "c.json"), pytest.raises(LiveAPIError) as error:
        connector.read_table("groups", {}, {})
    assert time.monotonic() - started < 2.5
    assert error.value.kind == "timeout"
    assert "no answer within 0.5 s" in str(error.value) and "dev_table_config.json" in str(error.value)


def test_a_401_is_the_connectors_error_at_once_and_an_auth_finding(live_servers: Any, tmp_path: Path) -> None:
    server = live_servers["zendesk"]
    wrong = ZendeskLakeflowConnect({**server.config, "api_token": "not-the-token"})
    started = time.monotonic()
    with pytest.raises(requests.HTTPError, match="401"):
        record(tmp_path, "zendesk", server.config, lambda: wrong.read_table("groups", {}, {}))
    assert time.monotonic() - started < 2.0
    report = json.loads((tmp_path / "cassettes" / "TestZendesk.json.validation.json").read_text())
    auth = findings(report, "auth")
    assert auth and auth[0]["live"] == 401


def test_timeouts_are_capped_and_a_missing_one_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    assert capped_timeout(None, 30.0) == (10.0, 30.0)
    assert capped_timeout((10, 60), 30.0) == (10.0, 30.0)
    assert capped_timeout((3, 5), 30.0) == (3.0, 5.0)
    assert capped_timeout(120, 30.0) == 30.0
    monkeypatch.setenv("CONNECTOR_TEST_LIVE_TIMEOUT", "nope")
    with pytest.raises(ValueError, match="CONNECTOR_TEST_LIVE_TIMEOUT"):
        live_timeout_cap()
    monkeypatch.delenv("CONNECTOR_TEST_LIVE_TIMEOUT")
    assert live_timeout_cap() == 30.0


def test_an_unreachable_call_with_a_credential_in_the_query_keeps_it_out_and_keeps_the_recording(
    live_servers: Any, tmp_path: Path
) -> None:
    server = live_servers["github"]
    headers = {"Authorization": f"Bearer {server.config['token']}"}
    secret = "sk-live-abc/def+123"
    cassette = tmp_path / "c.json"
    simulator = Simulator(
        mode="record", cassette_path=cassette, spec_path=SPECS / "github" / "endpoints.yaml", secrets=[secret]
    )
    with simulator:
        requests.get(f"{server.base_url}/users/octo-org/repos", headers=headers, timeout=10)
        with pytest.raises(LiveAPIError) as error:
            requests.get(
                f"http://127.0.0.1:{_closed_port()}/users/octo-org/repos",
                params={"api_key": secret},
                timeout=5,
            )
    assert error.value.kind == "unreachable"
    assert "sk-live" not in str(error.value) and "sk-live" not in json.dumps(
        [e.message for e in simulator.trace]
    )
    assert cassette.is_file() and "sk-live" not in cassette.read_text()  # the good call was still recorded
