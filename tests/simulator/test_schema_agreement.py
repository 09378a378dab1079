"""``endpoints.schema.json`` (what editors check) and ``simulator/spec.py`` (what runs) agree.

A catalogue of valid and invalid specs goes through both the ``jsonschema``
library and the loader; each must accept and reject the same ones. The loader's
extra checks, which need the file system, an import, or a cross-reference a JSON
Schema cannot express, are listed separately: the schema accepts those and the
loader rejects them. The schema's enums are also checked against what the
simulator implements.
"""

from __future__ import annotations

import functools
import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml
from connector_watch.simulator import check_spec, pagination, spec_schema
from connector_watch.simulator.pagination import encode_token
from connector_watch.simulator.values import matches
from connector_watch.tests.simulator.conftest import UPSTREAM_SPECS, write_spec

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "simulator" / "endpoints.schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)  # the schema itself is valid JSON Schema
    assert cls is jsonschema.Draft202012Validator
    return cls(SCHEMA)


def schema_accepts(document: object) -> bool:
    return _validator().is_valid(document)


def loader_accepts(tmp_path: Path, text: str) -> bool:
    spec_path = write_spec(tmp_path, text, {})
    loaded, issues = check_spec(spec_path, check_files=False)
    return loaded is not None and not any(i.blocking for i in issues)


def endpoint(body: str) -> str:
    """A spec with one endpoint whose remaining keys are ``body``."""
    return "endpoints:\n  - path: /items\n    method: GET\n" + textwrap.indent(textwrap.dedent(body), "    ")


VALID = {
    "empty-endpoint-list": "endpoints: []\n",
    "minimal": endpoint("corpus: items\n"),
    "lower-case-method": "endpoints:\n  - {path: /items, method: post, corpus: items}\n",
    "capitalized-method": "endpoints:\n  - {path: /items, method: Delete, corpus: items}\n",
    "handler-only": endpoint("handler: connector_watch.tests.simulator.sample_handlers:serve_items\n"),
    "every-key": endpoint(
        """
        corpus: items
        description: all of it
        handler: connector_watch.tests.simulator.sample_handlers:serve_items
        strict_params: true
        synthesize_future_records: {cursor_field: a.b, count: 0}
        params:
          q: {role: filter, field: a, op: eq, type: string, description: d}
          body_q: {role: filter, in: body, key: f.0.v, field: a, op: in}
          s: {role: sort_by, options: {new: "created desc"}}
          o: {role: sort_order, options: {up: asc, down: DESC}}
          p: {role: page, default: 0}
          n: {role: per_page, default: "10", max: 50}
          c: {role: cursor}
          x: {role: ignore}
        response:
          pagination_style: cursor
          pagination: {next_key: meta.next, on_last_page: "null"}
          default_sort: "a DESC"
          single_entity: false
          wrapper: {records_key: d.results, extras: {n: {computed: total}, s: 1}, ignore_extra_keys: true}
          expected_status_codes: [200, 404]
          headers: {X-A: b}
        errors:
          - {status: 429, headers: {Retry-After: "1"}, body: {m: slow}, on_calls: [1, 2]}
          - {status: 404, when: {q: ghost, p: 3, x: true}}
          - {status: 500, body: "plain text"}
        """
    ),
    **{
        f"style-{style}": endpoint(
            f"corpus: items\nresponse: {{pagination_style: {style}, wrapper: {{records_key: data}}}}\n"
        )
        for style in SCHEMA["$defs"]["response"]["properties"]["pagination_style"]["enum"]
    },
    **{
        f"op-{op}": endpoint(f"corpus: items\nparams: {{q: {{role: filter, field: a, op: {op}}}}}\n")
        for op in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "starts_with", "ends_with")
    },
    "path-filter": "endpoints:\n  - path: /o/{org}\n    method: GET\n    corpus: items\n"
    "    params: {org: {role: filter, in: path, field: org, op: eq}}\n",
    "empty-keys-as-upstream-read-them": endpoint(
        """
        corpus: items
        description:
        params:
        handler:
        synthesize_future_records:
        errors:
        response:
          default_sort:
          wrapper:
          headers:
          pagination:
        """
    ),
    "empty-response": endpoint("corpus: items\nresponse:\n"),
    "empty-extras-and-options": endpoint(
        "corpus: items\nparams: {s: {role: sort_by, options: null}}\nresponse: {wrapper: {records_key: d, extras: null}}\n"
    ),
    "sort-field-only": endpoint("corpus: items\nresponse: {default_sort: updated_at}\n"),
    "sort-by-list": endpoint("corpus: items\nparams: {s: {role: sort_by, options: [a, b]}}\n"),
    "odata-without-wrapper": endpoint("corpus: items\nresponse: {pagination_style: odata_next_link}\n"),
    "sort-by-any": endpoint("corpus: items\nparams: {s: {role: sort_by, options: []}}\n"),
    # A stub served as an empty list (or {} when single_entity), as upstream's probe endpoints are.
    "neither-corpus-nor-handler": endpoint("description: nothing to serve\n"),
    "handler-null-without-corpus": endpoint("handler: null\n"),
    "wrapper-static-extras": endpoint(
        "corpus: items\nresponse: {wrapper: {records_key: data, extras: {paging: {}, '@odata.nextLink': null}}}\n"
    ),
}

