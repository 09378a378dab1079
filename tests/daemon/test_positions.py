"""Positions and blame that issue 14 found off, through the real commands (``check``, ``run``):

- a byte that is not UTF-8 on line 6 of a corpus is reported on line 6, not line 1;
- a YAML key missing its ``:`` is reported on its own line, not the next one;
- a ``.py`` file with a non-UTF-8 byte in a comment imports fine in Python: no static error, and
  its tests pass;
- an object where the connector's schema and the other records hold an integer makes the connector
  raise, but the corpus value is the fault.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow
BIN = [sys.executable, "-m", "connector_watch.daemon"]
REPOSITORIES = "simulator/specs/github/corpus/repositories.json"
GITHUB_SPEC = "simulator/specs/github/endpoints.yaml"
GITHUB_CONNECTOR = "sources/github/github.py"


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BIN, *args, "--workspace", str(root)], cwd=root, capture_output=True, text=True, timeout=300
    )


def _check(root: Path, path: str) -> tuple[int, list[dict]]:
    result = _cli(root, "check", "--json", path)
    return result.returncode, json.loads(result.stdout)["diagnostics"]


@pytest.fixture
def github(tmp_path: Path) -> Path:
    return copy_examples(tmp_path / "workspace", sources=("github",))


def test_a_byte_that_is_not_utf8_is_reported_where_it_is(github: Path) -> None:
    path = github / REPOSITORIES
    lines = path.read_bytes().split(b"\n")
    assert lines[5].startswith(b'    "full_name": "'), lines[5]
    lines[5] = lines[5].replace(b'": "', b'": "\xff', 1)  # line 6, after `    "full_name": "`
    path.write_bytes(b"\n".join(lines))
    status, diagnostics = _check(github, REPOSITORIES)
    assert status == 1
    [diagnostic] = diagnostics
    start = diagnostic["location"]["range"]["start"]
    assert (start["line"], start["character"]) == (5, 18), diagnostic
    assert diagnostic["message"] == "not valid UTF-8: byte 0xff at line 6, column 19"


def test_a_yaml_key_missing_its_colon_is_reported_on_its_line(github: Path) -> None:
    path = github / GITHUB_SPEC
    lines = path.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.strip() == "method: GET")
    lines[number] = lines[number].replace("method: GET", "method GET")
    path.write_text("\n".join(lines), encoding="utf-8")
    status, diagnostics = _check(github, GITHUB_SPEC)
    assert status == 1
    syntax = [d for d in diagnostics if d["message"].startswith("YAML syntax error")]
    assert [d["location"]["range"]["start"]["line"] for d in syntax] == [number], syntax
    assert f"noticed at line {number + 2}" in syntax[0]["message"]


def test_a_python_file_with_a_latin1_comment_is_what_python_says_it_is(github: Path) -> None:
    path = github / GITHUB_CONNECTOR
    path.write_bytes(path.read_bytes().replace(b"\nimport time\n", b"\nimport time  # caf\xe9\n", 1))
    status, diagnostics = _check(github, GITHUB_CONNECTOR)
    assert (status, diagnostics) == (0, [])
    run = _cli(github, "run", "--json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert json.loads(run.stdout)["summary"]["failed"] == 0
    # A non-UTF-8 byte in a string literal is a real error, located as Python locates it.
    path.write_bytes(path.read_bytes().replace(b"# caf\xe9", b'; _ = "caf\xe9"', 1))
    status, diagnostics = _check(github, GITHUB_CONNECTOR)
    assert status == 1 and diagnostics[0]["message"].startswith("SyntaxError"), diagnostics


def test_an_object_where_the_corpus_holds_integers_is_the_corpus_fault(tmp_path: Path) -> None:
    root = copy_examples(tmp_path / "workspace", sources=("zendesk",))
    tickets = root / "simulator/specs/zendesk/corpus/tickets.json"
    records = json.loads(tickets.read_text(encoding="utf-8"))
    records[0]["id"] = {"value": 1}  # the connector puts ids in a set: TypeError, unhashable dict
    text = json.dumps(records, indent=2) + "\n"
    tickets.write_text(text, encoding="utf-8")
    value_line = text.split("\n").index('    "id": {')
    run = _cli(root, "run", "--json", "--no-causal")
    document = json.loads(run.stdout)
    failed = [r for r in document["results"] if r["outcome"] == "failed"]
    assert failed, document["summary"]
    for result in failed:
        [diagnostic] = result["diagnostics"]
        assert (diagnostic["blame"], diagnostic["location"]["path"]) == (
            "corpus",
            "simulator/specs/zendesk/corpus/tickets.json",
        ), diagnostic
        assert diagnostic["location"]["range"]["start"]["line"] == value_line, diagnostic
        assert "unhashable type: 'dict'" in diagnostic["message"]
        assert diagnostic["related"][0]["location"]["path"] == "sources/zendesk/zendesk.py"
