"""An edit that keeps a Python file's size within the same second must still run the new code.

Python's and pytest's bytecode caches trust mtime (whole seconds) and size; the daemon forgets
the cached compilation of every ``.py`` file it sees change.
"""

from __future__ import annotations

import py_compile
from pathlib import Path

import pytest
from connector_watch.daemon.bytecode import forget_bytecode
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

CONNECTOR = "sources/zendesk/zendesk.py"
GOOD = '        if table_name == "groups":'
BAD = '        if table_name != "groups":'  # same size


def test_forget_bytecode_removes_every_cached_compilation(tmp_path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("x = 1\n")
    cached = py_compile.compile(str(source))
    rewritten = tmp_path / "__pycache__" / "mod.cpython-311-pytest-8.4.0.pyc"
    rewritten.write_bytes(b"")
    other = tmp_path / "__pycache__" / "modular.cpython-311.pyc"
    other.write_bytes(b"")
    forget_bytecode(source)
    assert not Path(cached).exists()
    assert not rewritten.exists() and other.exists()


@pytest.mark.slow
def test_a_same_size_edit_within_a_second_runs_the_new_code(tmp_path) -> None:
    root = copy_examples(tmp_path, sources=("zendesk",))
    live = LiveEngine(root, node_timeout=15.0)
    try:
        good = live.read(CONNECTOR)
        assert GOOD in good
        bad = good.replace(GOOD, BAD, 1)
        for _ in range(3):
            live.save(CONNECTOR, bad)
            assert live.failing(), "the broken connector ran green (stale bytecode)"
            live.save(CONNECTOR, good)
            assert not live.failing(), "the fixed connector still fails (stale bytecode)"
    finally:
        live.close()
