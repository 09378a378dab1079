"""The twelve public specs load and are served the public way.

The specs and corpora live in ``shared/upstream-specs/`` beside the clone (they
are not ours to redistribute, so they are never copied here). For each one the
simulator's answers are compared with a small reference model of the public
simulator's declarative pipeline (UPSTREAM-SIMULATOR.md §3 and §4): same
records, same order, same wrapper keys, same ``Link`` headers. The documented
improvements (type-aware comparison, computed extras, path filters, sort
mappings) do not apply to these specs unless a request uses them, so the
requests below do not.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
import yaml
from connector_watch.simulator import Simulator, check_spec
from connector_watch.tests.simulator.conftest import UPSTREAM_SPECS

pytestmark = pytest.mark.skipif(
    not UPSTREAM_SPECS.is_dir(),
    reason=f"public specs not found at {UPSTREAM_SPECS} (CI checks shared/ out beside the clone)",
)

NAMES = (
    sorted(p.parent.name for p in UPSTREAM_SPECS.glob("*/endpoints.yaml")) if UPSTREAM_SPECS.is_dir() else []
)
HOST = "https://upstream.example.com"


# --------------------------------------------------------------------------- the reference model


def _field(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def _role(raw: dict[str, Any], role: str) -> tuple[str, dict[str, Any]] | None:
    for name, param in (raw.get("params") or {}).items():
        if param.get("role") == role:
            return name, param
    return None


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query[name])
    except (KeyError, ValueError):
        return default


def _size(query: dict[str, str], param: tuple[str, dict[str, Any]] | None) -> int:
    if param is None:
        return 30
    name, info = param
    default, maximum = int(info.get("default", 30)), int(info.get("max", 100))
    if name not in query:
        return default
    return max(1, min(_int(query, name, default), maximum))


def _link(url: str, page: int, rel: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["page"] = str(page)
    return f'<{urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))}>; rel="{rel}"'


def reference(raw: dict[str, Any], value: Any, url: str) -> tuple[Any, dict[str, str]]:
    """What the public simulator serves for ``url`` on the endpoint ``raw`` over ``value``."""
    response = raw.get("response") or {}
    if response.get("single_entity"):
        return (value if value is not None else {}), {}
    records = list(value or [])
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    for name, param in (raw.get("params") or {}).items():
        if param.get("role") == "filter" and name in query:
            wanted = query[name]
            records = [r for r in records if _matches(_field(r, param["field"]), param["op"], wanted)]
    if response.get("default_sort"):
        words = response["default_sort"].split()
        field, order = words[0], (words[1].lower() if len(words) > 1 else "asc")
        keyed = [(_field(r, field), r) for r in records]
        keyed.sort(
            key=lambda pair: (pair[0] is None, pair[0] if pair[0] is not None else ""),
            reverse=order == "desc",
        )
        records = [r for _, r in keyed]
    style = response.get("pagination_style", "none")
    headers: dict[str, str] = {}
    if style == "none":
        page = records
    elif style in ("page_number", "page_number_with_link_header"):
        size = _size(query, _role(raw, "per_page"))
        page_param = _role(raw, "page")
        number = max(1, _int(query, page_param[0] if page_param else "page", 1))
        page = records[(number - 1) * size : number * size]
        if style == "page_number_with_link_header":
            last = max(1, math.ceil(len(records) / size))
            links = []
            if number < last:
                links += [_link(url, number + 1, "next"), _link(url, last, "last")]
            if number > 1:
                links += [_link(url, 1, "first"), _link(url, number - 1, "prev")]
            if links:
                headers["Link"] = ", ".join(links)
    else:
        assert style == "offset_limit"
        offset_param = _role(raw, "offset")
        offset = max(0, _int(query, offset_param[0] if offset_param else "offset", 0))
        page = records[offset : offset + _size(query, _role(raw, "limit"))]
    wrapper = response.get("wrapper")
    if wrapper:
        keys = wrapper["records_key"].split(".")
        body: Any = {keys[-1]: page, **(wrapper.get("extras") or {})}
        for key in reversed(keys[:-1]):
            body = {key: body}
        return body, headers
    return page, headers


def _matches(value: Any, op: str, wanted: str) -> bool:
    if value is None:
        return op == "ne"
    if op == "in":
        return str(value) in [w.strip() for w in wanted.split(",")]
    if isinstance(value, bool):
        other: Any = wanted.lower() in ("true", "1", "yes")
    elif isinstance(value, int):
        other = int(wanted)
    else:
        other = wanted
    return {
        "eq": value == other,
        "ne": value != other,
        "gt": value > other,
        "gte": value >= other,
        "lt": value < other,
        "lte": value <= other,
    }[op]


# --------------------------------------------------------------------------- helpers


@functools.cache
def spec_of(name: str) -> tuple[Path, dict[str, Any]]:
    path = UPSTREAM_SPECS / name / "endpoints.yaml"
    return path, yaml.load(
        path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )


@functools.cache
def corpus_of(name: str, table: str | None) -> Any:
    file = UPSTREAM_SPECS / name / "corpus" / f"{table}.json"
    return json.loads(file.read_text(encoding="utf-8")) if table and file.is_file() else None


def concrete(path: str) -> str:
    """The spec path with every placeholder filled."""
    return "/".join("x1" if s.startswith("{") and s.endswith("}") else s for s in path.split("/"))


def call(raw: dict[str, Any], url: str) -> requests.Response:
    if raw["method"].upper() == "GET":
        return requests.get(url, timeout=5)
    return requests.request(raw["method"].upper(), url, json={}, timeout=5)


def simulator(name: str) -> Simulator:
    path, _ = spec_of(name)
    return Simulator(
        mode="simulate", spec_path=path, corpus_dir=path.parent / "corpus", synthesize_future_records=False
    )


def assert_same(response: requests.Response, expected_body: Any, expected_headers: dict[str, str]) -> None:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body == expected_body
    if isinstance(expected_body, dict):
        assert list(body) == list(expected_body)  # records first, then the extras, as upstream
    assert response.headers.get("Link") == expected_headers.get("Link")


# --------------------------------------------------------------------------- tests


def test_all_twelve_public_specs_are_present() -> None:
    assert len(NAMES) == 12, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_public_spec_loads(name: str) -> None:
    path, raw = spec_of(name)
    spec, issues = check_spec(path)
    assert spec is not None, "\n".join(map(str, issues))
    assert len(spec.endpoints) == len(raw["endpoints"])
    assert not [i for i in issues if i.blocking], issues
    # Nothing but missing corpora (served empty, as upstream) is reported on the public specs.
    assert {i.code for i in issues} <= {"missing-corpus"}, issues


@pytest.mark.parametrize("name", NAMES)
def test_every_endpoint_serves_what_upstream_serves(name: str) -> None:
    _, raw_spec = spec_of(name)
    served = 0
    with simulator(name) as sim:
        for raw in raw_spec["endpoints"]:
            if raw.get("handler"):
                continue
            url = HOST + concrete(raw["path"])
            body, headers = reference(raw, corpus_of(name, raw.get("corpus")), url)
            response = call(raw, url)
            assert_same(response, body, headers)
            served += 1
        assert len(sim.trace) == served


PAGED = [
    (name, index)
    for name in NAMES
    for index, raw in enumerate(spec_of(name)[1]["endpoints"])
    if (raw.get("response") or {}).get("pagination_style", "none") != "none"
    and raw["method"].upper() == "GET"
    and isinstance(corpus_of(name, raw.get("corpus")), list)
]


def test_the_public_specs_exercise_every_public_style() -> None:
    styles = {(spec_of(n)[1]["endpoints"][i].get("response") or {}).get("pagination_style") for n, i in PAGED}
    assert styles == {"page_number", "page_number_with_link_header", "offset_limit"}


@pytest.mark.parametrize(("name", "index"), PAGED, ids=[f"{n}#{i}" for n, i in PAGED])
def test_paging_through_a_public_endpoint(name: str, index: int) -> None:
    """Small pages, every page: same records, same order, same Link header on each."""
    _, raw_spec = spec_of(name)
    raw = raw_spec["endpoints"][index]
    style = raw["response"]["pagination_style"]
    corpus = corpus_of(name, raw["corpus"])
    base = HOST + concrete(raw["path"])
    collected: list[Any] = []
    with simulator(name):
        for step in range(len(corpus) + 2):  # one page past the end
            if style == "offset_limit":
                offset_name = (_role(raw, "offset") or ("offset", {}))[0]
                limit_name = _role(raw, "limit")[0]
                url = f"{base}?{limit_name}=2&{offset_name}={step * 2}"
            else:
                size_name = _role(raw, "per_page")[0]
                page_name = (_role(raw, "page") or ("page", {}))[0]
                url = f"{base}?{size_name}=2&{page_name}={step + 1}"
            body, headers = reference(raw, corpus, url)
            response = requests.get(url, timeout=5)
            assert_same(response, body, headers)
            page = body if isinstance(body, list) else body[raw["response"]["wrapper"]["records_key"]]
            collected.extend(page)
    assert len(collected) == len(corpus)


@pytest.mark.parametrize(
    ("name", "path", "query", "selected"),
    [
        # ISO timestamps in one layout: the type-aware comparison agrees with upstream's string one.
        ("github", "/repos/o/r/commits", {"since": "2025-12-31T00:00:00Z", "per_page": "100"}, 15),
        ("github", "/repos/o/r/commits", {"until": "2025-12-20T00:00:00Z", "per_page": "100"}, 8),
        ("mailchimp", "/3.0/lists/l1/members", {"since_last_changed": "2026-07-09T23:30:00+00:00"}, 3),
        ("actitime", "/t/api/v1/tasks", {"ids": "80,84,7"}, 2),
        ("actitime", "/t/api/v1/users", {"active": "true"}, 5),
        ("remberg", "/v2/assets", {"updatedAtFrom": "2024-01-01T02:00:00Z"}, 3),
    ],
)
def test_filters_on_public_specs_agree_with_upstream(
    name: str, path: str, query: dict[str, str], selected: int
) -> None:
    spec_path, raw_spec = spec_of(name)
    loaded, _ = check_spec(spec_path)
    endpoint, _ = loaded.match("GET", path)
    raw = raw_spec["endpoints"][endpoint.index]
    url = f"{HOST}{path}?{urlencode(query)}"
    body, headers = reference(raw, corpus_of(name, raw["corpus"]), url)
    with simulator(name):
        response = requests.get(url, timeout=5)
    assert_same(response, body, headers)
    records = body if isinstance(body, list) else body[raw["response"]["wrapper"]["records_key"]]
    assert len(records) == selected


def test_github_link_header_matches_upstream_text() -> None:
    """The exact header a GitHub client parses, page 2 of 25 commits by 10."""
    with simulator("github"):
        response = requests.get(f"{HOST}/repos/o/r/commits?per_page=10&page=2", timeout=5)
    assert response.headers["Link"] == (
        f'<{HOST}/repos/o/r/commits?per_page=10&page=3>; rel="next", '
        f'<{HOST}/repos/o/r/commits?per_page=10&page=3>; rel="last", '
        f'<{HOST}/repos/o/r/commits?per_page=10&page=1>; rel="first", '
        f'<{HOST}/repos/o/r/commits?per_page=10&page=1>; rel="prev"'
    )
    assert len(response.json()) == 10


def test_github_missing_corpora_serve_empty_lists_and_objects() -> None:
    with simulator("github") as sim:
        assert requests.get(f"{HOST}/repos/o/r/pulls", timeout=5).json() == []
        assert requests.get(f"{HOST}/orgs/o/teams/t", timeout=5).json() == {}
    assert [e.corpus_missing for e in sim.trace] == [True, True]


def test_public_future_records_get_fresh_keys() -> None:
    """mailchimp campaigns: upstream cloned the last record with its id; ours get new ids."""
    path, _ = spec_of("mailchimp")
    with Simulator(mode="simulate", spec_path=path, corpus_dir=path.parent / "corpus") as sim:
        body = requests.get(f"{HOST}/3.0/campaigns?count=1000", timeout=5).json()
    campaigns = body["campaigns"]
    original = corpus_of("mailchimp", "campaigns")
    assert campaigns[: len(original)] == original
    assert len(campaigns) == len(original) + 3
    ids = [c["id"] for c in campaigns]
    assert len(set(ids)) == len(ids)
    assert sorted(sim.future_indices["campaigns"]) == [1, 2, 3]
