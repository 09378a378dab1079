"""What the daemon remembers of files over time, and what a git base gives one-shot runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from connector_watch.daemon.baselines import Baselines, GitBase
from connector_watch.daemon.file_history import ABSENT, FileHistory


def test_a_node_is_compared_with_the_versions_it_last_passed_with(tmp_path: Path) -> None:
    files = {"a.json": b"[1]", "b.py": b"x = 1"}
    history = FileHistory(lambda p: files.get(p))
    history.seed(files)
    history.passed(["n1", "n2"], history.generation)
    files["a.json"] = b"[2]"
    assert history.update("a.json") and not history.update("b.py")
    history.passed(["n2"], history.generation)  # n2 passed again with the new a.json
    files["a.json"] = b"[3]"
    history.update("a.json")
    assert history.changed_since_pass("n1") == {"a.json"}
    assert history.content(history.baseline("n1")["a.json"]) == b"[1]"
    assert history.content(history.baseline("n2")["a.json"]) == b"[2]"
    assert history.baseline("never") is None


def test_a_storm_of_saves_keeps_only_the_versions_a_pass_needs() -> None:
    files = {"c.json": b"start"}
    history = FileHistory(lambda p: files.get(p))
    history.seed(files)
    history.passed(["n"], history.generation)
    for i in range(500):
        files["c.json"] = f"save {i}".encode() * 100
        history.update("c.json")
        history.prune()
    assert history.content(history.baseline("n")["c.json"]) == b"start"
    assert len(history._blobs) == 2  # the pass's version and the current one
    history.passed(["n"], history.generation)
    assert len(history._blobs) == 1 and history.baseline("n") == {}


def test_created_and_deleted_files_count_as_changes() -> None:
    files = {"a.py": b"1"}
    history = FileHistory(lambda p: files.get(p))
    history.seed(files)
    history.passed(["n"], history.generation)
    files["new.py"] = b"2"
    del files["a.py"]
    history.update("new.py")
    history.update("a.py")
    assert history.changed_since_pass("n") == {"a.py", "new.py"}
    assert history.baseline("n") == {"a.py": history.baseline("n")["a.py"], "new.py": ABSENT}
    assert history.content(history.baseline("n")["a.py"]) == b"1"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_git_base_gives_the_committed_content_of_changed_and_new_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "spec.yaml").write_text("a: 1\n")
    (tmp_path / "same.json").write_text("[]")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "spec.yaml").write_text("a: 2\n")
    (tmp_path / "new.py").write_text("x = 1\n")
    base = GitBase(tmp_path)
    assert base.available
    assert base.changes(lambda p: True) == {"new.py": None, "spec.yaml": b"a: 1\n"}
    only = GitBase(tmp_path, only=["spec.yaml"])
    assert only.changes(lambda p: True) == {"spec.yaml": b"a: 1\n"}
    baseline = Baselines(None, base).for_node("any", lambda p: True)
    assert baseline is not None and (baseline.label, baseline.passed) == ("git HEAD", False)


def test_without_git_there_is_no_history_and_it_says_why(tmp_path: Path) -> None:
    base = GitBase(tmp_path)
    assert not base.available and "not a git checkout" in base.reason
    assert Baselines(None, base).for_node("n", lambda p: True) is None
    git(tmp_path, "init", "-q")
    assert "no revision HEAD" in GitBase(tmp_path).reason


def test_a_change_to_a_file_too_large_to_keep_makes_the_verdict_inconclusive(
    tmp_path: Path, monkeypatch
) -> None:
    from connector_watch.daemon import file_history
    from connector_watch.daemon.causal import CausalScheduler
    from connector_watch.daemon.workspace import Workspace

    monkeypatch.setattr(file_history, "MAX_KEPT_BYTES", 8)  # "large" without writing 16 MiB
    files = {"big.json": b"[1, 2, 3, 4, 5]", "small.json": b"[1]"}
    history = FileHistory(lambda p: files.get(p))
    history.seed(files)
    history.passed(["n"], history.generation)
    files["big.json"] = b"[1, 2, 3, 4, 5, 6]"
    history.update("big.json")
    baseline = Baselines(history, None).for_node("n", lambda p: True)
    assert baseline is not None and baseline.unkept == ("big.json",) and baseline.before == {}
    scheduler = CausalScheduler(Workspace(tmp_path), Baselines(history, None), None, lambda v: None, lambda *a: None)
    evidence, to_investigate = scheduler.evidence_now("n")
    assert to_investigate is None
    assert evidence.status == "inconclusive", evidence  # not "not-caused": the change was not revertible
    assert "big.json" in evidence.note and "too large to keep" in evidence.note
