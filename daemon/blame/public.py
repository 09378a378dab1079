"""Blame for failures of the public harness: facts without a request trace.

Pure (reads files through the :class:`~connector_watch.daemon.sources_view.SourceView`). The
plugin turns a public-harness failure text into our harness's facts
(:mod:`connector_watch.daemon.public_harness`), one per ``[table]`` error. Those facts carry no
trace of the requests that answered the read (the public simulator serves them), so what blame
learns from the trace for our harness it learns here from the files:

- the table's corpus file (named after the table) and the spec endpoint that serves it;
- where a conversion error's value sits in the corpus, hence which field it is;
- whether the endpoint's ``records_key`` is one the connector reads at all, whether it names a
  corpus that exists;
- whether corpus dates fell out of the connector's "now minus window", or a fixed start date
  outgrew the iteration cap (``environment``: the clock, with the dates as evidence);
- for a request no endpoint models, which side the source's API documentation agrees with, and
  the connector line that builds the URL.

:func:`split` makes one failure per fact (blame judges each); :func:`public_fact` is the rule: it
judges setup errors (``config``) and exceptions the harness kept only the message of here, and
hands the rest to one module per family of evidence: :mod:`.public_reads` (empty reads, reads that
never settle, the clock), :mod:`.public_records` (values, fields and keys against the corpus) and
:mod:`.public_requests` (requests the spec does not model); :mod:`.public_table` finds a table's
files for them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from connector_watch.daemon.blame import public_reads, public_records, public_requests
from connector_watch.daemon.blame.context import Context, FailureInput, connector_site, first_line
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range
from connector_watch.daemon.sources_view import find_line, yaml_key_span

# ---------------------------------------------------------------------------- one failure per fact


def split(failure: FailureInput, layout: Any, view: Any) -> list[FailureInput] | None:
    """One failure per public-harness fact of the outermost exception (None: no facts)."""
    chain = (failure.failure or {}).get("chain") or []
    if not chain or not chain[0].get("facts"):
        return None
    outer, rest = chain[0], chain[1:]
    # A test class without simulator_source (a scenario test building its own simulator) still
    # belongs to the source whose test directory holds it.
    source = failure.source or (layout.owner(failure.test_file)[0] if failure.test_file else None)
    parts = []
    for fact in outer["facts"]:
        item = {**fact, "frames": fact.get("frames") or outer.get("frames", [])}
        if item.get("issues"):
            item["issues"] = [_locate_issue(view, issue) for issue in item["issues"]]
        table = (fact.get("harness") or {}).get("table") or fact.get("table") or failure.table
        parts.append(
            dataclasses.replace(
                failure,
                failure={**(failure.failure or {}), "chain": [item, *rest]},
                table=table,
                source=source,
            )
        )
    return parts


def _locate_issue(view: Any, issue: dict[str, Any]) -> dict[str, Any]:
    """The public spec loader names an endpoint by index: find its line."""
    if issue.get("line") is not None:
        return issue
    line = 1
    if issue.get("endpoint") is not None:
        span = yaml_key_span(view, issue["file"], ("endpoints", issue["endpoint"]), "path") or yaml_key_span(
            view, issue["file"], ("endpoints", issue["endpoint"]), "method"
        )
        if span is not None:
            line = span.start.line
    return {**issue, "line": line, "column": 1}


def dedupe(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: dict[tuple[Any, ...], Diagnostic] = {}
    for d in diagnostics:
        key = (d.blame, d.message, d.location.path, d.location.range.start.line)
        if key not in seen:
            seen[key] = d
    return list(seen.values())


# ---------------------------------------------------------------------------- the rule


def public_fact(ctx: Context) -> list[Diagnostic] | None:
    """Judge a public-harness fact when no request trace tells more (else the generic rules do)."""
    if not ctx.chain or not ctx.chain[0].get("publicHarness"):
        return None
    fact = ctx.chain[0]
    harness = fact.get("harness") or {}
    check = harness.get("check") or ""
    if check == "config":
        return _config(ctx, fact, harness)
    if ctx.failure.trace:
        return None  # requests were traced (our simulator answered): the generic rules know more
    if fact.get("request") and not fact["request"].get("nearest"):
        return public_requests.unknown_endpoint(ctx, fact)
    if fact.get("unknownParams"):
        return public_requests.unknown_params(ctx, fact)
    handlers = {
        "read.empty_first_read": public_reads.empty_read,
        "read.terminates": public_reads.terminates,
        "read.schema_parse": public_records.schema_parse,
        "read.non_nullable": public_records.missing_fields,
        "read.null_primary_key": public_records.missing_fields,
        "deletes.primary_key": public_records.missing_fields,
        "metadata.not_in_schema": public_records.not_in_schema,
    }
    handler = handlers.get(check)
    if handler is None and check.endswith(".raised"):
        handler = _raised
    if handler is None and check == "read.null_columns":
        handler = public_records.null_columns
    return handler(ctx, harness) if handler else None


def _raised(ctx: Context, harness: dict[str, Any]) -> list[Diagnostic]:
    """The connector raised inside a harness ``try`` that kept only its message (no traceback)."""

    details = harness.get("details") or {}
    call = details.get("call") or "read_table"
    error = (details.get("error") or "").strip()
    table = harness.get("table") or ctx.failure.table
    what = "while its records were iterated" if details.get("while_iterating") else "during repeated reads"
    return [
        ctx.diag(
            "connector",
            f"{call}({table!r}) raised {what}: {error}".replace("  ", " "),
            connector_site(ctx, call),
            0.6,
            code=harness.get("check"),
            evidence=[
                "the public harness kept only the exception's message; the traceback of another node of "
                "this class may show the line"
            ],
            fix=harness.get("hint"),
        )
    ]


# ---------------------------------------------------------------------------- rules


def _config(ctx: Context, fact: dict[str, Any], harness: dict[str, Any]) -> list[Diagnostic]:

    message = first_line(fact.get("message"))
    details = harness.get("details") or {}
    test_file, cls = _test_class(ctx)
    key = None
    if details.get("missing_spec") or details.get("corpus_dir") or "simulate' mode requires" in message:
        key = "simulator_source"
    elif "credentials" in message.lower() or "CONNECTOR_TEST_CONFIG" in message:
        key = "replay_config"
    location = _class_attribute(ctx, test_file, cls, key) if test_file else None
    if details.get("missing_spec"):
        message = f"simulator_source names a source without a spec: {details['missing_spec']} does not exist"
    return [
        ctx.diag(
            "test",
            message,
            location or ctx.node_location(),
            0.9,
            fix=harness.get("hint"),
            code="harness.config",
            evidence=[line.strip() for line in (fact.get("message") or "").splitlines()[:4]],
        )
    ]


def _test_class(ctx: Context) -> tuple[str | None, str | None]:
    parts = ctx.failure.node_id.split("::")
    test_file = ctx.failure.test_file or parts[0]
    cls = parts[1] if len(parts) > 2 else None
    return test_file, cls


def _class_attribute(ctx: Context, path: str, cls: str | None, key: str | None) -> Location | None:
    text = ctx.view.text(path)
    if text is None:
        return None
    lines = text.splitlines()
    start = 0
    if cls:
        found = find_line(ctx.view, path, rf"^class {re.escape(cls)}\b")
        if found is None:
            return None
        start = found[0]
    if key:
        for number in range(start + 1, len(lines)):
            if re.match(r"^\S", lines[number]):
                break  # the class ended
            if re.match(rf"^\s+{re.escape(key)}\s*[:=]", lines[number]):
                return Location(path, Range.lines(number))
    return Location(path, Range.lines(start))
