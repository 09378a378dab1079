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
suggests the fix. :func:`build_report` returns the public
``<cassette>.validation.json`` shape (``endpoints[].issues`` stay strings) with
the structured findings beside them.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector_watch.simulator import trace as trace_module
from connector_watch.simulator.corpus import CorpusStore
from connector_watch.simulator.interactions import Interaction
from connector_watch.simulator.locations import json_value_spans
from connector_watch.simulator.pagination import position_params
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.sampling import END_FLAGS, MORE_FLAGS, NEXT_KEYS, _marker_keys, records_path
from connector_watch.simulator.spec import Endpoint, Spec
from connector_watch.simulator.values import dotted_get

REPORT_VERSION = 1
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
BODY_POINTER_STYLES = frozenset({"cursor", "next_url", "odata_next_link"})
_ID_SEGMENT = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]{20,})$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int = 1
    note: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "line": self.line, "column": self.column}
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Finding:
    kind: str
    severity: str  # error | warning | info
    message: str
    fix: str = ""
    path: str | None = None
    live: Any = None
    spec: Any = None
    location: Location | None = None
    related: list[Location] = field(default_factory=list)
    count: int = 1
    example_url: str | None = None

    @property
    def drift(self) -> bool:
        return self.severity in ("error", "warning")

    def issue_text(self) -> str:
        places = [str(p) for p in ([self.location] if self.location else []) + self.related]
        where = f" [{'; '.join(places)}]" if places else ""
        return f"{self.message}{where}"

    def dedupe_key(self) -> tuple:
        return (self.kind, self.path, self.message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "severity": self.severity, "message": self.message}
        if self.path is not None:
            data["path"] = self.path
        if self.live is not None:
            data["live"] = self.live
        if self.spec is not None:
            data["spec"] = self.spec
        if self.location is not None:
            data["location"] = self.location.to_dict()
        if self.related:
            data["related"] = [r.to_dict() for r in self.related]
        data["fix"] = self.fix
        data["count"] = self.count
        if self.example_url:
            data["example_url"] = self.example_url
        return data


@dataclass
class EndpointRow:
    method: str
    spec_path: str | None
    sample_url: str
    line: int | None = None
    corpus: str | None = None
    calls: int = 0
    matched: int = 0
    mismatched: int = 0
    no_spec: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    findings: dict[tuple, Finding] = field(default_factory=dict)
    endpoint: Endpoint | None = None
    live_records: list[Any] = field(default_factory=list)
    spec_records: list[Any] = field(default_factory=list)
    record_drift: bool = False  # endpoint-level record findings (fields, types) found drift
    suggested_path: str | None = None  # no_spec rows: a path template for the missing endpoint

    @property
    def status(self) -> str:
        if self.no_spec:
            return "no_spec"
        if self.mismatched or self.record_drift:
            return "mismatched"
        if self.calls and self.matched:
            return "validated"
        return "unknown"

    def add(self, finding: Finding) -> None:
        key = finding.dedupe_key()
        known = self.findings.get(key)
        if known is None:
            self.findings[key] = finding
        else:
            known.count += 1

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(
            self.findings.values(), key=lambda f: (SEVERITY_RANK.get(f.severity, 3), f.kind, f.path or "")
        )
        return {
            "method": self.method,
            "spec_path": self.spec_path,
            "sample_url": self.sample_url,
            "status": self.status,
            "calls": self.calls,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "no_spec": self.no_spec,
            "issues": [f.issue_text() for f in ordered if f.drift or f.kind == "no_spec"],
            # beyond the public shape
            "spec_line": self.line,
            "corpus": self.corpus,
            **({"suggested_path": self.suggested_path} if self.suggested_path else {}),
            "statuses": dict(sorted(self.statuses.items())),
            "findings": [f.to_dict() for f in ordered],
        }


# --------------------------------------------------------------------------- field profiles


