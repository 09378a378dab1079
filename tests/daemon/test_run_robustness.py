"""Runs that go wrong outside the tests' assertions: a worker that dies, pytest that stops before
collecting, hangs at import or in one xdist worker, a killed ``run``, paths given from elsewhere,
files that are not UTF-8. Each is reported (and fails CI), never silently dropped.

The one-shot command is driven as CI drives it (``python -m daemon run --json``); the watch mode
through a real engine with warm workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from connector_watch.daemon import events as ev
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow
BIN = [sys.executable, "-m", "connector_watch.daemon"]
GITHUB_TESTS = "tests/unit/sources/github"
GITHUB_TEST_FILE = f"{GITHUB_TESTS}/test_github_lakeflow_connect.py"
GITHUB_CONNECTOR = "sources/github/github.py"
GITHUB_ISSUES = "simulator/specs/github/corpus/issues.json"
SOURCES_CONFTEST = "tests/unit/sources/conftest.py"
NOT_UTF8 = b'[{"title": "caf\xe9"}]\n'


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root)}


def _cli(root: Path, command: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BIN, command, "--workspace", str(root), *args],
        cwd=cwd or root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run_json(root: Path, *args: str) -> tuple[int, dict]:
    result = _cli(root, "run", "--json", *args)
    assert result.stdout, result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def _results(document: dict) -> dict[str, dict]:
    return {r["nodeId"]: r for r in document["results"]}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_examples(tmp_path / "workspace", sources=("github",))


def _write(root: Path, relative: str, text: str) -> None:
    (root / relative).write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------- run (pytest-xdist)


def test_a_worker_that_dies_in_run_is_reported_as_crashed_and_fails_the_run(workspace: Path) -> None:
    _write(
        workspace,
        f"{GITHUB_TESTS}/test_crash.py",
        "import os\nimport signal\n\n\ndef test_crash():\n    os.kill(os.getpid(), signal.SIGKILL)\n\n\n"
        "def test_ok():\n    pass\n",
    )
    status, document = _run_json(workspace)
    results = _results(document)
    crash = results[f"{GITHUB_TESTS}/test_crash.py::test_crash"]
    assert crash["outcome"] == "crashed"
    assert crash["diagnostics"] and crash["diagnostics"][0]["blame"] == "environment"
    assert results[f"{GITHUB_TESTS}/test_crash.py::test_ok"]["outcome"] == "passed"
    assert document["summary"]["crashed"] == 1
    assert status == 1


def test_a_conftest_that_breaks_pytest_before_collection_fails_the_run_at_its_line(workspace: Path) -> None:
    _write(workspace, SOURCES_CONFTEST, 'import os\n\nraise RuntimeError("the conftest is broken")\n')
    status, document = _run_json(workspace)
    results = _results(document)
    assert status == 1
    assert results[GITHUB_TEST_FILE]["outcome"] == "error"
    assert "the conftest is broken" in results[GITHUB_TEST_FILE]["message"]
    diagnostic = results[GITHUB_TEST_FILE]["diagnostics"][0]
    assert diagnostic["location"]["path"] == SOURCES_CONFTEST
    assert diagnostic["location"]["range"]["start"]["line"] == 2
    assert document["summary"]["error"] >= 1


def test_a_module_that_hangs_at_import_times_out_at_the_hanging_line(workspace: Path) -> None:
    hung = f"{GITHUB_TESTS}/test_hangs_at_import.py"
    _write(workspace, hung, "import time\n\ntime.sleep(100000)\n\n\ndef test_never():\n    pass\n")
    status, document = _run_json(workspace, "--timeout", "2")
    results = _results(document)
    assert status == 1
    assert results[hung]["outcome"] == "error"
    assert "importing" in results[hung]["message"] and "timeout" in results[hung]["message"]
    diagnostic = results[hung]["diagnostics"][0]
    assert diagnostic["location"]["path"] == hung and diagnostic["location"]["range"]["start"]["line"] == 2
    assert results[f"{GITHUB_TEST_FILE}::TestGithubConnector::test_list_tables"]["outcome"] == "passed"


def test_an_import_the_alarm_cannot_break_is_killed_by_the_watchdog_and_named(workspace: Path) -> None:
    hung = f"{GITHUB_TESTS}/test_hangs_in_a_subprocess.py"
    _write(workspace, hung, 'import os\n\nos.system("sleep 300")\n\n\ndef test_never():\n    pass\n')
    status, document = _run_json(workspace, "--timeout", "1")
    results = _results(document)
    assert status == 1
    assert results[hung]["outcome"] == "error"
    assert f"importing {hung} did not finish" in results[hung]["message"]
    assert results[hung]["diagnostics"][0]["location"]["path"] == hung
    # The other file of the run was run all the same.
    assert results[f"{GITHUB_TEST_FILE}::TestGithubConnector::test_list_tables"]["outcome"] == "passed"


def test_a_hang_in_one_xdist_worker_is_killed_while_the_others_carry_on(workspace: Path) -> None:
    hung = f"{GITHUB_TESTS}/test_one_hangs.py"
    fast = "".join(f"def test_fast_{i}():\n    pass\n\n\n" for i in range(30))
    _write(workspace, hung, f"import os\n\n\ndef test_a_hang():\n    os.system('sleep 300')\n\n\n{fast}")
    status, document = _run_json(workspace, "--timeout", "1", "--jobs", "2")
    results = _results(document)
    assert status == 1
    assert results[f"{hung}::test_a_hang"]["outcome"] == "timeout"
    assert all(results[f"{hung}::test_fast_{i}"]["outcome"] == "passed" for i in range(30))
    assert document["summary"]["timeout"] == 1


def test_a_killed_run_takes_its_pytest_processes_with_it(workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pids"
    _write(
        workspace,
        f"{GITHUB_TESTS}/test_sleeps.py",
        "import os\nimport time\nfrom pathlib import Path\n\n\ndef test_sleeps():\n"
        f"    Path({str(marker)!r}).write_text(f'{{os.getpid()}} {{os.getppid()}}')\n"
        "    time.sleep(120)\n",
    )
    run = subprocess.Popen(
        [*BIN, "run", "--workspace", str(workspace), "--json", "--timeout", "200"],
        cwd=workspace,
        env=_env(workspace),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.is_file() or len(marker.read_text().split()) < 2:
            assert run.poll() is None and time.monotonic() < deadline, "the sleeping test never started"
            time.sleep(0.1)
        worker, pytest_process = (int(pid) for pid in marker.read_text().split())
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 128 + signal.SIGTERM
        assert not _alive_after(worker, 10) and not _alive_after(pytest_process, 10)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def _alive_after(pid: int, seconds: float) -> bool:
    """Whether ``pid`` still runs (not a zombie) ``seconds`` from now at the latest."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------------------- paths and encodings


