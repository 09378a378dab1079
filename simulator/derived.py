"""Replay past the tape: a request the cassette never recorded, on an endpoint it did.

A sampled cassette keeps the first records of what each request returned, so replaying a suite
sends requests the recording never made: an incremental read's second pass asks for the records
after the cursor the sampled page ends on, and the public replayer fails there with ``No cassette
match``. When the spec is known, replay answers such a request from the records the cassette holds
for that endpoint's table, through the spec (filters, sort, pagination, wrapper), exactly as
simulate mode answers from a corpus. Traces mark these answers ``derived`` and name the cassette.
A request on an endpoint the cassette never reached still fails with the nearest recordings.
"""

from __future__ import annotations

from connector_watch.simulator.cassette import Cassette
from connector_watch.simulator.cassette_records import dedupe_exact, extract
from connector_watch.simulator.corpus import CorpusStore
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.simulate import SimulateResponder
from connector_watch.simulator.spec import Endpoint, Spec


class DerivedResponder(SimulateResponder):
    """Simulate mode over the records of a cassette, for the endpoints it recorded."""

    mode = "replay"
    served = "derived"

    def __init__(self, spec: Spec, cassette: Cassette, cassette_display: str) -> None:
        extraction = extract(cassette, spec)
        tables: dict[str, object] = {
            name: dedupe_exact(records) for name, records in extraction.tables.items()
        }
        tables.update(extraction.entities)
        super().__init__(spec, CorpusStore.from_tables(tables), synthesize_future=False)
        self.cassette_display = cassette_display
        self.recorded_endpoints = {
            match[0].index
            for interaction in cassette.interactions
            if 200 <= interaction.response.status_code < 300
            and (match := spec.match(interaction.request.method, interaction.request.path)) is not None
            and match[0].corpus in tables
        }

    def _declared_error(self, request: SimRequest, endpoint: Endpoint, path_values: dict[str, str]) -> None:
        return (
            None  # a spec's ``errors:`` inject faults in simulate mode; replay serves only what was recorded
        )

    def covers(self, request: SimRequest) -> bool:
        match = self.spec.match(request.method, request.path)
        return match is not None and match[0].index in self.recorded_endpoints

    def corpus_file(self, table: str) -> str:
        return self.cassette_display
