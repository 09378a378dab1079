"""Filters and sorting: type-aware comparison, path and body parameters, sort mappings."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from connector_watch.simulator.values import as_instant, dotted_get, matches, parse_iso, sort_key
from connector_watch.tests.simulator.conftest import BASE, ids

# --------------------------------------------------------------------------- instants


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2024-01-01T00:00:00Z", 1704067200_000000),
        ("2024-01-01T00:00:00+00:00", 1704067200_000000),
        ("2024-01-01T02:00:00+02:00", 1704067200_000000),
        ("2023-12-31T19:00:00-05:00", 1704067200_000000),
        ("2024-01-01T02:00:00+0200", 1704067200_000000),
        ("2024-01-01T02:00:00+02", 1704067200_000000),
        ("2024-01-01 00:00:00", 1704067200_000000),
        ("2024-01-01", 1704067200_000000),
        ("2024-01-01T00:00Z", 1704067200_000000),
        ("2024-01-01T00:00:00.5Z", 1704067200_500000),
        ("2024-01-01T00:00:00.500000Z", 1704067200_500000),
        ("2024-01-01T00:00:00.1234567Z", 1704067200_123456),  # .NET's 7 digits
        ("2024-01-01t00:00:00z", None),
        ("2024-02-30T00:00:00Z", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_iso(text: str, micros: int | None) -> None:
    assert parse_iso(text) == micros


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (1704067200, 1704067200_000000),  # epoch seconds
        (1704067200000, 1704067200_000000),  # epoch milliseconds
        (1704067200.25, 1704067200_250000),
        ("1704067200", 1704067200_000000),
        ("1704067200000", 1704067200_000000),
        ("2024-01-01T00:00:00Z", 1704067200_000000),
        (True, None),
        (None, None),
        ({"a": 1}, None),
    ],
)
def test_as_instant(value: Any, micros: int | None) -> None:
    assert as_instant(value) == micros


# --------------------------------------------------------------------------- ops

CASES = [
    # ISO instants, whatever the offset or precision
    ("2024-01-01T10:00:00Z", "eq", "2024-01-01T12:00:00+02:00", True),
    ("2024-01-01T10:00:00+00:00", "eq", "2024-01-01T10:00:00Z", True),
    ("2024-01-01T10:00:00.000Z", "eq", "2024-01-01T10:00:00Z", True),
    ("2024-01-01T10:00:00.500Z", "gte", "2024-01-01T10:00:00Z", True),  # upstream compared text: False
    ("2024-01-01T10:00:00.500Z", "gt", "2024-01-01T10:00:00.499999Z", True),
    ("2024-01-01T10:00:00Z", "lt", "2024-01-01T10:00:00.001Z", True),
    ("2024-01-01T09:00:00-02:00", "gt", "2024-01-01T10:00:00Z", True),  # 11:00Z
    ("2024-01-02T00:00:00Z", "gte", "2024-01-02", True),
    ("2024-01-01T23:59:59Z", "gte", "2024-01-02", False),
    ("2024-01-01", "lt", "2024-01-01T00:00:01Z", True),
    ("2024-01-01T10:00:00Z", "ne", "2024-01-01T11:00:00+01:00", False),
    # epoch seconds and milliseconds against ISO text, both ways
    (1704067200, "eq", "2024-01-01T00:00:00Z", True),
    (1704067200000, "eq", "2024-01-01T00:00:00Z", True),
    (1704067200000, "gt", "2023-12-31T23:59:59.999Z", True),
    ("2024-01-01T00:00:01Z", "gt", "1704067200", True),
    ("2024-01-01T00:00:00Z", "gte", "1704067200000", True),
    ("2024-01-01T00:00:00Z", "lt", "1704067200", False),
    # numbers as numbers
    (10, "gt", "9", True),  # upstream coerced too
    (10, "eq", "10.0", True),
    (10.5, "gt", "10", True),
    (-3, "lt", "-2", True),
    (10, "gt", "abc", False),  # not comparable: no match
    (1704067200, "lt", "1704067200000", True),  # numbers stay numbers without type: timestamp
    ("10", "gt", "9", False),  # text stays text without a hint
    # booleans
    (True, "eq", "true", True),
    (True, "eq", "1", True),
    (True, "eq", "yes", True),
    (False, "eq", "false", True),
    (False, "eq", "0", True),
    (True, "eq", "false", False),
    (True, "eq", "maybe", False),
    (True, "ne", "false", True),
    # text
    ("open", "eq", "open", True),
    ("open", "eq", "Open", False),
    ("b", "gt", "a", True),
    ("open", "ne", "closed", True),
    # in: comma-separated values
    (3, "in", "1,3,5", True),
    (4, "in", "1,3,5", False),
    ("open", "in", "open, closed", True),
    (True, "in", "true,false", True),
    # contains / starts_with / ends_with
    ("https://api.github.com/repos/octo/alpha", "contains", "/octo/", True),
    ("https://api.github.com/repos/octo/alpha", "ends_with", "/alpha", True),
    ("https://api.github.com/repos/octo/alpha", "starts_with", "https://api.github.com", True),
    ("https://api.github.com/repos/octo/alpha", "ends_with", "/beta", False),
    (["bug", "ui"], "contains", "ui", True),
    (["bug", "ui"], "contains", "u", False),  # membership, not a substring
    ([1, 2, 3], "contains", "2", True),
    (12345, "contains", "234", True),
    (12345, "starts_with", "12", True),
]


@pytest.mark.parametrize(("record", "op", "wanted", "expected"), CASES)
def test_matches(record: Any, op: str, wanted: str, expected: bool) -> None:
    assert matches(record, op, [wanted]) is expected


@pytest.mark.parametrize(
    ("record", "op", "wanted", "hint", "expected"),
    [
        (1704067200, "eq", "1704067200000", "timestamp", True),  # seconds vs milliseconds
        (1704067200000, "lt", "1704067201", "timestamp", True),
        ("1704067200", "gte", "2024-01-01T00:00:00Z", "timestamp", True),
        ("10", "gt", "9", "number", True),
        ("1e3", "eq", "1000", "number", True),
        (10, "eq", "10", "string", True),
        (10, "eq", "10.0", "string", False),
        ("yes", "eq", "true", "boolean", True),
        ("2024-01-01", "eq", "2024-01-01T00:00:00Z", "string", False),
        ("not a date", "gt", "2024-01-01", "timestamp", False),
    ],
)
def test_type_hint_forces_one_interpretation(
    record: Any, op: str, wanted: str, hint: str, expected: bool
) -> None:
    assert matches(record, op, [wanted], hint) is expected


@pytest.mark.parametrize("op", ["eq", "gt", "gte", "lt", "lte", "in", "contains", "starts_with", "ends_with"])
def test_a_missing_value_matches_only_ne(op: str) -> None:
    assert matches(None, op, ["x"]) is False
    assert matches(None, "ne", ["x"]) is True


def test_in_takes_repeated_values_and_lists() -> None:
    assert matches(2, "in", ["1", "2"])
    assert matches(2, "in", [[1, 2]])  # a JSON body list
    assert not matches(2, "in", ["1", "3,4"])


def test_the_last_value_of_a_repeated_key_wins_for_other_ops() -> None:
    assert matches(5, "gt", ["10", "4"])


# --------------------------------------------------------------------------- sorting


def test_sort_key_orders_any_mix_without_raising() -> None:
    values = [
        {"b": 1},
        "zeta",
        "2024-01-01T00:00:00Z",
        3.5,
        [1, 2],
        True,
        "2023-06-01T00:00:00+02:00",
        -1,
        "alpha",
    ]
    assert sorted(values, key=sort_key) == [
        -1,
        True,
        3.5,
        "2023-06-01T00:00:00+02:00",
        "2024-01-01T00:00:00Z",
        "alpha",
        "zeta",
        [1, 2],
        {"b": 1},
    ]


def test_dotted_get() -> None:
    record = {"a": {"b": [{"c": 1}, {"c": 2}]}, "x": None}
    assert dotted_get(record, "a.b.1.c") == 2
    assert dotted_get(record, "a.b.-1.c") == 2
    assert dotted_get(record, "a.b.5.c") is None
    assert dotted_get(record, "a.missing.c") is None
    assert dotted_get(record, "x.y") is None
    assert dotted_get("text", "a") is None


SORTED = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      sort:
        role: sort_by
        options: {created: created_at, updated: updated_at, newest: "created_at desc"}
      direction:
        role: sort_order
        options: {oldest_first: asc, newest_first: desc, asc: asc, desc: desc}
    response:
      default_sort: "id desc"
"""
SORT_CORPUS = {
    "items": [
        {"id": 1, "created_at": "2024-01-03T00:00:00Z", "updated_at": "2024-01-01T10:00:00+05:00"},
        {"id": 2, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T06:00:00Z"},
        {"id": 3, "created_at": "2024-01-02T00:00:00Z", "updated_at": None},
        {"id": 4, "created_at": "2024-01-02T00:00:00.000Z", "updated_at": "2024-01-01T04:59:59Z"},
    ]
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [4, 3, 2, 1]),  # default_sort
        ("direction=asc", [1, 2, 3, 4]),  # sort_order applies to default_sort too
        ("sort=created", [1, 3, 4, 2]),  # option→field, default_sort's direction (desc); ties keep order
        ("sort=created&direction=asc", [2, 3, 4, 1]),
        ("sort=created&direction=oldest_first", [2, 3, 4, 1]),  # mapped direction
        ("sort=updated&direction=asc", [4, 1, 2, 3]),  # instants: 10:00+05:00 is 05:00Z; null last
        ("sort=updated&direction=desc", [3, 2, 1, 4]),  # null first descending
        ("sort=newest", [1, 3, 4, 2]),  # the option carries its direction
        ("sort=newest&direction=asc", [2, 3, 4, 1]),  # an explicit direction wins
        ("sort=bogus", [4, 3, 2, 1]),  # not an option: default_sort
        ("direction=sideways", [4, 3, 2, 1]),  # not an option: ignored
    ],
)
def test_sort_by_mapping_and_sort_order(simulate, query: str, expected: list[int]) -> None:
    with simulate(SORTED, SORT_CORPUS):
        assert ids(requests.get(f"{BASE}/items?{query}").json()) == expected


