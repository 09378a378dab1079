"""The spec loader: every rejection of UPSTREAM-SIMULATOR.md §2, located to file, line and column.

Each bad spec is a few lines written into ``tmp_path``; the expected position is
counted from the text below (1-based line and column, as editors print them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connector_watch.simulator import SpecError, check_spec, load_spec
from connector_watch.simulator.errors import Issue
from connector_watch.tests.simulator.conftest import write_spec

ROLES = "[filter, sort_by, sort_order, page, per_page, limit, offset, cursor, ignore]"
OPS = "[eq, ne, gt, gte, lt, lte, in, contains, starts_with, ends_with]"
STYLES = "[none, page_number, page_number_with_link_header, offset_limit, cursor, next_url, odata_next_link]"


def check(tmp_path: Path, text: str, corpus: dict | None = None) -> tuple[Path, object, list[Issue]]:
    spec_path = write_spec(tmp_path, text, corpus if corpus is not None else {"items": []})
    spec, issues = check_spec(spec_path)
    return spec_path, spec, issues


def blocking(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.blocking]


# (name, spec text, line, column, exact message). Upstream's message is quoted in each comment.
REJECTIONS = [
    (
        # upstream: param 'x': unknown role 'sortby'; expected one of [...]
        "unknown-role",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              sort: {role: sortby}
        """,
        6,
        20,
        "endpoint #0 (GET /items): param 'sort': unknown role 'sortby'; did you mean 'sort_by'?;"
        f" expected one of {ROLES}",
    ),
    (
        # upstream: unknown filter op 'contains' (contains is ours now, so a real typo)
        "unknown-op",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              since: {role: filter, field: updated_at, op: gtee}
        """,
        6,
        52,
        f"endpoint #0 (GET /items): param 'since': unknown filter op 'gtee'; did you mean 'gte'?; expected one of {OPS}",
    ),
    (
        # upstream: filter requires 'field'
        "filter-without-field",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              state: {role: filter, op: eq}
        """,
        6,
        7,
        "endpoint #0 (GET /items): param 'state': filter requires 'field'",
    ),
    (
        "filter-without-op",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              state:
                role: filter
                field: state
        """,
        6,
        7,
        "endpoint #0 (GET /items): param 'state': filter requires 'op'",
    ),
    (
        # upstream: expected mapping, got str
        "param-not-a-mapping",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              state: filter
        """,
        6,
        14,
        "endpoint #0 (GET /items): param 'state': expected a mapping, got a string",
    ),
    (
        # upstream: only one page param allowed; second was 'y'
        "second-page-param",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              page: {role: page}
              p: {role: page}
        """,
        7,
        11,
        "endpoint #0 (GET /items): only one page param allowed; second was 'p' (first was 'page')",
    ),
    (
        "second-per-page-param",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              per_page: {role: per_page}
              size:
                role: per_page
        """,
        8,
        9,
        "endpoint #0 (GET /items): only one per_page param allowed; second was 'size' (first was 'per_page')",
    ),
    (
        # upstream: default_sort order must be asc/desc, got 'up'
        "default-sort-order",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            response:
              default_sort: "updated_at up"
        """,
        6,
        21,
        "endpoint #0 (GET /items): default_sort must be 'field [asc|desc]'; order must be asc/desc, got 'up'",
    ),
    (
        # upstream: response.wrapper requires a 'records_key' field
        "wrapper-without-records-key",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            response:
              wrapper: {extras: {total: 0}}
        """,
        6,
        7,
        "endpoint #0 (GET /items): response.wrapper requires a 'records_key' field",
    ),
    (
        # upstream: synthesize_future_records requires a 'cursor_field' field
        "future-without-cursor-field",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            synthesize_future_records:
              count: 3
        """,
        5,
        5,
        "endpoint #0 (GET /items): synthesize_future_records requires a 'cursor_field' field",
    ),
    (
        # upstream: a bare 'method' (the KeyError text)
        "missing-method",
        """
        endpoints:
          - path: /items
            corpus: items
        """,
        2,
        5,
        "endpoint #0 (? /items): missing required key 'method'",
    ),
    (
        "missing-path",
        """
        endpoints:
          - method: GET
            corpus: items
        """,
        2,
        5,
        "endpoint #0 (GET ?): missing required key 'path'",
    ),
    (
        # upstream: top-level must be a dict with an 'endpoints' key
        "top-level-list",
        """
        - path: /items
          method: GET
        """,
        1,
        1,
        "top-level must be a mapping with an 'endpoints' key",
    ),
    (
        "top-level-empty",
        "",
        1,
        1,
        "top-level must be a mapping with an 'endpoints' key",
    ),
    # ---- accepted silently upstream, rejected here ----
    (
        "unknown-endpoint-key",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            paramz: {}
        """,
        5,
        5,
        "endpoint #0 (GET /items): unknown key 'paramz'; did you mean 'params'? (allowed: path, method, corpus,"
        " description, params, response, handler, strict_params, synthesize_future_records, errors)",
    ),
    (
        "unknown-response-key",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            response:
              pagination_styl: none
        """,
        6,
        7,
        "endpoint #0 (GET /items): unknown key 'pagination_styl'; did you mean 'pagination_style'? (allowed:"
        " pagination_style, pagination, default_sort, single_entity, wrapper, expected_status_codes, headers)",
    ),
    (
        "unknown-param-key",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              since: {role: filter, feild: updated_at, op: gte}
        """,
        6,
        29,
        "endpoint #0 (GET /items): param 'since': unknown key 'feild'; did you mean 'field'? (allowed: role, in,"
        " key, field, op, type, options, default, max, description)",
    ),
    (
        "unknown-top-level-key",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
        endpionts: []
        """,
        5,
        1,
        "unknown key 'endpionts'; did you mean 'endpoints'? (allowed: endpoints)",
    ),
    (
        "unknown-pagination-style",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            response:
              pagination_style: cursr
        """,
        6,
        25,
        f"endpoint #0 (GET /items): unknown pagination_style 'cursr'; did you mean 'cursor'?; expected one of {STYLES}",
    ),
    (
        "unknown-method",
        """
        endpoints:
          - path: /items
            method: GTE
            corpus: items
        """,
        3,
        13,
        "endpoint #0 (GTE /items): unknown method 'GTE'; did you mean 'GET'?;"
        " expected one of [GET, POST, PUT, PATCH, DELETE, HEAD]",
    ),
    (
        "path-without-slash",
        """
        endpoints:
          - path: items
            method: GET
            corpus: items
        """,
        2,
        11,
        "endpoint #0 (GET items): path must start with '/', got 'items'",
    ),
    (
        "cursor-style-without-wrapper",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            response:
              pagination_style: cursor
        """,
        5,
        5,
        "endpoint #0 (GET /items): pagination_style 'cursor' puts the next page's token or URL in the body,"
        " so the body must be an object: add response.wrapper with a records_key",
    ),
    (
        "wrong-type",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            strict_params: "yes"
        """,
        5,
        20,
        "endpoint #0 (GET /items): expected a boolean, got a string",
    ),
    (
        "endpoint-not-a-mapping",
        """
        endpoints:
          - /items
        """,
        2,
        5,
        "endpoint #0: expected a mapping, got a string",
    ),
    (
        "handler-module-missing",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            handler: connector_watch.tests.simulator.no_such_module:serve
        """,
        5,
        14,
        "endpoint #0 (GET /items): handler module 'connector_watch.tests.simulator.no_such_module' does not import:"
        " No module named 'connector_watch.tests.simulator.no_such_module'",
    ),
    (
        "handler-function-missing",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            handler: connector_watch.tests.simulator.sample_handlers:serve_item
        """,
        5,
        14,
        "endpoint #0 (GET /items): handler 'connector_watch.tests.simulator.sample_handlers:serve_item': module has no"
        " function 'serve_item'; did you mean 'serve_items'?",
    ),
    (
        "handler-not-module-colon-function",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            handler: connector_watch.tests.simulator.sample_handlers.serve_items
        """,
        5,
        14,
        "endpoint #0 (GET /items): handler must be 'module.path:function',"
        " got 'connector_watch.tests.simulator.sample_handlers.serve_items'",
    ),
    (
        "path-filter-without-placeholder",
        """
        endpoints:
          - path: /orgs/{org}/items
            method: GET
            corpus: items
            params:
              organization: {role: filter, in: path, field: org, op: eq}
        """,
        6,
        36,  # the 'in' key
        "endpoint #0 (GET /orgs/{org}/items): param 'organization' is 'in: path' but the path has no"
        " {organization} placeholder",
    ),
    (
        "unknown-computed-extra",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            response:
              wrapper:
                records_key: data
                extras:
                  meta: {total: {computed: totl}}
        """,
        9,
        36,
        "endpoint #0 (GET /items): unknown computed value 'totl'; did you mean 'total'?; expected one of"
        " [total, count, has_more, end_of_stream, next, page, per_page, offset, limit, total_pages]",
    ),
    (
        "options-on-a-filter",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              state: {role: filter, field: state, op: eq, options: [open]}
        """,
        6,
        51,
        "endpoint #0 (GET /items): param 'state': 'options' only applies to sort roles",
    ),
    (
        "sort-order-mapping-to-a-non-direction",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              direction:
                role: sort_order
                options: {up: asc, down: sideways}
        """,
        8,
        28,  # the 'down' key
        "endpoint #0 (GET /items): param 'direction': sort_order option 'down' must map to asc or desc,"
        " got 'sideways'",
    ),
    (
        "key-outside-body",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              q: {role: filter, field: name, op: eq, key: filter.name}
        """,
        6,
        46,
        "endpoint #0 (GET /items): param 'q': 'key' only applies to 'in: body'",
    ),
    (
        "page-size-default-not-a-number",
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              per_page: {role: per_page, default: ten}
        """,
        6,
        43,
        "endpoint #0 (GET /items): param 'per_page': default must be a whole number, got 'ten'",
    ),
    (
        "yaml-syntax",
        """
        endpoints:
          - path: /items
            method: GET
           corpus: items
        """,
        4,
        4,
        "YAML syntax error: did not find expected '-' indicator (while parsing a block collection)",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [pytest.param(text, line, column, message, id=name) for name, text, line, column, message in REJECTIONS],
)
def test_rejection_is_located(tmp_path: Path, text: str, line: int, column: int, message: str) -> None:
    spec_path, spec, issues = check(tmp_path, text)
    assert spec is None
    errors = blocking(issues)
    assert [(e.file, e.line, e.column, e.message) for e in errors][:1] == [
        (str(spec_path), line, column, message)
    ], "\n".join(map(str, errors))
    assert all(e.severity == "error" for e in errors)


