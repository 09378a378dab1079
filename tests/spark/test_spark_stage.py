"""The daemon's Spark e2e stage, on its own: start → check → a broken workspace turns red, located → stop.

The stage runs on a temporary copy of this workspace so the tests can break a
connector's schema and code without touching the checkout. One warm worker serves
every test of the module, which is also what proves that the session stays warm and
that each check reads the connector's current code.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_watch.daemon.spark_stage import SparkStage
from connector_watch.tests.spark.conftest import ROOT

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def copy_workspace(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "cassettes", "*.pyc")
    shutil.copy2(ROOT / "pyproject.toml", target / "pyproject.toml")
    for part in ("sources", "simulator"):
        shutil.copytree(ROOT / part, target / part, ignore=ignore)
    shutil.copytree(ROOT / "tests" / "unit" / "sources", target / "tests" / "unit" / "sources", ignore=ignore)
    for init in ("tests/__init__.py", "tests/unit/__init__.py"):
        (target / init).write_text("", encoding="utf-8")
    return target


class Session:
    """One event loop and one stage for the module (pytest-asyncio is not a dependency)."""

    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.stage = SparkStage(root, master="local[2]")
        self.info: dict[str, Any] = {}

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("workspace"))


@pytest.fixture(scope="module")
def stage(workspace: Path) -> Iterator[Session]:
    session = Session(workspace)
    session.info = session.run(session.stage.start())
    yield session
    session.run(session.stage.stop())
    session.loop.close()


def edit(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text


def test_start_reports_a_warm_session(stage: Session) -> None:
    assert stage.info["sparkVersion"].startswith("4.")
    assert stage.info["master"] == "local[2]"
    assert stage.info["sessionStartMs"] > 0
    assert stage.stage.running
    # Spark runs in the worker process, never in the caller's.
    assert stage.info["pid"] != os.getpid()
    os.kill(stage.info["pid"], 0)


def test_every_table_of_a_source_passes(stage: Session) -> None:
    results = stage.run(stage.stage.check_source("github"))
    assert [r["table"] for r in results] == ["commits", "issues", "repositories"]
    for result in results:
        assert result["outcome"] == "passed", result["problems"]
        assert result["rows"] == result["expected"] > 0
        assert result["durationMs"] >= 0 and result["problems"] == []


def test_a_broken_schema_is_a_located_conversion_problem(stage: Session, workspace: Path) -> None:
    schemas = workspace / "sources" / "github" / "github_schemas.py"
    # The issues table's own "title" (not the milestone's, declared earlier in the file).
    original = edit(
        schemas,
        '("title", StringType()),\n    ("user", USER),',
        '("title", LongType()),\n    ("user", USER),',
    )
    try:
        results = stage.run(stage.stage.check_source("github", ["issues"]))
    finally:
        schemas.write_text(original, encoding="utf-8")
    [result] = results
    assert result["table"] == "issues" and result["outcome"] == "error"
    [problem] = result["problems"]
    assert problem["kind"] == "conversion"
    assert problem["table"] == "issues" and problem["field"] == "title"
    assert problem["sparkType"] == "bigint" and isinstance(problem["value"], str)
    assert problem["record"]["title"] == problem["value"]
    # Where the record sits in the corpus, and where the schema declares the field.
    assert problem["corpusFile"] == "simulator/specs/github/corpus/issues.json"
    corpus_text = (workspace / problem["corpusFile"]).read_text(encoding="utf-8").splitlines()
    assert problem["value"] in corpus_text[problem["corpusLine"] - 1]
    records = json.loads((workspace / problem["corpusFile"]).read_text(encoding="utf-8"))
    assert records[problem["recordIndex"]]["id"] == problem["record"]["id"]
    assert problem["schemaFile"] == "sources/github/github_schemas.py"
    schema_lines = schemas.read_text(encoding="utf-8").splitlines()
    assert '("title"' in schema_lines[problem["schemaLine"] - 1]
    assert schema_lines[problem["schemaLine"]].strip() == '("user", USER),'
    # Blame: the connector's schema, with the corpus value as related evidence.
    [diagnostic] = problem["diagnostics"]
    assert diagnostic["blame"] == "connector" and diagnostic["code"] == "spark.conversion"
    assert diagnostic["location"]["path"] == "sources/github/github_schemas.py"
    assert diagnostic["location"]["range"]["start"]["line"] == problem["schemaLine"] - 1
    assert diagnostic["related"][0]["location"]["path"] == problem["corpusFile"]
    assert "title" in diagnostic["message"] and "bigint" in diagnostic["message"]


def test_the_next_check_reads_the_repaired_code(stage: Session) -> None:
    [result] = stage.run(stage.stage.check_source("github", ["issues"]))
    assert result["outcome"] == "passed", result["problems"]


def test_records_lost_by_the_connector_are_a_count_problem_with_the_corpus_record(
    stage: Session, workspace: Path
) -> None:
    connector = workspace / "sources" / "github" / "github.py"
    original = edit(
        connector,
        'return iter(self._read_commit_window(partition["repo"], partition["since"], partition["until"]))',
        'return iter(self._read_commit_window(partition["repo"], partition["since"], partition["until"])[1:])',
    )
    try:
        [result] = stage.run(stage.stage.check_source("github", ["commits"]))
    finally:
        connector.write_text(original, encoding="utf-8")
    assert result["outcome"] == "failed"
    assert result["rows"] == result["expected"] - 2  # one commit lost per repository partition
    [problem] = result["problems"]
    assert problem["kind"] == "count" and problem["reason"] == "lost"
    assert len(problem["lost"]) == 2
    assert problem["corpusFile"] == "simulator/specs/github/corpus/commits.json"
    assert isinstance(problem["recordIndex"], int) and problem["corpusLine"] > 0
    [diagnostic] = problem["diagnostics"]
    assert diagnostic["blame"] == "connector" and diagnostic["location"]["path"] == "sources/github/github.py"
    line = connector.read_text(encoding="utf-8").splitlines()[
        diagnostic["location"]["range"]["start"]["line"]
    ]
    assert "def read_partition" in line


def test_a_source_without_options_or_tables_is_one_error_result(stage: Session) -> None:
    [result] = stage.run(stage.stage.check_source("github", ["no_such_table"]))
    assert result["table"] is None and result["outcome"] == "error"
    assert "no_such_table" in result["problems"][0]["message"]


def test_a_cancelled_check_does_not_confuse_the_next_request(stage: Session) -> None:
    async def cancel_then_ping() -> dict[str, Any]:
        task = asyncio.ensure_future(stage.stage.check_source("zendesk", ["groups"]))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await stage.stage.ping()

    assert stage.run(cancel_then_ping())["ok"] is True
    assert stage.stage.running


def _live_processes_in(directory: Path) -> list[int]:
    """Processes (not zombies) whose working directory is under ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd.startswith(str(directory)) and state != "Z":
            found.append(int(proc.name))
    return found


def test_stop_ends_the_worker_and_its_spark_processes(stage: Session) -> None:
    pid = stage.stage.info["pid"]
    scratch = stage.stage._scratch  # the worker, its JVM and Python workers all run in here
    assert pid in _live_processes_in(scratch) and len(_live_processes_in(scratch)) > 2
    stage.run(stage.stage.stop())
    assert not stage.stage.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _live_processes_in(scratch) == []
