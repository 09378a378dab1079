"""Files deleted, renamed, looped, replaced wholesale, grown to 50 MB, saved as Latin-1 or binary."""

from __future__ import annotations

import pytest
from connector_watch.tests.chaos.driver import LiveDaemon
from connector_watch.tests.chaos.quick import trial


@pytest.mark.parametrize(
    "name",
    ["delete_and_rename", "symlink_loop", "watched_folder_replaced", "not_utf8_and_binary", "big_corpus"],
)
def test_file_trouble_ends_where_a_cold_run_does(live: LiveDaemon, name: str) -> None:
    trial(live, name)
