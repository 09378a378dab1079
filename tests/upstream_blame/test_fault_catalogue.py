"""Seeded faults on the public connectors repository: blamed right, located, selected.

A fixed sample of ``bench/upstream_faults.py``'s catalogue (one fault of each kind on four
sources), measured as the benchmark measures it, with real processes: plain ``pytest`` says which
nodes a fault breaks, ``connector-watch run --changed <file> --json`` on a scratch copy of the
snapshot says which nodes it selected and whom it blames, where. The whole catalogue and its
figures: ``python bench/upstream_faults.py``.

Needs the snapshot at ``../shared/upstream-repo`` (or ``$CONNECTOR_WATCH_UPSTREAM_REPO``); skipped,
saying so, without it.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from bench.upstream_fault_catalogue import CATALOGUE, CI_SAMPLE
from bench.upstream_faults import make_venv, prepare_copy, run_catalogue, upstream_repo

pytestmark = [pytest.mark.upstream, pytest.mark.slow]

SAMPLE = [fault for fault in CATALOGUE if fault.id in CI_SAMPLE]
SNAPSHOT = upstream_repo()
MISSING = (
    "the public connectors snapshot is not at ../shared/upstream-repo (nor in $CONNECTOR_WATCH_UPSTREAM_REPO): "
    "the seeded-fault catalogue on it is skipped"
)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    if SNAPSHOT is None:
        sys.stderr.write(f"\n{MISSING}\n")
        pytest.skip(MISSING)
    scratch = tmp_path_factory.mktemp("upstream-faults")
    copy = prepare_copy(SNAPSHOT, scratch / "repo", sorted({fault.source for fault in SAMPLE}))
    python = make_venv(scratch / "venv", copy)
    document = run_catalogue(SAMPLE, copy, python, scratch, log=lambda line: None)
    return {outcome["fault"]: outcome for outcome in document["outcomes"]}


def test_the_sample_has_a_fault_of_every_kind() -> None:
    assert {fault.kind for fault in SAMPLE} == {"corpus", "spec", "connector", "test", "environment"}
    assert len({fault.source for fault in SAMPLE}) >= 4
    assert {fault.kind for fault in CATALOGUE} >= {"corpus", "spec", "connector", "test", "environment"}
    assert len({fault.source for fault in CATALOGUE}) >= 5
    assert any(fault.blame != fault.kind for fault in CATALOGUE)  # an innocent edit revealing a bug


def _show(outcome: dict[str, Any]) -> str:
    lines = [f"{outcome['fault']}: expected {outcome['expected_blame']} at {outcome['expected_location']}"]
    lines += [f"  {node}: {outcome['blames'][node]} at {outcome['locations'][node]}" for node in outcome["failing"]]
    return "\n".join(lines)


@pytest.mark.parametrize("fault", [fault.id for fault in SAMPLE])
def test_the_fault_breaks_nodes_and_each_is_blamed_where_the_fault_is(
    measured: dict[str, dict[str, Any]], fault: str
) -> None:
    outcome = measured[fault]
    assert outcome["failing"], f"{fault}: no node failed under plain pytest (a stale fault?)"
    assert outcome["blame_ok"], _show(outcome)
    assert outcome["location_ok"], _show(outcome)


def test_every_failing_node_is_selected_by_the_change(measured: dict[str, dict[str, Any]]) -> None:
    missed = {fault: outcome["missed"] for fault, outcome in measured.items() if outcome["missed"]}
    assert not missed
