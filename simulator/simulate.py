"""Simulate mode: answer a request from the spec and the corpus.

The pipeline for one request: match an endpoint → declared error? → custom
handler? → strict params → filter (query, path and body params) → sort →
page window → wrap with extras → encode. Each step records what it did in the
request's :class:`~simulator.trace.TraceEntry`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections import Counter
from typing import Any

import requests
from connector_watch.simulator import trace
from connector_watch.simulator.corpus import CorpusStore
from connector_watch.simulator.errors import CorpusError, Issue, UnknownEndpoint
from connector_watch.simulator.future import synthesize
from connector_watch.simulator.locations import Span
from connector_watch.simulator.pagination import BadPageRequest, get_style, next_key, position_params
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.responses import encode_body, make_response
from connector_watch.simulator.spec import Endpoint, Spec
from connector_watch.simulator.trace import EndpointRef, Family, TraceEntry
from connector_watch.simulator.values import dotted_get, dotted_set, matches, sort_key


def endpoint_ref(endpoint: Endpoint) -> EndpointRef:
    return EndpointRef(
        endpoint.index,
        endpoint.method,
        endpoint.path,
        endpoint.spec_file,
        endpoint.line,
        endpoint.fingerprint,
    )


class SimulateResponder:
    """Turns requests into responses from one spec and its corpus."""

    mode = "simulate"
    served = "served"  # the trace outcome of an answer from the corpus

    def __init__(self, spec: Spec, corpus: CorpusStore, *, synthesize_future: bool = True) -> None:
        self.spec = spec
        self.corpus = corpus
        self.calls: Counter[int] = Counter()
        self.future_indices: dict[str, set[int]] = {}
        if synthesize_future:
            corpus.on_load(self._inject_future)

    # ------------------------------------------------------------------ setup
    def _inject_future(self, table: str, records: Any) -> None:
        if not isinstance(records, list):
            return
        for endpoint in self.spec.endpoints:
            directive = endpoint.synthesize_future_records
            if directive is not None and endpoint.corpus == table and table not in self.future_indices:
                added = synthesize(records, directive.cursor_field, directive.count)
                self.future_indices[table] = set(added)

    # ------------------------------------------------------------------ entry point
    def covers(self, request: SimRequest) -> bool:
        return self.spec.match(request.method, request.path) is not None

    def respond(self, request: SimRequest, prepared: Any = None) -> requests.Response:
        started = time.perf_counter()
        entry = TraceEntry(
            seq=trace.next_seq(),
            mode=self.mode,
            method=request.method,
            url=request.url,
            outcome=self.served,
            caller=trace.find_caller(),
            timeout=request.timeout,
        )
        family: Family | None = None
        try:
            match = self.spec.match(request.method, request.path)
            if match is None:
                entry.outcome = "unknown-endpoint"
                entry.nearest = self.spec.nearest(request.method, request.path)
                raise UnknownEndpoint(request.method, request.url, self.spec.file, entry.nearest)
            endpoint, path_values = match
            entry.endpoint = endpoint_ref(endpoint)
            entry.corpus = endpoint.corpus
            if endpoint.corpus:
                entry.corpus_file = self.corpus_file(endpoint.corpus)
            self.calls[endpoint.index] += 1
            response, family = self._respond(request, prepared, endpoint, path_values, entry)
            entry.status = response.status_code
            return response
        except CorpusError as exc:
            entry.outcome = "corpus-error"
            entry.message = str(exc)
            raise
        finally:
            entry.elapsed_ms = (time.perf_counter() - started) * 1000
            trace.publish(entry, family)

    def corpus_file(self, table: str) -> str:
        """Where the records of ``table`` come from, as traces show it."""
        return self.corpus.display_path(table)

    # ------------------------------------------------------------------ pipeline
    def _respond(
        self,
        request: SimRequest,
        prepared: Any,
        endpoint: Endpoint,
        path_values: dict[str, str],
        entry: TraceEntry,
    ) -> tuple[requests.Response, Family | None]:
        declared = self._declared_error(request, endpoint, path_values)
        if declared is not None:
            entry.outcome = "declared-error"
            entry.message = f"declared error {declared.status} (spec line {endpoint.line})"
            return self._reply(
                request,
                prepared,
                declared.status,
                declared.body
                if declared.body is not None
                else {"error": f"simulated {declared.status}", "status": declared.status},
                declared.headers,
            ), None

        if endpoint.handler:
            entry.outcome = "handler"
            return self._call_handler(request, prepared, endpoint, entry), None

        if endpoint.strict_params:
            unknown = self._unknown_params(request, endpoint)
            if unknown:
                entry.outcome = "bad-request"
                allowed = sorted(endpoint.params)
                message = f"Unknown query parameter(s): {unknown}. Allowed: {allowed}"
                entry.message = message
                return self._reply(request, prepared, 400, {"error": message, "status": 400}), None

        value = self.corpus.get(endpoint.corpus) if endpoint.corpus else None
        if endpoint.corpus and value is None and not self.corpus.has(endpoint.corpus):
            entry.corpus_missing = True

        if endpoint.response.single_entity:
            return self._single_entity(request, prepared, endpoint, path_values, value, entry), None

        records = value if value is not None else []
        if not isinstance(records, list):
            raise CorpusError(
                Issue(
                    entry.corpus_file or str(endpoint.corpus),
                    Span.point(1, 1),
                    f"corpus {endpoint.corpus!r} is a JSON {type(records).__name__}, but endpoint {endpoint.key}"
                    f" ({endpoint.location}) serves a list; make it an array or set single_entity: true",
                    code="corpus-shape",
                )
            )

        selected = self._filter(request, endpoint, path_values, records)
        selected = self._sort(request, endpoint, records, selected)
        style = get_style(endpoint.response.pagination_style)
        try:
            window = style.window(request, endpoint, path_values)
        except BadPageRequest as exc:
            entry.outcome = "bad-request"
            entry.message = str(exc)
            return self._reply(request, prepared, 400, {"error": str(exc), "status": 400}), None
        stop = None if window.limit is None else window.offset + window.limit
        page_indices = selected[window.offset : stop]
        info = style.render(request, endpoint, window, len(selected))

        future = self.future_indices.get(endpoint.corpus or "", set())
        entry.served = page_indices
        entry.future_served = [i for i in page_indices if i in future]
        entry.total = len(selected)
        entry.has_more = info.has_more
        entry.page = {
            "style": style.name,
            "offset": window.offset,
            "limit": window.limit,
            "page": window.page,
            "token": window.token,
            "next": info.next,
        }

        body = self._body(endpoint, [records[i] for i in page_indices], info, window, len(selected))
        family = self._family(request, endpoint, path_values, selected)
        entry.family = family.id
        headers = dict(endpoint.response.headers)
        headers.update(info.headers)
        return self._reply(request, prepared, 200, body, headers), family

    def _declared_error(self, request: SimRequest, endpoint: Endpoint, path_values: dict[str, str]):
        call = self.calls[endpoint.index]
        for error in endpoint.errors:
            if error.on_calls and call not in error.on_calls:
                continue
            if error.when:
                ok = True
                for name, wanted in error.when.items():
                    param = endpoint.params.get(name)
                    values = request.values(param, path_values) if param else request.query.get(name, [])
                    if not any(str(v) == wanted for v in values):
                        ok = False
                        break
                if not ok:
                    continue
            return error
        return None

    def _call_handler(self, request: SimRequest, prepared: Any, endpoint: Endpoint, entry: TraceEntry):
        module_name, _, func_name = str(endpoint.handler).partition(":")
        func = getattr(importlib.import_module(module_name), func_name)
        if prepared is None:
            prepared = requests.Request(
                request.method, request.url, headers=request.headers, data=request.body
            ).prepare()
        try:
            response = func(prepared, endpoint, self.corpus)
        except Exception as exc:
            entry.outcome = "handler-error"
            entry.message = f"handler {endpoint.handler} raised {type(exc).__name__}: {exc}"
            raise
        if endpoint.corpus:
            self.corpus.get(endpoint.corpus)
        return response

    def _unknown_params(self, request: SimRequest, endpoint: Endpoint) -> list[str]:
        declared = {p.name for p in endpoint.params.values() if p.location == "query"}
        declared |= {p.body_key.split(".")[0] for p in endpoint.params.values() if p.location == "body"}
        sent = list(request.query) + [k for k in request.body_keys() if request.method != "GET"]
        return sorted({k for k in sent if k not in declared})

    def _single_entity(self, request, prepared, endpoint, path_values, value, entry):
        path_filters = [p for p in endpoint.filters() if p.location == "path"]
        if isinstance(value, list) and path_filters:
            selected = self._filter(request, endpoint, path_values, value)
            if not selected:
                entry.outcome = "not-found"
                return self._reply(request, prepared, 404, {"message": "Not Found", "status": 404})
            entry.served = selected[:1]
            entry.total = len(selected)
            return self._reply(request, prepared, 200, value[selected[0]], dict(endpoint.response.headers))
        entry.served = [0] if value is not None else []
        return self._reply(
            request, prepared, 200, value if value is not None else {}, dict(endpoint.response.headers)
        )

    def _filter(
        self, request: SimRequest, endpoint: Endpoint, path_values: dict[str, str], records: list[Any]
    ) -> list[int]:
        active = []
        for param in endpoint.filters():
            values = request.values(param, path_values)
            if values:
                active.append((param, values))
        if not active:
            return list(range(len(records)))
        selected = []
        for index, record in enumerate(records):
            if all(
                matches(dotted_get(record, p.field or ""), p.op or "eq", values, p.type)
                for p, values in active
            ):
                selected.append(index)
        return selected

    def _sort(
        self, request: SimRequest, endpoint: Endpoint, records: list[Any], selected: list[int]
    ) -> list[int]:
        field, order = endpoint.response.default_sort or (None, "asc")
        sort_by = endpoint.with_role("sort_by")
        if sort_by is not None:
            values = (
                request.query.get(sort_by.name) if sort_by.location == "query" else request.values(sort_by)
            )
            if values:
                option = str(values[-1])
                target = self._sort_target(sort_by.options, option)
                if target is not None:
                    parts = target.split()
                    field = parts[0]
                    if len(parts) > 1 and parts[1].lower() in ("asc", "desc"):
                        order = parts[1].lower()
        sort_order = endpoint.with_role("sort_order")
        if sort_order is not None:
            values = (
                request.query.get(sort_order.name)
                if sort_order.location == "query"
                else request.values(sort_order)
            )
            if values:
                wanted = str(values[-1])
                options = sort_order.options or ("asc", "desc")
                if isinstance(options, dict):
                    if wanted in options:
                        order = options[wanted].lower()
                elif wanted.lower() in [o.lower() for o in options]:
                    order = wanted.lower()
        if field is None:
            return selected
        present = [i for i in selected if dotted_get(records[i], field) is not None]
        missing = [i for i in selected if dotted_get(records[i], field) is None]
        present.sort(key=lambda i: sort_key(dotted_get(records[i], field)), reverse=order == "desc")
        return missing + present if order == "desc" else present + missing

    @staticmethod
    def _sort_target(options: Any, option: str) -> str | None:
        if isinstance(options, dict):
            return options.get(option)
        if not options or option in options:
            return option
        return None

    def _body(self, endpoint: Endpoint, page: list[Any], info, window, total: int) -> Any:
        wrapper = endpoint.response.wrapper
        body: Any = page
        if wrapper is not None:
            computed = {
                "total": total,
                "count": len(page),
                "has_more": info.has_more,
                "end_of_stream": not info.has_more,
                "next": info.next,
                "page": window.page,
                "per_page": window.limit,
                "limit": window.limit,
                "offset": window.offset,
                "total_pages": (-(-total // window.limit) if window.limit else 1),
            }
            parts = wrapper.records_key.split(".")
            inner: dict[str, Any] = {parts[-1]: page}
            inner.update(_fill_computed(wrapper.extras, computed))
            body = inner
            for key in reversed(parts[:-1]):
                body = {key: body}
        key = (
            next_key(endpoint)
            if endpoint.response.pagination_style in ("cursor", "next_url", "odata_next_link")
            else None
        )
        if key and isinstance(body, dict):
            # OData annotations ("@odata.nextLink") are single keys that contain a dot.
            literal = key.startswith("@")
            if info.body_next is not None or info.on_last_page == "null":
                if literal:
                    body[key] = info.body_next
                elif info.body_next is not None or dotted_get(body, key) is None:
                    dotted_set(body, key, info.body_next)
        return body

    def _family(
        self, request: SimRequest, endpoint: Endpoint, path_values: dict[str, str], selected: list[int]
    ) -> Family:
        skip = set(position_params(endpoint))
        params: dict[str, list[Any]] = {}
        for name, param in endpoint.params.items():
            if name in skip or param.role == "ignore":
                continue
            values = request.values(param, path_values)
            if values:
                params[name] = values
        digest = hashlib.sha1(
            json.dumps([endpoint.index, params], sort_keys=True, default=str).encode()
        ).hexdigest()[:12]
        return Family(
            id=f"{endpoint.index}:{digest}",
            endpoint=endpoint_ref(endpoint),
            corpus=endpoint.corpus,
            params=params,
            matched=tuple(selected),
        )

    @staticmethod
    def _reply(
        request: SimRequest, prepared: Any, status: int, body: Any, headers: dict[str, str] | None = None
    ):
        data, content_type = encode_body(body)
        merged = {"Content-Type": content_type}
        merged.update(headers or {})
        return make_response(status, data, merged, url=request.url, request=prepared)


def _fill_computed(value: Any, computed: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"computed"} and isinstance(value["computed"], str):
            return computed.get(value["computed"])
        return {k: _fill_computed(v, computed) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_computed(v, computed) for v in value]
    return value
