"""The terminal screen's layout (pure): it fits any terminal, keeps the key line last, counts exactly."""

from __future__ import annotations

from collections import Counter

import pytest
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.problems import Problem, Recency, collect
from connector_watch.daemon.screen import (
    LIST_KEYS,
    Model,
    View,
    _nodes_line,
    detail_lines,
    diff_lines,
    render,
)
from rich.console import Console


def _diagnostic(path: str, line: int, nodes: list[str], blame: str = "corpus", **extra) -> Diagnostic:
    return Diagnostic(
        blame, f"bad value at {path}:{line}", Location(path, Range.lines(line)), node_ids=nodes, **extra
    )


def _model(problems: int, sources: int = 4) -> Model:
    diagnostics = {
        f"simulator/specs/s{i}/corpus/t.json": [
            _diagnostic(
                f"simulator/specs/s{i}/corpus/t.json",
                i,
                [f"tests/t{i}.py::T::test_read_table[t{j}]" for j in range(i + 1)],
            )
        ]
        for i in range(problems)
    }
    return Model(
        root="/w",
        sources={f"source{i}": Counter(passed=10, failed=i % 2) for i in range(sources)},
        problems=Recency().order(collect(diagnostics, {}, [])),
    )


def _plain(lines) -> list[str]:
    console = Console(width=200, record=True, color_system=None)
    return [
        "".join(seg.text for seg in console.render(line, console.options.update(width=10_000))).rstrip("\n")
        for line in lines
    ]


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (40, 12), (200, 8)])
@pytest.mark.parametrize("problems", [0, 3, 30])
def test_the_screen_fits_and_the_key_line_is_last(width: int, height: int, problems: int) -> None:
    model, view = _model(problems, sources=12), View()
    for selected in (0, problems // 2, problems - 1):
        view.selected = max(selected, 0)
        lines = _plain(render(model, view, width, height))
        assert len(lines) == height
        assert all(len(line) <= width for line in lines), max(lines, key=len)
        assert lines[-1].startswith(LIST_KEYS[: width - 1].rstrip("…")[:10])
        if problems:
            assert any(line.startswith("> ") for line in lines), "the selection is always on screen"


def test_a_long_list_says_what_is_above_and_below() -> None:
    model, view = _model(30), View(selected=12)
    lines = _plain(render(model, view, 80, 24))
    above = next(line for line in lines if "more above" in line)
    below = next(line for line in lines if "more below" in line)
    shown = sum(1 for line in lines if line.startswith(("> ", "   ")) and "more" not in line)
    assert int(above.split()[1]) + shown + int(below.split()[1]) == 30


def test_more_sources_than_rows_are_summed_up() -> None:
    lines = _plain(render(_model(0, sources=40), View(), 80, 24))
    assert any(line.startswith("+") and "more sources" in line for line in lines)


@pytest.mark.parametrize("count", [1, 2, 5, 40])
@pytest.mark.parametrize("width", [30, 80, 200])
def test_plus_n_more_is_exact(count: int, width: int) -> None:
    nodes = [f"tests/a.py::TestA::test_read_table[table_{i}]" for i in range(count)]
    line = _nodes_line(nodes, width)
    assert len(line) <= width
    head, _, rest = line.partition(": ")
    assert head.strip() == f"{count} test{'s' if count > 1 else ''}"
    names, _, more = rest.partition(" +")
    shown = len(names.split(", "))
    assert shown + (int(more.split()[0]) if more else 0) == count


def test_the_newest_root_cause_comes_first_and_errors_before_warnings() -> None:
    recency = Recency()
    old = Problem(key=("a",), message="old")
    warning = Problem(key=("w",), message="lint", severity="warning")
    assert [p.message for p in recency.order([old, warning])] == ["old", "lint"]
    new = Problem(key=("b",), message="new")
    assert [p.message for p in recency.order([old, warning, new])] == ["new", "old", "lint"]


def test_one_entry_per_root_cause_and_failing_tests_without_a_diagnostic() -> None:
    shared = _diagnostic("c.json", 3, ["t.py::T::b", "t.py::T::a"])  # the engine merged two tests' finding
    problems = collect({"c.json": [shared]}, {"t.py::T::a": "x", "t.py::T::z": "boom"}, [])
    assert len(problems) == 2
    assert problems[0].node_ids == ["t.py::T::a", "t.py::T::b"]
    assert (
        problems[1].blame is None and problems[1].message == "boom" and problems[1].node_ids == ["t.py::T::z"]
    )
    assert problems[0].matches("C.JSON") and problems[0].matches(test_filter="::b")
    assert not problems[0].matches("zendesk") and not problems[0].matches(test_filter="z")


def test_details_show_evidence_related_places_and_the_diff() -> None:
    d = _diagnostic(
        "sources/z/z.py",
        9,
        ["t.py::T::test_read_matches_corpus[groups]"],
        blame="connector",
        evidence=["12 record(s) lost"],
        fix="follow the next page",
        related=[
            Related(Location("simulator/specs/z/endpoints.yaml", Range.lines(93)), "the pagination style")
        ],
        diff={"expected": "header\ngroups[8]: returned\nsame", "actual": "header\ngroups[8]: missing\nsame"},
    )
    text = "\n".join(_plain(detail_lines(collect({"sources/z/z.py": [d]}, {}, [])[0], 80)))
    assert "at sources/z/z.py:10:1" in text
    assert "evidence (1):" in text and "12 record(s) lost" in text
    assert "related (1):" in text and "simulator/specs/z/endpoints.yaml:94:1  the pagination style" in text
    assert "  - groups[8]: returned" in text and "  + groups[8]: missing" in text
    assert diff_lines("a\nb\nc", "a\nx\nc") == [(" ", "a"), ("-", "b"), ("+", "x"), (" ", "c")]


def test_details_list_the_fixes_the_daemon_verified() -> None:
    from connector_watch.daemon.diagnostics import TextEdit, VerifiedFix

    fix = VerifiedFix(
        "restore the paging line",
        (TextEdit("sources/z/z.py", Range.lines(9), "page += 1"),),
        ("t.py::T::a",),
        "1 test passed with the fix applied",
    )
    d = _diagnostic("sources/z/z.py", 9, ["t.py::T::a"], blame="connector", fixes=[fix])
    text = "\n".join(_plain(detail_lines(collect({"sources/z/z.py": [d]}, {}, [])[0], 80)))
    assert "verified fixes (1)" in text and "restore the paging line" in text


def test_a_revised_verdict_keeps_its_place_and_the_selection_follows_its_problem() -> None:
    first = _diagnostic("c.json", 3, ["t.py::T::a"])
    other = _diagnostic("d.json", 7, ["t.py::T::b"])
    recency = Recency()
    model = Model(problems=recency.order(collect({"c.json": [first], "d.json": [other]}, {}, [])))
    view = View()
    view.select(model, 1)
    selected = model.problems[1].key
    revised = Diagnostic(**{**first.__dict__, "message": first.message + " — caused by the edit at c.json line 4"})
    newer = _diagnostic("e.json", 1, ["t.py::T::c"])
    model.problems = recency.order(collect({"c.json": [revised], "d.json": [other], "e.json": [newer]}, {}, []))
    assert [p.path for p in model.problems] == ["e.json", "d.json", "c.json"], "only a new root cause goes to the top"
    view.clamp(model)
    assert model.problems[view.selected].key == selected
