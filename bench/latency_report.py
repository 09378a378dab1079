"""The latency benchmark's report: ratios against the baselines and across sizes, the targets
(issue 5) met or missed, the text tables printed at the end, and the JSON written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bench.edits import KINDS
from bench.latency_util import fmt

TARGETS = {
    "static_diagnostic_p50_ms": 50.0,
    "corpus_results_p50_ms": 200.0,
    "scaling_ratio_max": 1.3,
    "full_rerun_speedup_min": 10.0,
    "full_rerun_speedup_size": 25,
}


def _p50(summary: dict[str, Any] | None) -> float | None:
    return summary["p50"] if summary else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator in (None, 0):
        return None
    return round(numerator / denominator, 2)


def headline(kind_id: str, summary: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The (row label, metric, stats) rows of one edit kind."""
    apply, revert = summary["apply"], summary["revert"]
    rows = []
    if summary["fault"]:
        rows.append(("save → first diagnostic", "first_diagnostic_ms", apply["first_diagnostic_ms"]))
        if (
            apply["first_test_diagnostic_ms"]
            and apply["first_test_diagnostic_ms"] != apply["first_diagnostic_ms"]
        ):
            rows.append(
                ("save → first blamed test", "first_test_diagnostic_ms", apply["first_test_diagnostic_ms"])
            )
        if apply.get("causal_verdict_ms") and apply["causal_verdict_ms"].get("n"):
            rows.append(("save → first failing test", "first_failure_ms", apply["first_failure_ms"]))
            rows.append(("save → its causal verdict", "causal_verdict_ms", apply["causal_verdict_ms"]))
    rows.append(("save → run finished", "run_finished_ms", apply["run_finished_ms"]))
    if summary["fault"]:
        rows.append(("fix → diagnostics cleared", "diagnostics_cleared_ms", revert["diagnostics_cleared_ms"]))
        rows.append(("fix → run finished", "run_finished_ms", revert["run_finished_ms"]))
    return rows