INVALID = {
    "top-level-list": "- a\n",
    "no-endpoints-key": "items: []\n",
    "endpoints-not-a-list": "endpoints: {path: /x}\n",
    "endpoint-not-a-mapping": "endpoints: [/items]\n",
    "missing-path": "endpoints:\n  - {method: GET, corpus: items}\n",
    "missing-method": "endpoints:\n  - {path: /items, corpus: items}\n",
    "unknown-top-level-key": "endpoints: []\nextra: 1\n",
    "unknown-endpoint-key": endpoint("corpus: items\nparamz: {}\n"),
    "unknown-param-key": endpoint("corpus: items\nparams: {q: {role: ignore, feild: a}}\n"),
    "unknown-response-key": endpoint("corpus: items\nresponse: {pagination_styl: none}\n"),
    "unknown-wrapper-key": endpoint("corpus: items\nresponse: {wrapper: {records_key: d, extra: {}}}\n"),
    "unknown-pagination-key": endpoint(
        "corpus: items\nresponse: {pagination_style: cursor, pagination: {next: x}}\n"
    ),
    "unknown-future-key": endpoint("corpus: items\nsynthesize_future_records: {cursor_field: a, cnt: 2}\n"),
    "unknown-error-key": endpoint("corpus: items\nerrors: [{status: 500, times: 2}]\n"),
    "unknown-role": endpoint("corpus: items\nparams: {q: {role: sortby}}\n"),
    "upper-case-role": endpoint("corpus: items\nparams: {q: {role: FILTER, field: a, op: eq}}\n"),
    "unknown-op": endpoint("corpus: items\nparams: {q: {role: filter, field: a, op: like}}\n"),
    "unknown-type": endpoint("corpus: items\nparams: {q: {role: filter, field: a, op: eq, type: date}}\n"),
    "unknown-in": endpoint("corpus: items\nparams: {q: {role: filter, field: a, op: eq, in: header}}\n"),
    "unknown-style": endpoint("corpus: items\nresponse: {pagination_style: link_header}\n"),
    "unknown-on-last-page": endpoint(
        "corpus: items\nresponse: {pagination_style: cursor, pagination: {on_last_page: empty}}\n"
    ),
    "unknown-method": "endpoints:\n  - {path: /items, method: FETCH, corpus: items}\n",
    "mixed-case-method": "endpoints:\n  - {path: /items, method: gEt, corpus: items}\n",
    "path-without-slash": "endpoints:\n  - {path: items, method: GET, corpus: items}\n",
    "filter-without-field": endpoint("corpus: items\nparams: {q: {role: filter, op: eq}}\n"),
    "filter-without-op": endpoint("corpus: items\nparams: {q: {role: filter, field: a}}\n"),
    "param-without-role": endpoint("corpus: items\nparams: {q: {field: a}}\n"),
    "param-not-a-mapping": endpoint("corpus: items\nparams: {q: filter}\n"),
    "params-a-list": endpoint("corpus: items\nparams: [q]\n"),
    "wrapper-without-records-key": endpoint("corpus: items\nresponse: {wrapper: {extras: {}}}\n"),
    "future-without-cursor-field": endpoint("corpus: items\nsynthesize_future_records: {count: 3}\n"),
    "future-negative-count": endpoint(
        "corpus: items\nsynthesize_future_records: {cursor_field: a, count: -1}\n"
    ),
    "default-sort-bad-order": endpoint("corpus: items\nresponse: {default_sort: 'a up'}\n"),
    "default-sort-three-words": endpoint("corpus: items\nresponse: {default_sort: 'a asc b'}\n"),
    "handler-without-colon": endpoint("handler: connector_watch.tests.simulator.sample_handlers.serve_items\n"),
    "strict-params-string": endpoint("corpus: items\nstrict_params: 'yes'\n"),
    "single-entity-string": endpoint("corpus: items\nresponse: {single_entity: 'true'}\n"),
    "max-zero": endpoint("corpus: items\nparams: {n: {role: per_page, max: 0}}\n"),
    "max-string": endpoint("corpus: items\nparams: {n: {role: per_page, max: '100'}}\n"),
    "header-value-number": endpoint("corpus: items\nresponse: {headers: {X-A: 1}}\n"),
    "empty-corpus-name": endpoint("corpus: ''\n"),
    "error-status-too-low": endpoint("corpus: items\nerrors: [{status: 99}]\n"),
    "error-without-status": endpoint("corpus: items\nerrors: [{body: {}}]\n"),
    "error-call-zero": endpoint("corpus: items\nerrors: [{status: 500, on_calls: [0]}]\n"),
    "error-when-list": endpoint("corpus: items\nerrors: [{status: 500, when: {q: [1, 2]}}]\n"),
    "expected-status-strings": endpoint("corpus: items\nresponse: {expected_status_codes: ['404']}\n"),
    "cursor-without-wrapper": endpoint("corpus: items\nresponse: {pagination_style: cursor}\n"),
    "next-url-without-wrapper": endpoint("corpus: items\nresponse: {pagination_style: next_url}\n"),
    "corpus-null-without-handler": endpoint("corpus: null\n"),
    "cursor-with-null-wrapper": endpoint(
        "corpus: items\nresponse: {pagination_style: cursor, wrapper: null}\n"
    ),
    "empty-wrapper": endpoint("corpus: items\nresponse: {wrapper: {}}\n"),
    "extras-a-list": endpoint("corpus: items\nresponse: {wrapper: {records_key: d, extras: [1]}}\n"),
}

