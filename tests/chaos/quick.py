"""The quick tier's settings and its one assertion: every checkpoint of a trial matches a cold run."""

from __future__ import annotations

import asyncio

from connector_watch.tests.chaos.driver import LiveDaemon
from connector_watch.tests.chaos.trials import QUICK, Checkpoint, run_trial

#: The daemon's and the cold run's options: short timeouts, so hangs cost seconds.
DAEMON_ARGS = ("--timeout", "3", "--kill-after", "2", "--jobs", "2")


def trial(daemon: LiveDaemon, name: str, timeout: float = 600) -> list[Checkpoint]:
    """Run one trial at the quick size and hold the daemon to the invariant at every checkpoint."""
    checkpoints = asyncio.run(asyncio.wait_for(run_trial(daemon, name, QUICK, DAEMON_ARGS), timeout))
    failed = [f"{c.label}: {d}" for c in checkpoints for d in c.divergences]
    assert not failed, "the idle daemon differs from a cold run:\n" + "\n".join(failed[:20])
    assert daemon.alive(), f"the daemon died:\n{daemon.output()[-3000:]}"
    assert not daemon.tracebacks(), daemon.tracebacks()[:3]
    return checkpoints
