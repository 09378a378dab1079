"""The language server in a real editor: Neovim (Debian's package), headless, its built-in LSP
client configured by tests/lsp/nvim/init.lua (the README's snippet), driven by
tests/lsp/nvim/drive.lua: open a corpus file, break a record and :write, read the diagnostics
back (``vim.diagnostic.get``); once the daemon has verified a fix, take it from the editor's code
action menu (``vim.lsp.buf.code_action``, the first item picked), :write, and see the diagnostics
clear and nothing left failing. The script writes what the editor showed to a JSON file this
test reads.

Skips (saying why) when ``nvim`` is absent; ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent / "nvim"
TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
DEADLINE = 150  # seconds the script may take before it gives up and says where it was


@pytest.fixture(scope="module")
def nvim() -> str:
    found = shutil.which("nvim")
    if found is None:
        message = "nvim is not installed (apt-get install neovim; .ci/run installs it)"
        print(f"SKIPPED: {message}")
        pytest.skip(message)
    return found


def run_editor(nvim: str, root: Path, out: Path) -> dict:
    env = {
        **os.environ,
        "CONNECTOR_WATCH_LSP_CMD": json.dumps(
            [sys.executable, "-m", "connector_watch.daemon", "lsp", "--jobs", "2"]
        ),
        "CW_OUT": str(out),
        "CW_CORPUS": TICKETS,
        "CW_DEADLINE": str(DEADLINE),
        "XDG_CONFIG_HOME": str(root / ".nvim-config"),  # no user configuration, no shada
        "XDG_DATA_HOME": str(root / ".nvim-data"),
        "XDG_STATE_HOME": str(root / ".nvim-state"),
    }
    started = time.monotonic()
    completed = subprocess.run(
        [
            nvim,
            "--headless",
            "-i",
            "NONE",
            "-u",
            str(HERE / "init.lua"),
            "-c",
            f"luafile {HERE / 'drive.lua'}",
        ],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=DEADLINE + 60,
    )
    assert out.is_file(), (
        f"nvim wrote no result (exit {completed.returncode}): {completed.stderr.decode()[-2000:]}"
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    result["wall_s"] = time.monotonic() - started
    return result


def broken_at_ms(result: dict) -> float:
    return result["saved_broken_at_ms"]


def test_neovim_shows_the_blamed_diagnostic_after_a_break_and_clears_it_after_the_fix(
    nvim: str, tmp_path: Path
) -> None:
    root = copy_examples(tmp_path / "ws", sources=("zendesk",))
    original = (root / TICKETS).read_text(encoding="utf-8")
    result = run_editor(nvim, root, tmp_path / "nvim.json")
    assert result.get("error") is None, result.get("error")
    steps = {step["step"]: step for step in result["steps"]}
    assert [s["step"] for s in result["steps"]] == ["first run", "broken", "fix offered", "fixed"]
    assert [d for d in steps["first run"]["diagnostics"] if d["severity"] == 1] == []

    broken = steps["broken"]
    from_tests = [d for d in broken["diagnostics"] if d["origin"] == "run"]
    assert len(from_tests) == 1
    diagnostic = from_tests[0]
    assert diagnostic["lnum"] == result["broken_line"]  # the record's line, as the editor shows it
    assert diagnostic["source"] == "connector-watch(corpus)"
    assert diagnostic["code"] == "read.schema_parse"
    assert "not-a-number" in diagnostic["message"]
    assert any(n.endswith("test_read_table[tickets]") for n in diagnostic["nodeIds"])

    # The verified fix, offered in the editor's code action menu and applied by the editor.
    offered = steps["fix offered"]
    fixes = next(d["fixes"] for d in offered["diagnostics"] if d["origin"] == "run")
    assert offered["titles"] and all(title.startswith("Verified: ") for title in offered["titles"])
    assert offered["titles"][0] == f"Verified: {fixes[0]['title']} (1 test passes)"
    assert offered["line_after"] == offered["original_line"]  # the fix undid the breaking edit

    fixed = steps["fixed"]
    assert [d for d in fixed["diagnostics"] if d["severity"] == 1] == []
    assert fixed["rerun_failed"] == {"accepted": False, "nodeIds": []}  # every node is green
    assert (root / TICKETS).read_text(encoding="utf-8") == original  # the editor's :write, not the daemon
    print(
        f"neovim: save → diagnostic {broken['save_to_diagnostic_ms']:.0f} ms, "
        f"save → verified fix offered {offered['at_ms'] - broken_at_ms(result):.0f} ms, "
        f"fix applied and saved → cleared {fixed['save_to_clear_ms']:.0f} ms, editor session {result['wall_s']:.1f} s"
    )
