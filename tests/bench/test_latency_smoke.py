"""``bench/latency.py`` end to end on a tiny setting, so the benchmark cannot rot.

Two small generated workspaces, a couple of saves of every edit, one baseline repeat, a short
memory loop: every metric must be in the JSON. Timing targets are printed by the benchmark and
never asserted here (this machine's load is not the daemon's speed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import latency, latency_report
from bench.edits import KINDS

pytestmark = pytest.mark.slow

STATS = {"n", "missing", "p50", "p95", "min", "max", "mean"}


def _stats(value: object, n: int | None = None) -> None:
    assert isinstance(value, dict), value
    assert set(value) >= STATS, value
    assert value["p50"] <= value["p95"] <= value["max"]
    if n is not None:
        assert value["n"] == n, value


def test_a_quick_run_reports_every_metric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # an earlier test's engine may have left this process in a deleted workspace
    output = tmp_path / "latency.json"
    edits = 2
    returned = latency.main(
        [
            "--quick",
            "--sizes",
            "2,4",
            "--edits",
            str(edits),
            "--baseline-repeats",
            "1",
            "--baseline-sizes",
            "2",
            "--memory-runs",
            "3",
            "--pause",
            "0.05",
            "--output",
            str(output),
        ]
    )
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["meta"]["sizes"] == [2, 4] and returned["meta"]["sizes"] == [2, 4]
    assert len(data["meta"]["load_start"]) == 3 and data["meta"]["cpus"]
    assert set(data["sizes"]) == {"2", "4"}

    for size, sources in (("2", 2), ("4", 4)):
        measured = data["sizes"][size]
        assert measured["sources"] == sources
        assert measured["edited_source"].startswith("zendesk")
        assert measured["verify"]["returncode"] == 0 and measured["tests"] > 0
        daemon = measured["daemon"]
        assert daemon["nodes"] == measured["tests"], "the daemon must know every node before the edits"
        assert daemon["initial_failing"] == [] and daemon["failing_after_edits"] == []
        _stats(daemon["save_index_ms"], 3)
        assert set(daemon["edits"]) == set(KINDS)
        for kind_id, summary in daemon["edits"].items():
            apply, revert = summary["apply"], summary["revert"]
            for phase in (apply, revert):
                for metric in ("files_changed_ms", "run_started_ms", "first_result_ms", "run_finished_ms"):
                    _stats(phase[metric], edits)
                _stats(phase["tests_finished"], edits)
                assert phase["saves_without_run"] == 0 and phase["cancelled_runs"] == 0
            assert len(summary["samples"]["apply"]["run_finished_ms"]) == edits
            if KINDS[kind_id].fault:
                _stats(apply["first_diagnostic_ms"], edits)
                _stats(apply["first_test_diagnostic_ms"], edits)
                _stats(revert["diagnostics_cleared_ms"], edits)
                assert apply["saves_with_failures"] == edits
                assert revert["saves_with_failures"] == 0
            else:
                assert apply["first_diagnostic_ms"] is None, f"{kind_id}: a benign edit showed a diagnostic"
                assert apply["saves_with_failures"] == 0 and revert["saves_with_failures"] == 0

    memory = data["sizes"]["2"]["daemon"]["memory"]
    assert memory["runs"] == 3
    _stats(memory["run_ms"], 3)
    for process in ("engine", "zygote"):
        assert memory["before"][process]["VmRSS"] > 0 and memory["after"][process]["VmRSS"] > 0
    assert "engine_growth_kib" in memory and memory["engine_state"]["runs_completed"] >= 3
    assert "memory" not in data["sizes"]["4"]["daemon"]

    baseline_kinds = {k for k, kind in KINDS.items() if not kind.extra}
    full = data["sizes"]["2"]["full_rerun"]
    testmon = data["sizes"]["2"]["testmon"]
    assert testmon["priming"]["returncode"] == 0
    assert set(full) == set(testmon["edits"]) == baseline_kinds
    for kind_id in baseline_kinds:
        for baseline in (full[kind_id], testmon["edits"][kind_id]):
            _stats(baseline["ms"], 1)
            _stats(baseline["tests_run"], 1)
        assert full[kind_id]["caught_failure"] == (1 if KINDS[kind_id].fault else 0)
    assert "full_rerun" not in data["sizes"]["4"]

    ratios = data["ratios"]
    for label in ("vs_full_rerun", "vs_testmon"):
        assert set(ratios[label]["2"]) == set(KINDS)
        assert all(r["speedup"] is not None for r in ratios[label]["2"].values() if r["baseline_p50_ms"])
    assert set(ratios["scaling"]["4_vs_2"]) == set(KINDS)
    assert all("run_finished_ms" in r for r in ratios["scaling"]["4_vs_2"].values())
    assert data["targets"] and all({"target", "value", "limit", "met"} <= set(t) for t in data["targets"])

    text = latency_report.render(data)
    assert "Targets (issue 5)" in text and "full pytest rerun" in text and "Memory" in text
