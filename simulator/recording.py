"""Finishing a record (live) session: scrub, validate, sample, merge, write.

When a live simulator exits having captured at least one interaction:

1. every interaction is **scrubbed** (:mod:`connector_watch.simulator.scrub`), with the secrets
   the connector config names and every credential the connector sent;
2. with a spec, the **validator** compares each scrubbed live response with what
   simulate mode would answer and writes ``<cassette>.validation.json``;
3. responses are **sampled** (:mod:`connector_watch.simulator.sampling`): records cut to
   ``sample_size``, pagination markers neutralised;
4. the result is **merged** into the cassette: per request (match key), the
   fresh responses replace the recorded ones; requests this run did not make
   keep their old recordings. Within a run, a request's distinct responses are
   kept in order (a 429 then its retried 200, a read before and after a write),
   at most :data:`MAX_RESPONSES_PER_REQUEST`;
5. ``<cassette>.coverage.json`` (:mod:`connector_watch.simulator.coverage`) is written.

Nothing is written that still contains a known secret
(:meth:`~simulator.scrub.Scrubber.check`).
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector_watch.simulator.cassette import Cassette, match_key
from connector_watch.simulator.coverage import CoverageCall, build_coverage
from connector_watch.simulator.interactions import Interaction, RecordedRequest, RecordedResponse
from connector_watch.simulator.live import LiveCall
from connector_watch.simulator.locations import display_path
from connector_watch.simulator.sampling import sample_interaction
from connector_watch.simulator.scrub import Scrubber, body_fingerprint, scrub_query
from connector_watch.simulator.validation_report import write_report
from connector_watch.simulator.validator import Validator, sample_url_of

if TYPE_CHECKING:
    from connector_watch.simulator.corpus import CorpusStore
    from connector_watch.simulator.live import LiveResponder
    from connector_watch.simulator.spec import Spec

MAX_RESPONSES_PER_REQUEST = 3


@dataclass
class MergeStats:
    added: int = 0  # requests not on tape before
    replaced: int = 0  # requests whose old recordings were replaced
    kept: int = 0  # old interactions of requests this run did not make
    collapsed: int = 0  # fresh interactions dropped as repeats of a recorded response


@dataclass
class RecordingResult:
    cassette: Path
    validation: Path | None
    coverage: Path
    interactions_captured: int
    interactions_written: int
    bytes_unsampled: int
    bytes_sampled: int
    merge: MergeStats = field(default_factory=MergeStats)
    validation_summary: dict[str, Any] | None = None


def validation_path(cassette: Path) -> Path:
    return cassette.with_name(cassette.name + ".validation.json")


def coverage_path(cassette: Path) -> Path:
    return cassette.with_name(cassette.name + ".coverage.json")


def _key(interaction: Interaction, ignore: frozenset[str]) -> tuple:
    req = interaction.request
    return match_key(req.method, req.path, req.query, req.body_sha256, ignore)


def _signature(interaction: Interaction) -> tuple:
    response = interaction.response
    return (response.status_code, response.body_text, response.body_b64)


def merge(
    existing: list[Interaction], fresh: list[Interaction], ignore: frozenset[str] = frozenset()
) -> tuple[list[Interaction], MergeStats]:
    """``existing`` with every request of ``fresh`` replaced by (or added as) its fresh responses."""
    stats = MergeStats()
    groups: OrderedDict[tuple, list[Interaction]] = OrderedDict()
    for interaction in fresh:
        group = groups.setdefault(_key(interaction, ignore), [])
        if (
            any(_signature(i) == _signature(interaction) for i in group)
            or len(group) >= MAX_RESPONSES_PER_REQUEST
        ):
            stats.collapsed += 1
            continue
        group.append(interaction)
    merged: list[Interaction] = []
    emitted: set[tuple] = set()
    for interaction in existing:
        key = _key(interaction, ignore)
        if key in groups:
            if key not in emitted:
                merged.extend(groups[key])
                emitted.add(key)
                stats.replaced += 1
            continue
        merged.append(interaction)
        stats.kept += 1
    for key, group in groups.items():
        if key not in emitted:
            merged.extend(group)
            stats.added += 1
    return merged, stats


def scrub_interaction(call: LiveCall, scrubber: Scrubber) -> Interaction:
    """A scrubbed deep copy of one captured exchange (the request's match key scrubbed too)."""
    raw = call.interaction
    request = RecordedRequest(
        method=raw.request.method,
        url=scrubber.url(raw.request.url) or raw.request.url,
        query=scrubber.query(scrub_query(raw.request.query)),
        body_sha256=body_fingerprint(call.request.body),
    )
    response = RecordedResponse(
        status_code=raw.response.status_code,
        headers=scrubber.headers(raw.response.headers),
        body_text=scrubber.body_text(raw.response.body_text, path=call.request.path),
        body_b64=scrubber.body_b64(raw.response.body_b64),
        encoding=raw.response.encoding,
        url=scrubber.url(raw.response.url),
    )
    return Interaction(request, response)


def rescrub(interaction: Interaction, scrubber: Scrubber) -> Interaction:
    """An interaction read from an existing cassette, scrubbed again (idempotent on our own)."""
    request, response = interaction.request, interaction.response
    return Interaction(
        RecordedRequest(
            method=request.method,
            url=scrubber.url(request.url) or request.url,
            query=scrubber.query(scrub_query(request.query)),
            body_sha256=request.body_sha256,
        ),
        RecordedResponse(
            status_code=response.status_code,
            headers=scrubber.headers(response.headers),
            body_text=scrubber.body_text(response.body_text, path=request.path),
            body_b64=scrubber.body_b64(response.body_b64),
            encoding=response.encoding,
            url=scrubber.url(response.url),
        ),
    )


def _body_size(interaction: Interaction) -> int:
    response = interaction.response
    return len(response.body_text or "") + len(response.body_b64 or "")


@dataclass
class RecordingSession:
    """What a record-mode simulator hands over when it closes."""

    source: str
    cassette_path: Path
    live: LiveResponder
    spec: Spec | None
    corpus: CorpusStore | None
    simulate_request: Any  # SimRequest -> the simulated response, for the validator
    sample_size: int
    ignore_query_params: Any
    secrets: tuple[str, ...] = ()
    validate: bool = True


def finish(sim: RecordingSession) -> RecordingResult:
    cassette_file = sim.cassette_path
    live = sim.live
    scrubber = Scrubber(sim.secrets)
    for call in live.calls:
        scrubber.learn_from_request(call.request.headers, call.request.query, call.request.body)
    for failure in live.failures:
        scrubber.learn_from_request(failure.request.headers, failure.request.query, failure.request.body)
    scrubbed = [scrub_interaction(call, scrubber) for call in live.calls]

    # 2. validate the scrubbed, unsampled responses
    report = None
    if sim.spec is not None and sim.corpus is not None and sim.validate:
        validator = Validator(
            sim.spec, sim.corpus, sim.simulate_request, cassette=display_path(cassette_file)
        )
        for call, interaction in zip(live.calls, scrubbed, strict=True):
            validator.validate(call.request, interaction, sample_url_of(interaction))
        for failure in live.failures:
            _note_failure(validator, failure)
        report = validator.report()

    # 3. sample
    sampled = []
    bytes_unsampled = bytes_sampled = 0
    for call, interaction in zip(live.calls, scrubbed, strict=True):
        copy_ = copy.deepcopy(interaction)
        bytes_unsampled += _body_size(copy_)
        match = sim.spec.match(call.request.method, call.request.path) if sim.spec is not None else None
        sample_interaction(copy_, match[0] if match else None, sim.sample_size)
        bytes_sampled += _body_size(copy_)
        sampled.append(copy_)

    # 4. merge (recordings kept from earlier runs, perhaps made by the public tools, are scrubbed too)
    cassette = Cassette.load(cassette_file) if cassette_file.is_file() else Cassette(sim.source)
    cassette.source = cassette.source or sim.source
    earlier = [rescrub(i, scrubber) for i in cassette.interactions]
    cassette.interactions, stats = merge(earlier, sampled, sim.ignore_query_params)

    # 5. coverage
    calls = [
        CoverageCall(c.request, c.interaction.response.status_code, c.timeout_given, c.caller)
        for c in live.calls
    ]
    calls += [CoverageCall(f.request, None, f.timeout_given, f.caller, failure=f.kind) for f in live.failures]
    coverage = build_coverage(sim.spec, calls)
    coverage["recording"] = {
        "interactions_captured": len(live.calls),
        "interactions_written": len(sampled) - stats.collapsed,
        "requests_added": stats.added,
        "requests_replaced": stats.replaced,
        "interactions_kept": stats.kept,
        "cassette_interactions": len(cassette.interactions),
        "body_bytes_unsampled": bytes_unsampled,
        "body_bytes_sampled": bytes_sampled,
        "sample_size": sim.sample_size,
    }

    cassette_text = json.dumps(
        {
            "version": cassette.version,
            "source": cassette.source,
            "interactions": [i.to_dict() for i in cassette.interactions],
        },
        indent=2,
        ensure_ascii=False,
    )
    scrubber.check(cassette_text, str(cassette_file))
    # The reports quote URLs and values from the traffic: the same scrubbing as the cassette.
    coverage = scrubber.strings(coverage)
    coverage_text = json.dumps(coverage, indent=2, ensure_ascii=False)
    scrubber.check(coverage_text, "coverage report")
    if report is not None:
        report = scrubber.strings(report)
        scrubber.check(json.dumps(report, ensure_ascii=False), "validation report")

    cassette.save(cassette_file)
    validation_file = None
    if report is not None:
        validation_file = validation_path(cassette_file)
        write_report(report, validation_file)
    coverage_file = coverage_path(cassette_file)
    write_report(coverage, coverage_file)
    return RecordingResult(
        cassette=cassette_file,
        validation=validation_file,
        coverage=coverage_file,
        interactions_captured=len(live.calls),
        interactions_written=len(sampled) - stats.collapsed,
        bytes_unsampled=bytes_unsampled,
        bytes_sampled=bytes_sampled,
        merge=stats,
        validation_summary=report["summary"] if report else None,
    )


def _note_failure(validator: Validator, failure: Any) -> None:
    """A live call that never answered appears in the report as an error of its endpoint."""
    from connector_watch.simulator.validation_report import Finding

    request = failure.request
    match = validator.spec.match(request.method, request.path)
    endpoint = match[0] if match else None
    row = validator._row(request.method, endpoint, failure.url, key=f"{request.method} {request.path}")
    row.calls += 1
    row.mismatched += 1
    row.statuses[failure.kind] = row.statuses.get(failure.kind, 0) + 1
    row.add(
        Finding(
            f"live_{failure.kind}",
            "error",
            failure.message.splitlines()[0],
            fix=failure.message.splitlines()[-1].strip().removeprefix("Fix: "),
            location=validator.spec_location(endpoint) if endpoint else None,
            example_url=failure.url,
        )
    )
