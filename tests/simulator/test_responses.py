"""Response shaping: wrappers and extras, declared errors, strict params, single entities, handlers."""

from __future__ import annotations

import pytest
import requests
from connector_watch.tests.simulator import sample_handlers
from connector_watch.tests.simulator.conftest import BASE, ids

ITEMS = {"items": [{"id": i, "kind": "a" if i % 2 else "b"} for i in range(1, 6)]}


# --------------------------------------------------------------------------- wrappers and extras


def test_dotted_records_key_builds_nested_objects(simulate) -> None:
    spec = """
    endpoints:
      - path: /odata/Customers
        method: GET
        corpus: items
        response:
          wrapper: {records_key: d.results, extras: {__count: "5"}}
    """
    with simulate(spec, ITEMS):
        body = requests.get(f"{BASE}/odata/Customers").json()
    assert body == {"d": {"results": ITEMS["items"], "__count": "5"}}


def test_computed_extras_anywhere_inside_extras(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          kind: {role: filter, field: kind, op: eq}
          offset: {role: offset}
          limit: {role: limit, default: 2}
        response:
          pagination_style: offset_limit
          wrapper:
            records_key: results
            extras:
              total: {computed: total}
              meta:
                has_more: {computed: has_more}
                end_of_stream: {computed: end_of_stream}
                window: [{computed: offset}, {computed: limit}]
                next: {after: {computed: next}}
              static: {paging: {}, computed_not: {computed: total, extra: 1}}
    """
    with simulate(spec, ITEMS):
        first = requests.get(f"{BASE}/items?kind=a").json()
        last = requests.get(f"{BASE}/items?kind=a&offset=2").json()
    assert ids(first["results"]) == [1, 3]
    assert first["total"] == 3
    assert first["meta"] == {
        "has_more": True,
        "end_of_stream": False,
        "window": [0, 2],
        "next": {"after": 2},
    }
    # a mapping with other keys beside 'computed' is static
    assert first["static"] == {"paging": {}, "computed_not": {"computed": "total", "extra": 1}}
    assert ids(last["results"]) == [5]
    assert last["meta"]["has_more"] is False and last["meta"]["end_of_stream"] is True
    assert last["meta"]["next"] == {"after": None}


def test_static_extras_keep_their_values_and_order(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        response:
          wrapper: {records_key: data, extras: {links: {}, info: {more_records: false}}}
    """
    with simulate(spec, ITEMS):
        first = requests.get(f"{BASE}/items").json()
        second = requests.get(f"{BASE}/items").json()
    assert first["info"] == second["info"] == {"more_records": False}
    assert list(first) == ["data", "links", "info"]


def test_static_response_headers(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        response:
          headers: {X-RateLimit-Remaining: "4999", Content-Type: application/vnd.api+json}
    """
    with simulate(spec, ITEMS):
        response = requests.get(f"{BASE}/items")
    assert response.headers["X-RateLimit-Remaining"] == "4999"
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert response.status_code == 200
    assert response.url == f"{BASE}/items"
    assert response.request is not None and response.request.method == "GET"


# --------------------------------------------------------------------------- declared errors

ERRORS = """
endpoints:
  - path: /repos/{owner}/items
    method: GET
    corpus: items
    params:
      owner: {role: filter, in: path, field: owner, op: eq}
      state: {role: ignore}
    errors:
      - status: 429
        headers: {Retry-After: "0"}
        body: {message: "You have exceeded the rate limit"}
        on_calls: [1, 3]
      - status: 404
        when: {owner: ghost}
      - status: 503
        body: "Service Unavailable"
        when: {state: broken}
"""


def test_errors_on_calls_then_normal_answers(simulate) -> None:
    corpus = {"items": [{"id": 1, "owner": "octo"}]}
    with simulate(ERRORS, corpus) as sim:
        statuses = [requests.get(f"{BASE}/repos/octo/items").status_code for _ in range(4)]
        first = sim.trace.entries[0]
    assert statuses == [429, 200, 429, 200]
    response_429 = None
    with simulate(ERRORS, corpus):
        response_429 = requests.get(f"{BASE}/repos/octo/items")
    assert response_429.headers["Retry-After"] == "0"
    assert response_429.json() == {"message": "You have exceeded the rate limit"}
    assert first.outcome == "declared-error"
    assert first.status == 429
    assert "declared error 429" in first.message


def test_errors_when_a_param_has_a_value(simulate) -> None:
    corpus = {"items": [{"id": 1, "owner": "octo"}]}
    with simulate(ERRORS.replace("on_calls: [1, 3]", "on_calls: [1]"), corpus):
        requests.get(f"{BASE}/repos/octo/items")  # call 1 is the 429
        ghost = requests.get(f"{BASE}/repos/ghost/items")
        broken = requests.get(f"{BASE}/repos/octo/items?state=broken")
        fine = requests.get(f"{BASE}/repos/octo/items?state=open")
    assert ghost.status_code == 404
    assert ghost.json() == {"error": "simulated 404", "status": 404}  # no body declared
    assert broken.status_code == 503
    assert broken.text == "Service Unavailable"
    assert broken.headers["Content-Type"].startswith("text/plain")
    assert fine.status_code == 200 and ids(fine.json()) == [1]


def test_an_error_without_conditions_is_served_every_time(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        errors: [{status: 500}]
    """
    with simulate(spec, ITEMS):
        assert [requests.get(f"{BASE}/items").status_code for _ in range(3)] == [500, 500, 500]


def test_calls_are_counted_per_endpoint_and_session(simulate) -> None:
    spec = """
    endpoints:
      - path: /a
        method: GET
        corpus: items
        errors: [{status: 502, on_calls: [2]}]
      - path: /b
        method: GET
        corpus: items
    """
    with simulate(spec, ITEMS):
        codes = [requests.get(f"{BASE}{p}").status_code for p in ("/b", "/a", "/b", "/a", "/a")]
    assert codes == [200, 200, 200, 502, 200]
    with simulate(spec, ITEMS):  # a new session counts from 1 again
        assert [requests.get(f"{BASE}/a").status_code for _ in range(2)] == [200, 502]


def test_requests_retry_adapter_sees_declared_errors(simulate) -> None:
    """A connector's own retry loop gets the declared responses in order."""
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        errors: [{status: 429, headers: {Retry-After: "0"}, on_calls: [1, 2]}]
    """
    seen = []
    with simulate(spec, ITEMS):
        for _ in range(5):
            response = requests.get(f"{BASE}/items")
            seen.append(response.status_code)
            if response.status_code == 200:
                break
    assert seen == [429, 429, 200]


# --------------------------------------------------------------------------- strict params


def test_strict_params_answer_400_for_unknown_keys(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        strict_params: true
        params:
          kind: {role: filter, field: kind, op: eq}
          page: {role: page}
    """
    with simulate(spec, ITEMS) as sim:
        ok = requests.get(f"{BASE}/items?kind=a&page=1")
        bad = requests.get(f"{BASE}/items?kind=a&sort=id&zeta=1")
    assert ok.status_code == 200
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "Unknown query parameter(s): ['sort', 'zeta']. Allowed: ['kind', 'page']",
        "status": 400,
    }
    assert sim.trace.entries[1].outcome == "bad-request"


def test_strict_params_check_body_keys(simulate) -> None:
    spec = """
    endpoints:
      - path: /search
        method: POST
        corpus: items
        strict_params: true
        params:
          kind: {role: filter, in: body, key: filter.kind, field: kind, op: eq}
    """
    with simulate(spec, ITEMS):
        ok = requests.post(f"{BASE}/search", json={"filter": {"kind": "b"}})
        bad = requests.post(f"{BASE}/search", json={"filter": {"kind": "b"}, "sorts": []})
    assert ok.status_code == 200 and ids(ok.json()) == [2, 4]
    assert bad.status_code == 400
    assert "['sorts']" in bad.json()["error"]


def test_lenient_endpoints_ignore_unknown_params(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
    """
    with simulate(spec, ITEMS):
        assert requests.get(f"{BASE}/items?anything=1").status_code == 200


# --------------------------------------------------------------------------- single entities


def test_single_entity_serves_the_corpus_value(simulate) -> None:
    spec = """
    endpoints:
      - path: /user
        method: GET
        corpus: user
        params:
          fields: {role: filter, field: login, op: eq}
        response: {single_entity: true}
    """
    with simulate(spec, {"user": {"login": "octocat", "id": 1}}):
        assert requests.get(f"{BASE}/user?fields=someone-else").json() == {"login": "octocat", "id": 1}


def test_single_entity_list_without_path_filters_is_served_whole(simulate) -> None:
    spec = """
    endpoints:
      - path: /surveys/{id}/details
        method: GET
        corpus: items
        response: {single_entity: true}
    """
    with simulate(spec, ITEMS):
        assert requests.get(f"{BASE}/surveys/3/details").json() == ITEMS["items"]


def test_single_entity_with_path_filters_serves_one_record_or_404(simulate) -> None:
    spec = """
    endpoints:
      - path: /items/{item_id}
        method: GET
        corpus: items
        params:
          item_id: {role: filter, in: path, field: id, op: eq}
        response: {single_entity: true, headers: {ETag: "v1"}}
    """
    with simulate(spec, ITEMS) as sim:
        found = requests.get(f"{BASE}/items/3")
        missing = requests.get(f"{BASE}/items/99")
    assert found.status_code == 200
    assert found.json() == {"id": 3, "kind": "a"}
    assert found.headers["ETag"] == "v1"
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found", "status": 404}
    assert [e.outcome for e in sim.trace] == ["served", "not-found"]
    assert sim.trace.entries[0].served == [2]


def test_single_entity_text_value_is_served_as_text(simulate) -> None:
    """Upstream served a JSON string corpus as text/plain with an empty body."""
    spec = """
    endpoints:
      - path: /robots.txt
        method: GET
        corpus: robots
        response: {single_entity: true}
    """
    with simulate(spec, {"robots": "User-agent: *\nDisallow: /"}):
        response = requests.get(f"{BASE}/robots.txt")
    assert response.text == "User-agent: *\nDisallow: /"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_single_entity_missing_corpus_serves_an_empty_object(simulate) -> None:
    spec = """
    endpoints:
      - path: /me
        method: GET
        corpus: me
        response: {single_entity: true}
    """
    with simulate(spec, {}) as sim:
        assert requests.get(f"{BASE}/me").json() == {}
    assert sim.trace.entries[0].corpus_missing is True


# --------------------------------------------------------------------------- handlers


def test_handler_escape_hatch(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        handler: connector_watch.tests.simulator.sample_handlers:serve_items
    """
    sample_handlers.CALLS.clear()
    with simulate(spec, ITEMS) as sim:
        response = requests.get(f"{BASE}/items?kind=b", headers={"Authorization": "Bearer t"})
    assert response.status_code == 200
    assert response.headers["X-Handler"] == "yes"
    assert response.json() == {
        "query": {"kind": "b"},
        "items": [{"id": 2, "kind": "b"}, {"id": 4, "kind": "b"}],
    }
    assert [("GET", f"{BASE}/items?kind=b", "GET /items", ["items"])] == sample_handlers.CALLS
    entry = sim.trace.entries[0]
    assert (entry.outcome, entry.status, entry.corpus) == ("handler", 200, "items")


def test_handler_status_and_errors(simulate) -> None:
    spec = """
    endpoints:
      - path: /teapot
        method: GET
        handler: connector_watch.tests.simulator.sample_handlers:teapot
      - path: /explode
        method: GET
        handler: connector_watch.tests.simulator.sample_handlers:explode
    """
    with simulate(spec, {}) as sim:
        assert requests.get(f"{BASE}/teapot").status_code == 418
        with pytest.raises(RuntimeError, match="handler bug"):
            requests.get(f"{BASE}/explode")
    failed = sim.trace.entries[1]
    assert failed.outcome == "handler-error"
    assert (
        failed.message == "handler connector_watch.tests.simulator.sample_handlers:explode raised RuntimeError: handler bug"
    )


def test_declared_errors_come_before_the_handler(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        handler: connector_watch.tests.simulator.sample_handlers:serve_items
        errors: [{status: 500, on_calls: [1]}]
    """
    with simulate(spec, ITEMS):
        assert [requests.get(f"{BASE}/items").status_code for _ in range(2)] == [500, 200]


# --------------------------------------------------------------------------- matching


def test_trailing_slash_and_method_case(simulate) -> None:
    spec = """
    endpoints:
      - path: /items/
        method: get
        corpus: items
    """
    with simulate(spec, ITEMS):
        assert requests.get(f"{BASE}/items").status_code == 200
        assert requests.get(f"{BASE}/items/").status_code == 200
        assert requests.request("get", f"{BASE}/items").status_code == 200


def test_host_and_port_are_ignored(simulate) -> None:
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
    """
    with simulate(spec, ITEMS) as sim:
        for host in ("https://a.example.com", "http://127.0.0.1:8080", "https://eu.api.example.org"):
            assert ids(requests.get(f"{host}/items").json()) == [1, 2, 3, 4, 5]
    assert [e.url for e in sim.trace][1] == "http://127.0.0.1:8080/items"


def test_post_put_patch_delete(simulate) -> None:
    spec = """
    endpoints:
      - {path: /items, method: POST, corpus: items}
      - {path: /items, method: PUT, corpus: items}
      - {path: /items, method: PATCH, corpus: items}
      - {path: /items, method: DELETE, corpus: items}
      - {path: /items, method: HEAD, corpus: items}
    """
    with simulate(spec, ITEMS) as sim:
        for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD"):
            assert requests.request(method, f"{BASE}/items", json={"x": 1}).status_code == 200
    assert [e.endpoint.index for e in sim.trace] == [0, 1, 2, 3, 4]


def test_empty_optional_keys_are_absent_as_upstream_read_them(simulate) -> None:
    """``params:`` or ``wrapper:`` left empty loaded upstream (``raw.get(key) or {}``), and loads here."""
    spec = """
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
        synthesize_future_records:
        response:
          default_sort:
          wrapper:
    """
    with simulate(spec, ITEMS) as sim:
        assert requests.get(f"{BASE}/items").json() == ITEMS["items"]
    [endpoint] = sim.spec.endpoints
    assert (endpoint.params, endpoint.response.wrapper, endpoint.response.default_sort) == ({}, None, None)
