"""The live validator: where the spec and corpus drift from the live API.

Record mode asks, for every live request, what simulate mode would have
answered (:meth:`Simulator.simulate_request`) and compares the two responses:

* **status codes**: an undeclared error status is drift; 429/5xx are reported as
  transient (they are not drift, but ``errors:`` can model them); 401/403 are
  credential problems;
* **body shape and wrapper keys**: list vs object, ``wrapper.records_key``
  present, top-level keys both ways (``ignore_extra_keys`` honoured);
* **pagination signals**: the ``Link`` header and next-page keys the live API
  uses against the spec's ``pagination_style`` and ``pagination.next_key``;
* **records**: *every* record of both sides, *nested fields* included (dotted
  paths, ``[]`` for list items), both ways: fields live has and the corpus never
  has, fields the corpus has and live never returns, value types (null, bool,
  int, float, str, list, dict), and nullability.

Each finding names the spec line (or the corpus file and record) to change and
suggests the fix. ``build_report`` (``validation_report``) returns the public
``<cassette>.validation.json`` shape (``endpoints[].issues`` stay strings) with
the structured findings beside them. The response checks live in
``response_checks``, the record comparison in ``record_drift``; this module
holds the ``Validator`` that runs them and the report's command line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector_watch.simulator import trace as trace_module
from connector_watch.simulator.corpus import CorpusStore
from connector_watch.simulator.interactions import Interaction
from connector_watch.simulator.locations import json_value_spans
from connector_watch.simulator.pagination import position_params
from connector_watch.simulator.record_drift import record_findings, type_tag
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.response_checks import (
    pagination_findings,
    records_of,
    shape_finding,
    status_finding,
    wrapper_findings,
)
from connector_watch.simulator.spec import Endpoint, Spec
from connector_watch.simulator.validation_report import (
    EndpointRow,
    Finding,
    Location,
    build_report,
    has_drift,
    render_text,
)

_ID_SEGMENT = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]{20,})$",
    re.IGNORECASE,
)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def suggest_path_template(path: str) -> str:
    """``/repositories/123/issues`` → ``/repositories/{id}/issues`` (id-like segments become placeholders)."""
    parts = path.split("/")
    out = []
    used: dict[str, int] = {}
    for i, part in enumerate(parts):
        if part and _ID_SEGMENT.match(part):
            prev = parts[i - 1] if i > 0 else ""
            base = (_singular(prev) + "_id") if prev and not _ID_SEGMENT.match(prev) else "id"
            base = re.sub(r"[^A-Za-z0-9_]", "_", base) or "id"
            used[base] = used.get(base, 0) + 1
            out.append("{" + (base if used[base] == 1 else f"{base}{used[base]}") + "}")
        else:
            out.append(part)
    return "/".join(out)


# --------------------------------------------------------------------------- the validator


class Validator:
    """Compares live responses with what the spec + corpus would serve.

    ``simulate`` answers a request the way simulate mode would (the recording
    passes :meth:`Simulator.simulate_request`).
    """

    def __init__(
        self,
        spec: Spec,
        corpus: CorpusStore,
        simulate: Callable[[SimRequest], Any],
        *,
        cassette: str | None = None,
    ) -> None:
        self.spec = spec
        self.corpus = corpus
        self.simulate = simulate
        self.cassette = cassette
        self.rows: dict[tuple[str, str], EndpointRow] = {}
        self._corpus_spans: dict[str, tuple[dict, dict]] = {}

    # ------------------------------------------------------------------ locations
    def spec_location(self, endpoint: Endpoint, *keys: str | int, note: str = "") -> Location:
        """The spec line of ``endpoints[i].<keys>``, or the nearest located parent."""
        where: tuple[str | int, ...] = ("endpoints", endpoint.index, *keys)
        doc = self.spec.document
        span = None
        probe = where
        while probe and span is None:
            if probe in doc.value_spans or probe in doc.key_spans:
                span = doc.key_spans.get(probe) or doc.value_spans.get(probe)
            else:
                probe = probe[:-1]
        if span is None or len(probe) < 2:
            return Location(self.spec.file, endpoint.line, 1, note)
        return Location(self.spec.file, span.start.line, span.start.column, note)

    def corpus_location(
        self, table: str | None, record: int | None, key: str | None = None
    ) -> Location | None:
        if not table:
            return None
        display = self.corpus.display_path(table)
        if table not in self._corpus_spans:
            path = self.corpus.path(table)
            try:
                text = path.read_text(encoding="utf-8")
                self._corpus_spans[table] = json_value_spans(text, max_depth=2)
            except (OSError, UnicodeDecodeError):
                self._corpus_spans[table] = ({}, {})
        values, keys = self._corpus_spans[table]
        note = f"record #{record}" if record is not None else ""
        if record is not None:
            top = key.split(".")[0].split("[")[0] if key else None
            span = (keys.get((record, top)) if top else None) or values.get((record,))
            if span is not None:
                return Location(display, span.start.line, span.start.column, note)
        return Location(display, 1, 1, note)

    # ------------------------------------------------------------------ entry point
    def validate(self, request: SimRequest, live: Interaction, sample_url: str) -> list[Finding]:
        match = self.spec.match(request.method, request.path)
        if match is None:
            return self._no_spec(request, live, sample_url)
        endpoint, _ = match
        row = self._row(request.method, endpoint, sample_url)
        row.calls += 1
        row.statuses[str(live.response.status_code)] = row.statuses.get(str(live.response.status_code), 0) + 1
        try:
            findings = self._compare(endpoint, request, live, row)
        except Exception as exc:  # a validator bug must not lose the recording
            findings = [
                Finding(
                    "validator_error",
                    "error",
                    f"validator raised {type(exc).__name__}: {exc}",
                    fix="report this: the comparison of this response failed",
                    location=self.spec_location(endpoint),
                )
            ]
        for finding in findings:
            finding.example_url = finding.example_url or sample_url
            row.add(finding)
        if any(f.drift for f in findings):
            row.mismatched += 1
        else:
            row.matched += 1
        return findings

    def _row(
        self, method: str, endpoint: Endpoint | None, sample_url: str, key: str | None = None
    ) -> EndpointRow:
        path = endpoint.path if endpoint else None
        row_key = (method, path or key or sample_url)
        if row_key not in self.rows:
            self.rows[row_key] = EndpointRow(
                method,
                path,
                sample_url,
                line=endpoint.line if endpoint else None,
                corpus=endpoint.corpus if endpoint else None,
                endpoint=endpoint,
            )
        return self.rows[row_key]

    def _no_spec(self, request: SimRequest, live: Interaction, sample_url: str) -> list[Finding]:
        template = suggest_path_template(request.path)
        row = self._row(request.method, None, sample_url, key=f"{request.method} {template}")
        row.suggested_path = template
        row.calls += 1
        row.no_spec += 1
        row.statuses[str(live.response.status_code)] = row.statuses.get(str(live.response.status_code), 0) + 1
        nearest = self.spec.nearest(request.method, request.path)
        finding = Finding(
            "no_spec",
            "error",
            f"no matching endpoint spec for {request.method} {template}",
            fix=f"add an endpoint to {self.spec.file}:  - path: {template}\n    method: {request.method}"
            + (f"\n  (nearest spec entries: {', '.join(nearest)})" if nearest else ""),
            live={"path": request.path, "suggested_path": template},
            location=Location(self.spec.file, _endpoints_line(self.spec), 1, "endpoints:"),
            example_url=sample_url,
        )
        row.add(finding)
        return [finding]

    # ------------------------------------------------------------------ comparison
    def _simulated(self, endpoint: Endpoint, request: SimRequest, live_status: int) -> tuple[Any, str | None]:
        """simulate mode's answer (and a note when it answered a changed request).

        Past declared ``on_calls`` errors when live succeeded; without the live API's page token
        (opaque to the spec, which would answer 400) when the request carries one.
        """
        response = self.simulate(request)
        attempts = max((max(e.on_calls) for e in endpoint.errors if e.on_calls), default=0)
        while attempts > 0 and 200 <= live_status < 300 and not 200 <= response.status_code < 300:
            response = self.simulate(request)
            attempts -= 1
        if 200 <= live_status < 300 and response.status_code == 400:
            stripped, removed = _without_page_token(request, endpoint)
            if removed:
                return self.simulate(stripped), (
                    f"compared with the spec's first page: the live page token ({', '.join(removed)}) means "
                    "nothing to the spec"
                )
        return response, None

    def _compare(
        self, endpoint: Endpoint, request: SimRequest, live: Interaction, row: EndpointRow
    ) -> list[Finding]:
        findings: list[Finding] = []
        status = live.response.status_code
        declared = {e.status for e in endpoint.errors} | set(endpoint.response.expected_status_codes)
        if not 200 <= status < 300:
            findings.append(status_finding(self.spec_location, endpoint, status, declared))
            return findings
        with _quiet_trace():
            try:
                simulated, note = self._simulated(endpoint, request, status)
            except Exception as exc:
                where = (
                    self.spec_location(endpoint, "handler")
                    if endpoint.handler
                    else self.spec_location(endpoint)
                )
                return [
                    Finding(
                        "handler_error" if endpoint.handler else "simulate_error",
                        "error",
                        f"simulate mode raised {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                        fix=f"fix {'handler ' + str(endpoint.handler) if endpoint.handler else 'the endpoint'} "
                        f"so it answers this request",
                        location=where,
                    )
                ]
        if note:
            findings.append(
                Finding(
                    "page_token",
                    "info",
                    note,
                    location=self.spec_location(endpoint, "response", "pagination_style"),
                )
            )
        if not 200 <= simulated.status_code < 300:
            findings.append(
                Finding(
                    "status_code",
                    "error",
                    f"status_code: live={status} spec={simulated.status_code}",
                    fix=f"the spec answered {simulated.status_code} ({_body_excerpt(simulated)}) where the live API "
                    "succeeded: check this endpoint's params, strict_params and errors",
                    live=status,
                    spec=simulated.status_code,
                    location=self.spec_location(endpoint, "strict_params")
                    if endpoint.strict_params
                    else self.spec_location(endpoint),
                )
            )
            return findings
        live_body = live.response.json() if live.response.body_text is not None else None
        try:
            spec_body = simulated.json() if simulated.content else None
        except ValueError:
            spec_body = None
        if live_body is None or spec_body is None:
            if (live_body is None) != (spec_body is None) and live.response.body_text:
                findings.append(
                    Finding(
                        "not_json",
                        "warning",
                        f"body: live is {'not JSON' if live_body is None else 'JSON'}, "
                        f"spec is {'not JSON' if spec_body is None else 'JSON'}",
                        fix="check the corpus value's shape (a string is served as text)",
                        location=self.spec_location(endpoint, "corpus"),
                    )
                )
            return findings
        if type_tag(live_body) != type_tag(spec_body):
            findings.append(shape_finding(self.spec_location, endpoint, live_body, spec_body))
            live_records = records_of(live_body, None)
            spec_records = records_of(spec_body, endpoint)
        else:
            live_records, spec_records = wrapper_findings(
                self.spec_location, endpoint, live_body, spec_body, findings
            )
        if not endpoint.handler:
            findings.extend(pagination_findings(self.spec_location, endpoint, live, live_body))
        # Fields and types are compared per endpoint, over every call, when the report is built.
        row.live_records.extend(r for r in live_records if isinstance(r, dict))
        row.spec_records.extend(r for r in spec_records if isinstance(r, dict))
        return findings

    def _reseed_hint(self) -> str:
        if not self.cassette:
            return ", or re-seed it from the cassette (python -m connector_watch.simulator.tools.cassette_to_corpus)"
        return (
            f", or re-seed it: python -m connector_watch.simulator.tools.cassette_to_corpus --cassette {self.cassette} "
            f"--spec {self.spec.file} --output {self.corpus.display}"
        )

    # ------------------------------------------------------------------ the report
    def finalize(self) -> None:
        """Compare each endpoint's live records with the corpus (once every call is in)."""
        for row in self.rows.values():
            if row.endpoint is None or not row.live_records:
                continue
            try:
                findings = record_findings(
                    row.endpoint,
                    row.live_records,
                    row.spec_records,
                    corpus=self.corpus,
                    spec_location=self.spec_location,
                    corpus_location=self.corpus_location,
                    reseed=self._reseed_hint(),
                )
            except Exception as exc:  # a validator bug must not lose the recording
                findings = [
                    Finding(
                        "validator_error",
                        "error",
                        f"validator raised {type(exc).__name__} comparing records: {exc}",
                        location=self.spec_location(row.endpoint),
                    )
                ]
            for finding in findings:
                finding.example_url = row.sample_url
                row.add(finding)
            row.record_drift = row.record_drift or any(f.drift for f in findings)
            row.live_records, row.spec_records = [], []

    def report(self, *, generated_at: str | None = None) -> dict[str, Any]:
        self.finalize()
        return build_report(self.rows.values(), generated_at=generated_at, spec_file=self.spec.file)