def compute_ratios(results: dict[str, Any]) -> dict[str, Any]:
    sizes = sorted(results["sizes"], key=int)
    ratios: dict[str, Any] = {"vs_full_rerun": {}, "vs_testmon": {}, "scaling": {}}
    for size in sizes:
        data = results["sizes"][size]
        edits = data["daemon"]["edits"]
        for label, key in (("vs_full_rerun", "full_rerun"), ("vs_testmon", "testmon")):
            baseline = data.get(key)
            if key == "testmon" and baseline:
                baseline = baseline["edits"]
            if not baseline:
                continue
            ratios[label][size] = {}
            for kind_id, summary in edits.items():
                other = _p50(baseline.get(kind_id, {}).get("ms"))
                daemon_metric = "first_diagnostic_ms" if summary["fault"] else "run_finished_ms"
                ratios[label][size][kind_id] = {
                    "daemon_metric": daemon_metric,
                    "daemon_p50_ms": _p50(summary["apply"][daemon_metric]),
                    "baseline_p50_ms": other,
                    "speedup": _ratio(other, _p50(summary["apply"][daemon_metric])),
                    "speedup_run_finished": _ratio(other, _p50(summary["apply"]["run_finished_ms"])),
                }
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        key = f"{large}_vs_{small}"
        ratios["scaling"][key] = {}
        for kind_id, summary in results["sizes"][large]["daemon"]["edits"].items():
            base = results["sizes"][small]["daemon"]["edits"].get(kind_id)
            if not base:
                continue
            ratios["scaling"][key][kind_id] = {
                metric: _ratio(_p50(summary["apply"][metric]), _p50(base["apply"][metric]))
                for metric in ("first_diagnostic_ms", "run_finished_ms")
                if summary["apply"][metric] and base["apply"][metric]
            }
    return ratios


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    sizes = sorted(results["sizes"], key=int)

    def add(name: str, value: float | None, limit: float, at_most: bool, where: str) -> None:
        met = None if value is None else (value <= limit if at_most else value >= limit)
        checks.append(
            {"target": name, "where": where, "value": value, "limit": limit, "at_most": at_most, "met": met}
        )

    for size in sizes:
        edits = results["sizes"][size]["daemon"]["edits"]
        if "yaml" in edits:
            add(
                "static diagnostic p50 ≤ 50 ms (YAML syntax error)",
                _p50(edits["yaml"]["apply"]["first_diagnostic_ms"]),
                TARGETS["static_diagnostic_p50_ms"],
                True,
                f"{size} sources",
            )
        if "corpus-fault" in edits:
            add(
                "static diagnostic p50 ≤ 50 ms (corpus fault)",
                _p50(edits["corpus-fault"]["apply"]["first_diagnostic_ms"]),
                TARGETS["static_diagnostic_p50_ms"],
                True,
                f"{size} sources",
            )
        if "corpus-fault" in edits and _p50(edits["corpus-fault"]["apply"].get("causal_verdict_ms")):
            apply = edits["corpus-fault"]["apply"]
            add(
                "causal verdict p50 ≤ 2× the first failing result (one-table corpus fault)",
                _ratio(_p50(apply["causal_verdict_ms"]), _p50(apply["first_failure_ms"])),
                2.0,
                True,
                f"{size} sources",
            )
        if "corpus" in edits:
            add(
                "one-table corpus edit results p50 ≤ 200 ms",
                _p50(edits["corpus"]["apply"]["run_finished_ms"]),
                TARGETS["corpus_results_p50_ms"],
                True,
                f"{size} sources",
            )
    for key, per_kind in results["ratios"]["scaling"].items():
        for kind_id, metrics in per_kind.items():
            for metric, value in metrics.items():
                add(
                    f"{key.replace('_vs_', ' vs ')} sources ≤ 1.3× ({KINDS[kind_id].title}, {metric[:-3]})",
                    value,
                    TARGETS["scaling_ratio_max"],
                    True,
                    key,
                )
    speedup_size = str(TARGETS["full_rerun_speedup_size"])
    for kind_id, ratio in results["ratios"]["vs_full_rerun"].get(speedup_size, {}).items():
        add(
            f"≥ 10× faster than a full rerun ({KINDS[kind_id].title})",
            ratio["speedup"],
            TARGETS["full_rerun_speedup_min"],
            False,
            f"{speedup_size} sources",
        )
    return checks


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    sizes = sorted(results["sizes"], key=int)
    meta = results["meta"]
    lines.append(
        f"connector-watch latency — {meta['started']} — {meta['cpus']} CPUs, load {meta['load_start']} → "
        f"{meta['load_end']} — {meta['edits']} edits (+ reverts) per kind, {meta['duration_s']:.0f} s"
    )
    lines.append("")
    lines.append("Daemon, milliseconds from the write to the event (p50 / p95):")
    header = f"{'edit':26s} {'metric':28s}" + "".join(f"{size + ' sources':>18s}" for size in sizes)
    lines.append(header)
    lines.append("-" * len(header))
    first = results["sizes"][sizes[0]]["daemon"]["edits"]
    for kind_id, summary in first.items():
        for label, metric, _ in headline(kind_id, summary):
            phase = "revert" if label.startswith("fix") else "apply"
            cells = []
            for size in sizes:
                s = results["sizes"][size]["daemon"]["edits"][kind_id][phase][metric]
                cells.append(f"{fmt(s)} / {fmt(s, 'p95')}" if s else "—")
            lines.append(f"{summary['title']:26s} {label:28s}" + "".join(f"{c:>18s}" for c in cells))
        benign = not summary["fault"]
        if benign:
            lines.append(f"{'':26s} {'(benign: no diagnostic)':28s}")
    lines.append("")
    lines.append(
        "Where the time goes (p50 ms after the write: watcher+debounce → run planned → first result → done):"
    )
    for size in sizes:
        for summary in results["sizes"][size]["daemon"]["edits"].values():
            a = summary["apply"]
            lines.append(
                f"  {size:>4s} sources {summary['title']:26s} {fmt(a['files_changed_ms'])} → "
                f"{fmt(a['run_started_ms'])} → {fmt(a['first_result_ms'])} → {fmt(a['run_finished_ms'])}"
                f"   ({fmt(a['tests_finished'])} tests)"
            )
    for label, key in (("full pytest rerun", "full_rerun"), ("pytest --testmon", "testmon")):
        measured = [s for s in sizes if results["sizes"][s].get(key)]
        if not measured:
            continue
        lines.append("")
        lines.append(
            f"Baseline: {label}, save → exit (p50 / p95 ms; tests run; speedup of the daemon at p50):"
        )
        for size in measured:
            data = results["sizes"][size][key]
            if key == "testmon":
                lines.append(
                    f"  {size} sources: priming run {data['priming']['ms'] / 1000:.1f} s {data['priming']['counts']}"
                )
                data = data["edits"]
            ratio_key = "vs_full_rerun" if key == "full_rerun" else "vs_testmon"
            for kind_id, b in data.items():
                r = results["ratios"][ratio_key].get(size, {}).get(kind_id, {})
                caught = ""
                if b["fault"]:
                    caught = f"; caught the fault in {b['caught_failure']}/{b['ms']['n']}"
                lines.append(
                    f"  {size:>4s} sources {b['title']:26s} {fmt(b['ms'])} / {fmt(b['ms'], 'p95')}"
                    f"  ran {fmt(b['tests_run'])} tests{caught}"
                    f"  → daemon {r.get('speedup') or '—'}× (run finished: {r.get('speedup_run_finished') or '—'}×)"
                )
    for size in sizes:
        if not results["sizes"][size].get("full_rerun"):
            v = results["sizes"][size]["verify"]
            lines.append(
                f"  {size:>4s} sources: one full pytest run (the untimed check) took {v['ms'] / 1000:.1f} s"
            )
    memory = next(
        (
            results["sizes"][s]["daemon"]["memory"]
            for s in sizes
            if results["sizes"][s]["daemon"].get("memory")
        ),
        None,
    )
    if memory:
        lines.append("")
        size = next(s for s in sizes if results["sizes"][s]["daemon"].get("memory"))
        lines.append(
            f"Memory ({size} sources, {memory['runs']} single-node runs in {memory['elapsed_s']} s, "
            f"{fmt(memory['run_ms'])} ms p50 each): engine process RSS "
            f"{memory['before']['engine'].get('VmRSS', 0) / 1024:.1f} → {memory['after']['engine'].get('VmRSS', 0) / 1024:.1f} MiB "
            f"({memory['engine_growth_kib'] / 1024:+.1f} MiB, {memory['engine_growth_per_run_kib']:+.1f} KiB/run); zygote "
            f"{memory['before']['zygote'].get('VmRSS', 0) / 1024:.1f} → {memory['after']['zygote'].get('VmRSS', 0) / 1024:.1f} MiB; "
            f"job logs on disk {memory['log_files_before']} → {memory['log_files_after']}"
        )
    lines.append("")
    lines.append("Targets (issue 5):")
    for check in results["targets"]:
        state = {True: "met   ", False: "MISSED", None: "n/a   "}[check["met"]]
        value = "—" if check["value"] is None else f"{check['value']}"
        lines.append(f"  {state} {check['target']} [{check['where']}]: {value}")
    return "\n".join(lines)


def dump(results: dict[str, Any]) -> str:
    """JSON, indented, with lists of numbers kept on one line."""
    text = json.dumps(results, indent=1)
    return re.sub(
        r"\[\s*((?:-?[\d.]+|null|true|false)(?:,\s*(?:-?[\d.]+|null|true|false))*)\s*\]",
        lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]",
        text,
    )
