"""Future records (``synthesize_future_records``): after now, fresh keys, the cursor's own format."""

from __future__ import annotations

import copy
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from connector_watch.simulator.future import synthesize
from connector_watch.simulator.values import as_instant
from connector_watch.tests.simulator.conftest import BASE

NOW = datetime(2026, 3, 10, 12, 30, 15, 123456, tzinfo=timezone.utc)


def run(records: list[Any], cursor: str = "updated_at", count: int = 3) -> list[Any]:
    records = copy.deepcopy(records)
    added = synthesize(records, cursor, count, now=NOW)
    return [records[i] for i in added]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("2024-01-01T00:00:00Z", ["2026-03-10T13:30:15Z", "2026-03-10T14:30:15Z", "2026-03-10T15:30:15Z"]),
        ("2024-01-01T00:00:00+00:00", ["2026-03-10T13:30:15+00:00", "2026-03-10T14:30:15+00:00"]),
        ("2024-01-01T00:00:00.000Z", ["2026-03-10T13:30:15.123Z", "2026-03-10T14:30:15.123Z"]),
        ("2024-01-01T00:00:00.000000+0000", ["2026-03-10T13:30:15.123456+0000"]),
        ("2024-01-01T02:00:00+02:00", ["2026-03-10T15:30:15+02:00", "2026-03-10T16:30:15+02:00"]),
        ("2024-01-01T00:00:00-05:00", ["2026-03-10T08:30:15-05:00"]),
        ("2024-01-01 00:00:00", ["2026-03-10 13:30:15", "2026-03-10 14:30:15"]),  # naive stays naive
        ("2024-01-01T00:00Z", ["2026-03-10T13:30Z"]),
        ("2024-01-01", ["2026-03-11", "2026-03-12", "2026-03-13"]),  # a date alone: from tomorrow
        (1704067200, [1773149415, 1773153015, 1773156615]),  # epoch seconds
        (1704067200000, [1773149415123, 1773153015123]),  # epoch milliseconds
        ("1704067200", ["1773149415", "1773153015"]),  # epoch seconds as text
        ("1704067200000", ["1773149415123"]),
    ],
)
def test_cursor_format_is_kept(sample: Any, expected: list[Any]) -> None:
    records = [{"id": 1, "updated_at": sample}, {"id": 2, "updated_at": sample}]
    added = run(records)
    assert [r["updated_at"] for r in added][: len(expected)] == expected
    assert type(added[0]["updated_at"]) is type(sample)
    for record in added:
        assert as_instant(record["updated_at"]) > as_instant(NOW)


def test_every_unique_field_gets_a_fresh_value() -> None:
    records = [
        {"id": 7, "number": 70, "node_id": "N_a", "state": "open", "updated_at": "2024-01-01T00:00:00Z"},
        {"id": 9, "number": 90, "node_id": "N_b", "state": "open", "updated_at": "2024-01-02T00:00:00Z"},
    ]
    added = run(records)
    assert [(r["id"], r["number"], r["node_id"]) for r in added] == [
        (10, 91, "N_b-future-1"),
        (11, 92, "N_b-future-2"),
        (12, 93, "N_b-future-3"),
    ]
    assert {r["state"] for r in added} == {"open"}  # a shared value is not a key


def test_nested_unique_fields_and_foreign_keys() -> None:
    records = [
        {"commit": {"sha": "a1", "author": "x"}, "repo_id": 5, "updated_at": "2024-01-01T00:00:00Z"},
        {"commit": {"sha": "b2", "author": "x"}, "repo_id": 5, "updated_at": "2024-01-02T00:00:00Z"},
    ]
    added = run(records, count=1)
    assert added[0]["commit"] == {"sha": "b2-future-1", "author": "x"}
    assert added[0]["repo_id"] == 5  # the parent's key is shared: the record stays under its parent


def test_a_one_record_table_gets_fresh_ids() -> None:
    added = run([{"id": "c1", "web_id": 3, "title": "t", "updated_at": "2024-01-01T00:00:00Z"}])
    assert [r["id"] for r in added] == ["c1-future-1", "c1-future-2", "c1-future-3"]


def test_dotted_cursor_field() -> None:
    records = [{"id": 1, "commit": {"author": {"date": "2024-01-01T00:00:00Z"}}}]
    added = run(records, cursor="commit.author.date", count=1)
    assert added[0]["commit"]["author"]["date"] == "2026-03-10T13:30:15Z"


@pytest.mark.parametrize(
    "records",
    [
        [],
        [{"id": 1, "updated_at": "2099-01-01T00:00:00Z"}],  # already has a future record
        [{"id": 1, "updated_at": 4102444800}],  # the same, as epoch seconds
        [{"id": 1}, "not a record"],
    ],
)
def test_nothing_is_added(records: list[Any]) -> None:
    assert run(records) == []


def test_count_zero_adds_nothing() -> None:
    assert run([{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}], count=0) == []


SPEC = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      until: {role: filter, field: updated_at, op: lte}
    response:
      default_sort: updated_at
    synthesize_future_records: {cursor_field: updated_at, count: 2}
"""
CORPUS = {
    "items": [
        {"id": 1, "updated_at": "2024-01-01T00:00:00Z"},
        {"id": 2, "updated_at": "2024-01-02T00:00:00Z"},
    ]
}


def test_simulate_mode_serves_future_records_and_traces_them(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim:
        everything = requests.get(f"{BASE}/items").json()
        until = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        capped = requests.get(f"{BASE}/items", params={"until": until}).json()
    assert [r["id"] for r in everything] == [1, 2, 3, 4]
    assert [r["id"] for r in capped] == [1, 2]  # a connector capping at its start never sees them
    assert sim.future_indices == {"items": {2, 3}}
    assert sim.trace.entries[0].future_served == [2, 3]
    assert sim.trace.entries[1].future_served == []
    now = datetime.now(timezone.utc)
    for record in everything[2:]:
        moment = datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00"))
        assert now < moment < now + timedelta(hours=3)


def test_future_records_can_be_switched_off(simulate) -> None:
    with simulate(SPEC, CORPUS, synthesize_future_records=False) as sim:
        assert [r["id"] for r in requests.get(f"{BASE}/items").json()] == [1, 2]
    assert sim.future_indices == {}


def test_corpus_files_are_never_modified(simulate, tmp_path) -> None:
    with simulate(SPEC, CORPUS):
        requests.get(f"{BASE}/items")
    assert json.loads((tmp_path / "spec" / "corpus" / "items.json").read_text()) == CORPUS["items"]


def test_concurrent_first_reads_all_see_the_future_records(simulate) -> None:
    """Threads racing to the first read of a table: loaded once, served complete to every one."""
    corpus = {"items": [{"id": i, "updated_at": "2024-01-01T00:00:00Z"} for i in range(1000)]}
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(2):
            with simulate(SPEC, corpus) as sim, ThreadPoolExecutor(8) as pool:
                sizes = list(pool.map(lambda _: len(requests.get(f"{BASE}/items").json()), range(8)))
            assert sizes == [1002] * 8
            assert sim.future_indices == {"items": {1000, 1001}}
    finally:
        sys.setswitchinterval(interval)
