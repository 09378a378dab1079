"""Loading evidence: a spec, corpus, setting or module that did not load."""

from __future__ import annotations

import re

from connector_watch.daemon.blame.context import (
    Context,
    first_line,
    frame_location,
    issue_location,
    issues_of,
    request_evidence,
)
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range


def spec_error(ctx: Context) -> list[Diagnostic] | None:
    if not any(exc["type"] == "SpecError" for exc in ctx.chain):
        return None
    diagnostics = []
    for issue in issues_of(ctx):
        if issue.get("severity") == "warning":
            continue
        diagnostics.append(
            ctx.diag(
                "spec",
                issue["message"],
                issue_location(issue),
                0.95,
                code=f"spec.{issue.get('code', 'invalid')}",
                fix=_fix_from_message(issue["message"]) or "fix the spec so it loads (the endpoints.yaml format: simulator/SPEC.md in connector-watch)",
                evidence=["the spec did not load, so no test of this source could run"],
            )
        )
    return diagnostics or None


def _fix_from_message(message: str) -> str | None:
    match = re.search(r"did you mean '([^']+)'\?", message)
    if match:
        return f"use '{match.group(1)}'"
    return None


def corpus_error(ctx: Context) -> list[Diagnostic] | None:
    issues = [i for exc in ctx.chain if exc["type"] == "CorpusError" for i in exc.get("issues", []) or []]
    if not issues:
        return None
    return [
        ctx.diag(
            "corpus",
            issue["message"],
            issue_location(issue),
            0.95,
            code=f"corpus.{issue.get('code')}",
            fix="make the corpus file a JSON array of objects (or fix the syntax error)",
            evidence=request_evidence(ctx.failure.trace, 2),
        )
        for issue in issues
    ]


def config_error(ctx: Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        harness = exc.get("harness")
        if harness and harness.get("check") == "config":
            location = ctx.node_location()
            match = re.search(r"(\S+\.json):(\d+):(\d+)", exc.get("message", ""))
            if match:
                location = Location(
                    match.group(1).lstrip("/")
                    if not match.group(1).startswith("/")
                    else ctx.layout.relative(match.group(1)),
                    Range.from_one_based(int(match.group(2)), int(match.group(3))),
                )
            return [
                ctx.diag(
                    "test",
                    first_line(exc["message"]).removeprefix("[None] "),
                    location,
                    0.9,
                    fix=harness.get("hint"),
                    code="harness.config",
                )
            ]
    return None


def syntax_error(ctx: Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        syntax = exc.get("syntax")
        if not syntax:
            continue
        path = syntax["file"]
        kind = ctx.kind_of(path)
        blame_to = {"connector": "connector", "test": "test", "harness": "test"}.get(kind, "environment")
        location = Location(
            path,
            Range.from_one_based(
                syntax.get("line") or 1,
                syntax.get("column") or 1,
                syntax.get("endLine"),
                syntax.get("endColumn"),
            ),
        )
        return [
            ctx.diag(
                blame_to,
                f"{exc['type']}: {syntax.get('message')}",
                location,
                0.95,
                fix="fix the syntax error",
                code="python.syntax",
            )
        ]
    return None


def missing_module(ctx: Context) -> list[Diagnostic] | None:
    for exc in ctx.chain:
        name = exc.get("missingModule")
        if not name:
            continue
        top = name.split(".")[0]
        workspace_package = top in ("sources", "simulator", "tests", "daemon", "connector_watch")
        frame = ctx.deepest_frame(("connector", "test", "other"))
        location = frame_location(frame) if frame else ctx.node_location()
        if workspace_package:
            blame_to = "connector" if frame and ctx.kind_of(frame["file"]) == "connector" else "test"
            return [
                ctx.diag(
                    blame_to,
                    f"imports {name}, which does not exist in the workspace",
                    location,
                    0.85,
                    fix="fix the import path",
                    code="python.import",
                )
            ]
        return [
            ctx.diag(
                "environment",
                f"missing dependency: No module named '{name}'",
                location,
                0.85,
                fix=f"install it (pip install {top}) or add it to the project's dependencies",
                code="environment.missing_dependency",
            )
        ]
    return None

