"""Selection against full runs: for every edit of the catalogue, the nodes the daemon reran on
save must include every node whose result a full run says changed — on the edit and on the fix.

A missed affected node is the worst bug this product can have, so this compares the daemon's
selective run with the truth (a full rerun of everything) for faults and benign edits alike,
and reports how much it saved.
"""

from __future__ import annotations

import pytest
from connector_watch.daemon import events as ev
from connector_watch.tests.daemon.catalogue import BENIGN, FAULTS, Edit
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow
EDITS = [*FAULTS, *BENIGN]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    root = copy_examples(tmp_path_factory.mktemp("selection"), sources=("zendesk", "github"))
    engine = LiveEngine(root, node_timeout=10.0)
    yield engine
    engine.close()


def _results(live: LiveEngine) -> dict[str, str]:
    """Every node's outcome, with failing test files standing for their nodes."""
    results = {n: o or "pending" for n, o in live.outcomes().items()}
    for path in live.run_in_loop(lambda: list(live.engine.results.collect_errors)):
        results[path] = "error"
    return results


def _full_run(live: LiveEngine) -> dict[str, str]:
    mark = live.mark()
    live.run_in_loop(live.engine.rerun_all)
    live.wait_for(lambda e: isinstance(e, ev.RunFinished) and not e.cancelled, mark, 120)
    live.wait_idle()
    return _results(live)


def _covered(node: str, ran: set[str]) -> bool:
    return node in ran or node.split("::")[0] in ran


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {n for n in set(before) | set(after) if before.get(n) != after.get(n)}


@pytest.mark.parametrize("edit", EDITS, ids=[e.id for e in EDITS])
def test_daemon_reruns_every_node_a_full_run_says_changed(live: LiveEngine, edit: Edit) -> None:
    baseline = _full_run(live)
    original = live.read(edit.path)
    try:
        events = live.save(edit.path, edit.apply(original), timeout=120, expect_run=edit.blame is not None)
        ran = live.ran_nodes(events)
        broken = _full_run(live)
        missed = {n for n in _changed(baseline, broken) if not _covered(n, ran)}
        assert not missed, f"{edit.id}: the daemon did not rerun {sorted(missed)}"
        if edit.blame is not None:
            assert ran, f"{edit.id}: a fault reran nothing"
    finally:
        events = live.save(edit.path, original, timeout=120, expect_run=False)
    ran = live.ran_nodes(events)
    fixed = _full_run(live)
    missed = {n for n in _changed(broken, fixed) if not _covered(n, ran) and n in baseline}
    assert not missed, f"{edit.id}: fixing it did not rerun {sorted(missed)}"
    assert {n for n, o in fixed.items() if o in ("failed", "error", "timeout", "crashed")} == set()
