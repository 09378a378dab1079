"""Where the command line finds its workspace, and what it leaves in it (real processes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from connector_watch.tests.server.support import connector_watch
from connector_watch.tests.support.workspace import copy_examples

CORPUS = "simulator/specs/github/corpus/issues.json"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*connector_watch(), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_run_from_a_folder_inside_the_workspace_finds_it_as_pytest_finds_its_rootdir(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "ws", sources=("github",))
    inside = root / "tests/unit/sources/github"
    impact = _cli(inside, "impact", "../../../../" + CORPUS)  # a path as the shell completes it
    assert impact.returncode == 0, impact.stderr
    assert f"workspace {root}" in impact.stderr and "found above the current directory" in impact.stderr
    assert '"nodeId": "tests/unit/sources/github/test_github_lakeflow_connect.py' in impact.stdout  # no index yet


def test_run_where_there_are_no_tests_is_not_green(tmp_path: Path) -> None:
    finished = _cli(tmp_path, "run")
    assert finished.returncode == 5, (finished.stdout, finished.stderr)
    assert "no test files under" in finished.stderr and "--workspace" in finished.stderr


def test_the_state_folder_ignores_itself_for_git(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "ws", sources=("github",))
    finished = _cli(root, "run", "--changed", CORPUS, "--no-causal")
    assert finished.returncode in (0, 1), finished.stderr
    ignore = root / ".connector-watch" / ".gitignore"
    assert ignore.read_text(encoding="utf-8").splitlines()[-1] == "*"
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    assert ".connector-watch" not in status.stdout