def test_sort_by_list_options_are_field_names_as_upstream(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          sort: {role: sort_by, options: [created_at, updated]}
          order: {role: sort_order}
    """
    with simulate(spec, SORT_CORPUS):
        assert ids(requests.get(f"{BASE}/items?sort=created_at").json()) == [2, 3, 4, 1]
        # ``updated`` names no field: every value is missing, so corpus order (upstream's no-op)
        assert ids(requests.get(f"{BASE}/items?sort=updated&order=desc").json()) == [1, 2, 3, 4]
        assert ids(requests.get(f"{BASE}/items?sort=id&order=desc").json()) == [1, 2, 3, 4]  # not listed


def test_sort_by_without_options_takes_any_field(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          sort: {role: sort_by}
          order: {role: sort_order}
    """
    with simulate(spec, SORT_CORPUS):
        assert ids(requests.get(f"{BASE}/items?sort=id&order=desc").json()) == [4, 3, 2, 1]


def test_mixed_types_sort_without_crashing(simulate) -> None:
    """Upstream raised TypeError into the connector for this corpus."""
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          order: {role: sort_order}
        response:
          default_sort: value
    """
    corpus = {
        "items": [
            {"id": 1, "value": "b"},
            {"id": 2, "value": 7},
            {"id": 3},
            {"id": 4, "value": "2024-01-01T00:00:00Z"},
            {"id": 5, "value": {"nested": True}},
            {"id": 6, "value": 7},
            {"id": 7, "value": None},
        ]
    }
    with simulate(spec, corpus):
        assert ids(requests.get(f"{BASE}/items").json()) == [2, 6, 4, 1, 5, 3, 7]
        assert ids(requests.get(f"{BASE}/items?order=desc").json()) == [3, 7, 5, 1, 4, 2, 6]


# --------------------------------------------------------------------------- filters end to end

FILTERED = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      since: {role: filter, field: meta.updated_at, op: gte}
      until: {role: filter, field: meta.updated_at, op: lt}
      start_time: {role: filter, field: meta.updated_at, op: gte}
      ids: {role: filter, field: id, op: in}
      label: {role: filter, field: labels, op: contains}
      q: {role: filter, field: title, op: contains}
      min_score: {role: filter, field: score, op: gt}
      active: {role: filter, field: active, op: eq}
      not_state: {role: filter, field: state, op: ne}
"""
FILTER_CORPUS = {
    "items": [
        {
            "id": 1,
            "title": "Crash on start",
            "labels": ["bug"],
            "score": 2.5,
            "active": True,
            "state": "open",
            "meta": {"updated_at": "2024-01-01T00:00:00Z"},
        },
        {
            "id": 2,
            "title": "Add dark mode",
            "labels": ["feature", "ui"],
            "score": 10,
            "active": False,
            "state": "closed",
            "meta": {"updated_at": "2024-01-01T00:00:00.500+00:00"},
        },
        {
            "id": 3,
            "title": "Crash on exit",
            "labels": ["bug", "ui"],
            "score": 9,
            "active": True,
            "meta": {"updated_at": "2024-01-02T09:00:00+09:00"},
        },
    ]
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [1, 2, 3]),
        ("since=2024-01-01T00:00:00Z", [1, 2, 3]),
        ("since=2024-01-01T00:00:00.001Z", [2, 3]),
        ("until=2024-01-01T00:00:01Z", [1, 2]),
        ("since=2024-01-01T09:00:00%2B09:00", [1, 2, 3]),  # +09:00, URL-encoded
        ("start_time=1704067200", [1, 2, 3]),  # epoch seconds against ISO records
        ("start_time=1704067200100", [2, 3]),  # epoch milliseconds
        ("since=2024-01-02", [3]),  # 2024-01-02T00:00Z; item 3 is 2024-01-02T00:00Z exactly
        ("ids=1,3", [1, 3]),
        ("ids=1&ids=2", [1, 2]),  # repeated key
        ("label=ui", [2, 3]),
        ("q=Crash", [1, 3]),
        ("min_score=9", [2]),
        ("min_score=2", [1, 2, 3]),
        ("active=true", [1, 3]),
        ("active=0", [2]),
        ("not_state=open", [2, 3]),  # a missing state matches ne
        ("label=bug&min_score=5", [3]),  # every filter applies
    ],
)
def test_query_filters(simulate, query: str, expected: list[int]) -> None:
    with simulate(FILTERED, FILTER_CORPUS):
        assert ids(requests.get(f"{BASE}/items?{query}").json()) == expected