#: Rejected by the loader, accepted by the schema: each needs context a JSON Schema does not have.
LOADER_ONLY = {
    "second-page-param": endpoint("corpus: items\nparams: {a: {role: page}, b: {role: page}}\n"),
    "second-sort-by-param": endpoint("corpus: items\nparams: {a: {role: sort_by}, b: {role: sort_by}}\n"),
    "path-filter-without-placeholder": endpoint(
        "corpus: items\nparams: {org: {role: filter, in: path, field: org, op: eq}}\n"
    ),
    "handler-module-missing": endpoint("handler: connector_watch.tests.simulator.not_there:serve\n"),
    "handler-function-missing": endpoint("handler: connector_watch.tests.simulator.sample_handlers:nope\n"),
    "key-outside-body": endpoint("corpus: items\nparams: {q: {role: filter, field: a, op: eq, key: b}}\n"),
    "options-on-a-filter": endpoint(
        "corpus: items\nparams: {q: {role: filter, field: a, op: eq, options: [x]}}\n"
    ),
    "field-on-a-page-param": endpoint("corpus: items\nparams: {p: {role: page, field: a}}\n"),
    "sort-order-mapping-to-non-direction": endpoint(
        "corpus: items\nparams: {o: {role: sort_order, options: {up: upwards}}}\n"
    ),
    "page-size-default-not-a-number": endpoint("corpus: items\nparams: {n: {role: limit, default: ten}}\n"),
    "unknown-computed-value": endpoint(
        "corpus: items\nresponse: {wrapper: {records_key: d, extras: {n: {computed: totl}}}}\n"
    ),
}


@pytest.mark.parametrize(("text"), [pytest.param(t, id=n) for n, t in VALID.items()])
def test_valid_specs_pass_both(tmp_path: Path, text: str) -> None:
    assert schema_accepts(yaml.safe_load(text))
    assert loader_accepts(tmp_path, text)


@pytest.mark.parametrize(("text"), [pytest.param(t, id=n) for n, t in INVALID.items()])
def test_invalid_specs_fail_both(tmp_path: Path, text: str) -> None:
    assert not schema_accepts(yaml.safe_load(text))
    assert not loader_accepts(tmp_path, text)


@pytest.mark.parametrize(("text"), [pytest.param(t, id=n) for n, t in LOADER_ONLY.items()])
def test_loader_only_rejections(tmp_path: Path, text: str) -> None:
    """If the schema learns to reject one of these, move it to INVALID."""
    assert schema_accepts(yaml.safe_load(text))
    assert not loader_accepts(tmp_path, text)


def _real_specs() -> list[Path]:
    ours = sorted((REPO / "simulator" / "specs").glob("*/endpoints.yaml"))
    public = sorted(UPSTREAM_SPECS.glob("*/endpoints.yaml")) if UPSTREAM_SPECS.is_dir() else []
    return ours + public


