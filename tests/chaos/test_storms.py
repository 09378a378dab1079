"""Save storms in every way editors save: the daemon must never end green on a broken file
(issue 14's second defect: the fingerprint was taken when a batch arrived while tests read the
file later, so a storm's last save could be dismissed as "touched, not changed")."""

from __future__ import annotations

from connector_watch.tests.chaos.driver import EDITOR_SAVES, LiveDaemon
from connector_watch.tests.chaos.quick import trial


def test_save_storms_end_where_a_cold_run_does(live: LiveDaemon) -> None:
    """One storm per way of saving (in place, temp + rename, vim's backup + rename, truncate +
    write), ending in turn broken and fixed; after each, the idle daemon equals a cold run."""
    checkpoints = trial(live, "storms")
    assert [c.label.split(":")[0] for c in checkpoints] == list(EDITOR_SAVES)
    assert all(bool(c.counts.get("failed")) == (i % 2 == 0) for i, c in enumerate(checkpoints)), [
        c.counts for c in checkpoints
    ]