def test_path_filters_serve_each_parent_its_own_records(simulate) -> None:
    """Upstream discarded path params: every repository served every issue."""
    spec = """
    endpoints:
      - path: /repos/{owner}/{repo}/issues
        method: GET
        corpus: issues
        params:
          owner: {role: filter, in: path, field: repository.owner, op: eq}
          repo: {role: filter, in: path, field: repository.name, op: eq}
          state: {role: filter, field: state, op: eq}
    """
    corpus = {
        "issues": [
            {"id": 1, "state": "open", "repository": {"owner": "octo", "name": "alpha"}},
            {"id": 2, "state": "open", "repository": {"owner": "octo", "name": "beta"}},
            {"id": 3, "state": "closed", "repository": {"owner": "octo", "name": "alpha"}},
            {"id": 4, "state": "open", "repository": {"owner": "my org", "name": "alpha"}},
        ]
    }
    with simulate(spec, corpus) as sim:
        assert ids(requests.get(f"{BASE}/repos/octo/alpha/issues").json()) == [1, 3]
        assert ids(requests.get(f"{BASE}/repos/octo/beta/issues").json()) == [2]
        assert ids(requests.get(f"{BASE}/repos/octo/alpha/issues?state=open").json()) == [1]
        assert ids(requests.get(f"{BASE}/repos/my%20org/alpha/issues").json()) == [4]
        assert requests.get(f"{BASE}/repos/nobody/alpha/issues").json() == []
    assert sim.trace.families[sim.trace.entries[0].family].params == {"owner": ["octo"], "repo": ["alpha"]}


