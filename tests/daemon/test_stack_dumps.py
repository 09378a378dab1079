"""Where a worker was when it called ``os._exit``: the dump names the caller, not the wrapper.

A real process arms :class:`StackDumps` and calls ``os._exit`` from a function; the dump it leaves
is parsed as the pool parses a lost worker's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from connector_watch.daemon.pytest_output import stack_dump_frames

PROGRAM = """
import os
from connector_watch.daemon.stack_dumps import StackDumps

StackDumps({stacks!r})


def read_table():
    os._exit(3)


read_table()
"""


def test_the_deepest_frame_of_an_os_exit_dump_is_the_code_that_called_it(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    program = tmp_path / "connector.py"
    program.write_text(PROGRAM.format(stacks=str(stacks)), encoding="utf-8")
    finished = subprocess.run([sys.executable, str(program)], cwd=tmp_path, timeout=60)
    assert finished.returncode == 3
    (dump,) = stacks.glob("*.txt")
    reason, frames = stack_dump_frames(dump.read_text(encoding="utf-8"), str(tmp_path))
    assert reason == "os._exit(3) called"
    assert frames, dump.read_text()
    deepest = frames[-1]
    assert (deepest["file"], deepest["function"]) == ("connector.py", "read_table"), frames
    assert deepest["line"] == PROGRAM.splitlines().index("    os._exit(3)") + 1
    assert not any(f["file"].endswith("stack_dumps.py") for f in frames), frames
