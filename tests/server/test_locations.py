"""Locations for clients: ``file/excerpt`` (what a browser panel shows for a link: read-only, inside
the workspace only, never the daemon's private folder) and where each node is defined."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from connector_watch.daemon import protocol
from connector_watch.tests.server.support import Daemon, run

pytestmark = pytest.mark.slow  # a real `connector-watch serve` subprocess

CORPUS = "simulator/specs/zendesk/corpus/tickets.json"


def test_an_excerpt_is_the_lines_around_the_location(daemon: Daemon) -> None:
    lines = (daemon.root / CORPUS).read_text(encoding="utf-8").splitlines()

    async def scenario() -> None:
        async with await daemon.client() as client:
            result = await client.call("file/excerpt", {"path": CORPUS, "line": 20, "context": 3})
            assert result == {"path": CORPUS, "startLine": 17, "lines": lines[17:24], "totalLines": len(lines)}
            # An absolute path inside the workspace is the same file; the line is clamped to the file.
            last = await client.call("file/excerpt", {"path": str(daemon.root / CORPUS), "line": 10**6})
            assert last["path"] == CORPUS
            assert last["lines"][-1] == lines[-1]
            assert last["startLine"] == len(lines) - 1 - 8, "eight lines of context by default"

    run(scenario())


def test_an_excerpt_never_leaves_the_workspace_nor_reads_private_files(daemon: Daemon) -> None:
    root = daemon.root
    escape = root / ".connector-watch" / "escape"
    if not escape.is_symlink():
        os.symlink("/", escape)
    refused = {
        "../outside.py": protocol.PATH_OUTSIDE_WORKSPACE,
        "/etc/passwd": protocol.PATH_OUTSIDE_WORKSPACE,
        str(root.parent / (root.name + "-evil") / "x.py"): protocol.PATH_OUTSIDE_WORKSPACE,
        ".connector-watch/escape/etc/passwd": protocol.PATH_OUTSIDE_WORKSPACE,
        ".connector-watch/daemon.json": protocol.PATH_OUTSIDE_WORKSPACE,  # holds the token
        "sources/github/../../.connector-watch/session.json": protocol.PATH_OUTSIDE_WORKSPACE,
        ".git/config": protocol.PATH_OUTSIDE_WORKSPACE,
        "sources": protocol.FILE_NOT_READABLE,  # a folder
        "sources/github/no_such_file.py": protocol.FILE_NOT_READABLE,
    }

    async def scenario() -> None:
        async with await daemon.client() as client:
            for path, code in refused.items():
                error = await client.error("file/excerpt", {"path": path, "line": 0})
                assert error["code"] == code, (path, error)
            for params in ({"path": CORPUS}, {"path": CORPUS, "line": -1}, {"path": CORPUS, "line": 0, "context": 51},
                           {"path": CORPUS, "line": 0, "write": "x"}):
                error = await client.error("file/excerpt", params)
                assert error["code"] == protocol.INVALID_PARAMS, (params, error)
            assert (await client.call("file/excerpt", {"path": CORPUS, "line": 0}))["lines"]

    run(scenario())


def test_an_excerpt_needs_initialize_like_every_method(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with await daemon.client(initialize=False) as client:
            error = await client.error("file/excerpt", {"path": CORPUS, "line": 0})
            assert error["code"] == protocol.NOT_INITIALIZED

    run(scenario())


def test_nodes_say_where_their_test_and_its_table_parametrisation_are_defined(daemon: Daemon) -> None:
    async def scenario() -> dict:
        async with await daemon.client() as client:
            return client.snapshot

    snapshot = run(scenario())
    node = next(n for n in snapshot["nodes"] if n["name"] == "test_read_table" and n["table"] == "tickets")
    definition, parametrisation = node["definition"], node["parametrisation"]
    harness = Path(definition["path"])
    assert harness.name == "test_suite.py", "an inherited test is defined in the harness, not in its file"
    lines = harness.read_text(encoding="utf-8").splitlines()
    assert lines[definition["line"]].strip().startswith("def test_read_table(")
    assert parametrisation["path"] == definition["path"]
    assert lines[parametrisation["line"]].strip().startswith("@for_tables(")
    untabled = [n for n in snapshot["nodes"] if n["kind"] == "test" and "[" not in n["nodeId"]]
    assert untabled and all(n["parametrisation"] is None for n in untabled)
