"""An exception with no better evidence: blamed on the innermost frame that owns it."""

from __future__ import annotations

from connector_watch.daemon.blame.context import (
    Context,
    exception_summary,
    frame_location,
    request_evidence,
    spec_endpoint_location,
)
from connector_watch.daemon.diagnostics import Diagnostic, Related


def exception_site(ctx: Context) -> list[Diagnostic] | None:
    if not ctx.chain:
        return None
    innermost = ctx.chain[-1]
    summary = exception_summary(innermost)
    frame = ctx.deepest_frame(("connector",))
    evidence = [summary, *request_evidence(ctx.failure.trace, 3)]
    if frame is not None:
        spec_changed = ctx.changed(ctx.spec_file()) and not ctx.connector_changed()
        entry = ctx.failure.trace[-1] if ctx.failure.trace else None
        spec_location = spec_endpoint_location(entry) if entry else None
        if spec_changed and spec_location:
            return [
                ctx.diag(
                    "spec",
                    f"{summary} — the connector fails on responses of a spec that changed since "
                    "this test last passed",
                    spec_location,
                    0.6,
                    code="exception.spec_changed",
                    evidence=evidence,
                    related=[Related(frame_location(frame), "where the connector failed")],
                    fix="check the endpoint's response shape against what the connector expects",
                )
            ]
        related = (
            [Related(spec_location, "the endpoint whose response the connector was reading")]
            if spec_location
            else []
        )
        return [
            ctx.diag(
                "connector",
                f"{summary} (in {frame['function']})",
                frame_location(frame),
                0.75,
                code="exception.connector",
                evidence=evidence,
                related=related,
            )
        ]
    frame = ctx.deepest_frame(("test",))
    if frame is not None:
        return [
            ctx.diag("test", summary, frame_location(frame), 0.7, code="exception.test", evidence=evidence)
        ]
    frame = ctx.deepest_frame(("harness",))
    if frame is not None:
        return [
            ctx.diag(
                "test",
                f"the harness raised {summary}",
                frame_location(frame),
                0.5,
                code="exception.harness",
                evidence=evidence,
            )
        ]
    frame = ctx.deepest_frame(("simulator",))
    if frame is not None:
        return [
            ctx.diag(
                "environment",
                f"the simulator raised {summary}",
                frame_location(frame),
                0.5,
                code="exception.simulator",
                evidence=evidence,
            )
        ]
    return None

