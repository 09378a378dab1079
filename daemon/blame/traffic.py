"""Request evidence: what the connector asked for, what answered, and what did not."""

from __future__ import annotations

import difflib
import re
from urllib.parse import urlsplit

from connector_watch.daemon.blame.context import (
    Context,
    caller_location,
    connector_site,
    frame_location,
    handler_location,
    request_evidence,
    spec_endpoint_location,
)
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related


def unknown_endpoint(ctx: Context) -> list[Diagnostic] | None:
    entry = next((e for e in reversed(ctx.failure.trace) if e.get("outcome") == "unknown-endpoint"), None)
    details = next((exc.get("request") for exc in ctx.chain if exc["type"] == "UnknownEndpoint"), None)
    if entry is None and details is None:
        return None
    method = (entry or details or {}).get("method")
    url = (entry or details or {}).get("url")
    nearest = (entry or {}).get("nearest") or (details or {}).get("nearest") or []
    path = urlsplit(url or "").path
    caller = handler_location(ctx, entry) if entry else None
    frame = ctx.deepest_frame(("connector",))
    connector_location = caller or (frame_location(frame) if frame else ctx.node_location())
    spec_file = ctx.spec_file()
    near_location, near_path, similarity = None, None, 0.0
    if nearest:
        match = re.match(r"(\w+) (\S+) \((.+):(\d+)\)", nearest[0])
        if match:
            near_path = match.group(2)
            near_location = Location(
                ctx.layout.relative(match.group(3)), Range.lines(int(match.group(4)) - 1)
            )
            similarity = path_similarity(path, near_path)
    spec_location = near_location or (Location(spec_file, Range.lines(0)) if spec_file else None)
    evidence = [f"{method} {url} matched no endpoint in {spec_file or 'the spec'}"]
    if nearest:
        evidence.append("nearest spec endpoints: " + "; ".join(nearest))
    spec_changed, connector_changed = ctx.changed(spec_file), ctx.connector_changed()
    if spec_changed and not connector_changed:
        blame_to, confidence = "spec", 0.75
        message = f"the spec no longer models {method} {path} (the spec changed since this test last passed)"
        fix = f"restore or add an endpoint for {method} {path} in {spec_file}"
    elif connector_changed and not spec_changed:
        blame_to, confidence = "connector", 0.75
        message = f"the connector now calls {method} {path}, which the spec does not model"
        fix = f"call {near_path}" if near_path else "fix the URL the connector builds"
    elif near_path and similarity >= 0.8:
        blame_to, confidence = "connector", 0.6
        message = f"the connector calls {method} {path}, which looks like a misspelling of {near_path}"
        fix = f"call {near_path} (or add {path} to the spec if the API really has it)"
    else:
        blame_to, confidence = "spec", 0.55
        message = f"no spec endpoint models {method} {path}"
        fix = f"add an endpoint for {method} {path} under 'endpoints:' in {spec_file}"
    primary, other = (
        (connector_location, spec_location)
        if blame_to == "connector"
        else (spec_location, connector_location)
    )
    related = []
    if other is not None:
        related.append(
            Related(
                other,
                "the spec's nearest endpoint"
                if blame_to == "connector"
                else "the connector line that made the request",
            )
        )
    return [
        ctx.diag(
            blame_to,
            message,
            primary or ctx.node_location(),
            confidence,
            fix=fix,
            evidence=evidence,
            related=related,
            code="simulator.unknown_endpoint",
        )
    ]


def path_similarity(path: str, template: str | None) -> float:
    if not template:
        return 0.0
    a = [p for p in path.split("/") if p]
    b = [p for p in template.split("/") if p]
    if len(a) != len(b):
        return difflib.SequenceMatcher(None, path, template).ratio() * 0.9
    scores = [
        1.0 if y.startswith("{") or x == y else difflib.SequenceMatcher(None, x, y).ratio()
        for x, y in zip(a, b, strict=True)
    ]
    return sum(scores) / len(scores) if scores else 0.0


def no_cassette_match(ctx: Context) -> list[Diagnostic] | None:
    details = next((exc.get("request") for exc in ctx.chain if exc["type"] == "NoMatchingInteraction"), None)
    if details is None:
        return None
    caller = next(
        (caller_location(e) for e in reversed(ctx.failure.trace) if e.get("outcome") == "no-cassette-match"),
        None,
    )
    return [
        ctx.diag(
            "test",
            f"the cassette has no recording of {details['method']} {details['url']}",
            caller or ctx.node_location(),
            0.6,
            code="replay.no_match",
            fix="re-record with CONNECTOR_TEST_MODE=record, or make the request deterministic (dates, random ids)",
            evidence=["nearest recorded: " + "; ".join(details.get("nearest") or [])],
        )
    ]


def http_error(ctx: Context) -> list[Diagnostic] | None:
    if not any(exc["type"] == "HTTPError" for exc in ctx.chain):
        return None
    declared = [e for e in ctx.failure.trace if e.get("outcome") == "declared-error"]
    if not declared:
        return None
    entry = declared[-1]
    location = caller_location(entry) or connector_site(ctx)
    related = [
        Related(loc, "the spec declares this error response")
        for loc in [spec_endpoint_location(entry)]
        if loc
    ]
    return [
        ctx.diag(
            "connector",
            f"the connector gave up on a {entry.get('status')} from {entry['method']} "
            f"{entry['url']} instead of retrying",
            location,
            0.75,
            code="http.no_retry",
            related=related,
            evidence=request_evidence(ctx.failure.trace, 3),
            fix="retry 429 and 5xx responses, honouring Retry-After, a bounded number of times",
        )
    ]
