"""Every pagination style, end to end through real ``requests`` calls under ``Simulator``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from connector_watch.tests.simulator.conftest import BASE, ids

ITEMS = {"items": [{"id": i, "name": f"item-{i}"} for i in range(1, 8)]}


def follow_links(url: str, limit: int = 20) -> tuple[list[int], list[requests.Response]]:
    """Read every page by following ``Link: rel="next"``, as a GitHub client does."""
    seen: list[int] = []
    responses = []
    for _ in range(limit):
        response = requests.get(url, timeout=5)
        responses.append(response)
        seen.extend(ids(response.json()))
        nxt = response.links.get("next")
        if not nxt:
            return seen, responses
        url = nxt["url"]
    raise AssertionError(f"no last page after {limit} requests: {seen}")


# --------------------------------------------------------------------------- none


def test_none_serves_everything_as_a_list(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          page: {role: page}
          per_page: {role: per_page, default: 2}
    """
    with simulate(spec, ITEMS) as sim:
        response = requests.get(f"{BASE}/items?page=2&per_page=2")
    assert ids(response.json()) == [1, 2, 3, 4, 5, 6, 7]
    assert "Link" not in response.headers
    assert sim.trace.entries[0].has_more is False


# --------------------------------------------------------------------------- page_number

PAGE_NUMBER = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      page: {role: page}
      per_page: {role: per_page, default: 3, max: 5}
    response:
      pagination_style: page_number
"""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [1, 2, 3]),
        ("page=1", [1, 2, 3]),
        ("page=2", [4, 5, 6]),
        ("page=3", [7]),
        ("page=4", []),
        ("page=0", [1, 2, 3]),  # below the first page: the first page
        ("page=abc", [1, 2, 3]),  # not a number: the first page, as upstream
        ("per_page=2&page=2", [3, 4]),
        ("per_page=1000", [1, 2, 3, 4, 5]),  # clamped to max
        ("per_page=0", [1]),  # clamped to 1
        ("per_page=x", [1, 2, 3]),  # not a number: the default
    ],
)
def test_page_number(simulate, query: str, expected: list[int]) -> None:
    with simulate(PAGE_NUMBER, ITEMS):
        response = requests.get(f"{BASE}/items?{query}")
    assert ids(response.json()) == expected
    assert "Link" not in response.headers


def test_default_page_size_above_max_is_served_as_declared(simulate) -> None:
    """As upstream: the default applies as written when the client sends no size."""
    spec = PAGE_NUMBER.replace("default: 3, max: 5", "default: 6, max: 5")
    with simulate(spec, ITEMS):
        assert ids(requests.get(f"{BASE}/items").json()) == [1, 2, 3, 4, 5, 6]
        assert ids(requests.get(f"{BASE}/items?per_page=6").json()) == [1, 2, 3, 4, 5]


def test_page_number_reading_until_a_short_page(simulate) -> None:
    seen: list[int] = []
    with simulate(PAGE_NUMBER, ITEMS) as sim:
        for page in range(1, 10):
            batch = requests.get(f"{BASE}/items", params={"page": page, "per_page": 3}).json()
            seen.extend(ids(batch))
            if len(batch) < 3:
                break
    assert seen == list(range(1, 8))
    assert [e.has_more for e in sim.trace] == [True, True, False]
    assert [e.page["page"] for e in sim.trace] == [1, 2, 3]


def test_page_number_zero_based(simulate) -> None:
    spec = PAGE_NUMBER.replace("page: {role: page}", "page: {role: page, default: 0}")
    with simulate(spec, ITEMS):
        assert ids(requests.get(f"{BASE}/items?page=0").json()) == [1, 2, 3]
        assert ids(requests.get(f"{BASE}/items?page=2").json()) == [7]
        assert ids(requests.get(f"{BASE}/items").json()) == [1, 2, 3]


def test_page_style_without_params_uses_page_and_30(simulate) -> None:
    """Without roles, upstream read ``page`` and ``offset`` by those names and pages of 30."""
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        response: {pagination_style: page_number}
    """
    with simulate(spec, {"items": [{"id": i} for i in range(45)]}):
        assert len(requests.get(f"{BASE}/items").json()) == 30
        assert ids(requests.get(f"{BASE}/items?page=2").json()) == list(range(30, 45))


