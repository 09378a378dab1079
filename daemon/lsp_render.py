"""What the language server sends, as pure functions: LSP diagnostics and quick fixes.

A diagnostic is :meth:`Diagnostic.to_lsp` (the same ``data`` the WebSocket protocol carries, with
file URIs) with the blame in ``source`` (``connector-watch(spec)``, which editors print beside the
message) and the check that found it in ``code``. A quick fix is offered only for a fix the daemon
verified (:class:`~connector_watch.daemon.diagnostics.VerifiedFix`); a diagnostic's ``fix``
sentence stays in its message data. Everything here returns JSON-shaped dicts (the LSP wire
shapes); :mod:`connector_watch.daemon.lsp` turns them into ``lsprotocol`` types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Range, VerifiedFix

SOURCE = "connector-watch"
QUICKFIX = "quickfix"

UriFor = Callable[[str], str]


def lsp_diagnostic(diagnostic: Diagnostic, uri_for: UriFor) -> dict[str, Any]:
    """An LSP ``Diagnostic``: ``to_lsp``'s shape, the blame as source, the check as code."""
    item = diagnostic.to_lsp(uri_for)
    item["source"] = f"{SOURCE}({diagnostic.blame})"
    item["code"] = diagnostic.code or diagnostic.blame
    item["data"]["blame"] = diagnostic.blame
    return item


def publish_params(uri: str, diagnostics: Iterable[Diagnostic], uri_for: UriFor) -> dict[str, Any]:
    """``textDocument/publishDiagnostics`` params: every diagnostic of one file (an empty list clears)."""
    return {"uri": uri, "diagnostics": [lsp_diagnostic(d, uri_for) for d in diagnostics]}


def fix_title(fix: VerifiedFix) -> str:
    """ "Verified: use records_key 'tickets' (2 tests pass)": that it was proven, and what ran."""
    count = len(fix.nodes)
    ran = (f"{count} tests pass" if count != 1 else "1 test passes") if count else "verified on the overlay"
    title = fix.title
    if title.lower().startswith("verified"):
        return f"{title} ({ran})"
    return f"Verified: {title} ({ran})"


def workspace_edit(fix: VerifiedFix, uri_for: UriFor, inside: Callable[[str], str]) -> dict[str, Any] | None:
    """The fix's edits as a ``WorkspaceEdit`` (``changes`` by URI); None when an edit names a path
    outside the workspace (``inside`` raises ``ValueError``): a fix is offered whole or not at all."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for edit in fix.edits:
        try:
            path = inside(edit.path)
        except ValueError:
            return None
        changes.setdefault(uri_for(path), []).append(
            {"range": edit.range.to_dict(), "newText": edit.new_text}
        )
    return {"changes": changes} if changes else None


def overlaps(a: Range, b: Range) -> bool:
    """Whether two ranges share a position (an empty range touching the other counts)."""
    return not (a.end < b.start or b.end < a.start)


def quick_fixes(
    diagnostics: Iterable[Diagnostic],
    uri_for: UriFor,
    inside: Callable[[str], str],
    *,
    only: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One ``quickfix`` code action per verified fix of these diagnostics, the first fix of each
    diagnostic preferred. A diagnostic without verified fixes gets none. ``only`` is the client's
    ``context.only`` (kinds it asked for)."""
    if only is not None and not any(kind in ("", QUICKFIX) for kind in only):
        return []
    actions = []
    for diagnostic in diagnostics:
        first = True
        for fix in diagnostic.fixes:
            edit = workspace_edit(fix, uri_for, inside)
            if edit is None:
                continue
            actions.append(
                {
                    "title": fix_title(fix),
                    "kind": QUICKFIX,
                    "diagnostics": [lsp_diagnostic(diagnostic, uri_for)],
                    "isPreferred": first,
                    "edit": edit,
                }
            )
            first = False
    return actions
