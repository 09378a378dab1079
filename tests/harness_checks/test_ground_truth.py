"""Ground truth as editors show it: the records a read's requests selected against what came back."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from simulator import Simulator
from tests.harness.ground_truth import compare

SPEC = """
endpoints:
  - path: /orders
    method: GET
    corpus: orders
    params:
      page: {role: page}
      per_page: {role: per_page, default: 2, max: 100}
    response:
      pagination_style: page_number
"""


def _read(tmp_path: Path, pages: list[int]) -> tuple[list[dict], Simulator]:
    (tmp_path / "endpoints.yaml").write_text(SPEC)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "orders.json").write_text(json.dumps([{"id": i} for i in range(1, 6)]))
    records: list[dict] = []
    with Simulator(mode="simulate", spec_path=tmp_path / "endpoints.yaml") as sim:
        for page in pages:
            records += requests.get("http://shop.test/orders", params={"page": page}, timeout=5).json()
    return records, sim


def test_lost_and_repeated_records_diff_line_by_line(tmp_path: Path) -> None:
    served, sim = _read(tmp_path, [1, 2])  # page 3 never requested
    returned = served[:1] + served[:1] + served[2:]  # id 2 dropped, id 1 twice
    assert sim.corpus is not None
    result = compare("orders", returned, sim.trace, sim.corpus.tables, ["id"], "append", sim.future_indices)
    diff = result.diff()
    assert diff["expected"].splitlines() == [
        "5 record(s) in the corpus that the requests selected",
        "orders[1] key 2: returned",
        "orders[4] key 5: returned",
        "key 1 x1",
    ]
    assert diff["actual"].splitlines() == [
        "4 record(s) returned by the connector",
        "orders[1] key 2: missing (served, then dropped)",
        "orders[4] key 5: missing (page never requested)",
        "key 1 x2",
    ]
    assert result.to_dict()["diff"] == diff


def test_repeats_are_no_difference_for_cdc_tables(tmp_path: Path) -> None:
    served, sim = _read(tmp_path, [1, 2, 3])
    assert sim.corpus is not None
    result = compare(
        "orders", served + served[:1], sim.trace, sim.corpus.tables, ["id"], "cdc", sim.future_indices
    )
    assert result.ok
    assert result.diff()["expected"].splitlines()[1:] == result.diff()["actual"].splitlines()[1:] == []