def test_load_spec_raises_spec_error_with_every_issue(tmp_path: Path) -> None:
    spec_path = write_spec(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              a: {role: sortby}
              b: {role: filter, field: x, op: gtee}
        """,
        {"items": []},
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec_path)
    assert isinstance(caught.value, ValueError)  # as upstream's loader raised
    assert [(i.line, i.column) for i in caught.value.issues] == [(6, 17), (7, 39)]
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{spec_path}:6:17: error: endpoint #0 (GET /items): param 'a': unknown role")
    assert lines[1].startswith(
        f"{spec_path}:7:39: error: endpoint #0 (GET /items): param 'b': unknown filter op"
    )


def test_every_unknown_key_is_reported_not_just_the_first(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            paramz: {}
          - path: /other
            method: GET
            corpus: items
            respnse: {}
        """,
    )
    assert spec is None
    assert [(i.line, i.code) for i in blocking(issues)] == [(5, "unknown-key"), (9, "unknown-key")]
    assert "did you mean 'response'?" in blocking(issues)[1].message


def test_no_did_you_mean_when_nothing_is_close(tmp_path: Path) -> None:
    _, _, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              q: {role: wibble}
        """,
    )
    assert "did you mean" not in blocking(issues)[0].message
    assert "unknown role 'wibble'; expected one of" in blocking(issues)[0].message


def test_role_cursor_and_ops_contains_are_accepted(tmp_path: Path) -> None:
    """DESIGN's role ``cursor`` and ops ``contains/starts_with/ends_with`` were rejected upstream."""
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              after: {role: cursor}
              q: {role: filter, field: name, op: contains}
              prefix: {role: filter, field: name, op: starts_with}
              suffix: {role: filter, field: name, op: ends_with}
            response:
              pagination_style: cursor
              wrapper: {records_key: data}
        """,
    )
    assert spec is not None, issues
    assert [p.op for p in spec.endpoints[0].filters()] == ["contains", "starts_with", "ends_with"]


# --------------------------------------------------------------------------- files


def test_missing_corpus_one_typo_from_a_file_is_a_located_non_blocking_warning(tmp_path: Path) -> None:
    spec_path, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: item
        """,
        {"items": []},
    )
    assert spec is not None  # a public spec with this defect keeps loading
    missing = [i for i in issues if i.code == "missing-corpus"]
    assert len(missing) == 1
    issue = missing[0]
    assert (issue.file, issue.line, issue.column, issue.severity, issue.blocking) == (
        str(spec_path),
        4,
        13,
        "warning",
        False,
    )
    assert issue.message.startswith("endpoint #0 (GET /items): corpus 'item' has no file ")
    assert issue.message.endswith("item.json; did you mean 'items'? (served as empty)")


