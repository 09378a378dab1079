"""A selected test that pytest says nothing about is an ``error`` located at the test, never dropped.

A conftest hook deselects one test, but only once a marker file (outside the workspace, so the
daemon does not see it change) exists: the first run knows the test, the rerun that selects it by
node ID gets no result for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from connector_watch.daemon import events as ev
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

CONFTEST = '''
import pathlib

MARKER = pathlib.Path({marker!r})


def pytest_collection_modifyitems(config, items):
    if not MARKER.exists():
        return
    dropped = [item for item in items if item.nodeid.endswith("test_read_table[tickets]")]
    if dropped:
        items[:] = [item for item in items if item not in dropped]
        config.hook.pytest_deselected(items=dropped)
'''


def test_a_selected_test_pytest_never_reports_is_an_error_at_the_test(tmp_path: Path) -> None:
    marker = tmp_path / "deselect-now"
    root = copy_examples(tmp_path / "workspace", sources=("zendesk",))
    (root / "tests/unit/sources/zendesk/conftest.py").write_text(CONFTEST.format(marker=str(marker)))
    live = LiveEngine(root)
    try:
        node = next(n for n in live.outcomes() if n.endswith("test_read_table[tickets]"))
        assert live.outcomes()[node] == "passed"
        marker.write_text("")
        mark = live.mark()
        live.run_in_loop(lambda: live.engine.run_nodes([node]))
        finished = live.wait_for(
            lambda e: isinstance(e, ev.TestFinished) and e.node_id == node, mark, timeout=60
        )
        live.wait_idle()
        assert finished.outcome == "error"
        (diagnostic,) = finished.diagnostics
        assert diagnostic.code == "run.no_result" and "reported no result" in diagnostic.message
        assert diagnostic.location.path == "tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py"
        assert live.outcomes()[node] == "error"
    finally:
        live.close()
