"""``connector-watch lsp`` end to end, through pytest-lsp: the server is a subprocess speaking LSP
on stdio, on a private copy of the examples (zendesk), with real workers, watcher and blame.

One server for the module (its first run takes seconds); the tests run in order and each leaves
the workspace as it found it. Timing is not asserted here (only bounded by timeouts).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from connector_watch.tests.support.workspace import copy_examples
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

SPEC = "simulator/specs/zendesk/endpoints.yaml"
TICKETS = "simulator/specs/zendesk/corpus/tickets.json"
READ_TICKETS = "TestZendeskConnector::test_read_table[tickets]"
SERVER = [sys.executable, "-m", "connector_watch.daemon", "lsp", "--jobs", "2"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_examples(tmp_path_factory.mktemp("lsp") / "ws", sources=("zendesk",))


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, workspace: Path):
    capabilities = t.ClientCapabilities(
        window=t.WindowClientCapabilities(work_done_progress=True),
        text_document=t.TextDocumentClientCapabilities(
            publish_diagnostics=t.PublishDiagnosticsClientCapabilities(related_information=True)
        ),
    )
    await lsp_client.initialize_session(
        t.InitializeParams(capabilities=capabilities, root_uri=workspace.as_uri())
    )
    # Every test starts from the daemon's settled first run (whichever test of the file runs first).
    await until(
        lambda: lsp_client.progress_reports and len(ended_runs(lsp_client)) == len(lsp_client.progress_reports),
        120,
        "the first run to end",
    )
    yield
    await lsp_client.shutdown_session()


async def until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def uri(root: Path, path: str) -> str:
    return (root / path).as_uri()


def ended_runs(client: LanguageClient) -> dict[str, list[Any]]:
    return {
        token: values
        for token, values in client.progress_reports.items()
        if values and values[-1].kind == "end"
    }


def diagnostics(client: LanguageClient, root: Path, path: str) -> list[t.Diagnostic]:
    return list(client.diagnostics.get(uri(root, path), []))


async def test_the_first_run_reports_progress_and_the_examples_are_clean(
    client: LanguageClient, workspace: Path
) -> None:
    runs = await until(lambda: ended_runs(client), 180, "the first run to end")
    token, values = next(iter(runs.items()))
    assert token == "connector-watch/run/1"
    assert values[0].kind == "begin" and values[0].title == "connector-watch"
    reports = [v for v in values if v.kind == "report"]
    assert reports and reports[-1].percentage == 100
    assert "passed" in values[-1].message and "failed" not in values[-1].message
    errors = [d for ds in client.diagnostics.values() for d in ds if d.severity == t.DiagnosticSeverity.Error]
    assert errors == []
    assert any("workers ready" in m.message for m in client.log_messages)


async def test_a_broken_corpus_record_is_a_located_blamed_diagnostic_and_clears_when_fixed(
    client: LanguageClient, workspace: Path
) -> None:
    corpus = workspace / TICKETS
    original = corpus.read_text(encoding="utf-8")
    # One line changed, as a user would: the fourth record's id.
    lines = original.splitlines(keepends=True)
    record_line = [i for i, line in enumerate(lines) if re.fullmatch(r'    "id": \d+,\n', line)][3]
    lines[record_line] = '    "id": "not-a-number",\n'
    broken = "".join(lines)
    corpus.write_text(broken, encoding="utf-8")

    def from_the_test() -> list[t.Diagnostic]:
        return [d for d in diagnostics(client, workspace, TICKETS) if d.data.get("origin") == "run"]

    found = await until(from_the_test, 60, "the failing test's diagnostic")
    assert len(found) == 1
    diagnostic = found[0]
    assert diagnostic.source == "connector-watch(corpus)"
    assert diagnostic.severity == t.DiagnosticSeverity.Error
    assert diagnostic.range.start.line == record_line
    assert diagnostic.code == diagnostic.data["check"]
    assert diagnostic.data["path"] == TICKETS and diagnostic.data["blame"] == "corpus"
    assert any(node.endswith(READ_TICKETS) for node in diagnostic.data["nodeIds"])
    assert diagnostic.data["fix"]
    for related in diagnostic.related_information or []:
        assert related.location.uri.startswith(workspace.as_uri() + "/")
    # The causal verdict arrives later (test/revised): the file's diagnostics are published again.
    revised = await until(
        lambda: [d for d in from_the_test() if (d.data.get("causal") or {}).get("status") != "pending"],
        120,
        "the causal verdict",
    )
    assert revised[0].data["causal"]["status"] == "trigger"
    assert revised[0].data["causal"]["triggers"][0]["location"]["path"] == TICKETS

    # The daemon proves a fix on the overlay (the corpus edit undone); the editor gets it as a quick
    # fix, applies its edit (the daemon never writes) and saves: the nodes go green.
    proven = await until(lambda: [d for d in from_the_test() if d.data.get("fixes")], 60, "a verified fix")
    diagnostic = proven[0]
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(
            t.TextDocumentIdentifier(uri(workspace, TICKETS)),
            diagnostic.range,
            t.CodeActionContext(diagnostics=[diagnostic], only=[t.CodeActionKind.QuickFix]),
        )
    )
    assert actions is not None and len(actions) == len(diagnostic.data["fixes"])
    action = actions[0]
    assert isinstance(action, t.CodeAction)
    assert action.kind == t.CodeActionKind.QuickFix and action.is_preferred
    assert action.title.startswith("Verified: ") and action.title.endswith("(1 test passes)")
    assert corpus.read_text(encoding="utf-8") == broken  # offering it wrote nothing
    # With unsaved edits in the client's buffer the fix's ranges mean nothing there: not offered.
    document = uri(workspace, TICKETS)
    client.text_document_did_open(
        t.DidOpenTextDocumentParams(t.TextDocumentItem(document, "json", 1, "\n" + broken))
    )
    asked = t.CodeActionParams(
        t.TextDocumentIdentifier(document),
        diagnostic.range,
        t.CodeActionContext(diagnostics=[diagnostic], only=[t.CodeActionKind.QuickFix]),
    )
    assert not await client.text_document_code_action_async(asked)
    client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(document)))
    assert action.edit is not None and action.edit.changes is not None
    assert set(action.edit.changes) == {uri(workspace, TICKETS)}
    corpus.write_text(apply_edits(broken, action.edit.changes[uri(workspace, TICKETS)]), encoding="utf-8")
    assert corpus.read_text(encoding="utf-8") == original  # this fix undoes the edit that broke it
    await until(
        lambda: uri(workspace, TICKETS) in client.diagnostics and not diagnostics(client, workspace, TICKETS),
        60,
        "the diagnostics to clear",
    )
    await until(lambda: len(ended_runs(client)) == len(client.progress_reports), 60, "the fix's run to end")
    last = client.progress_reports[
        max(client.progress_reports, key=lambda token: int(token.rsplit("/", 1)[1]))
    ]
    assert "failed" not in last[-1].message and "passed" in last[-1].message
    green = await client.workspace_execute_command_async(
        t.ExecuteCommandParams("connector-watch.rerunFailed")
    )
    assert green == {"accepted": False, "nodeIds": []}


def apply_edits(text: str, edits: list[t.TextEdit]) -> str:
    """What an editor does with a ``WorkspaceEdit``'s text edits to one document."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(position: t.Position) -> int:
        line_start = starts[min(position.line, len(starts) - 1)]
        line_end = starts[position.line + 1] if position.line + 1 < len(starts) else len(text)
        return min(line_start + position.character, line_end)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def test_an_unsaved_spec_buffer_gets_a_located_yaml_diagnostic_without_a_rerun(
    client: LanguageClient, workspace: Path
) -> None:
    spec = workspace / SPEC
    text = spec.read_text(encoding="utf-8")
    spec_uri = uri(workspace, SPEC)
    await until(lambda: len(ended_runs(client)) == len(client.progress_reports), 60, "earlier runs to end")
    runs_before = set(client.progress_reports)
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(spec_uri, "yaml", 1, text)))
    line = next(i for i, row in enumerate(text.splitlines()) if row.strip() == "corpus: tickets")
    client.text_document_did_change(
        t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(2, spec_uri),
            [
                t.TextDocumentContentChangePartial(
                    range=t.Range(t.Position(line, 0), t.Position(line + 1, 0)), text="    corpus: [tickets\n"
                )
            ],
        )
    )
    found = await until(lambda: diagnostics(client, workspace, SPEC), 30, "the buffer's YAML diagnostic")
    assert [d.source for d in found] == ["connector-watch(spec)"]
    assert found[0].code == "spec.yaml-syntax" and found[0].data["origin"] == "static"
    assert line <= found[0].range.start.line <= line + 1
    assert "YAML syntax error" in found[0].message
    assert spec.read_text(encoding="utf-8") == text  # the daemon never writes
    # A diagnostic without a verified fix gets no code action (its sentence stays in the message).
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(
            t.TextDocumentIdentifier(spec_uri), found[0].range, t.CodeActionContext(diagnostics=found)
        )
    )
    assert not actions and not found[0].data.get("fixes")
    await asyncio.sleep(1.0)
    assert set(client.progress_reports) == runs_before  # nothing ran: the file did not change

    # Typing the line back: the buffer matches the file again and the diagnostic goes.
    client.text_document_did_change(
        t.DidChangeTextDocumentParams(
            t.VersionedTextDocumentIdentifier(3, spec_uri), [t.TextDocumentContentChangeWholeDocument(text)]
        )
    )
    await until(lambda: not diagnostics(client, workspace, SPEC), 30, "the buffer's diagnostic to clear")
    client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(spec_uri)))
    assert set(client.progress_reports) == runs_before