def test_unused_corpus_file_is_a_warning_on_the_corpus_file(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
        """,
        {"items": [], "orphans": [{"id": 1}]},
    )
    assert spec is not None
    unused = [i for i in issues if i.code == "unused-corpus"]
    assert len(unused) == 1
    assert unused[0].severity == "warning" and not unused[0].blocking
    assert unused[0].file.endswith("corpus/orphans.json")
    assert (unused[0].line, unused[0].column) == (1, 1)
    assert "orphans.json is not used by any endpoint" in unused[0].message


def test_missing_corpus_with_no_look_alike_is_a_note_served_as_empty(tmp_path: Path) -> None:
    """The public convention: a spec names a table it serves empty on purpose (github's ``pulls``)."""
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /user/groups
            method: GET
            corpus: userGroups
        """,
        {"users": []},
    )
    assert spec is not None
    (missing,) = [i for i in issues if i.code == "missing-corpus"]
    assert missing.severity == "information" and not missing.blocking
    assert "did you mean" not in missing.message and missing.message.endswith("(served as empty)")


def test_a_stub_endpoint_without_corpus_or_handler_loads(tmp_path: Path) -> None:
    """Public specs model probe endpoints with neither (dicomweb): served empty, not an error."""
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /studies/{study_uid}
            method: GET
            response:
              single_entity: true
          - path: /studies
            method: GET
        """,
        {},
    )
    assert spec is not None and issues == []
    assert [e.corpus for e in spec.endpoints] == [None, None]


def test_a_corpus_only_a_handler_reads_is_used(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /Patient
            method: GET
            handler: connector_watch.tests.simulator.patient_handlers:serve_patients
        """,
        {"Patient": [{"id": "p1"}], "orphans": [{"id": 1}]},
    )
    assert spec is not None
    unused = [i.file.rsplit("/", 1)[-1] for i in issues if i.code == "unused-corpus"]
    assert unused == ["orphans.json"]


def test_a_handler_reading_tables_by_a_computed_name_may_use_every_corpus(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            handler: connector_watch.tests.simulator.sample_handlers:serve_items
        """,
        {"items": [], "orphans": [{"id": 1}]},
    )
    assert spec is not None
    assert [i for i in issues if i.code == "unused-corpus"] == []


def test_handler_endpoint_needs_no_corpus(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            handler: connector_watch.tests.simulator.sample_handlers:serve_items
        """,
        {},
    )
    assert spec is not None, issues
    assert spec.endpoints[0].handler == "connector_watch.tests.simulator.sample_handlers:serve_items"


def test_check_files_false_skips_the_corpus_check(tmp_path: Path) -> None:
    spec_path = write_spec(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: nowhere
        """,
        {},
    )
    _, issues = check_spec(spec_path, check_files=False)
    assert issues == []


def test_unreadable_spec_is_one_located_issue(tmp_path: Path) -> None:
    spec, issues = check_spec(tmp_path / "absent.yaml")
    assert spec is None
    assert len(issues) == 1
    assert (issues[0].line, issues[0].column, issues[0].code) == (1, 1, "io")
    assert issues[0].message.startswith("cannot read spec:")


def test_text_and_display_override_the_file(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path, "endpoints: []\n", {})
    spec, issues = check_spec(spec_path, text="endpoints:\n  - path: /x\n", display="edited.yaml")
    assert spec is None
    assert str(issues[0]) == "edited.yaml:2:5: error: endpoint #0 (? /x): missing required key 'method'"


# --------------------------------------------------------------------------- warnings


def test_duplicate_key_is_a_warning_and_the_later_value_wins(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            method: POST
            corpus: items
        """,
    )
    assert spec is not None
    assert spec.endpoints[0].method == "POST"
    dup = [i for i in issues if i.code == "duplicate-key"]
    assert [(i.line, i.column, i.severity) for i in dup] == [(4, 5, "warning")]
    assert dup[0].message == "duplicate key 'method': the later value wins"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/items/{id}", "/items/special"),  # a placeholder before a literal
        ("/items/{id}", "/items/{key}"),  # the same shape
        ("/orgs/{org}/{kind}", "/orgs/{org}/repos"),
        ("/items/{id}", "/items/{id}"),  # the same endpoint twice
        ("/items", "/items/"),  # a trailing slash is ignored
        ("/files/{name}", "/files/{id}.json"),
    ],
)
def test_shadowed_endpoint_is_a_warning(tmp_path: Path, first: str, second: str) -> None:
    _, spec, issues = check(
        tmp_path,
        f"""
        endpoints:
          - path: {first}
            method: GET
            corpus: items
          - path: {second}
            method: GET
            corpus: items
        """,
    )
    assert spec is not None
    shadowed = [i for i in issues if i.code == "shadowed-endpoint"]
    assert len(shadowed) == 1, issues
    assert (shadowed[0].line, shadowed[0].column, shadowed[0].severity) == (5, 11, "warning")
    assert (
        f"endpoint #1 (GET {second}): never matches: endpoint #0 (GET {first}, line 2)" in shadowed[0].message
    )


@pytest.mark.parametrize(
    ("first", "second", "second_method"),
    [
        ("/items/special", "/items/{id}", "GET"),  # the literal first: both reachable
        ("/items/{id}", "/items/special", "POST"),  # another method
        ("/a/{x}/c", "/a/b/{y}", "GET"),  # overlapping, neither covers the other
        ("/items", "/items/{id}", "GET"),
        ("/files/{id}.json", "/files/{name}", "GET"),
    ],
)
def test_reachable_endpoints_are_not_reported_as_shadowed(
    tmp_path: Path, first: str, second: str, second_method: str
) -> None:
    _, spec, issues = check(
        tmp_path,
        f"""
        endpoints:
          - path: {first}
            method: GET
            corpus: items
          - path: {second}
            method: {second_method}
            corpus: items
        """,
    )
    assert spec is not None
    assert [i for i in issues if i.code == "shadowed-endpoint"] == []


def test_when_naming_an_undeclared_param_is_a_warning(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              owner: {role: ignore}
            errors:
              - status: 404
                when: {ownr: ghost}
        """,
    )
    assert spec is not None
    [warning] = [i for i in issues if i.severity == "warning"]
    assert (warning.line, warning.column) == (9, 16)
    assert (
        "errors[0].when names 'ownr', which is not a declared param; did you mean 'owner'?" in warning.message
    )


def test_default_page_size_above_max_is_a_warning(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /items
            method: GET
            corpus: items
            params:
              limit: {role: limit, default: 1000}
        """,
    )
    assert spec is not None
    [warning] = [i for i in issues if i.severity == "warning"]
    assert (warning.line, warning.column) == (6, 37)
    assert warning.message == (
        "endpoint #0 (GET /items): param 'limit': default 1000 is above max 100"
        " (served as declared, but a real API never defaults above its maximum)"
    )


def test_single_entity_with_pagination_is_a_warning(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /me
            method: GET
            corpus: items
            response:
              single_entity: true
              pagination_style: page_number
        """,
    )
    assert spec is not None
    [warning] = [i for i in issues if i.severity == "warning"]
    assert (warning.line, warning.column) == (7, 7)
    assert "single_entity responses are not paginated" in warning.message


# --------------------------------------------------------------------------- the model


def test_loaded_model(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - path: /repos/{owner}/{repo}/commits
            method: get
            corpus: items
            description: Commits
            params:
              owner: {role: filter, in: path, field: repository.owner, op: eq}
              since: {role: filter, field: commit.author.date, op: gte, type: timestamp}
              sort: {role: sort_by, options: {created: created_at, updated: "updated_at desc"}}
              direction: {role: sort_order, options: [asc, desc]}
              page: {role: page, default: 0}
              per_page: {role: per_page, default: 50, max: 200}
              q: {role: filter, in: body, key: filterGroups.0.value, field: name, op: eq}
            response:
              pagination_style: page_number_with_link_header
              default_sort: "commit.author.date DESC"
              headers: {X-Api: sim}
            strict_params: true
            synthesize_future_records: {cursor_field: commit.author.date}
            errors:
              - status: 429
                on_calls: [1]
                headers: {Retry-After: "0"}
        """,
    )
    assert spec is not None, issues
    [endpoint] = spec.endpoints
    assert endpoint.method == "GET"
    assert endpoint.key == "GET /repos/{owner}/{repo}/commits"
    assert endpoint.line == 2
    assert endpoint.placeholders == ("owner", "repo")
    assert endpoint.params["owner"].location == "path"
    assert endpoint.params["q"].body_key == "filterGroups.0.value"
    assert endpoint.params["sort"].options == {"created": "created_at", "updated": "updated_at desc"}
    assert endpoint.params["direction"].options == ("asc", "desc")
    assert endpoint.params["per_page"].max == 200
    assert endpoint.response.default_sort == ("commit.author.date", "desc")
    assert endpoint.response.headers == {"X-Api": "sim"}
    assert endpoint.strict_params is True
    assert endpoint.synthesize_future_records is not None
    assert endpoint.synthesize_future_records.count == 3  # upstream's default
    assert endpoint.errors[0].status == 429 and endpoint.errors[0].on_calls == (1,)
    assert endpoint.match_path("/repos/octo/hello/commits") == {"owner": "octo", "repo": "hello"}
    assert endpoint.match_path("/repos/octo/hello/commits/") == {"owner": "octo", "repo": "hello"}
    assert endpoint.match_path("/repos/octo/commits") is None
    assert endpoint.match_path("/repos/a%20b/hello/commits") == {"owner": "a b", "repo": "hello"}


def test_spec_lines_point_at_each_endpoint(tmp_path: Path) -> None:
    _, spec, _ = check(
        tmp_path,
        """
        # a comment
        endpoints:
          - path: /a
            method: GET
            corpus: items

          - method: POST
            path: /b
            corpus: items
        """,
    )
    assert spec is not None
    assert [(e.line, e.location.endswith(f":{e.line}")) for e in spec.endpoints] == [(3, True), (7, True)]


def test_match_is_first_in_file_order_and_method_aware(tmp_path: Path) -> None:
    _, spec, _ = check(
        tmp_path,
        """
        endpoints:
          - path: /items/{id}
            method: GET
            corpus: items
          - path: /items/special
            method: GET
            corpus: items
          - path: /items/special
            method: POST
            corpus: items
        """,
    )
    assert spec is not None
    assert spec.match("GET", "/items/special")[0].index == 0
    assert spec.match("post", "/items/special")[0].index == 2
    assert spec.match("DELETE", "/items/special") is None


def test_yaml_merge_keys_and_anchors_load(tmp_path: Path) -> None:
    _, spec, issues = check(
        tmp_path,
        """
        endpoints:
          - &base
            path: /items
            method: GET
            corpus: items
            response: {pagination_style: page_number}
          - <<: *base
            path: /more
        """,
    )
    assert spec is not None, issues
    assert [(e.path, e.response.pagination_style) for e in spec.endpoints] == [
        ("/items", "page_number"),
        ("/more", "page_number"),
    ]


def test_spec_error_is_json_serialisable_issue_list(tmp_path: Path) -> None:
    """Issues carry plain data the daemon can ship as diagnostics."""
    _, _, issues = check(tmp_path, "endpoints: [1]\n")
    issue = issues[0]
    payload = json.dumps(
        {"file": issue.file, "line": issue.line, "column": issue.column, "msg": issue.message}
    )
    assert "expected a mapping, got an integer" in payload


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        (
            "    params: {q: {role: FILTER, field: a, op: eq}}",
            "unknown role 'FILTER'; did you mean 'filter'?",
        ),
        ("    params: {q: {role: filter, field: a, op: Eq}}", "unknown filter op 'Eq'; did you mean 'eq'?"),
        ("    response: {pagination_style: Page_Number}", "did you mean 'page_number'?"),
    ],
)
def test_did_you_mean_ignores_case(tmp_path: Path, line: str, suggestion: str) -> None:
    """Upstream lower-cased roles and ops; here the exact spelling is required, and suggested."""
    _, spec, issues = check(
        tmp_path, "endpoints:\n  - path: /items\n    method: GET\n    corpus: items\n" + line
    )
    assert spec is None
    assert suggestion in blocking(issues)[0].message


def test_mixed_case_method_suggests_the_upper_case_one(tmp_path: Path) -> None:
    _, _, issues = check(tmp_path, "endpoints:\n  - {path: /items, method: gEt, corpus: items}\n")
    assert "unknown method 'gEt'; did you mean 'GET'?" in blocking(issues)[0].message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [*a]\n", "alias refers to a collection containing it"),
        (
            'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
            + "".join(
                f"{n}: &{n} [{','.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
            ),
            "YAML expands to more than",
        ),
    ],
)
def test_self_referencing_or_exploding_aliases_are_one_located_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert message in str(error.value) and "endpoints.yaml:1:" in str(error.value)
