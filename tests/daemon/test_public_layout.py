"""A checkout laid out like the public community-connectors repository, without configuration:
where things are, what each file is, which tests import what, and which endpoint a request hits."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from connector_watch.daemon import collect_order
from connector_watch.daemon.imports import ImportGraph, module_name
from connector_watch.daemon.request_match import RequestMatcher
from connector_watch.daemon.workspace import FileKind, Workspace
from connector_watch.simulator.spec import check_spec

PKG = "src/acme/labs/community_connector"
SPECS = f"{PKG}/source_simulator/specs"
TESTS = "tests/unit/sources"

FILES = {
    "pyproject.toml": '[project]\nname = "acme"\n',
    "src/acme/__init__.py": "",
    "src/acme/labs/__init__.py": "",
    f"{PKG}/__init__.py": "",
    f"{PKG}/libs/__init__.py": "",
    f"{PKG}/libs/utils.py": "def parse_value(v):\n    return v\n",
    f"{PKG}/interface/__init__.py": "from .lakeflow_connect import LakeflowConnect\n",
    f"{PKG}/interface/lakeflow_connect.py": "class LakeflowConnect:\n    pass\n",
    f"{PKG}/source_simulator/__init__.py": "from .simulator import Simulator\n",
    f"{PKG}/source_simulator/simulator.py": "from ..libs import utils\n\nclass Simulator:\n    pass\n",
    f"{SPECS}/shop/endpoints.yaml": """\
        endpoints:
          - path: /oauth/token
            method: POST
            handler: connector_watch.tests.simulator.patient_handlers:serve_patients
          - path: /orders
            method: GET
            corpus: orders
          - path: /orders/{id}
            method: GET
            response:
              single_entity: true
        """,
    f"{SPECS}/shop/corpus/orders.json": '[{"id": 1}]',
    f"{SPECS}/shop/handlers/auth.py": "def token(request, spec, corpus):\n    return None\n",
    f"{PKG}/sources/__init__.py": "",
    f"{PKG}/sources/shop/__init__.py": "",
    f"{PKG}/sources/shop/shop.py": (
        "from acme.labs.community_connector.interface import LakeflowConnect\n\n"
        "class ShopLakeflowConnect(LakeflowConnect):\n    pass\n"
    ),
    "tests/__init__.py": "",
    "tests/unit/__init__.py": "",
    f"{TESTS}/__init__.py": "",
    f"{TESTS}/test_suite.py": (
        "from acme.labs.community_connector.source_simulator import Simulator\n\n"
        "class LakeflowConnectTests:\n    pass\n"
    ),
    f"{TESTS}/shop/__init__.py": "",
    f"{TESTS}/shop/conftest.py": "",
    f"{TESTS}/shop/test_shop_lakeflow_connect.py": (
        "from acme.labs.community_connector.sources.shop.shop import ShopLakeflowConnect\n"
        "from tests.unit.sources.test_suite import LakeflowConnectTests\n\n"
        "class TestShop(LakeflowConnectTests):\n    connector_class = ShopLakeflowConnect\n"
    ),
    f"{TESTS}/shop/test_helpers.py": "from . import helpers\n",
    f"{TESTS}/shop/helpers.py": "X = 1\n",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("public")
    for relative, text in FILES.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return base


def test_the_layout_is_recognised_without_configuration(root: Path) -> None:
    layout = Workspace(root).layout
    assert (layout.sources, layout.specs, layout.tests) == (f"{PKG}/sources", SPECS, TESTS)
    assert layout.source_names() == ["shop"]
    assert layout.library == ()


def test_pyproject_still_overrides_what_detection_found(tmp_path: Path) -> None:
    for relative in (f"{SPECS}/shop/endpoints.yaml", f"{PKG}/sources/shop/shop.py"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.connector-watch]\ntests = "checks"\nshared = ["common/**"]\n'
    )
    layout = Workspace(tmp_path).layout
    assert (layout.specs, layout.tests, layout.shared) == (SPECS, "checks", ("common/**",))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"{PKG}/sources/shop/shop.py", FileKind("shop", "connector")),
        (f"{SPECS}/shop/endpoints.yaml", FileKind("shop", "spec")),
        (f"{SPECS}/shop/corpus/orders.json", FileKind("shop", "corpus")),
        (f"{SPECS}/shop/handlers/auth.py", FileKind("shop", "spec_support")),  # the source's, not shared
        (f"{TESTS}/shop/test_shop_lakeflow_connect.py", FileKind("shop", "test")),
        (f"{TESTS}/shop/conftest.py", FileKind("shop", "conftest")),
        (f"{PKG}/libs/utils.py", FileKind(None, "shared")),
        (f"{PKG}/interface/lakeflow_connect.py", FileKind(None, "shared")),
        (f"{PKG}/source_simulator/simulator.py", FileKind(None, "shared")),
        (f"{TESTS}/test_suite.py", FileKind(None, "shared")),
        ("pyproject.toml", FileKind(None, "library")),
    ],
)
def test_every_path_has_its_kind(root: Path, path: str, kind: FileKind) -> None:
    assert Workspace(root).classify(path) == kind


def test_shared_code_folders_are_watched(root: Path) -> None:
    watched = {p.relative_to(root).as_posix(): recursive for p, recursive in Workspace(root).watch_roots()}
    assert watched[f"{PKG}/libs"] is True
    assert watched[f"{PKG}/source_simulator"] is False  # its *.py; specs/ is watched recursively
    assert watched[SPECS] is True
    assert watched.get(TESTS) is True or watched.get("tests") is True  # pytest's testpaths cover it


def test_module_names_come_from_the_root_or_src(root: Path) -> None:
    assert module_name(root, f"{PKG}/libs/utils.py") == "acme.labs.community_connector.libs.utils"
    assert module_name(root, f"{PKG}/libs/__init__.py") == "acme.labs.community_connector.libs"
    assert module_name(root, f"{TESTS}/test_suite.py") == "tests.unit.sources.test_suite"


def test_the_static_import_graph_credits_shared_code_to_every_test_that_reaches_it(root: Path) -> None:
    workspace = Workspace(root)
    graph = ImportGraph(root, ignored=workspace.ignored)
    tests = workspace.test_files()
    test = f"{TESTS}/shop/test_shop_lakeflow_connect.py"
    assert graph.importers(f"{PKG}/libs/utils.py", tests) == {test}  # through test_suite → simulator
    assert graph.importers(f"{PKG}/sources/shop/shop.py", tests) == {test}
    assert graph.importers(f"{TESTS}/shop/helpers.py", tests) == {f"{TESTS}/shop/test_helpers.py"}
    assert f"{PKG}/__init__.py" in graph.reachable(test)  # packages run on the way


def test_an_edit_that_adds_an_import_is_seen(root: Path) -> None:
    workspace = Workspace(root)
    graph = ImportGraph(root, ignored=workspace.ignored)
    helper = root / TESTS / "shop" / "test_helpers.py"
    assert f"{PKG}/libs/utils.py" not in graph.reachable(f"{TESTS}/shop/test_helpers.py")
    original = helper.read_text()
    helper.write_text(original + "from acme.labs.community_connector.libs.utils import parse_value\n")
    try:
        graph.forget(f"{TESTS}/shop/test_helpers.py")
        assert f"{PKG}/libs/utils.py" in graph.reachable(f"{TESTS}/shop/test_helpers.py")
    finally:
        helper.write_text(original)


def test_requests_seen_at_the_transport_are_matched_to_their_endpoint(root: Path) -> None:
    workspace = Workspace(root)
    spec, _ = check_spec(root / SPECS / "shop/endpoints.yaml", display=f"{SPECS}/shop/endpoints.yaml")
    matcher = RequestMatcher(workspace, lambda path: spec if path == f"{SPECS}/shop/endpoints.yaml" else None)
    raw = [["GET", "/orders", None, None, None, None], ["POST", "/oauth/token", None, None, None, None],
           ["GET", "/customers", None, None, None, None]]
    matched = matcher.match(raw, "shop", [])
    assert matched[0] == ["GET", "/orders", 1, spec.endpoints[1].fingerprint, f"{SPECS}/shop/endpoints.yaml",
                          f"{SPECS}/shop/corpus/orders.json", False]
    assert matched[1][2] == 0 and matched[1][6] is True  # a handler answers it
    assert matched[2][2] is None and matched[2][4] == f"{SPECS}/shop/endpoints.yaml"  # unmatched, this spec


def test_a_collected_node_without_a_simulator_source_belongs_to_its_folders_source(root: Path) -> None:
    matcher = RequestMatcher(Workspace(root), lambda path: None)
    event = {"event": "collected", "nodes": [{"file": f"{TESTS}/shop/test_helpers.py", "source": None}], "files": {}}
    matcher.annotate(event)
    assert event["nodes"][0]["source"] == "shop"


def test_the_test_file_installing_a_stand_in_module_is_found(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_installs.py").write_text("import sys\nsys.modules['google.auth'] = object()\n")
    (tmp_path / "a" / "test_other.py").write_text("import sys\nsys.modules['googleapis'] = object()\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "test_needs.py").write_text("import google.auth\n")
    files = collect_order.test_files_under(tmp_path)
    assert collect_order.stand_in_providers(files, "google", exclude=[tmp_path / "b" / "test_needs.py"]) == [
        tmp_path / "a" / "test_installs.py"
    ]
    try:
        import google.auth  # noqa: F401
    except ImportError as exc:
        assert collect_order.missing_module(exc) == "google"
    else:  # pragma: no cover - google is installed here
        pytest.skip("google is importable in this environment")


def test_the_tests_of_shared_code_under_pytests_testpaths_are_tests_too(tmp_path: Path) -> None:
    for relative, text in FILES.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "tests/unit/libs").mkdir(parents=True)
    (tmp_path / "tests/unit/libs/test_utils.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    (tmp_path / "tests/unit/registry_test.py").write_text("def test_y():\n    pass\n", encoding="utf-8")
    (tmp_path / "tests/unit/libs/helpers.py").write_text("X = 1\n", encoding="utf-8")
    workspace = Workspace(tmp_path)
    tests = workspace.test_files()
    assert {"tests/unit/libs/test_utils.py", "tests/unit/registry_test.py"} <= set(tests)
    assert "tests/unit/libs/helpers.py" not in tests
    assert workspace.classify("tests/unit/libs/test_utils.py").kind == "test"
    assert workspace.classify("tests/unit/libs/test_utils.py").source is None
    assert not any(t.startswith("tests/unit/libs") for t in workspace.test_files_of("shop"))
