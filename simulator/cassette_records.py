"""The records a cassette holds, table by table, as the spec reads them.

Each successful JSON response whose request matches a spec endpoint with a
corpus gives records for that corpus table, found through the endpoint's
``wrapper.records_key`` (or the body itself for a bare list or a
``single_entity``). Token-endpoint responses are skipped: their credentials are
redacted. Used by re-seeding (``connector_watch.simulator.tools.cassette_to_corpus``) and by
replay, which answers a request it never recorded on an endpoint it did from
these records (``connector_watch.simulator.derived``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from connector_watch.simulator.cassette import Cassette
from connector_watch.simulator.sampling import get_path, records_path
from connector_watch.simulator.scrub import is_token_endpoint
from connector_watch.simulator.spec import Endpoint, Spec

#: Text the write-back tests put in every row they create (``tests/unit/sources/lakeflow_connect_test_utils``):
#: rows holding it are test data, never re-seeded into a corpus nor replayed as the API's.
WRITE_BACK_MARKER = "connector-watch write-back"


def holds_marker(value: Any) -> bool:
    """Whether any string in ``value`` contains :data:`WRITE_BACK_MARKER`."""
    if isinstance(value, str):
        return WRITE_BACK_MARKER in value
    if isinstance(value, dict):
        return any(holds_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_marker(v) for v in value)
    return False


@dataclass
class Extraction:
    tables: OrderedDict[str, list[Any]] = field(default_factory=OrderedDict)
    entities: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def records_of(body: Any, endpoint: Endpoint) -> tuple[list[Any] | None, str | None]:
    """The records of a response body for ``endpoint`` and a note when the spec's key was not used."""
    wrapper = endpoint.response.wrapper
    if wrapper is not None:
        value = get_path(body, tuple(wrapper.records_key.split(".")))
        if isinstance(value, list):
            return value, None
        found = records_path(body)
        if found:
            fallback = body if found == () else get_path(body, found)
            if isinstance(fallback, list):
                return fallback, (
                    f"{endpoint.key}: records_key '{wrapper.records_key}' is not in the recorded body; "
                    f"used '{'.'.join(found)}' (see the validation report)"
                )
        return None, None
    if isinstance(body, list):
        return body, None
    found = records_path(body)
    value = body if found == () else (get_path(body, found) if found else None)
    return (value, None) if isinstance(value, list) else (None, None)


def extract(cassette: Cassette, spec: Spec) -> Extraction:
    out = Extraction()
    # A corpus a list endpoint serves is a list even when a detail endpoint (single_entity) serves
    # one of its records: the list's recordings are its records, a detail body never replaces them.
    list_corpora = {e.corpus for e in spec.endpoints if e.corpus and not e.response.single_entity}
    for interaction in cassette.interactions:
        request, response = interaction.request, interaction.response
        if not 200 <= response.status_code < 300:
            out.skip("not a 2xx response")
            continue
        body = response.json()
        if body is None:
            out.skip("empty or not JSON")
            continue
        match = spec.match(request.method, request.path)
        if match is None:
            out.skip("no spec endpoint (see the coverage report)")
            continue
        endpoint = match[0]
        if not endpoint.corpus:
            out.skip("endpoint has no corpus")
            continue
        if is_token_endpoint(request.path, body):
            out.skip("token endpoint (credentials are redacted)")
            continue
        if endpoint.response.single_entity and endpoint.corpus in list_corpora:
            out.skip("one record of a list corpus (its list endpoint's recordings re-seed it)")
            continue
        if endpoint.response.single_entity and isinstance(body, dict):
            out.entities[endpoint.corpus] = body
            continue
        records, note = records_of(body, endpoint)
        if note and note not in out.notes:
            out.notes.append(note)
        if records is None:
            out.skip("no records list in the body")
            continue
        table = out.tables.setdefault(endpoint.corpus, [])
        for record in records:
            if not isinstance(record, dict):
                continue
            if holds_marker(record):
                out.skip("a row a write-back test created")
                continue
            table.append(record)
    return out


def dedupe_exact(records: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for record in records:
        text = json.dumps(record, sort_keys=True)
        if text not in seen:
            seen.add(text)
            out.append(record)
    return out
