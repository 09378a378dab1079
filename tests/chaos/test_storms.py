"""Save storms in every way editors save: the daemon must never end green on a broken file
(issue 14's second defect: the fingerprint was taken when a batch arrived while tests read the
file later, so a storm's last save could be dismissed as "touched, not changed")."""

from __future__ import annotations

import pytest
from connector_watch.tests.chaos.driver import EDITOR_SAVES, LiveDaemon
from connector_watch.tests.chaos.quick import trial


@pytest.mark.parametrize("how", EDITOR_SAVES)
def test_a_save_storm_ends_where_a_cold_run_does(live: LiveDaemon, how: str) -> None:
    checkpoints = trial(live, f"storm_{how}")
    broken = checkpoints[0]
    assert broken.counts.get("failed"), f"the storm ended on a broken corpus, yet: {broken.counts}"
