"""Processes dying: workers and the zygote SIGKILLed, tests that hang or end their process, and the
daemon itself SIGKILLed and started again, with and without its initial run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from connector_watch.tests.chaos.driver import LiveDaemon
from connector_watch.tests.chaos.quick import trial


@pytest.mark.parametrize("name", ["worker_sigkill", "zygote_sigkill", "hangs", "crashes"])
def test_dying_workers_end_where_a_cold_run_does(live: LiveDaemon, name: str) -> None:
    trial(live, name)


@pytest.mark.parametrize("name", ["daemon_sigkill_initial_run", "daemon_sigkill_no_initial_run"])
def test_a_killed_daemon_started_again_ends_where_a_cold_run_does(
    fresh_daemon: Callable[[], LiveDaemon], name: str
) -> None:
    trial(fresh_daemon(), name)