def type_tag(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


@dataclass
class FieldStats:
    types: set[str] = field(default_factory=set)
    nulls: int = 0
    present: int = 0
    example: Any = None
    first_record: int | None = None  # index (within the profiled records) of a record with a value
    by_type_record: dict[str, int] = field(default_factory=dict)


def profile(records: Iterable[Any]) -> dict[str, FieldStats]:
    """Every dotted field path of ``records`` with the types, nulls and presence seen."""
    stats: dict[str, FieldStats] = defaultdict(FieldStats)

    def note(path: str, value: Any, index: int) -> None:
        entry = stats[path]
        entry.present += 1
        tag = type_tag(value)
        if tag == "null":
            entry.nulls += 1
        else:
            entry.types.add(tag)
            entry.by_type_record.setdefault(tag, index)
            if entry.example is None and not isinstance(value, (dict, list)):
                entry.example = value if not isinstance(value, str) else value[:60]
            if entry.first_record is None:
                entry.first_record = index
        if isinstance(value, dict):
            for key, item in value.items():
                note(f"{path}.{key}", item, index)
        elif isinstance(value, list):
            for item in value:
                note(f"{path}[]", item, index)

    for index, record in enumerate(records):
        if isinstance(record, dict):
            for key, value in record.items():
                note(str(key), value, index)
    return dict(stats)


def parent_path(path: str) -> str | None:
    if path.endswith("[]"):
        return path[:-2]
    if "." in path:
        return path.rsplit(".", 1)[0]
    return None


def _top_most(paths: set[str]) -> list[str]:
    result = []
    for path in sorted(paths):
        parent = parent_path(path)
        while parent is not None and parent not in paths:
            parent = parent_path(parent)
        if parent is None:
            result.append(path)
    return result


def _kinds(types: set[str]) -> set[str]:
    return {"number" if t in ("int", "float") else t for t in types}


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
            findings.append(self._status_finding(endpoint, status, declared))
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
            findings.append(self._shape_finding(endpoint, live_body, spec_body))
            live_records = _records_of(live_body, None)
            spec_records = _records_of(spec_body, endpoint)
        else:
            live_records, spec_records = self._wrapper_findings(endpoint, live_body, spec_body, findings)
        if not endpoint.handler:
            findings.extend(self._pagination_findings(endpoint, live, live_body))
        # Fields and types are compared per endpoint, over every call, when the report is built.
        row.live_records.extend(r for r in live_records if isinstance(r, dict))
        row.spec_records.extend(r for r in spec_records if isinstance(r, dict))
        return findings

    def _status_finding(self, endpoint: Endpoint, status: int, declared: set[int]) -> Finding:
        if status in declared:
            return Finding(
                "declared_status",
                "info",
                f"status {status} is declared in the spec",
                live=status,
                location=self.spec_location(endpoint, "errors")
                if endpoint.errors
                else self.spec_location(endpoint, "response", "expected_status_codes"),
            )
        if status in TRANSIENT_STATUSES:
            return Finding(
                "transient_status",
                "info",
                f"status_code: live={status} (transient; the connector retried)",
                fix=f"to exercise the retry in simulate mode, declare it: errors: [{{status: {status}, "
                f"headers: {{Retry-After: '0'}}, on_calls: [1]}}]",
                live=status,
                location=self.spec_location(endpoint),
            )
        if status in AUTH_STATUSES:
            return Finding(
                "auth",
                "error",
                f"status_code: live={status} spec=200 (the live API refused the credentials)",
                fix="check the credentials in the connector config (CONNECTOR_TEST_CONFIG_JSON / _PATH); if the "
                f"API answers {status} by design here, declare it under errors:",
                live=status,
                spec=200,
                location=self.spec_location(endpoint),
            )
        return Finding(
            "status_code",
            "error",
            f"status_code: live={status} spec=200",
            fix=f"declare it (errors: [{{status: {status}}}] or response.expected_status_codes: [{status}]), or "
            "fix the request the connector sends",
            live=status,
            spec=200,
            location=self.spec_location(endpoint),
        )

    def _shape_finding(self, endpoint: Endpoint, live_body: Any, spec_body: Any) -> Finding:
        live_kind, spec_kind = type_tag(live_body), type_tag(spec_body)
        if live_kind == "list" and endpoint.response.wrapper is not None:
            fix = "remove response.wrapper: the live API returns a bare list"
            where = self.spec_location(endpoint, "response", "wrapper")
        elif live_kind == "dict" and spec_kind == "list":
            path = records_path(live_body)
            key = ".".join(path) if path else "<records key>"
            fix = f"wrap the records: response: {{wrapper: {{records_key: {key}}}}}"
            where = self.spec_location(endpoint, "response")
        else:
            fix = "make the corpus value the shape the live API returns"
            where = self.spec_location(endpoint, "corpus")
        return Finding(
            "body_shape",
            "error",
            f"body shape: live={live_kind} spec={spec_kind}",
            fix=fix,
            live=live_kind,
            spec=spec_kind,
            location=where,
        )

    def _wrapper_findings(
        self, endpoint: Endpoint, live_body: Any, spec_body: Any, findings: list[Finding]
    ) -> tuple[list[Any], list[Any]]:
        if isinstance(live_body, list):
            return live_body, spec_body
        if endpoint.response.single_entity:
            return [live_body], [spec_body]
        wrapper = endpoint.response.wrapper
        spec_path = records_path(spec_body, endpoint)
        spec_records = _get(spec_body, spec_path) if spec_path else []
        live_records: Any = None
        records_root = None
        if wrapper is not None:
            key_path = tuple(wrapper.records_key.split("."))
            records_root = key_path[0]
            live_records = _get(live_body, key_path)
            if not isinstance(live_records, list):
                found = records_path(live_body)
                live_key = ".".join(found) if found else None
                findings.append(
                    Finding(
                        "wrapper_key",
                        "error",
                        f"records_key '{wrapper.records_key}' is not in the live response"
                        + (f"; live has its records under '{live_key}'" if live_key else ""),
                        fix=f"set response.wrapper.records_key: {live_key}"
                        if live_key
                        else "check response.wrapper.records_key against the live body",
                        path=wrapper.records_key,
                        live=live_key,
                        spec=wrapper.records_key,
                        location=self.spec_location(endpoint, "response", "wrapper", "records_key"),
                    )
                )
                live_records = _get(live_body, found) if found else []
                if found:
                    records_root = found[0]  # the live records key is not a wrapper extra
        else:
            found = records_path(live_body)
            live_records = _get(live_body, found) if found else []
            records_root = found[0] if found else None
        skip = {records_root, (wrapper.records_key.split(".")[0] if wrapper else None)}
        skip |= {p[0] for p in _marker_keys(endpoint)[0]}
        live_keys = {k for k in live_body if k not in skip and not _is_marker_key(k)}
        spec_keys = (
            {k for k in spec_body if k not in skip and not _is_marker_key(k)}
            if isinstance(spec_body, dict)
            else set()
        )
        extra = sorted(live_keys - spec_keys)
        missing = sorted(spec_keys - live_keys)
        ignore_extra = bool(wrapper and wrapper.ignore_extra_keys)
        where_extras = self.spec_location(endpoint, "response", "wrapper", "extras")
        if extra and not ignore_extra:
            findings.append(
                Finding(
                    "extra_key",
                    "warning",
                    f"top-level keys in live missing from spec: {extra}",
                    fix=f"add {', '.join(extra)} to response.wrapper.extras, or set "
                    "response.wrapper.ignore_extra_keys: true",
                    path=",".join(extra),
                    live=extra,
                    location=where_extras,
                )
            )
        if missing:
            findings.append(
                Finding(
                    "missing_key",
                    "warning",
                    f"top-level keys in spec missing from live: {missing}",
                    fix=f"remove {', '.join(missing)} from response.wrapper.extras",
                    path=",".join(missing),
                    spec=missing,
                    location=where_extras,
                )
            )
        return (live_records if isinstance(live_records, list) else []), (
            spec_records if isinstance(spec_records, list) else []
        )

    def _pagination_findings(self, endpoint: Endpoint, live: Interaction, live_body: Any) -> list[Finding]:
        findings: list[Finding] = []
        style = endpoint.response.pagination_style
        where = self.spec_location(endpoint, "response", "pagination_style")
        link = next((v for k, v in live.response.headers.items() if k.lower() == "link"), "")
        if 'rel="next"' in link and style != "page_number_with_link_header":
            findings.append(
                Finding(
                    "pagination",
                    "error",
                    f'live pages with a Link header (rel="next"); spec pagination_style is {style}',
                    fix="set response.pagination_style: page_number_with_link_header",
                    live="Link",
                    spec=style,
                    location=where,
                )
            )
        markers = _live_markers(live_body)
        if not markers:
            return findings
        declared = _marker_keys(endpoint)[0]
        declared_dotted = {".".join(p) for p in declared}

        def explained(marker: str) -> bool:
            return any(
                marker == d or marker.startswith(d + ".") or d.startswith(marker + ".")
                for d in declared_dotted
            )

        unexplained = [m for m in markers if not explained(m)]
        if not unexplained or any(explained(m) for m in markers):
            return findings
        marker = unexplained[0]
        value = dotted_get(live_body, marker) if not marker.startswith("@") else live_body.get(marker)
        suggestion = _suggest_style(marker, value)
        if style in BODY_POINTER_STYLES:
            message = f"live points at the next page with '{marker}'; spec expects '{', '.join(sorted(declared_dotted)) or style}'"
            fix = f"set response.pagination: {{next_key: {marker}}}"
            location = self.spec_location(endpoint, "response", "pagination")
        else:
            message = f"live paginates with '{marker}'; spec pagination_style is {style}"
            fix = f"set response.pagination_style: {suggestion}" + (
                f" and response.pagination: {{next_key: {marker}}}"
                if suggestion in ("cursor", "next_url")
                else ""
            )
            location = where
        findings.append(
            Finding(
                "pagination",
                "error",
                message,
                fix=fix,
                path=marker,
                live=marker,
                spec=style,
                location=location,
            )
        )
        return findings

    def _record_findings(
        self, endpoint: Endpoint, live_records: list[Any], spec_answers: list[Any]
    ) -> list[Finding]:
        """Every live record of the endpoint against the corpus: fields both ways, types, nulls.

        Fields live has and types are checked against the whole corpus table (the records the spec
        can serve); fields live never returned against the records the spec served for the same
        requests (so a field of a record the connector never asked for is not "missing").
        """
        live_records = [r for r in live_records if isinstance(r, dict)]
        if not live_records:
            return []
        table = endpoint.corpus
        corpus_value = self.corpus.get(table) if table else None
        if isinstance(corpus_value, list):
            corpus_records = [r for r in corpus_value if isinstance(r, dict)]
        elif isinstance(corpus_value, dict):
            corpus_records = [corpus_value]
        else:
            corpus_records = [r for r in spec_answers if isinstance(r, dict)]
        if not corpus_records:
            return []
        live_profile = profile(live_records)
        corpus_profile = profile(corpus_records)
        answer_profile = profile(spec_answers) if spec_answers else {}
        indexed = corpus_value if isinstance(corpus_value, list) else None
        findings: list[Finding] = []
        corpus_display = self.corpus.display_path(table) if table else "the corpus"
        reseed = self._reseed_hint()
        checked = f"{len(live_records)} live record(s), {len(corpus_records)} corpus record(s)"

        for path in _top_most(set(live_profile) - set(corpus_profile)):
            stats = live_profile[path]
            types = "|".join(sorted(stats.types)) or "null"
            findings.append(
                Finding(
                    "extra_field",
                    "warning",
                    f"record field '{path}' in live missing from corpus (live={types})",
                    fix=f"add '{path}' to the records of {corpus_display}{reseed}",
                    path=path,
                    live=sorted(stats.types) or ["null"],
                    location=self.corpus_location(table, 0 if indexed else None, path),
                    related=[self.spec_location(endpoint, "corpus", note="the endpoint serving this corpus")],
                )
            )
        for path in _top_most(set(answer_profile) - set(live_profile)):
            stats = answer_profile[path]
            in_corpus = corpus_profile.get(path)
            record = (
                in_corpus.first_record
                if in_corpus is not None and indexed is not None
                else self._corpus_index(indexed, spec_answers, stats.first_record or 0)
            )
            findings.append(
                Finding(
                    "missing_field",
                    "warning",
                    f"record field '{path}' in corpus never returned by live ({checked})",
                    fix=f"remove '{path}' from {corpus_display} if the API dropped it, or check the fields the "
                    "connector asks for ($select, properties)",
                    path=path,
                    spec=sorted(stats.types) or ["null"],
                    location=self.corpus_location(table, record, path),
                )
            )
        for path in sorted(set(live_profile) & set(corpus_profile)):
            live_stats, spec_stats = live_profile[path], corpus_profile[path]
            live_kinds, spec_kinds = _kinds(live_stats.types), _kinds(spec_stats.types)
            new_kinds = live_kinds - spec_kinds
            if new_kinds and spec_kinds:
                tag = next(iter(sorted(spec_stats.by_type_record)), None)
                index = spec_stats.by_type_record.get(tag, 0) if tag else 0
                record = self._corpus_index(indexed, corpus_records, index)
                live_t = "|".join(sorted(live_stats.types))
                spec_t = "|".join(sorted(spec_stats.types))
                findings.append(
                    Finding(
                        "type_mismatch",
                        "error",
                        f"field '{path}': live={live_t} corpus={spec_t}",
                        fix=f"change '{path}' to {live_t} values in {corpus_display}"
                        + (
                            f" (record #{record}; live example: {live_stats.example!r})"
                            if record is not None
                            else ""
                        )
                        + reseed,
                        path=path,
                        live=sorted(live_stats.types),
                        spec=sorted(spec_stats.types),
                        location=self.corpus_location(table, record, path),
                    )
                )
            elif (
                live_kinds == spec_kinds == {"number"}
                and "float" in live_stats.types
                and "float" not in spec_stats.types
            ):
                record = self._corpus_index(indexed, corpus_records, spec_stats.first_record or 0)
                findings.append(
                    Finding(
                        "number_kind",
                        "warning",
                        f"field '{path}': live=float corpus=int",
                        fix=f"give '{path}' a fractional value in {corpus_display} so simulate mode exercises it",
                        path=path,
                        live=sorted(live_stats.types),
                        spec=sorted(spec_stats.types),
                        location=self.corpus_location(table, record, path),
                    )
                )
            elif live_kinds and not spec_kinds:
                findings.append(
                    Finding(
                        "nullability",
                        "warning",
                        f"field '{path}': corpus is always null, live={'|'.join(sorted(live_stats.types))}",
                        fix=f"give '{path}' a real value in some record of {corpus_display}{reseed}",
                        path=path,
                        live=sorted(live_stats.types),
                        spec=["null"],
                        location=self.corpus_location(table, 0 if indexed else None, path),
                    )
                )
            if live_stats.nulls and not spec_stats.nulls and spec_kinds:
                always = not live_kinds
                message = (
                    f"field '{path}': live is always null ({live_stats.nulls} record(s)), "
                    f"corpus={'|'.join(sorted(spec_stats.types))}"
                    if always
                    else f"field '{path}': live has nulls ({live_stats.nulls} of {live_stats.present}), corpus never"
                )
                findings.append(
                    Finding(
                        "nullability",
                        "warning",
                        message,
                        fix=f"add a record with '{path}': null to {corpus_display} (the connector must handle it)",
                        path=path,
                        live=sorted(live_stats.types | {"null"}),
                        spec=sorted(spec_stats.types),
                        location=self.corpus_location(table, 0 if indexed else None, path),
                    )
                )
        served_by = self.spec_location(endpoint, "corpus", note="the endpoint serving this corpus")
        for finding in findings:
            if not finding.related:
                finding.related.append(served_by)
        return findings

    @staticmethod
    def _corpus_index(corpus_records: list[Any] | None, spec_dicts: list[Any], index: int) -> int | None:
        """The corpus index of ``spec_dicts[index]`` (the spec serves corpus records, by identity)."""
        if corpus_records is None or not 0 <= index < len(spec_dicts):
            return None
        target = spec_dicts[index]
        for position, record in enumerate(corpus_records):
            if record is target or record == target:
                return position
        return None

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
                findings = self._record_findings(row.endpoint, row.live_records, row.spec_records)
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


def build_report(
    rows: Iterable[EndpointRow], *, generated_at: str | None = None, spec_file: str | None = None
) -> dict[str, Any]:
    ordered = sorted(rows, key=lambda r: (r.spec_path or r.sample_url, r.method))
    endpoints = [r.to_dict() for r in ordered]
    kinds: dict[str, int] = defaultdict(int)
    for row in ordered:
        for finding in row.findings.values():
            kinds[finding.kind] += 1
    summary = {
        "endpoints_total": len(ordered),
        "endpoints_validated": sum(1 for r in ordered if r.status == "validated"),
        "endpoints_mismatched": sum(1 for r in ordered if r.status == "mismatched"),
        "endpoints_missing_spec": sum(1 for r in ordered if r.status == "no_spec"),
        # beyond the public shape
        "calls": sum(r.calls for r in ordered),
        "drift": any(r.status in ("mismatched", "no_spec") for r in ordered),
        "findings_by_kind": dict(sorted(kinds.items())),
    }
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "generated_at": generated_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endpoints": endpoints,
        "summary": summary,
    }
    if spec_file:
        report["spec"] = spec_file
    return report


