"""Recording evidence: the same node rerun against recorded live traffic (a cassette), and whether
the recorded live API sides with a spec edit."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from connector_watch.daemon.blame.context import Context
from connector_watch.daemon.diagnostics import Diagnostic, Related
from connector_watch.simulator.spec import check_spec

CORPUS_CHECKS = (
    "read.schema_parse",
    "read.null_columns",
    "read.non_nullable",
    "corpus.",
)


def differential_verdict(
    diagnostics: list[Diagnostic], replay: dict[str, Any], node_id: str
) -> list[Diagnostic]:
    """Revise a failed node's diagnostics with its outcome against recorded live traffic.

    ``replay`` is the node's ``test_finished`` event from a rerun in replay mode.
    """
    outcome = replay.get("outcome")
    chain = (replay.get("failure") or {}).get("chain", [])
    if (
        outcome == "skipped"
        or any(e.get("type") == "NoMatchingInteraction" for e in chain)
        or not diagnostics
    ):
        note = (
            "against the cassette: inconclusive (the recording does not cover this test's requests)"
            if outcome != "skipped"
            else "against the cassette: not applicable in replay mode"
        )
        return [with_evidence(diagnostics[0], note), *diagnostics[1:]] if diagnostics else diagnostics
    primary = diagnostics[0]
    if outcome == "passed":
        evidence = (
            "passes against the recorded live traffic (cassette) and fails against spec + corpus: "
            "the spec or corpus differs from the real API"
        )
        if primary.blame in ("spec", "corpus"):
            return [with_evidence(primary, evidence, boost=0.1), *diagnostics[1:]]
        # The other side named in the diagnostic decides: a corpus record, else the spec line.
        corpus_side = next((r.location for r in primary.related if "/corpus/" in r.location.path), None)
        spec_side = next(
            (r.location for r in primary.related if r.location.path.endswith((".yaml", ".yml"))), None
        )
        if corpus_side is not None or (spec_side is None and (primary.code or "").startswith(CORPUS_CHECKS)):
            blamed, other = "corpus", corpus_side
        else:
            blamed, other = "spec", spec_side
        revised = Diagnostic(
            blame=blamed,
            message=f"{primary.message} — the connector works against recorded live traffic, so "
            f"the {blamed} is the likelier culprit",
            location=other or primary.location,
            confidence=0.7,
            related=[Related(primary.location, "where the failure surfaced"), *primary.related],
            evidence=[evidence, *primary.evidence],
            fix=f"compare the {blamed} with the recorded responses "
            "(python -m connector_watch.simulator.tools.cassette_to_corpus re-seeds the corpus)",
            node_ids=[node_id],
            code="differential.cassette_passes",
        )
        return [revised, replace_confidence(primary, min(primary.confidence, 0.4)), *diagnostics[1:]]
    evidence = "fails against the recorded live traffic (cassette) too: the connector is the likelier culprit"
    if primary.blame == "connector":
        return [with_evidence(primary, evidence, boost=0.1), *diagnostics[1:]]
    return [with_evidence(primary, evidence, boost=-0.2), *diagnostics[1:]]


def with_evidence(diagnostic: Diagnostic, note: str, boost: float = 0.0) -> Diagnostic:
    revised = replace_confidence(diagnostic, max(0.05, min(0.99, diagnostic.confidence + boost)))
    revised.evidence = [note, *diagnostic.evidence]
    return revised


def replace_confidence(diagnostic: Diagnostic, confidence: float) -> Diagnostic:
    return Diagnostic(
        **{
            **diagnostic.__dict__,
            "confidence": confidence,
            "evidence": list(diagnostic.evidence),
            "related": list(diagnostic.related),
            "node_ids": list(diagnostic.node_ids),
        }
    )



def recording_agrees_with_spec(ctx: Context, trigger_lines: tuple[int, int] | None = None) -> bool:
    """A spec edit made the connector's request unknown: does the live API, as recorded in the test
    class's cassette, side with the new spec? True when the recording holds requests the edited
    endpoint now matches, and none at the path the connector requests."""
    entry = next((e for e in reversed(ctx.failure.trace) if e.get("outcome") == "unknown-endpoint"), None)
    spec_file = ctx.spec_file()
    cassette = ctx.cassette_file()
    if entry is None or spec_file is None or cassette is None:
        return False
    recorded_text, spec_text = ctx.view.text(cassette), ctx.view.text(spec_file)
    if recorded_text is None or spec_text is None:
        return False
    try:
        recorded = [
            (i["request"]["method"], urlsplit(i["request"]["url"]).path)
            for i in json.loads(recorded_text).get("interactions", [])
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    spec, _ = check_spec(
        ctx.layout.root / spec_file, text=spec_text, check_files=False, handler_roots=ctx.layout.code_roots()
    )
    if spec is None:
        return False
    requested = urlsplit(entry.get("url") or "").path
    if any(path == requested for _, path in recorded):
        return False  # the API answered the connector's request: the spec lost it
    edited = [
        e for e in spec.endpoints if trigger_lines is None or trigger_lines[0] + 1 <= e.line <= trigger_lines[1] + 8
    ]
    for method, path in recorded:
        match = spec.match(method, path)
        if match is not None and (trigger_lines is None or match[0] in edited):
            return True
    return False