def test_relative_paths_are_taken_from_the_workspace_not_the_current_directory(
    workspace: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _cli(workspace, "run", "--json").returncode == 0  # writes the index --changed reads

    status, document = _run_json_from(workspace, elsewhere, "--changed", GITHUB_CONNECTOR)
    assert status == 0 and document["summary"]["total"] > 0
    impact = _cli(workspace, "impact", GITHUB_CONNECTOR, cwd=elsewhere)
    assert impact.returncode == 0 and json.loads(impact.stdout)["nodes"]
    check = _cli(workspace, "check", GITHUB_ISSUES, cwd=elsewhere)
    assert check.returncode == 0 and "1 file(s) checked" in check.stdout

    outside = tmp_path / "outside.json"
    outside.write_text("[]\n")
    for command, args in (("run", ["--changed", str(outside)]), ("check", [str(outside)])):
        result = _cli(workspace, command, *args, cwd=elsewhere)
        assert result.returncode == 2 and "outside the workspace" in result.stderr, result.stderr
    assert _cli(workspace, "impact", "../outside.json", cwd=elsewhere).returncode == 2
    missing = _cli(workspace, "check", "no-such.json", cwd=elsewhere)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def _run_json_from(root: Path, cwd: Path, *args: str) -> tuple[int, dict]:
    result = _cli(root, "run", "--json", *args, cwd=cwd)
    assert result.stdout, result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def test_check_and_run_report_a_corpus_that_is_not_utf8(workspace: Path) -> None:
    (workspace / GITHUB_ISSUES).write_bytes(NOT_UTF8)
    check = _cli(workspace, "check", "--json", GITHUB_ISSUES)
    assert check.returncode == 1
    diagnostics = json.loads(check.stdout)["diagnostics"]
    assert [
        (d["message"], d["location"]["path"], d["location"]["range"]["start"]["line"]) for d in diagnostics
    ] == [("not valid UTF-8: byte 0xe9 at line 1, column 16", GITHUB_ISSUES, 0)]
    status, document = _run_json(workspace)
    assert status == 1
    assert any(d["message"] == "not valid UTF-8: byte 0xe9 at line 1, column 16" for d in document["staticDiagnostics"])


# ---------------------------------------------------------------------------- watch (warm workers)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    root = copy_examples(tmp_path_factory.mktemp("robustness"), sources=("github",))
    engine = LiveEngine(root, node_timeout=3.0)
    yield engine
    engine.close()


def test_watch_a_broken_conftest_turns_the_test_files_into_errors(live: LiveEngine) -> None:
    events = live.save(SOURCES_CONFTEST, 'raise RuntimeError("the conftest is broken")\n', timeout=90)
    finished = [e for e in events if isinstance(e, ev.RunFinished) and not e.cancelled]
    assert finished[-1].counts["error"] >= 1
    assert GITHUB_TEST_FILE in live.failing()
    diagnostic = live.node_diagnostics(GITHUB_TEST_FILE)[0]
    assert diagnostic.location.path == SOURCES_CONFTEST and "the conftest is broken" in diagnostic.message
    live.delete(SOURCES_CONFTEST, timeout=90)
    assert live.failing() == set()


def test_watch_a_module_that_hangs_at_import_finishes_the_run(live: LiveEngine) -> None:
    hung = f"{GITHUB_TESTS}/test_hangs_at_import.py"
    live.save(hung, "import time\n\ntime.sleep(100000)\n\n\ndef test_never():\n    pass\n", timeout=60)
    assert hung in live.failing()
    diagnostic = live.node_diagnostics(hung)[0]
    assert diagnostic.location.path == hung and diagnostic.location.range.start.line == 2
    live.delete(hung)
    assert live.failing() == set()


def test_watch_a_corpus_saved_as_latin1_gets_an_encoding_error(live: LiveEngine) -> None:
    original = (live.root / GITHUB_ISSUES).read_bytes()
    mark = live.mark()
    (live.root / GITHUB_ISSUES).write_bytes(NOT_UTF8)
    published = live.wait_for(
        lambda e: isinstance(e, ev.DiagnosticsPublished) and e.path == GITHUB_ISSUES and bool(e.diagnostics),
        mark,
        timeout=60,
    )
    assert [d.message for d in published.diagnostics] == ["not valid UTF-8: byte 0xe9 at line 1, column 16"]
    live.wait_idle()
    mark = live.mark()
    (live.root / GITHUB_ISSUES).write_bytes(original)
    live.wait_for(lambda e: isinstance(e, ev.FilesChanged) and GITHUB_ISSUES in e.paths, mark, timeout=60)
    live.wait_idle()
    assert not live.file_diagnostics().get(GITHUB_ISSUES)
    assert live.failing() == set()
