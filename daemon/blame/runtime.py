"""Runtime evidence: a worker that died under a test, a test that hung."""

from __future__ import annotations

from collections import Counter

from connector_watch.daemon.blame.context import (
    Context,
    frame_location,
    handler_location,
    request_evidence,
)
from connector_watch.daemon.diagnostics import Diagnostic

LOOP_THRESHOLD = 20


def crashed(ctx: Context) -> list[Diagnostic] | None:
    if ctx.failure.outcome != "crashed":
        return None
    status = ctx.failure.crash_status
    how = (
        f"was killed by signal {-status}"
        if status is not None and status < 0
        else f"exited with status {status}"
    )
    return [
        ctx.diag(
            "environment",
            f"the worker process {how} while running this test; it was run again once and crashed again",
            ctx.node_location(),
            0.7,
            evidence=request_evidence(ctx.failure.trace),
            code="worker.crashed",
            fix="look for native crashes, os._exit or an out-of-memory kill in the code this test runs",
        )
    ]


def timeout(ctx: Context) -> list[Diagnostic] | None:
    if ctx.failure.outcome != "timeout" and not (ctx.chain and ctx.chain[0]["type"] == "NodeTimeout"):
        return None
    trace = ctx.failure.trace
    frame = ctx.deepest_frame(("connector",)) or ctx.deepest_frame(("test", "harness", "other"))
    evidence = request_evidence(trace)
    urls = Counter((e["method"], e["url"]) for e in trace)
    looping = [(k, n) for k, n in urls.most_common(1) if n >= LOOP_THRESHOLD]
    if looping:
        (method, url), count = looping[0]
        message = (
            f"hung: requested {method} {url} {count} times — the connector keeps paging without progress"
        )
        fix = "stop paging when the response has no next page (no Link rel=next, empty page, has_more false)"
    elif frame is not None:
        message = f"hung at {frame['file']}:{frame['line']} in {frame['function']}: {frame.get('code') or ''}".strip()
        fix = "every loop needs an exit and every HTTP call a timeout"
    else:
        message = "hung past the per-test timeout"
        fix = "every loop needs an exit and every HTTP call a timeout"
    if frame is None and ctx.failure.outcome == "timeout" and not trace:
        location = ctx.node_location()
        blame_to = "test"
    else:
        location = frame_location(frame) if frame else ctx.node_location()
        blame_to = "connector" if frame is None or ctx.kind_of(frame["file"]) == "connector" else "test"
    if looping:
        caller = handler_location(ctx, trace[-1])
        location = caller or location
        blame_to = "connector"
    return [ctx.diag(blame_to, message, location, 0.8, fix=fix, evidence=evidence, code="timeout")]