def test_offset_style_without_params_uses_offset_and_30(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        response: {pagination_style: offset_limit}
    """
    with simulate(spec, {"items": [{"id": i} for i in range(45)]}):
        assert ids(requests.get(f"{BASE}/items").json()) == list(range(30))
        assert ids(requests.get(f"{BASE}/items?offset=40").json()) == list(range(40, 45))


# --------------------------------------------------------------------------- Link header

LINKS = """
endpoints:
  - path: /repos/{owner}/items
    method: GET
    corpus: items
    params:
      p: {role: page}
      size: {role: per_page, default: 3}
      state: {role: ignore}
    response:
      pagination_style: page_number_with_link_header
"""


def test_link_header_uses_the_page_params_real_name(simulate) -> None:
    """Upstream always wrote ``page=``; a client following Link then looped on page 1."""
    with simulate(LINKS, ITEMS):
        seen, responses = follow_links(f"{BASE}/repos/octo/items?state=open&size=3")
    assert seen == list(range(1, 8))
    assert len(responses) == 3
    assert responses[0].headers["Link"] == (
        f'<{BASE}/repos/octo/items?state=open&size=3&p=2>; rel="next", '
        f'<{BASE}/repos/octo/items?state=open&size=3&p=3>; rel="last"'
    )
    assert responses[1].headers["Link"] == (
        f'<{BASE}/repos/octo/items?state=open&size=3&p=3>; rel="next", '
        f'<{BASE}/repos/octo/items?state=open&size=3&p=3>; rel="last", '
        f'<{BASE}/repos/octo/items?state=open&size=3&p=1>; rel="first", '
        f'<{BASE}/repos/octo/items?state=open&size=3&p=1>; rel="prev"'
    )
    assert responses[2].headers["Link"] == (
        f'<{BASE}/repos/octo/items?state=open&size=3&p=1>; rel="first", '
        f'<{BASE}/repos/octo/items?state=open&size=3&p=2>; rel="prev"'
    )


def test_link_header_replaces_the_page_in_place(simulate) -> None:
    with simulate(LINKS, ITEMS):
        response = requests.get(f"{BASE}/repos/octo/items?p=2&state=all")
    assert response.links["next"]["url"] == f"{BASE}/repos/octo/items?p=3&state=all"
    assert response.links["prev"]["url"] == f"{BASE}/repos/octo/items?p=1&state=all"


def test_no_link_header_when_everything_fits(simulate) -> None:
    with simulate(LINKS, ITEMS):
        response = requests.get(f"{BASE}/repos/octo/items?size=100")
    assert "Link" not in response.headers
    with simulate(LINKS, {"items": []}):
        assert "Link" not in requests.get(f"{BASE}/repos/octo/items").headers


def test_link_header_past_the_end(simulate) -> None:
    with simulate(LINKS, ITEMS):
        response = requests.get(f"{BASE}/repos/octo/items?p=9")
    assert response.json() == []
    assert set(response.links) == {"first", "prev"}
    assert response.links["prev"]["url"].endswith("p=8")


# --------------------------------------------------------------------------- offset_limit

OFFSET = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      start: {role: offset}
      count: {role: limit, default: 3, max: 4}
    response:
      pagination_style: offset_limit
      wrapper: {records_key: data, extras: {total: {computed: total}}}
"""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [1, 2, 3]),
        ("start=3", [4, 5, 6]),
        ("start=6&count=3", [7]),
        ("start=7", []),
        ("start=-4", [1, 2, 3]),
        ("start=2&count=100", [3, 4, 5, 6]),
        ("start=zz", [1, 2, 3]),
    ],
)
def test_offset_limit(simulate, query: str, expected: list[int]) -> None:
    with simulate(OFFSET, ITEMS):
        body = requests.get(f"{BASE}/items?{query}").json()
    assert ids(body["data"]) == expected
    assert body["total"] == 7