async def test_hover_on_a_spec_endpoint_and_a_corpus_record(client: LanguageClient, workspace: Path) -> None:
    lines = (workspace / SPEC).read_text(encoding="utf-8").splitlines()
    path_line = next(
        i for i, row in enumerate(lines) if "- path: /api/v2/incremental/tickets/cursor.json" in row
    )
    key_line = next(i for i in range(path_line, len(lines)) if "records_key: tickets" in lines[i])
    for line in (path_line, key_line):
        hover = await client.text_document_hover_async(
            t.HoverParams(t.TextDocumentIdentifier(uri(workspace, SPEC)), t.Position(line, 8))
        )
        assert hover is not None and hover.contents.kind == t.MarkupKind.Markdown
        value = hover.contents.value
        assert "**GET /api/v2/incremental/tickets/cursor.json**" in value
        assert f"`{READ_TICKETS}`" in value
        assert "passed" in value
        assert "**Last request:** `GET /api/v2/incremental/tickets/cursor.json`" in value
    nothing = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(uri(workspace, SPEC)), t.Position(0, 0))
    )
    assert nothing is None

    records = json.loads((workspace / TICKETS).read_text(encoding="utf-8"))
    corpus_lines = (workspace / TICKETS).read_text(encoding="utf-8").splitlines()
    id_line = corpus_lines.index(f'    "id": {records[1]["id"]},')
    hover = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(uri(workspace, TICKETS)), t.Position(id_line, 6))
    )
    assert hover is not None
    assert f"**corpus record 2** of `{TICKETS}` · `id` = `{records[1]['id']}`" in hover.contents.value
    assert f"`{READ_TICKETS}`" in hover.contents.value


