"""The overlay under newer saves: a cancelled trial's process dies, a save made while the copy is
being made reaches it, and a fix check a save interrupted runs again.

Real overlays (a private copy of a scratch workspace, its own zygote and pytest children); the
tests are small files written into the workspace.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from connector_watch.daemon.baselines import Baselines
from connector_watch.daemon.causal import CausalScheduler
from connector_watch.daemon.diagnostics import Position, Range, TextEdit
from connector_watch.daemon.fixes import CandidateFix
from connector_watch.daemon.overlay import Overlay, SharedOverlay
from connector_watch.daemon.workspace import Workspace
from connector_watch.tests.support.workspace import copy_examples

SLOW_TEST = "tests/unit/test_slow_trial.py"
VALUE_TEST = "tests/unit/test_value_trial.py"
VALUE = "tests/unit/value.txt"


def _workspace(tmp_path: Path) -> Path:
    root = copy_examples(tmp_path / "workspace", sources=("github",))
    marker, started = tmp_path / "marker", tmp_path / "started"
    (root / SLOW_TEST).write_text(
        f"import pathlib, time\n\n\ndef test_slow():\n    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(4)\n"
        f"    pathlib.Path({str(marker)!r}).write_text('ran on after its trial was cancelled')\n",
        encoding="utf-8",
    )
    (root / VALUE).write_text("broken\n", encoding="utf-8")
    (root / VALUE_TEST).write_text(
        "import pathlib, time\n\n\ndef test_value():\n    time.sleep(1.5)\n"
        "    assert pathlib.Path(__file__).with_name('value.txt').read_text() == 'fixed\\n'\n",
        encoding="utf-8",
    )
    return root


def test_a_cancelled_trial_leaves_no_test_running(tmp_path: Path) -> None:
    root = _workspace(tmp_path)

    async def scenario() -> None:
        overlay = Overlay(Workspace(root), node_timeout=30, log_dir=tmp_path / "logs")
        await overlay.start()
        try:
            trial = asyncio.create_task(overlay.run([f"{SLOW_TEST}::test_slow"], {}))
            deadline = time.monotonic() + 60
            while not (tmp_path / "started").exists():  # the test is sleeping now
                assert time.monotonic() < deadline and not trial.done(), "the trial never started"
                await asyncio.sleep(0.05)
            trial.cancel()  # a newer save
            await asyncio.gather(trial, return_exceptions=True)
            await asyncio.sleep(5)  # longer than the test would have taken
        finally:
            await overlay.close()

    asyncio.run(scenario())
    assert not (tmp_path / "marker").exists(), (tmp_path / "marker").read_text()


def test_a_save_made_while_the_copy_is_made_reaches_it(tmp_path: Path) -> None:
    root = _workspace(tmp_path)

    async def scenario() -> bytes:
        shared = SharedOverlay(Workspace(root), node_timeout=30, log_dir=tmp_path / "logs")
        shared.warm()
        await asyncio.sleep(0.3)  # the copy is made (or being made); its workers are starting
        (root / VALUE).write_text("saved while copying\n", encoding="utf-8")
        shared.sync([VALUE])  # the engine's on_paths_changed
        try:
            overlay = await shared.ready()
            return (overlay.root / VALUE).read_bytes()
        finally:
            await shared.close()

    assert asyncio.run(scenario()) == b"saved while copying\n"


def test_a_fix_check_interrupted_by_a_save_runs_again(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    node = f"{VALUE_TEST}::test_value"
    candidate = CandidateFix("write 'fixed'", (TextEdit(VALUE, Range(Position(0, 0), Position(1, 0)), "fixed\n"),))
    verified = []

    async def scenario() -> None:
        shared = SharedOverlay(Workspace(root), node_timeout=30, log_dir=tmp_path / "logs")
        scheduler = CausalScheduler(
            Workspace(root),
            Baselines(None, None),
            shared.ready,
            lambda verdicts: None,
            lambda *args: None,
            fix_candidates=lambda nodes: [(candidate, nodes)],
            on_fix=verified.append,
        )
        try:
            await shared.ready()
            scheduler.schedule_fixes(node)
            scheduler.start()
            await asyncio.sleep(0.8)  # the check is running (the test sleeps 1.5 s)
            await scheduler.cancel()  # a save of another file
            assert not verified
            scheduler.start()
            await asyncio.wait_for(scheduler.wait(), 120)
        finally:
            await scheduler.cancel()
            await shared.close()

    asyncio.run(scenario())
    assert [fix.title for fix in verified] == ["write 'fixed'"]
    assert (root / VALUE).read_text() == "broken\n"  # verified on the copy, never applied


def test_a_trial_runs_the_shared_code_it_swaps_in_not_what_the_workers_imported(tmp_path: Path) -> None:
    """Shared code (imported once by the main pool's zygote) must be imported by each trial as the
    trial wrote it: the overlay's zygote holding the version it found made every revert of a shared
    module a no-op ("fails with every change reverted", on the public repository's libs/)."""
    root = copy_examples(tmp_path / "workspace", sources=("github",))
    with (root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write("\n[tool.connector-watch]\nshared = [\"shared_libs/**\"]\n")
    (root / "shared_libs").mkdir()
    (root / "shared_libs/__init__.py").write_text("", encoding="utf-8")
    (root / "shared_libs/answer.py").write_text("VALUE = 'broken'\n", encoding="utf-8")
    (root / "tests/unit/test_shared_trial.py").write_text(
        "from shared_libs.answer import VALUE\n\n\ndef test_value():\n    assert VALUE == 'good'\n",
        encoding="utf-8",
    )
    assert Workspace(root).classify("shared_libs/answer.py").kind == "shared"
    node = "tests/unit/test_shared_trial.py::test_value"

    async def scenario() -> tuple[str, str]:
        overlay = Overlay(Workspace(root), node_timeout=30, log_dir=tmp_path / "logs")
        await overlay.start()
        try:
            reverted = await overlay.run([node], {"shared_libs/answer.py": b"VALUE = 'good'\n"})
            current = await overlay.run([node], {})
            return reverted[node]["outcome"], current[node]["outcome"]
        finally:
            await overlay.close()

    assert asyncio.run(scenario()) == ("passed", "failed")