def test_offset_limit_reading_until_a_short_page(simulate) -> None:
    seen: list[int] = []
    with simulate(OFFSET, ITEMS) as sim:
        offset = 0
        while True:
            batch = requests.get(f"{BASE}/items", params={"start": offset, "count": 2}).json()["data"]
            seen.extend(ids(batch))
            offset += len(batch)
            if len(batch) < 2:
                break
    assert seen == list(range(1, 8))
    assert [e.page["offset"] for e in sim.trace] == [0, 2, 4, 6]


# --------------------------------------------------------------------------- cursor

CURSOR = """
endpoints:
  - path: /items
    method: GET
    corpus: items
    params:
      after: {role: cursor}
      limit: {role: limit, default: 3}
    response:
      pagination_style: cursor
      wrapper: {records_key: results}
"""


def test_cursor_token_in_the_body(simulate) -> None:
    seen: list[int] = []
    tokens: list[str] = []
    with simulate(CURSOR, ITEMS) as sim:
        params: dict[str, Any] = {}
        for _ in range(10):
            body = requests.get(f"{BASE}/items", params=params).json()
            seen.extend(ids(body["results"]))
            if "next_cursor" not in body:  # on_last_page: omit (the default for cursor)
                break
            tokens.append(body["next_cursor"])
            params = {"after": body["next_cursor"]}
    assert seen == list(range(1, 8))
    assert len(tokens) == 2 and len(set(tokens)) == 2
    assert all(not t.isdigit() for t in tokens)  # opaque, not an offset a client could compute
    assert [e.has_more for e in sim.trace] == [True, True, False]
    assert sim.trace.entries[1].page["token"] == tokens[0]


def test_cursor_token_the_simulator_did_not_issue_is_a_400(simulate) -> None:
    with simulate(CURSOR, ITEMS) as sim:
        response = requests.get(f"{BASE}/items?after=page-2")
    assert response.status_code == 400
    assert "invalid page token 'page-2'" in response.json()["error"]
    assert sim.trace.entries[0].outcome == "bad-request"


def test_empty_cursor_is_the_first_page(simulate) -> None:
    with simulate(CURSOR, ITEMS):
        assert ids(requests.get(f"{BASE}/items?after=").json()["results"]) == [1, 2, 3]


def test_cursor_in_a_json_body_with_a_nested_next_key(simulate) -> None:
    """HubSpot search: ``{"after": token}`` in the POST body, ``paging.next.after`` in the reply."""
    spec = """
    endpoints:
      - path: /search
        method: POST
        corpus: items
        params:
          after: {role: cursor, in: body}
          limit: {role: limit, in: body, default: 3}
        response:
          pagination_style: cursor
          pagination: {next_key: paging.next.after}
          wrapper: {records_key: results, extras: {total: {computed: total}}}
    """
    seen: list[int] = []
    with simulate(spec, ITEMS):
        payload: dict[str, Any] = {"limit": 4}
        for _ in range(10):
            body = requests.post(f"{BASE}/search", json=payload).json()
            seen.extend(ids(body["results"]))
            assert body["total"] == 7
            after = body.get("paging", {}).get("next", {}).get("after")
            if after is None:
                assert "paging" not in body
                break
            payload = {"limit": 4, "after": after}
    assert seen == list(range(1, 8))


def test_cursor_on_last_page_null(simulate) -> None:
    spec = CURSOR.replace(
        "pagination_style: cursor", "pagination_style: cursor\n      pagination: {on_last_page: 'null'}"
    )
    with simulate(spec, ITEMS):
        body = requests.get(f"{BASE}/items?limit=10").json()
    assert body == {"results": ITEMS["items"], "next_cursor": None}


# --------------------------------------------------------------------------- next_url


