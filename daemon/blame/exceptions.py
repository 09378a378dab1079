"""An exception with no better evidence: blamed on the innermost frame that owns it."""

from __future__ import annotations

from connector_watch.daemon.blame.context import (
    Context,
    corpus_files_read,
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
        mismatch = corpus_value_behind(ctx, innermost)
        if mismatch is not None:
            return [
                ctx.diag(
                    "corpus",
                    f"{mismatch.message} — the connector fails on it: {summary} (in {frame['function']})",
                    mismatch.location,
                    0.7,
                    code="exception.corpus_value",
                    evidence=evidence,
                    related=[Related(frame_location(frame), "where the connector failed on that value")],
                    fix=mismatch.fix,
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


#: Exceptions a value of the wrong shape raises in code that expected another.
DATA_ERRORS = ("TypeError", "ValueError", "AttributeError", "KeyError", "IndexError")
#: JSON kinds as the static lint names them → the Python type names exception messages use.
PYTHON_NAMES = {"object": "dict", "array": "list", "string": "str", "number": "float", "boolean": "bool"}


def corpus_value_behind(ctx: Context, exception: dict) -> Diagnostic | None:
    """A corpus value of the wrong type that the connector's exception is about: a record the node
    read holds (say) an object where the connector's schema and the other records have an integer,
    and the connector fails with "unhashable type: 'dict'". The corpus is at fault, not the code
    that met the value (the static lint found the value; the exception names its type)."""
    if exception.get("type") not in DATA_ERRORS:
        return None
    said = exception.get("message", "")
    for path in corpus_files_read(ctx):
        for finding in ctx.failure.static.get(path, []):
            if finding.code != "corpus.type_mismatch":
                continue
            kind = finding.message.split(":", 1)[-1].split(" value ", 1)[0].strip()
            if f"'{PYTHON_NAMES.get(kind, kind)}'" in said or PYTHON_NAMES.get(kind, kind) in said.split():
                return finding
    return None
