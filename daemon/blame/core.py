"""The core: run the evidence families in order of how decisive their evidence is.

A crash or hang says more than a harness check; a spec that did not load says more than the
request it then failed to answer; an exception with no better evidence is judged by the frame
it came from. The first family with something to say decides the node's diagnostics (merits);
:mod:`.causality` may then revise them with what the counterfactual reruns found.
"""

from __future__ import annotations

from collections.abc import Callable

from connector_watch.daemon.blame import (
    causality,
    exceptions,
    harness_checks,
    loading,
    public,
    runtime,
    traffic,
)
from connector_watch.daemon.blame.context import Context, FailureInput, data_site, first_line
from connector_watch.daemon.blame.recordings import recording_agrees_with_spec
from connector_watch.daemon.diagnostics import Diagnostic
from connector_watch.daemon.sources_view import SourceView
from connector_watch.simulator.layout import Layout

Rule = Callable[[Context], "list[Diagnostic] | None"]

RULES: tuple[Rule, ...] = (
    runtime.crashed,
    runtime.timeout,
    loading.spec_error,
    loading.corpus_error,
    public.public_fact,
    loading.config_error,
    loading.syntax_error,
    loading.missing_module,
    traffic.unknown_endpoint,
    traffic.no_cassette_match,
    harness_checks.harness_check,
    harness_checks.conversion,
    traffic.http_error,
    exceptions.exception_site,
)


def blame(failure: FailureInput, layout: Layout, view: SourceView) -> list[Diagnostic]:
    """Diagnostics for one failed, errored, timed-out or crashed node (or collection)."""
    parts = public.split(failure, layout, view)  # a public-harness text: one failure per [table] error
    if parts is not None:
        return public.dedupe(d for part in parts for d in blame(part, layout, view))
    ctx = Context(failure, layout, view)
    merits = judge(ctx)
    if failure.causal is None:
        return merits
    spec_triggers = [t for t in failure.causal.triggers if t.kind == "spec"]
    agrees = bool(spec_triggers) and recording_agrees_with_spec(
        ctx, (spec_triggers[0].first_line, spec_triggers[0].last_line)
    )
    return causality.revise(
        merits,
        failure.causal,
        connector_location=data_site(ctx),
        static=dict(failure.static),
        recording_agrees_with_spec=agrees,
    )


def judge(ctx: Context) -> list[Diagnostic]:
    """The merits: the first family of evidence with something to say decides."""
    for rule in RULES:
        result = rule(ctx)
        if result:
            return result
    failure = ctx.failure
    return [
        ctx.diag(
            "test",
            first_line(failure.message) or f"{failure.outcome}",
            ctx.node_location(),
            0.3,
            evidence=[failure.message or ""],
            code="unclassified",
        )
    ]
