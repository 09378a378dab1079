"""The counterfactual search (pure): hunks, ddmin, and what a trigger is, with trials as functions."""

from __future__ import annotations

import asyncio

from connector_watch.daemon.counterfactual import (
    FileChange,
    Unit,
    contents_for,
    ddmin,
    find_trigger,
    find_triggers,
    signature,
    trial_outcomes,
)
from connector_watch.daemon.hunks import apply, hunks

OLD = "a\nb\nc\nd\ne\nf\ng\n"
NEW = "a\nB\nc\nd\ne\nF\ng\nh\n"


def test_hunks_are_the_changed_regions_and_apply_any_subset() -> None:
    found = hunks("x.py", OLD, NEW)
    assert [(h.old_start, h.old_end, h.new_start, h.new_end) for h in found] == [
        (1, 2, 1, 2),
        (5, 6, 5, 6),
        (7, 7, 7, 8),
    ]
    assert apply(OLD, NEW, []) == OLD
    assert apply(OLD, NEW, found) == NEW
    assert apply(OLD, NEW, [found[0]]) == "a\nB\nc\nd\ne\nf\ng\n"
    assert apply(OLD, NEW, [found[1], found[2]]) == "a\nb\nc\nd\ne\nF\ng\nh\n"
    assert found[2].new_lines() == (7, 7) and found[2].describe() == "x.py line 8"
    merged = hunks("x.py", OLD, NEW, context=1)
    assert [(h.new_start, h.new_end) for h in merged] == [(1, 2), (5, 8)]


def test_a_deletion_points_at_the_line_now_standing_in_its_place() -> None:
    [gone] = hunks("x.py", "a\nb\nc\n", "a\nc\n")
    assert gone.new_lines() == (1, 1)


def run(coro):
    return asyncio.run(coro)


def test_ddmin_finds_the_one_change_that_fails() -> None:
    units = [Unit(f"f{i}") for i in range(8)]
    tried = []

    async def test(chosen):
        tried.append(len(chosen))
        return "fail" if Unit("f5") in chosen else "pass"

    assert run(ddmin(units, test)) == [Unit("f5")]
    assert len(tried) <= 8


def test_ddmin_finds_a_pair_that_fails_only_together() -> None:
    units = [Unit(f"f{i}") for i in range(6)]

    async def test(chosen):
        return "fail" if {Unit("f1"), Unit("f4")} <= set(chosen) else "pass"

    assert sorted(run(ddmin(units, test)), key=lambda u: u.path) == [Unit("f1"), Unit("f4")]


def change(path: str, before: str | None, after: str | None, kind: str = "corpus") -> FileChange:
    return FileChange(
        path, kind, None if before is None else before.encode(), None if after is None else after.encode()
    )


def test_the_trigger_is_the_failing_hunk_of_the_failing_file() -> None:
    changes = [change("spec.yaml", "x: 1\n", "x: 2\n", "spec"), change("conn.py", OLD, NEW, "connector")]
    seen = []

    async def trial(contents):
        seen.append(contents)
        return "fail" if b"F\n" in (contents["conn.py"] or b"") else "pass"

    evidence = run(find_trigger(changes, trial, base="last pass", base_passed=True))
    assert evidence.status == "trigger"
    [trigger] = evidence.triggers
    assert (trigger.path, trigger.first_line, trigger.last_line, trigger.kind) == ("conn.py", 5, 5, "connector")
    assert seen[0] == {"spec.yaml": b"x: 1\n", "conn.py": OLD.encode()}  # first: everything reverted
    assert evidence.trials == len(seen) <= 6


def test_failing_with_everything_reverted_is_not_caused_by_the_changes() -> None:
    async def trial(contents):
        return "fail"

    changes = [change("c.json", "[]", "[1]")]
    since_pass = run(find_trigger(changes, trial, base="last pass", base_passed=True))
    at_git = run(find_trigger(changes, trial, base="git HEAD", base_passed=False))
    assert (since_pass.status, since_pass.trials) == ("not-caused", 1)
    assert at_git.status == "pre-existing"


def test_a_new_file_is_one_whole_unit() -> None:
    async def trial(contents):
        return "fail" if contents["new.py"] is not None else "pass"

    evidence = run(find_trigger([change("new.py", None, "x = 1\n", "connector")], trial, base="b", base_passed=True))
    assert evidence.status == "trigger" and evidence.triggers[0].whole_file
    assert evidence.triggers[0].describe() == "new.py (new file)"


def test_contents_apply_chosen_hunks_over_the_baseline() -> None:
    c = change("conn.py", OLD, NEW, "connector")
    first = c.hunks()[0]
    assert contents_for([c], [Unit("conn.py", first)]) == {"conn.py": b"a\nB\nc\nd\ne\nf\ng\n"}
    assert contents_for([c], [Unit("conn.py")]) == {"conn.py": NEW.encode()}
    assert contents_for([c], []) == {"conn.py": OLD.encode()}


def test_a_trial_fails_only_the_way_the_node_failed() -> None:
    failed = {"outcome": "failed", "failure": {"chain": [{"type": "HarnessFailure", "harness": {"check": "ground_truth"}}]}}
    other = {"outcome": "failed", "failure": {"chain": [{"type": "KeyError"}]}}
    expected = {"n": signature(failed), "m": signature(other)}
    assert trial_outcomes(expected, {"n": failed, "m": other}) == {"n": "fail", "m": "fail"}
    assert trial_outcomes(expected, {"n": other, "m": {"outcome": "passed"}}) == {"n": "unresolved", "m": "pass"}
    assert trial_outcomes(expected, {}) == {"n": "unresolved", "m": "unresolved"}


def test_nodes_investigated_together_each_get_their_own_trigger() -> None:
    # Two corpus edits; node a breaks because of one, node b because of the other. Trials run both
    # nodes; each node's search reads its own outcome from them.
    changes = [change("a.json", "[1]", "[2]"), change("b.json", "[1]", "[3]")]
    trials = []

    async def trial(contents):
        trials.append(contents)
        return {
            "a": "fail" if contents["a.json"] == b"[2]" else "pass",
            "b": "fail" if contents["b.json"] == b"[3]" else "pass",
        }

    found = run(find_triggers(changes, trial, ["a", "b"], base="last pass", base_passed=True))
    assert [t.path for t in found["a"].triggers] == ["a.json"]
    assert [t.path for t in found["b"].triggers] == ["b.json"]
    assert len(trials) <= 3  # shared: revert all, then a.json alone, then b.json alone
