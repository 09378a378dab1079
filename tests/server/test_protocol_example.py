"""Done when: a Python script using the ``websockets`` client and only daemon/PROTOCOL.md can
subscribe and drive runs. This runs the example session of PROTOCOL.md, as printed there, against a
live daemon whose GitHub corpus is broken, from the workspace directory as the page assumes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from connector_watch.daemon.diagnostics import BLAME_CATEGORIES
from connector_watch.tests.server.support import REPO, Daemon

pytestmark = pytest.mark.slow  # a real `connector-watch serve` subprocess

PROTOCOL_MD = REPO / "daemon" / "PROTOCOL.md"


def example_code() -> str:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    section = text[text.index("## Example session") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "PROTOCOL.md has no Python example session"
    code = match.group(1)
    assert "websockets" in code and "daemon.json" in code
    return code


def test_the_protocol_md_example_subscribes_and_drives_a_run(failing_daemon: Daemon, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example_code(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # straight to 127.0.0.1
    env.pop("PYTHONPATH", None)  # nothing of this repository: websockets and the standard library only
    done = subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=failing_daemon.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"\d+ nodes", lines[0]) and int(lines[0].split()[0]) > 0, done.stdout
    # The failing GitHub test was reported as the page says: blame, file, one-based line, message.
    blamed = [line.split(" ", 3) for line in lines[1:]]
    assert blamed, f"the example printed no diagnostic:\n{done.stdout}"
    for code, path, line, message in blamed:
        assert (
            code in BLAME_CATEGORIES and (failing_daemon.root / path).is_file() and int(line) >= 1 and message
        )
    assert ["corpus", "simulator/specs/github/corpus/issues.json"] in [b[:2] for b in blamed], done.stdout
    failing_daemon.assert_healthy()
