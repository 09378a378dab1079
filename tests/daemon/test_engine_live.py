"""The daemon end to end, as a user meets it: save a broken file, see exactly the affected nodes
turn red with the right blame at the right place, fix it, see them turn green.

A real engine: watchdog on a private copy of the examples, warm workers forking
pytest, the plugin, blame. Timing is not asserted here (see bench/latency.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connector_watch.daemon import events as ev
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
ZENDESK_SPEC = "simulator/specs/zendesk/endpoints.yaml"
GITHUB_CONNECTOR = "sources/github/github.py"
COMMITS = "simulator/specs/github/corpus/commits.json"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    root = copy_examples(tmp_path_factory.mktemp("workspace"), sources=("zendesk", "github"))
    engine = LiveEngine(root)
    yield engine
    engine.close()


def _source_nodes(live: LiveEngine, source: str) -> set[str]:
    return {n for n in live.outcomes() if f"/sources/{source}/" in n}


def test_first_run_is_green(live: LiveEngine) -> None:
    outcomes = live.outcomes()
    assert len(outcomes) > 40
    assert live.failing() == set()
    assert {o for o in outcomes.values()} <= {"passed", "skipped"}


def test_a_broken_corpus_record_reddens_only_its_tables_nodes_with_corpus_blame(live: LiveEngine) -> None:
    original = live.read(TICKETS)
    tickets = json.loads(original)
    tickets[3]["id"] = "not-a-number"
    events = live.save(TICKETS, json.dumps(tickets, indent=2))

    ran = live.ran_nodes(events)
    assert ran, "the corpus edit ran nothing"
    assert all("zendesk" in n for n in ran), f"nodes of other sources ran: {sorted(ran)}"
    assert all("[tickets]" in n for n in ran if "[" in n), f"nodes of other tables ran: {sorted(ran)}"
    failing = live.failing()
    assert failing and failing <= ran
    assert "test_read_table[tickets]" in " ".join(failing)

    node = next(n for n in failing if n.endswith("test_read_table[tickets]"))
    diagnostic = live.node_diagnostics(node)[0]
    assert diagnostic.blame == "corpus"
    assert diagnostic.location.path == TICKETS
    record_line = next(
        i for i, line in enumerate(json.dumps(tickets, indent=2).splitlines()) if '"not-a-number"' in line
    )
    assert diagnostic.location.range.start.line == record_line
    assert diagnostic.fix

    # The corpus lint found it on save too; the failing test says it once, with the lint as evidence.
    at_record = [d for d in live.file_diagnostics()[TICKETS] if d.location.range.start.line == record_line]
    assert len(at_record) == 1 and at_record[0].blame == "corpus"
    assert any(e.startswith("static check:") for e in at_record[0].evidence)

    live.save(TICKETS, original)
    assert live.failing() == set()
    assert not [d for d in live.file_diagnostics().get(TICKETS, []) if d.severity == "error"]


def test_a_broken_spec_key_is_a_located_spec_diagnostic(live: LiveEngine) -> None:
    original = live.read(ZENDESK_SPEC)
    broken = original.replace("pagination_style: next_url", "pagination_style: next_ur1", 1)
    assert broken != original
    line = next(i for i, text in enumerate(broken.splitlines()) if "next_ur1" in text)
    events = live.save(ZENDESK_SPEC, broken)

    published = [e for e in events if isinstance(e, ev.DiagnosticsPublished) and e.path == ZENDESK_SPEC]
    assert published, "no diagnostics were published for the spec"
    static = published[0].diagnostics
    assert static[0].blame == "spec" and static[0].location.range.start.line == line
    assert "next_url" in static[0].message  # did you mean

    ran = live.ran_nodes(events)
    assert ran and all("zendesk" in n for n in ran)
    failing = live.failing()
    assert failing and all("zendesk" in n for n in failing)
    for node in failing:
        diagnostics = live.node_diagnostics(node)
        assert diagnostics and diagnostics[0].blame == "spec"
        assert diagnostics[0].location.path == ZENDESK_SPEC
        assert diagnostics[0].location.range.start.line == line

    live.save(ZENDESK_SPEC, original)
    assert live.failing() == set()


def test_a_broken_connector_line_is_blamed_on_the_connector(live: LiveEngine) -> None:
    original = live.read(GITHUB_CONNECTOR)
    needle = "            updated = parse_timestamp(issue[ISSUE_CURSOR])\n"
    assert needle in original
    broken = original.replace(needle, needle.replace("ISSUE_CURSOR]", "'updated']"), 1)
    line = broken.splitlines().index(needle.replace("ISSUE_CURSOR]", "'updated']").rstrip("\n"))
    events = live.save(GITHUB_CONNECTOR, broken)

    ran = live.ran_nodes(events)
    assert ran and all("github" in n for n in ran), sorted(ran)
    failing = live.failing()
    assert failing and all("[issues]" in n for n in failing), sorted(failing)
    diagnostic = live.node_diagnostics(next(iter(failing)))[0]
    assert diagnostic.blame == "connector"
    assert diagnostic.location.path == GITHUB_CONNECTOR
    assert diagnostic.location.range.start.line == line
    assert "KeyError" in diagnostic.message

    live.save(GITHUB_CONNECTOR, original)
    assert live.failing() == set()


def test_a_comment_only_spec_edit_reruns_nothing(live: LiveEngine) -> None:
    original = live.read(ZENDESK_SPEC)
    events = live.save(ZENDESK_SPEC, "# a comment\n" + original, expect_run=False)
    assert not live.ran_nodes(events)
    live.save(ZENDESK_SPEC, original, expect_run=False)


def test_a_yaml_syntax_error_is_located_at_once(live: LiveEngine) -> None:
    original = live.read(ZENDESK_SPEC)
    events = live.save(ZENDESK_SPEC, original.replace("method: GET", "method: [GET", 1))
    published = [e for e in events if isinstance(e, ev.DiagnosticsPublished) and e.path == ZENDESK_SPEC]
    assert published and "YAML syntax error" in published[0].diagnostics[0].message
    live.save(ZENDESK_SPEC, original)
    assert live.failing() == set()


def test_touching_a_file_without_changing_it_does_nothing(live: LiveEngine) -> None:
    path = Path(live.root / TICKETS)
    mark = live.mark()
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(TimeoutError):
        live.wait_for(lambda e: isinstance(e, ev.FilesChanged), mark, timeout=1.0)


def test_a_save_during_a_run_cancels_it_and_carries_its_unfinished_nodes_over(live: LiveEngine) -> None:
    connector = "sources/zendesk/zendesk.py"
    original = live.read(connector)
    needle = "        per_page = self._page_size(table_options, LIST_MAX_PAGE_SIZE)\n"
    assert needle in original
    slow = original.replace(needle, needle + "        import time as _t; _t.sleep(1.0)\n", 1)
    mark = live.mark()
    (live.root / connector).write_text(slow, encoding="utf-8")
    live.wait_for(lambda e: isinstance(e, ev.TestStarted) and "[groups]" in e.node_id, mark, 60)
    (live.root / connector).write_text(original, encoding="utf-8")  # a newer save lands mid-run
    live.wait_for(lambda e: isinstance(e, ev.RunFinished) and e.cancelled, mark, 60)
    live.wait_for(lambda e: isinstance(e, ev.RunFinished) and not e.cancelled, mark, 120)
    live.wait_idle()
    events = live.events[mark:]
    starts = [e for e in events if isinstance(e, ev.RunStarted)]
    assert len(starts) >= 2
    assert any("interrupted by a newer change" in r for e in starts[1:] for n in e.nodes for r in n.reasons)
    assert live.failing() == set()


def test_a_change_to_the_preloaded_toolkit_restarts_the_workers(live: LiveEngine) -> None:
    path = "tests/harness/records.py"
    original = live.read(path)
    restarts = live.run_in_loop(lambda: live.engine.pool.restarts)
    pid = live.run_in_loop(lambda: live.engine.pool.zygote_pid)
    events = live.save(path, original + "\n# touched\n", timeout=180)
    assert live.run_in_loop(lambda: live.engine.pool.restarts) == restarts + 1
    assert live.run_in_loop(lambda: live.engine.pool.zygote_pid) != pid
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert len(started.nodes) == len(live.outcomes())  # everything reruns
    live.save(path, original, timeout=180)
    assert live.failing() == set()


def test_a_fault_already_in_a_corpus_at_start_is_blamed_with_the_corpus_lint(tmp_path: Path) -> None:
    """Nobody saved the corpus, so only the failure can prompt its lint; blame still cites it."""
    root = copy_examples(tmp_path, sources=("github",))
    commits = root / COMMITS
    records = json.loads(commits.read_text(encoding="utf-8"))
    records.append(dict(records[2]))
    commits.write_text(json.dumps(records, indent=2), encoding="utf-8")
    engine = LiveEngine(root)
    try:
        failing = [n for n in engine.failing() if n.endswith("[commits]")]
        assert failing
        diagnostics = [d for n in failing for d in engine.node_diagnostics(n)]
        duplicates = [d for d in diagnostics if d.code == "ground_truth.duplicates"]
        assert duplicates, [(d.code, d.message) for d in diagnostics]
        assert duplicates[0].blame == "corpus" and duplicates[0].location.path == COMMITS
        sha = records[2]["sha"]  # what an editor's diff view shows: once expected, twice returned
        assert duplicates[0].diff is not None and f"key {sha!r} x2" in duplicates[0].diff["actual"]
        assert f"key {sha!r} x1" in duplicates[0].diff["expected"]
        at_commits = engine.file_diagnostics()[COMMITS]
        assert any(e.startswith("static check:") for d in at_commits for e in d.evidence)
    finally:
        engine.close()