def test_path_params_without_a_filter_serve_everything_as_upstream(simulate) -> None:
    spec = """
    endpoints:
      - path: /repos/{owner}/issues
        method: GET
        corpus: issues
    """
    corpus = {"issues": [{"id": 1, "owner": "a"}, {"id": 2, "owner": "b"}]}
    with simulate(spec, corpus):
        assert ids(requests.get(f"{BASE}/repos/a/issues").json()) == [1, 2]


SEARCH = """
endpoints:
  - path: /crm/v3/objects/contacts/search
    method: POST
    corpus: contacts
    params:
      since:
        role: filter
        in: body
        key: filterGroups.0.filters.0.value
        field: properties.lastmodifieddate
        op: gte
      ids: {role: filter, in: body, key: ids, field: id, op: in}
      query: {role: filter, in: body, field: properties.email, op: ends_with}
      limit: {role: limit, in: body, default: 10}
    response:
      default_sort: properties.lastmodifieddate
      wrapper: {records_key: results, extras: {total: {computed: total}}}
"""
CONTACTS = {
    "contacts": [
        {"id": "1", "properties": {"email": "a@x.com", "lastmodifieddate": "2024-03-01T00:00:00.000Z"}},
        {"id": "2", "properties": {"email": "b@y.com", "lastmodifieddate": "2024-01-01T00:00:00.000Z"}},
        {"id": "3", "properties": {"email": "c@x.com", "lastmodifieddate": "2024-02-01T00:00:00.000Z"}},
    ]
}


