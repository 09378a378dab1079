"""Impact is a pure function: changed paths + the dependency index → node IDs with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from connector_watch.daemon.impact import Change, SpecChange, select
from connector_watch.daemon.index import Index, NodeRecord, RequestRef
from connector_watch.daemon.workspace import FileKind
from connector_watch.simulator.spec import check_spec

SPEC = "simulator/specs/shop/endpoints.yaml"
ORDERS = "simulator/specs/shop/corpus/orders.json"
ITEMS = "simulator/specs/shop/corpus/items.json"
TEST_FILE = "tests/unit/sources/shop/test_shop_lakeflow_connect.py"
OTHER_TEST = "tests/unit/sources/other/test_other_lakeflow_connect.py"
CONNECTOR = "sources/shop/shop.py"

SPEC_TEXT = """\
endpoints:
  - path: /orders
    method: GET
    corpus: orders
    params:
      since: {role: filter, field: updated_at, op: gte}
  - path: /orders/{id}/items
    method: GET
    corpus: items
"""


def _spec(tmp_path: Path, text: str):
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    (tmp_path / "corpus").mkdir(exist_ok=True)
    for name in ("orders", "items"):
        (tmp_path / "corpus" / f"{name}.json").write_text("[]")
    spec, _ = check_spec(path, display=SPEC)
    return spec


def _ref(spec, method: str, path: str, corpus: str) -> RequestRef:
    match = spec.match(method, path)
    endpoint = match[0] if match else None
    return RequestRef(
        method,
        path,
        endpoint.index if endpoint else None,
        endpoint.fingerprint if endpoint else None,
        SPEC if endpoint else None,
        corpus,
    )


@pytest.fixture
def world(tmp_path: Path):
    spec = _spec(tmp_path, SPEC_TEXT)
    index = Index()

    def node(
        name: str,
        table: str,
        requests: list[RequestRef],
        file: str = TEST_FILE,
        source: str = "shop",
        outcome: str = "passed",
    ) -> NodeRecord:
        record = NodeRecord(
            f"{file}::TestShop::{name}[{table}]",
            file,
            "TestShop",
            name,
            table,
            source,
            1,
            modules={file, CONNECTOR} if source == "shop" else {file},
            requests=set(requests),
            outcome=outcome,
            ran=True,
        )
        index.nodes[record.node_id] = record
        return record

    orders = node("test_read_table", "orders", [_ref(spec, "GET", "/orders", ORDERS)])
    items = node("test_read_table", "items", [_ref(spec, "GET", "/orders/7/items", ITEMS)])
    schema = node("test_get_table_schema", "orders", [])
    other = NodeRecord(
        f"{OTHER_TEST}::TestOther::test_read_table[a]",
        OTHER_TEST,
        "TestOther",
        "test_read_table",
        "a",
        "other",
        1,
        modules={OTHER_TEST},
        outcome="passed",
        ran=True,
    )
    index.nodes[other.node_id] = other
    return {
        "spec": spec,
        "index": index,
        "orders": orders,
        "items": items,
        "schema": schema,
        "other": other,
        "tmp": tmp_path,
    }


def _select(world, changes, spec_changes=None, preloaded=frozenset(), importers=None, unloadable=()):
    return select(
        changes,
        world["index"],
        spec_changes=spec_changes or {},
        preloaded=set(preloaded),
        test_files_of=lambda source: {"shop": [TEST_FILE], "other": [OTHER_TEST]}.get(source, []),
        all_test_files=[TEST_FILE, OTHER_TEST],
        spec_file_of=lambda source: f"simulator/specs/{source}/endpoints.yaml",
        importers=importers,
        unloadable=set(unloadable),
    )


def test_a_corpus_edit_reruns_only_the_nodes_that_read_it(world) -> None:
    selection = _select(world, [Change(ORDERS, FileKind("shop", "corpus"))])
    assert set(selection.nodes) == {world["orders"].node_id}
    assert "corpus orders changed" in selection.nodes[world["orders"].node_id][0]
    assert not selection.files and not selection.restart_pool


def test_a_spec_edit_reruns_only_nodes_whose_endpoint_changed(world) -> None:
    new = _spec(world["tmp"], SPEC_TEXT.replace("op: gte", "op: gt"))
    selection = _select(
        world, [Change(SPEC, FileKind("shop", "spec"))], {SPEC: SpecChange(world["spec"], new)}
    )
    assert set(selection.nodes) == {world["orders"].node_id}
    assert "GET /orders (line 2) changed" in selection.nodes[world["orders"].node_id][0]


def test_a_comment_in_the_spec_reruns_nothing(world) -> None:
    new = _spec(world["tmp"], "# hello\n" + SPEC_TEXT)
    selection = _select(
        world, [Change(SPEC, FileKind("shop", "spec"))], {SPEC: SpecChange(world["spec"], new)}
    )
    assert selection.empty()


def test_a_new_endpoint_that_captures_a_request_reruns_its_node(world) -> None:
    shadowing = SPEC_TEXT.replace(
        "endpoints:\n", "endpoints:\n  - path: /orders/{id}/{what}\n    method: GET\n    corpus: orders\n"
    )
    new = _spec(world["tmp"], shadowing)
    selection = _select(
        world, [Change(SPEC, FileKind("shop", "spec"))], {SPEC: SpecChange(world["spec"], new)}
    )
    assert world["items"].node_id in selection.nodes
    assert "now matches GET /orders/{id}/{what}" in " ".join(selection.nodes[world["items"].node_id])


def test_a_spec_that_stops_loading_reruns_the_whole_source(world) -> None:
    selection = _select(
        world, [Change(SPEC, FileKind("shop", "spec"))], {SPEC: SpecChange(world["spec"], None)}
    )
    assert selection.files == {TEST_FILE: ["spec does not load"]}


def test_an_unmatched_request_is_rematched_against_the_new_spec(world) -> None:
    lost = RequestRef("GET", "/customers", None, None, None, None)
    world["schema"].requests = {lost}
    new = _spec(world["tmp"], SPEC_TEXT + "  - path: /customers\n    method: GET\n    corpus: orders\n")
    selection = _select(
        world, [Change(SPEC, FileKind("shop", "spec"))], {SPEC: SpecChange(world["spec"], new)}
    )
    assert world["schema"].node_id in selection.nodes


def test_a_connector_edit_reruns_the_test_files_that_import_it(world) -> None:
    selection = _select(world, [Change(CONNECTOR, FileKind("shop", "connector"))])
    assert list(selection.files) == [TEST_FILE]
    assert "(imported)" in selection.files[TEST_FILE][0]


def test_a_connector_module_nobody_imported_yet_reruns_its_source(world) -> None:
    selection = _select(world, [Change("sources/shop/helpers.py", FileKind("shop", "connector"))])
    assert list(selection.files) == [TEST_FILE]


def test_a_library_change_reruns_everything_and_restarts_the_workers(world) -> None:
    selection = _select(
        world,
        [Change("tests/harness/records.py", FileKind(None, "library"))],
        preloaded={"tests/harness/records.py"},
    )
    assert set(selection.files) == {TEST_FILE, OTHER_TEST}
    assert selection.restart_pool


def test_last_failures_always_rerun(world) -> None:
    world["other"].outcome = "failed"
    selection = _select(world, [Change(ITEMS, FileKind("shop", "corpus"))])
    assert world["other"].node_id in selection.nodes
    assert selection.nodes[world["other"].node_id] == ["failed last time"]


def test_nodes_that_never_ran_rerun_with_any_change_to_their_source(world) -> None:
    world["schema"].ran = False
    selection = _select(world, [Change(ITEMS, FileKind("shop", "corpus"))])
    assert world["schema"].node_id in selection.nodes


def test_a_source_nobody_knows_anything_about_runs_whole(world) -> None:
    for node_id in [n for n, r in world["index"].nodes.items() if r.source == "other"]:
        del world["index"].nodes[node_id]
    selection = _select(world, [Change("simulator/specs/other/corpus/a.json", FileKind("other", "corpus"))])
    assert OTHER_TEST in selection.files


def test_docs_and_reports_rerun_nothing(world) -> None:
    selection = _select(
        world,
        [
            Change("sources/shop/README.md", FileKind("shop", "connector_data")),
            Change("simulator/README.md", FileKind(None, "library")),
            Change(
                "tests/unit/sources/shop/cassettes/TestShop.json.validation.json", FileKind("shop", "report")
            ),
            Change("tests/unit/sources/shop/cassettes/TestShop.json", FileKind("shop", "cassette")),
            Change("simulator/specs/shop/corpus/orders.json.bak", FileKind("shop", "spec_support")),
            Change("simulator/specs/shop", FileKind(None, "other")),  # the spec folder itself, deleted
        ],
    )
    assert selection.empty()


def test_reasons_expand_whole_files_to_their_nodes(world) -> None:
    selection = _select(world, [Change(TEST_FILE, FileKind("shop", "test"))])
    expanded = selection.reasons_by_node(world["index"])
    assert set(expanded) == {world["orders"].node_id, world["items"].node_id, world["schema"].node_id}


# ---------------------------------------------------------------------------- evidence from any simulator

SHARED = "src/acme/connectors/libs/utils.py"


def test_a_request_answered_by_a_spec_handler_reruns_on_any_corpus_of_its_spec(world) -> None:
    handled = RequestRef("POST", "/search", 5, "f", SPEC, None, True)
    world["schema"].requests = {handled}
    selection = _select(world, [Change(ITEMS, FileKind("shop", "corpus"))])
    assert set(selection.nodes) == {world["items"].node_id, world["schema"].node_id}
    assert "spec handler" in selection.nodes[world["schema"].node_id][0]


def test_a_corpus_a_simulator_loaded_for_every_test_reruns_only_its_readers_while_it_parses(world) -> None:
    for record in (world["orders"], world["items"], world["schema"]):
        record.loaded = {ORDERS, ITEMS, SPEC}  # the public simulator loads every corpus in setup_class
    selection = _select(world, [Change(ORDERS, FileKind("shop", "corpus"))])
    assert set(selection.nodes) == {world["orders"].node_id}


def test_a_corpus_that_no_longer_parses_reruns_every_test_it_was_loaded_for(world) -> None:
    for record in (world["orders"], world["items"], world["schema"]):
        record.loaded = {ORDERS, ITEMS, SPEC}
    selection = _select(world, [Change(ORDERS, FileKind("shop", "corpus"))], unloadable={ORDERS})
    assert set(selection.nodes) == {world["orders"].node_id, world["items"].node_id, world["schema"].node_id}
    assert "no longer parses" in selection.nodes[world["items"].node_id][0]


def test_a_data_file_a_test_read_reruns_that_test(world) -> None:
    fixture = "tests/unit/sources/shop/fixtures/page.json"
    world["schema"].read = {fixture}
    selection = _select(world, [Change(fixture, FileKind("shop", "test_support"))])
    assert world["schema"].node_id in selection.nodes
    assert "this node read it" in selection.nodes[world["schema"].node_id][0]


def test_shared_code_reruns_the_test_files_that_import_it_however_indirectly(world) -> None:
    selection = _select(
        world,
        [Change(SHARED, FileKind(None, "shared"))],
        importers=lambda path: {TEST_FILE} if path == SHARED else set(),
    )
    assert list(selection.files) == [TEST_FILE]
    assert "(imported)" in selection.files[TEST_FILE][0]
    assert not selection.restart_pool


def test_preloaded_shared_code_restarts_the_workers_and_reruns_its_importers(world) -> None:
    selection = _select(
        world,
        [Change(SHARED, FileKind(None, "shared"))],
        preloaded={SHARED},
        importers=lambda path: {OTHER_TEST},
    )
    assert list(selection.files) == [OTHER_TEST] and selection.restart_pool


def test_shared_code_nobody_is_known_to_import_reruns_everything(world) -> None:
    selection = _select(world, [Change(SHARED, FileKind(None, "shared"))])
    assert set(selection.files) == {TEST_FILE, OTHER_TEST}


def test_a_sources_conftest_reruns_the_test_files_under_its_folder(world) -> None:
    selection = _select(world, [Change("tests/unit/sources/shop/conftest.py", FileKind("shop", "conftest"))])
    assert list(selection.files) == [TEST_FILE]


def test_reruns_of_past_failures_are_follow_ups(world) -> None:
    world["other"].outcome = "failed"
    selection = _select(world, [Change(ORDERS, FileKind("shop", "corpus"))])
    assert selection.follow_up_only(OTHER_TEST, [world["other"].node_id])
    assert not selection.follow_up_only(TEST_FILE, [world["orders"].node_id])


# ---------------------------------------------------------------------------- state the tests of a class share

TOKEN = "simulator/specs/shop/corpus/token.json"


def _shared_world(world):
    """The public harness's shape: one connector per class; its first request (a token, a list of
    types) is made once, by the first test that needs it, and cached for the others."""
    index = world["index"]
    token = RequestRef("POST", "/token", 9, "t", SPEC, TOKEN)
    for record in (world["orders"], world["items"], world["schema"]):
        record.node_id = record.node_id.replace("[", "-").rstrip("]")  # plain methods, not tables
    index.nodes = {r.node_id: r for r in (world["orders"], world["items"], world["schema"], world["other"])}
    world["schema"].requests = {token}  # the first test of the class asked for the token...
    world["orders"].requests = {_ref(world["spec"], "GET", "/orders", ORDERS)}  # ...the others reuse it
    world["items"].requests = {_ref(world["spec"], "GET", "/orders", ORDERS), _ref(world["spec"], "GET", "/orders/7/items", ITEMS)}
    order = [world["schema"], world["orders"], world["items"], world["other"]]
    index.nodes = {r.node_id: r for r in order}
    index.learn_shared({TEST_FILE, OTHER_TEST})
    return token


def test_a_request_only_the_first_test_of_a_class_made_is_shared_by_the_class(world) -> None:
    token = _shared_world(world)
    # The class's tests share it, and the module's (a connector cached at module level).
    assert world["index"].class_shared == {f"{TEST_FILE}::TestShop": {token}, TEST_FILE: {token}}


def test_a_corpus_behind_a_shared_request_reruns_every_test_of_the_class(world) -> None:
    _shared_world(world)
    selection = _select(world, [Change(TOKEN, FileKind("shop", "corpus"))])
    assert set(selection.nodes) == {world["schema"].node_id, world["orders"].node_id, world["items"].node_id}


def test_a_corpus_every_test_asks_for_itself_stays_per_test(world) -> None:
    _shared_world(world)
    selection = _select(world, [Change(ITEMS, FileKind("shop", "corpus"))])
    assert set(selection.nodes) == {world["items"].node_id}
