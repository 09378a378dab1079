"""Ground truth as editors show it: the records a read's requests selected against what came back."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from connector_watch.simulator import Simulator
from connector_watch.tests.harness.ground_truth import compare

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


def _read(tmp_path: Path, pages: list[int], spec: str = SPEC) -> tuple[list[dict], Simulator]:
    (tmp_path / "endpoints.yaml").write_text(spec)
    (tmp_path / "corpus").mkdir()
    orders = [{"id": i, "updated_at": f"2024-01-0{i}T00:00:00Z"} for i in range(1, 6)]
    (tmp_path / "corpus" / "orders.json").write_text(json.dumps(orders))
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


def test_a_key_field_the_connector_adds_is_left_out_of_matching_not_a_reason_to_pass(tmp_path: Path) -> None:
    served, sim = _read(tmp_path, [1, 2, 3])
    assert sim.corpus is not None
    returned = [{**r, "shop_id": "s1"} for r in served if r["id"] != 4]  # the connector adds shop_id, loses 4
    result = compare(
        "orders", returned, sim.trace, sim.corpus.tables, ["shop_id", "id"], "cdc", sim.future_indices
    )
    assert not result.ok and [lost.key for lost in result.lost] == [4]
    assert result.note == "matched on ['id'] (['shop_id'] added by the connector)"


def test_records_that_match_nothing_make_the_comparison_inconclusive(tmp_path: Path) -> None:
    served, sim = _read(tmp_path, [1, 2, 3])
    assert sim.corpus is not None
    renamed = [{"order_id": r["id"]} for r in served]  # keys the corpus does not use at all
    result = compare("orders", renamed, sim.trace, sim.corpus.tables, ["order_id"], "cdc", sim.future_indices)
    assert result.ok and result.inconclusive  # the suite skips with this note rather than pass


def test_future_dated_records_are_a_bug_for_incremental_reads_only(tmp_path: Path) -> None:
    future_spec = SPEC + "    synthesize_future_records: {cursor_field: updated_at, count: 2}\n"
    served, sim = _read(tmp_path, [1, 2, 3, 4], spec=future_spec)
    assert sim.corpus is not None and len(served) == 7  # five records and two dated after now
    args = ("orders", served, sim.trace, sim.corpus.tables, ["id"])
    assert compare(*args, "snapshot", sim.future_indices).ok  # a snapshot takes everything
    incremental = compare(*args, "cdc", sim.future_indices)
    assert not incremental.ok and len(incremental.future) == 2
