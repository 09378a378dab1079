"""Finishing a live (record) session: merge what was captured into the cassette.

New interactions are added; an interaction recorded earlier for the same request
(same match key) is replaced by the fresh one, so re-recording never keeps stale
responses forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.cassette import Cassette, Interaction, match_key

if TYPE_CHECKING:
    from simulator.simulator import Simulator


def merge(existing: list[Interaction], fresh: list[Interaction], ignore: frozenset[str]) -> list[Interaction]:
    """``existing`` with every request in ``fresh`` replaced by (or added as) its newest recording."""

    def key(interaction: Interaction) -> tuple:
        req = interaction.request
        return match_key(req.method, req.path, req.query, req.body_sha256, ignore)

    newest: dict[tuple, Interaction] = {}
    for interaction in fresh:
        newest.setdefault(key(interaction), interaction)  # the first response of a run wins within the run
    merged = [newest.pop(key(i), i) if key(i) in newest else i for i in existing]
    merged.extend(newest.values())
    return merged


def finish(sim: Simulator) -> None:
    assert sim.cassette_path is not None
    cassette = Cassette.load(sim.cassette_path) if sim.cassette_path.is_file() else Cassette(sim.source)
    cassette.source = cassette.source or sim.source
    cassette.interactions = merge(cassette.interactions, sim.interactions, sim.ignore_query_params)
    cassette.save(sim.cassette_path)