@pytest.mark.parametrize(
    ("body", "expected", "total"),
    [
        ({}, ["2", "3", "1"], 3),
        ({"filterGroups": [{"filters": [{"propertyName": "x", "value": "1706745600000"}]}]}, ["3", "1"], 2),
        ({"filterGroups": [{"filters": [{"value": "2024-02-15T00:00:00Z"}]}]}, ["1"], 1),
        ({"ids": ["1", "2"]}, ["2", "1"], 2),
        ({"query": "@x.com"}, ["3", "1"], 2),
        ({"query": "@x.com", "limit": 1}, ["3", "1"], 2),  # pagination_style none: no page size
    ],
)
def test_json_body_params_filter_a_post_search(
    simulate, body: dict[str, Any], expected: list[str], total: int
) -> None:
    """Upstream never read request bodies: HubSpot's search returned the whole corpus."""
    with simulate(SEARCH, CONTACTS):
        reply = requests.post(f"{BASE}/crm/v3/objects/contacts/search", json=body).json()
    assert ids(reply["results"]) == expected
    assert reply["total"] == total


def test_form_body_params(simulate) -> None:
    spec = """
    endpoints:
      - path: /search
        method: POST
        corpus: items
        params:
          state: {role: filter, in: body, field: state, op: eq}
          id: {role: filter, in: body, field: id, op: in}
    """
    corpus = {"items": [{"id": 1, "state": "a"}, {"id": 2, "state": "b"}, {"id": 3, "state": "a"}]}
    with simulate(spec, corpus):
        assert ids(requests.post(f"{BASE}/search", data={"state": "a"}).json()) == [1, 3]
        assert ids(requests.post(f"{BASE}/search", data=[("id", "2"), ("id", "3")]).json()) == [2, 3]
        assert ids(requests.post(f"{BASE}/search", data="state=b").json()) == [2]


def test_query_params_are_not_read_from_the_body(simulate) -> None:
    with simulate(FILTERED.replace("method: GET", "method: POST"), FILTER_CORPUS):
        assert ids(requests.post(f"{BASE}/items", json={"ids": "1"}).json()) == [1, 2, 3]
        assert ids(requests.post(f"{BASE}/items?ids=1", json={}).json()) == [1]
