"""Blame against a catalogue of seeded faults in every category (see catalogue.py).

For each fault: save it into a private copy of the examples, let the real daemon react,
and check that the failing node's first diagnostic blames the right party at the right file;
then restore the file and check everything is green again. (Drift, the sixth category, needs a
live API: see test_drift.py.)
"""

from __future__ import annotations

import pytest
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.tests.daemon.catalogue import FAULTS, Edit
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    root = copy_examples(tmp_path_factory.mktemp("faults"), sources=("zendesk", "github"))
    engine = LiveEngine(root, node_timeout=10.0)
    yield engine
    engine.close()


def _primary(live: LiveEngine, fault: Edit) -> tuple[str, Diagnostic]:
    failing = sorted(live.failing())
    matching = [n for n in failing if fault.failing and fault.failing in n]
    assert matching, f"{fault.id}: no failing node matches {fault.failing!r}; failing: {failing}"
    for node in matching:
        diagnostics = live.node_diagnostics(node)
        if diagnostics:
            return node, diagnostics[0]
    raise AssertionError(f"{fault.id}: failing nodes {matching} have no diagnostics")


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_is_blamed_on_the_right_party(live: LiveEngine, fault: Edit) -> None:
    original = live.read(fault.path)
    try:
        live.save(fault.path, fault.apply(original), timeout=120)
        node, diagnostic = _primary(live, fault)
        assert diagnostic.blame == fault.blame, (
            f"{fault.id}: {node} blamed {diagnostic.blame} ({diagnostic.message}); expected {fault.blame}"
        )
        assert diagnostic.location.path == fault.expected_path, (
            f"{fault.id}: points at {diagnostic.location}, expected {fault.expected_path}"
        )
        assert diagnostic.message and diagnostic.confidence > 0
    finally:
        live.save(fault.path, original, timeout=120)
    assert live.failing() == set(), f"{fault.id}: still failing after the fix: {sorted(live.failing())}"
