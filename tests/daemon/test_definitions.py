"""Where a test is defined, as editors place it: the harness method's ``def`` line for inherited
tests, and the decorator that parametrises its table."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from connector_watch.daemon.definitions import definition_lines
from connector_watch.tests.unit.sources.test_suite import LakeflowConnectTests


def _lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def test_an_inherited_harness_test_is_at_its_def_line_with_its_for_tables_decorator() -> None:
    harness = inspect.getsourcefile(LakeflowConnectTests)
    definition, parametrisation = definition_lines(LakeflowConnectTests.test_get_table_schema, lambda p: p)
    assert definition is not None and parametrisation is not None
    assert definition["path"] == harness
    lines = _lines(harness)
    assert lines[definition["line"]].strip().startswith("def test_get_table_schema(")
    assert lines[parametrisation["line"]].strip() == '@for_tables("all")'
    assert parametrisation["line"] == definition["line"] - 1


def test_paths_are_what_the_relative_function_makes_them() -> None:
    definition, _ = definition_lines(LakeflowConnectTests.test_get_table_schema, lambda p: "harness.py")
    assert definition is not None and definition["path"] == "harness.py"


@pytest.mark.parametrize("table", ["a"])
def _sample(table: str) -> None:  # a user's own parametrisation, two lines above the def
    pass


def test_a_pytest_parametrize_of_table_is_a_parametrisation() -> None:
    definition, parametrisation = definition_lines(_sample, lambda p: p)
    assert definition is not None and parametrisation is not None
    lines = _lines(__file__)
    assert lines[parametrisation["line"]].startswith('@pytest.mark.parametrize("table"')
    assert lines[definition["line"]].startswith("def _sample(")


def test_no_function_no_definition() -> None:
    assert definition_lines(None, lambda p: p) == (None, None)
    assert definition_lines(len, lambda p: p) == (None, None)  # a builtin has no source
