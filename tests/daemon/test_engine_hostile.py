"""Hostile input: the daemon keeps serving and every other file's diagnostics stay right.

A connector with a syntax error or an infinite loop, a worker that dies, a spec
that is not YAML, a 50 MB corpus, 500 saves in five seconds, a killed zygote.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time

import pytest
from connector_watch.daemon import events as ev
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

ZENDESK = "sources/zendesk/zendesk.py"
ZENDESK_SPEC = "simulator/specs/zendesk/endpoints.yaml"
GROUPS = "simulator/specs/zendesk/corpus/groups.json"
GITHUB_ISSUES = "simulator/specs/github/corpus/issues.json"
GET_LINE = "            response = self._session.get(url, params=params, timeout=REQUEST_TIMEOUT)\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    root = copy_examples(tmp_path_factory.mktemp("hostile"), sources=("zendesk", "github"))
    engine = LiveEngine(root, node_timeout=8.0)
    yield engine
    engine.close()


def _github_still_works(live: LiveEngine) -> None:
    """An unrelated source keeps running and reporting correctly."""
    original = live.read(GITHUB_ISSUES)
    issues = json.loads(original)
    issues[0]["title"] = issues[0]["title"] + " (edited)"
    events = live.save(GITHUB_ISSUES, json.dumps(issues, indent=2))
    finished = [e for e in events if isinstance(e, ev.TestFinished)]
    assert finished and all(e.outcome in ("passed", "skipped") for e in finished)
    live.save(GITHUB_ISSUES, original)


def test_a_connector_with_a_syntax_error(live: LiveEngine) -> None:
    original = live.read(ZENDESK)
    broken = original.replace(
        "    def list_tables(self) -> list[str]:", "    def list_tables(self -> list[str]:", 1
    )
    line = broken.splitlines().index("    def list_tables(self -> list[str]:")
    events = live.save(ZENDESK, broken)

    static = [e for e in events if isinstance(e, ev.DiagnosticsPublished) and e.path == ZENDESK]
    assert static and static[0].diagnostics[0].blame == "connector"
    assert abs(static[0].diagnostics[0].location.range.start.line - line) <= 1
    errors = live.failing()
    assert errors == {"tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py"}
    diagnostic = live.node_diagnostics(next(iter(errors)))[0]
    assert diagnostic.blame == "connector" and diagnostic.location.path == ZENDESK
    _github_still_works(live)
    live.save(ZENDESK, original)
    assert live.failing() == set()


def test_deleting_a_test_file_that_does_not_collect_clears_its_error(live: LiveEngine) -> None:
    broken = "tests/unit/sources/zendesk/test_scratch.py"
    live.save(broken, "def test_scratch(:\n    pass\n")
    assert broken in live.failing()
    assert live.node_diagnostics(broken)

    events = live.delete(broken)
    assert broken not in live.failing()
    assert not live.node_diagnostics(broken)
    assert any(isinstance(e, ev.NodesChanged) and broken in e.removed for e in events)
    assert not [d for ds in live.file_diagnostics().values() for d in ds if broken in d.node_ids]


def test_a_connector_that_never_returns_times_out_at_the_hanging_line(live: LiveEngine) -> None:
    original = live.read(ZENDESK)
    assert GET_LINE in original
    hang = "            while True:  # a bug: waits forever\n                pass\n"
    broken = original.replace(GET_LINE, hang + GET_LINE, 1)
    hang_line = broken.splitlines().index("                pass")
    events = live.save(ZENDESK, broken, timeout=120)
    timed_out = [e for e in events if isinstance(e, ev.TestFinished) and e.outcome == "timeout"]
    assert timed_out, [(e.node_id, e.outcome) for e in events if isinstance(e, ev.TestFinished)]
    diagnostic = timed_out[0].diagnostics[0]
    assert diagnostic.blame == "connector"
    assert diagnostic.location.path == ZENDESK
    assert diagnostic.location.range.start.line in (hang_line - 1, hang_line)
    live.save(ZENDESK, original, timeout=120)
    assert live.failing() == set()


def test_a_worker_that_dies_is_replaced_and_blamed_on_the_environment(live: LiveEngine) -> None:
    original = live.read(ZENDESK)
    crash = "            import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n"
    broken = original.replace(GET_LINE, crash + GET_LINE, 1)
    events = live.save(ZENDESK, broken, timeout=120)
    crashed = [e for e in events if isinstance(e, ev.TestFinished) and e.outcome == "crashed"]
    assert crashed
    assert crashed[0].diagnostics[0].blame == "environment"
    assert "signal 9" in crashed[0].diagnostics[0].message
    live.save(ZENDESK, original, timeout=120)
    assert live.failing() == set()


def test_a_hang_the_in_process_timeout_cannot_break_is_killed_once_and_reported_as_a_timeout(
    live: LiveEngine,
) -> None:
    hung = "tests/unit/sources/zendesk/test_scratch_hang.py"
    body = (
        "import signal, time\n\n\n"
        "def test_blocks_the_alarm():\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
        "    time.sleep(600)\n"
    )
    node = f"{hung}::test_blocks_the_alarm"
    pool = live.engine.pool
    hard_timeout = pool.hard_timeout
    live.run_in_loop(lambda: setattr(pool, "hard_timeout", pool.node_timeout + 2.0))  # the watchdog's limit
    try:
        events = live.save(hung, body, timeout=120)
    finally:
        live.run_in_loop(lambda: setattr(pool, "hard_timeout", hard_timeout))
    started = [e for e in events if isinstance(e, ev.TestStarted) and e.node_id == node]
    finished = [e for e in events if isinstance(e, ev.TestFinished) and e.node_id == node]
    assert len(started) == 1, "a node the watchdog killed was run again"
    assert [e.outcome for e in finished] == ["timeout"]
    assert finished[0].diagnostics and finished[0].diagnostics[0].code == "timeout"
    live.delete(hung)
    assert live.failing() == set()


def test_a_spec_that_is_not_yaml(live: LiveEngine) -> None:
    original = live.read(ZENDESK_SPEC)
    events = live.save(ZENDESK_SPEC, "endpoints: [\n  {path: /x, method: GET\n\x00 not yaml at all ::: {{{\n")
    static = [e for e in events if isinstance(e, ev.DiagnosticsPublished) and e.path == ZENDESK_SPEC]
    assert static and static[0].diagnostics[0].blame == "spec"
    assert "YAML" in static[0].diagnostics[0].message
    _github_still_works(live)
    live.save(ZENDESK_SPEC, original)
    assert live.failing() == set()


def test_a_50_megabyte_corpus(live: LiveEngine) -> None:
    original = live.read(GROUPS)
    groups = json.loads(original)
    template = groups[-1]
    big = list(groups)
    padding = "x" * 2000
    next_id = max(g["id"] for g in groups) + 1
    while len(big) * 2100 < 50_000_000:
        clone = dict(template, id=next_id, name=f"group {next_id}", description=padding)
        big.append(clone)
        next_id += 1
    text = json.dumps(big)
    assert len(text) >= 50_000_000
    started = time.monotonic()
    events = live.save(GROUPS, text, timeout=300)
    assert time.monotonic() - started < 300
    assert any(isinstance(e, ev.RunFinished) for e in events)
    _github_still_works(live)
    live.save(GROUPS, original, timeout=120)
    assert live.failing() == set()


def test_500_saves_in_5_seconds(live: LiveEngine) -> None:
    original = live.read(GITHUB_ISSUES)
    issues = json.loads(original)
    path = live.root / GITHUB_ISSUES
    mark = live.mark()
    started = time.monotonic()
    for i in range(500):
        issues[0]["title"] = f"burst {i}"
        path.write_text(json.dumps(issues, indent=2), encoding="utf-8")
        time.sleep(max(0.0, started + (i + 1) * 0.01 - time.monotonic()))
    # (how fast the writes went depends on the machine; the daemon's reaction is what is checked)
    final_digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    deadline = time.monotonic() + 30  # the last save was seen (once the kernel's event arrives)
    while live.run_in_loop(lambda: live.engine.history.digests.get(GITHUB_ISSUES)) != final_digest:
        assert time.monotonic() < deadline, "the daemon never saw the last save"
        time.sleep(0.05)
    live.wait_idle(120)
    # Every save was queued, not dropped: the last content is what the last run saw, and it passed.
    assert live.failing() == set(), {node: live.node_diagnostics(node) for node in live.failing()}
    runs = [e for e in live.events[mark:] if isinstance(e, ev.RunStarted)]
    assert 1 <= len(runs) < 500  # bursts are coalesced
    live.save(GITHUB_ISSUES, original)


def test_a_killed_zygote_is_replaced(live: LiveEngine) -> None:
    pid = live.run_in_loop(lambda: live.engine.pool.zygote_pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (
        live.run_in_loop(lambda: live.engine.pool._zygote.returncode) is None and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    _github_still_works(live)
    assert live.run_in_loop(lambda: live.engine.pool.zygote_pid) != pid
