"""One verdict everywhere: ``run --changed``, ``run --base`` and the daemon blame a spec edit alike,
and without history ``run`` says its verdict is a judgement on the failure alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

SPEC = "simulator/specs/zendesk/endpoints.yaml"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def run(root: Path, *args: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "connector_watch.daemon", "run", "--workspace", str(root), "--json", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    return json.loads(completed.stdout)


def verdicts(report: dict) -> set[tuple[str, str, int, str | None]]:
    return {
        (d["blame"], d["location"]["path"], d["location"]["range"]["start"]["line"], (d.get("causal") or {}).get("status"))
        for r in report["results"]
        if r["outcome"] in ("failed", "error")
        for d in r["diagnostics"][:1]
    }


def test_run_changed_run_base_and_the_daemon_agree_on_a_spec_edit(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "ws", sources=("zendesk",))
    git(root, "init", "-q")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base")
    text = (root / SPEC).read_text()
    line = next(i for i, t in enumerate(text.splitlines()) if "records_key: tickets" in t)
    (root / SPEC).write_text(text.replace("records_key: tickets", "records_key: ticket", 1))

    changed = verdicts(run(root, "--changed", SPEC))
    based = verdicts(run(root, "--base", "HEAD"))
    assert changed == based == {("spec", SPEC, line, "trigger")}, (changed, based)

    (root / SPEC).write_text(text)
    live = LiveEngine(root, node_timeout=15.0)
    try:
        live.save(SPEC, text.replace("records_key: tickets", "records_key: ticket", 1))
        live.call(live.engine.wait_verdicts())
        daemon = {
            (d.blame, d.location.path, d.location.range.start.line, (d.causal or {}).get("status"))
            for n in live.failing()
            for d in live.node_diagnostics(n)[:1]
        }
    finally:
        live.close()
    assert daemon == changed


def test_without_history_run_says_the_verdict_is_a_judgement(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "ws", sources=("zendesk",))  # not a git checkout
    text = (root / SPEC).read_text()
    (root / SPEC).write_text(text.replace("records_key: tickets", "records_key: ticket", 1))
    report = run(root, "--changed", SPEC)
    firsts = [r["diagnostics"][0] for r in report["results"] if r["outcome"] == "failed"]
    assert firsts and all(d["causal"]["status"] == "no-history" for d in firsts)
    assert all("judged on the failure alone" in d["evidence"][0] for d in firsts)
    assert all(d["confidence"] <= 0.6 for d in firsts)
