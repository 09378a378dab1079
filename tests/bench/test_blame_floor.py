"""``bench/blame.py`` on a fixed sample: generated faults must keep being blamed right (and fixed).

A fixed, deterministic sample of the mutation catalogue (every kind, two example sources), saved
into a live daemon one at a time; the accuracy must stay above a floor, and ``connector-watch run
--changed`` must give the same verdict as the daemon on the faults it is asked about. Times are
the benchmark's business, not this test's.
"""

from __future__ import annotations

import pytest

from bench import blame

pytestmark = pytest.mark.slow

FLOOR_BLAME = 0.9
FLOOR_LOCATION = 0.85


def test_a_fixed_sample_of_generated_faults_is_blamed_right_and_the_same_by_run() -> None:
    results = blame.run_benchmark(("zendesk", "github"), sample=16, kinds=None, compare_run=3)
    total = results["summary"]["total"]
    misses = [f for f in results["faults"] if f["detected"] and not (f["blameRight"] and f["locationRight"])]
    assert total["detected"] >= 10, results["faults"]
    assert total["blameAccuracy"] >= FLOOR_BLAME, misses
    assert total["locationAccuracy"] >= FLOOR_LOCATION, misses
    compared = [f for f in results["faults"] if f["run"] is not None]
    assert compared, "no fault was compared with `run --changed`"
    assert all(f["run"]["same"] for f in compared), compared
    assert all(f["recovered"] for f in results["faults"]), [f for f in results["faults"] if not f["recovered"]]
    # Verified fixes: offered for most spec, corpus and test faults; every one offered works.
    fixable = [f for f in results["faults"] if f["detected"] and f["kind"].split(".")[0] in ("spec", "corpus", "test")]
    offered = [f for f in fixable if f["fix"]]
    assert len(offered) >= 0.6 * len(fixable), fixable
    assert all(f["fix"]["works"] for f in results["faults"] if f["fix"]), [f for f in results["faults"] if f["fix"]]