@pytest.mark.parametrize("path", _real_specs(), ids=lambda p: f"{p.parents[1].name}/{p.parent.name}")
def test_real_specs_pass_both(path: Path) -> None:
    assert schema_accepts(yaml.safe_load(path.read_text(encoding="utf-8")))
    loaded, issues = check_spec(path)
    assert loaded is not None, "\n".join(map(str, issues))


# --------------------------------------------------------------------------- enums vs implementation


def test_schema_styles_are_the_registered_styles() -> None:
    enum = SCHEMA["$defs"]["response"]["properties"]["pagination_style"]["enum"]
    assert spec_schema.pagination_styles() == tuple(enum)
    assert set(enum) == set(pagination._REGISTRY)  # the built-in styles, no more, no fewer
    for name in enum:
        assert pagination.get_style(name).name == name


def test_every_schema_filter_op_is_implemented() -> None:
    for op in SCHEMA["$defs"]["param"]["properties"]["op"]["enum"]:
        assert isinstance(matches("abc", op, ["abc"]), bool), op
    with pytest.raises(ValueError, match="unknown filter op"):
        matches(1, "like", ["1"])


def test_every_schema_type_hint_is_implemented() -> None:
    cases = {"timestamp": ("2024-01-01T00:00:00Z", "1704067200"), "number": ("10", "1e1")}
    cases |= {"string": (10, "10"), "boolean": ("yes", "true")}
    assert set(cases) == set(SCHEMA["$defs"]["param"]["properties"]["type"]["enum"])
    for hint, (value, wanted) in cases.items():
        assert matches(value, "eq", [wanted], hint), hint


# role -> (param declaration, response keys, query that uses it); every role but ignore changes the answer
ROLE_CASES = {
    "filter": ("{role: filter, field: kind, op: eq}", "", "x=b"),
    "sort_by": ("{role: sort_by}", "", "x=n"),
    "sort_order": ("{role: sort_order}", "default_sort: n", "x=desc"),
    "page": ("{role: page}", "pagination_style: page_number", "x=2"),
    "per_page": ("{role: per_page}", "pagination_style: page_number", "x=1"),
    "limit": ("{role: limit}", "pagination_style: offset_limit", "x=1"),
    "offset": ("{role: offset}", "pagination_style: offset_limit", "x=1"),
    "cursor": (
        "{role: cursor}",
        "pagination_style: cursor, wrapper: {records_key: d}",
        "x=" + encode_token(1),
    ),
    "ignore": ("{role: ignore}", "", "x=1"),
}


def test_role_cases_cover_the_schema() -> None:
    assert set(ROLE_CASES) == set(SCHEMA["$defs"]["param"]["properties"]["role"]["enum"])
    assert set(spec_schema.REPEATABLE_ROLES) <= set(ROLE_CASES)


@pytest.mark.parametrize("role", sorted(ROLE_CASES))
def test_every_schema_role_is_implemented(simulate, role: str) -> None:
    declaration, response, query = ROLE_CASES[role]
    text = f"""
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          x: {declaration}
        response: {{{response}}}
    """
    corpus = {"items": [{"n": 2, "kind": "a"}, {"n": 3, "kind": "b"}, {"n": 1, "kind": "a"}]}
    with simulate(text, corpus):
        plain = requests.get("https://api.example.com/items").json()
        used = requests.get(f"https://api.example.com/items?{query}").json()
    assert (plain == used) is (role == "ignore"), (plain, used)


def test_every_computed_name_is_computed(simulate) -> None:
    names = SCHEMA["$defs"]["computed_names"]["enum"]
    assert spec_schema.computed_names() == tuple(names)
    extras = ", ".join(f"{n}: {{computed: {n}}}" for n in names)
    text = f"""
    endpoints:
      - path: /items
        method: GET
        corpus: items
        params:
          page: {{role: page}}
          per_page: {{role: per_page, default: 2}}
        response:
          pagination_style: page_number
          wrapper: {{records_key: data, extras: {{{extras}}}}}
    """
    with simulate(text, {"items": [{"id": i} for i in range(5)]}):
        body = requests.get("https://api.example.com/items?page=2").json()
    assert {k: body[k] for k in names} == {
        "total": 5,
        "count": 2,
        "has_more": True,
        "end_of_stream": False,
        "next": 3,
        "page": 2,
        "per_page": 2,
        "offset": 2,
        "limit": 2,
        "total_pages": 3,
    }