async def test_rerun_failed_reruns_exactly_the_failing_nodes(client: LanguageClient, workspace: Path) -> None:
    corpus = workspace / TICKETS
    original = corpus.read_text(encoding="utf-8")
    tickets = json.loads(original)
    tickets[0]["id"] = "broken"
    corpus.write_text(json.dumps(tickets, indent=2) + "\n", encoding="utf-8")
    await until(
        lambda: [d for d in diagnostics(client, workspace, TICKETS) if d.data.get("origin") == "run"],
        60,
        "a failure",
    )
    failing = {n for d in diagnostics(client, workspace, TICKETS) for n in d.data["nodeIds"]}
    await until(lambda: len(ended_runs(client)) == len(client.progress_reports), 60, "the save's run to end")
    before = set(client.progress_reports)

    result = await client.workspace_execute_command_async(
        t.ExecuteCommandParams("connector-watch.rerunFailed")
    )
    assert result["accepted"] is True
    assert failing <= set(result["nodeIds"])
    new = await until(lambda: set(ended_runs(client)) - before, 60, "the rerun to end")
    values = client.progress_reports[new.pop()]
    count = len(result["nodeIds"])
    assert values[0].message == f"{count} test{'s' if count != 1 else ''} (rerun-failed)"
    assert "failed" in values[-1].message

    corpus.write_text(original, encoding="utf-8")
    await until(lambda: not diagnostics(client, workspace, TICKETS), 60, "the diagnostics to clear")
    await until(lambda: len(ended_runs(client)) == len(client.progress_reports), 60, "the fix's run to end")
    nothing = await client.workspace_execute_command_async(
        t.ExecuteCommandParams("connector-watch.rerunFailed")
    )
    assert nothing == {"accepted": False, "nodeIds": []}


async def test_bad_input_gets_errors_and_the_server_keeps_serving(
    client: LanguageClient, workspace: Path
) -> None:
    """(Malformed params, on the wire: test_lsp_wire.py.)"""
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(t.ExecuteCommandParams("connector-watch.formatDisk"))
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("connector-watch/unknown", None)
    # Not JSON at all, straight onto the server's stdin.
    assert client._server is not None and client._server.stdin is not None
    client._server.stdin.write(b"Content-Length: 9\r\n\r\n{not json")
    await client._server.stdin.drain()
    # A file outside the workspace, and one the server cannot read: no hover, no error.
    outside = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(Path("/etc/hostname").as_uri()), t.Position(0, 0))
    )
    missing = await client.text_document_hover_async(
        t.HoverParams(
            t.TextDocumentIdentifier(uri(workspace, "simulator/specs/zendesk/corpus/gone.json")),
            t.Position(0, 0),
        )
    )
    assert outside is None and missing is None
    hover = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(uri(workspace, SPEC)), t.Position(10, 4))
    )
    assert hover is not None and "tickets" in hover.contents.value
    assert client._server.returncode is None