@pytest.mark.parametrize(
    ("position", "marker"),
    [
        ("cursor: {role: cursor}", r"cursor=[A-Za-z0-9_-]+"),
        ("page: {role: page}", r"page=\d"),
        ("offset: {role: offset}", r"offset=\d"),
    ],
)
def test_next_url_full_url_in_the_body(simulate, position: str, marker: str) -> None:
    spec = f"""
    endpoints:
      - path: /api/v2/items.json
        method: GET
        corpus: items
        params:
          {position}
          per_page: {{role: per_page, default: 3}}
          sort: {{role: ignore}}
        response:
          pagination_style: next_url
          wrapper: {{records_key: items, extras: {{count: {{computed: total}}}}}}
    """
    seen: list[int] = []
    urls: list[str] = []
    with simulate(spec, ITEMS):
        url: str | None = f"{BASE}/api/v2/items.json?sort=id&per_page=3"
        while url:
            body = requests.get(url).json()
            seen.extend(ids(body["items"]))
            assert body["count"] == 7
            url = body["next"]  # on_last_page: null (the default for next_url)
            if url:
                urls.append(url)
    assert seen == list(range(1, 8))
    assert len(urls) == 2
    for url in urls:
        assert url.startswith(f"{BASE}/api/v2/items.json?sort=id&per_page=3&")
        assert re.search(marker, url)


def test_next_url_custom_key_and_omit(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          per_page: {role: per_page, default: 5}
        response:
          pagination_style: next_url
          pagination: {next_key: links.next, on_last_page: omit}
          wrapper: {records_key: data}
    """
    with simulate(spec, ITEMS):
        first = requests.get(f"{BASE}/items").json()
        second = requests.get(first["links"]["next"]).json()
    assert ids(first["data"]) == [1, 2, 3, 4, 5]
    assert "cursor=" in first["links"]["next"]  # no position role declared: a 'cursor' param
    assert ids(second["data"]) == [6, 7]
    assert second == {"data": ITEMS["items"][5:]}


# --------------------------------------------------------------------------- odata_next_link


def test_odata_next_link(simulate) -> None:
    spec = """
    endpoints:
      - path: /v1.0/users
        method: GET
        corpus: items
        params:
          $top: {role: per_page, default: 100, max: 999}
          $select: {role: ignore}
        response:
          pagination_style: odata_next_link
    """
    seen: list[int] = []
    links: list[str] = []
    with simulate(spec, ITEMS):
        url: str | None = f"{BASE}/v1.0/users?$top=3&$select=id"
        while url:
            body = requests.get(url).json()
            assert set(body) <= {"value", "@odata.nextLink"}
            seen.extend(ids(body["value"]))
            url = body.get("@odata.nextLink")
            if url:
                links.append(url)
    assert seen == list(range(1, 8))
    assert len(links) == 2
    for link in links:  # as Graph writes them: the system query options unescaped
        assert link.startswith(f"{BASE}/v1.0/users?$top=3&$select=id&$skiptoken=")


def test_odata_forged_skiptoken_is_a_400(simulate) -> None:
    spec = """
    endpoints:
      - path: /v1.0/users
        method: GET
        corpus: items
        response: {pagination_style: odata_next_link}
    """
    with simulate(spec, ITEMS):
        assert requests.get(f"{BASE}/v1.0/users?$skiptoken=X'44'").status_code == 400


# --------------------------------------------------------------------------- page state in the trace


def test_trace_records_the_page_state(simulate) -> None:
    with simulate(LINKS, ITEMS) as sim:
        requests.get(f"{BASE}/repos/octo/items?p=2&size=3")
    entry = sim.trace.entries[0]
    assert entry.page == {
        "style": "page_number_with_link_header",
        "offset": 3,
        "limit": 3,
        "page": 2,
        "token": None,
        "next": 3,
    }
    assert entry.served == [3, 4, 5]
    assert entry.total == 7
    assert entry.has_more is True