def render_text(report: dict[str, Any]) -> str:
    """The report as a person reads it in a terminal."""
    lines = []
    summary = report.get("summary", {})
    lines.append(
        f"{summary.get('endpoints_total', 0)} endpoint(s): {summary.get('endpoints_validated', 0)} validated, "
        f"{summary.get('endpoints_mismatched', 0)} mismatched, {summary.get('endpoints_missing_spec', 0)} without spec"
    )
    for row in report.get("endpoints", []):
        shown = row.get("spec_path") or row.get("suggested_path") or row.get("sample_url")
        lines.append(f"{row['status']:>10}  {row['method']} {shown}")
        for issue in row.get("issues", []) if not row.get("findings") else []:  # the public validator's rows
            lines.append(f"            issue: {issue}")
        for finding in row.get("findings", []):
            if finding["severity"] == "info":
                continue
            places = ([finding["location"]] if finding.get("location") else []) + finding.get("related", [])
            where = " (" + "; ".join(f"{p['file']}:{p['line']}" for p in places) + ")" if places else ""
            lines.append(f"            {finding['severity']}: {finding['message']}{where}")
            if finding.get("fix"):
                lines.append(f"              fix: {finding['fix'].splitlines()[0]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _get(body: Any, path: tuple[str, ...] | None) -> Any:
    if path is None:
        return None
    for part in path:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


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


def _records_of(body: Any, endpoint: Endpoint | None) -> list[Any]:
    path = records_path(body, endpoint)
    value = body if path == () else _get(body, path)
    return value if isinstance(value, list) else ([body] if isinstance(body, dict) else [])


def _is_marker_key(key: str) -> bool:
    lower = key.lower()
    return lower in NEXT_KEYS or lower == "paging" or lower == "links" or lower == "_links"


def _live_markers(body: Any) -> list[str]:
    """Dotted paths of non-null next-page pointers in a live body (depth ≤ 3)."""
    found: list[str] = []
    if not isinstance(body, dict):
        return found

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            lower = key.lower()
            if lower in NEXT_KEYS and value not in (None, "", [], {}):
                found.append(dotted)
            elif isinstance(value, dict) and depth < 3 and lower not in MORE_FLAGS | END_FLAGS:
                walk(value, dotted + ".", depth + 1)

    walk(body, "", 1)
    return found


def _suggest_style(marker: str, value: Any) -> str:
    if marker.lower() == "@odata.nextlink":
        return "odata_next_link"
    if isinstance(value, str) and value.startswith(("http://", "https://", "/")):
        return "next_url"
    return "cursor"


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


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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


def has_drift(report: dict[str, Any]) -> bool:
    """Ours say so in ``summary.drift``; the public validator's reports only in their rows' statuses."""
    summary = report.get("summary", {})
    if "drift" in summary:
        return bool(summary["drift"])
    return any(row.get("status") in ("mismatched", "no_spec") for row in report.get("endpoints", []))


if __name__ == "__main__":
    raise SystemExit(main())