def _without_page_token(request: SimRequest, endpoint: Endpoint) -> tuple[SimRequest, list[str]]:
    """``request`` without its opaque page-token parameters (cursor role, ``$skiptoken`` ...)."""
    token_names = {p.name for p in endpoint.params.values() if p.role == "cursor"}
    token_names |= {n for n in position_params(endpoint) if n not in endpoint.params}
    removed: list[str] = []
    url = request.url
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k not in token_names]
    if len(kept) != len(pairs):
        removed += sorted({k for k, _ in pairs if k in token_names})
        url = urlunsplit(parts._replace(query=urlencode(kept)))
    body = request.body
    body_params = [p for p in endpoint.params.values() if p.role == "cursor" and p.location == "body"]
    if body_params and isinstance(request.json_body, dict):
        data = json.loads(json.dumps(request.json_body))
        for param in body_params:
            keys = param.body_key.split(".")
            node = data
            for key in keys[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and keys[-1] in node:
                del node[keys[-1]]
                removed.append(param.name)
        body = json.dumps(data).encode()
    if not removed:
        return request, []
    return SimRequest(request.method, url, dict(request.headers), body, request.timeout), removed


def _body_excerpt(response: Any) -> str:
    try:
        text = response.content.decode("utf-8", errors="replace")
    except AttributeError:
        return ""
    return text[:120]


def _endpoints_line(spec: Spec) -> int:
    span = spec.document.key_spans.get(("endpoints",))
    return span.start.line if span else 1


class _quiet_trace:
    """The validator's simulated requests are not connector traffic: keep them out of active traces."""

    def __enter__(self) -> None:
        self._saved = list(trace_module._sinks)
        trace_module._sinks.clear()

    def __exit__(self, *exc: object) -> None:
        trace_module._sinks[:] = self._saved


def sample_url_of(interaction: Interaction) -> str:
    """The (scrubbed) URL of a recorded request, query included."""
    request = interaction.request
    if not request.query:
        return request.url
    pairs: list[tuple[str, str]] = []
    for key, value in request.query.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, str(item)))
    return f"{request.url}?{urlencode(pairs)}"


def main(argv: list[str] | None = None) -> int:
    """``python -m connector_watch.simulator.validator <cassette>.validation.json ...``: print reports as text.

    Exit status 1 when any report shows drift (an endpoint without spec, or mismatched: any
    difference in fields, types, wrapper or status, warnings included), 2 on an unreadable file.
    Reads the public validator's reports as well.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m connector_watch.simulator.validator", description=main.__doc__.splitlines()[0]
    )
    parser.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args(argv)
    drift = False
    for path in args.reports:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        print(f"{path}:")
        print(render_text(report))
        drift = drift or has_drift(report)
    return 1 if drift else 0


if __name__ == "__main__":
    raise SystemExit(main())
