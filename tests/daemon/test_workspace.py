"""How the daemon sorts a workspace's paths: what is ignored, and what kind of file each one is."""

from __future__ import annotations

import pytest
from connector_watch.daemon.workspace import FileKind, Workspace
from connector_watch.tests.support.workspace import copy_examples


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(copy_examples(tmp_path_factory.mktemp("ws"), sources=("zendesk",)))


@pytest.mark.parametrize(
    "path",
    [
        "simulator/specs/zendesk/corpus/sedrU4jJO",  # sed -i
        "simulator/specs/zendesk/corpus/.tickets.json.swp",  # vim
        "sources/zendesk/zendesk.py~",
        "simulator/specs/zendesk/4913",
        "sources/zendesk/__pycache__/zendesk.cpython-311.pyc",
        ".git/index",
    ],
)
def test_editor_and_tool_temporaries_are_ignored(workspace: Workspace, path: str) -> None:
    assert workspace.ignored(path)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("simulator/specs/zendesk/endpoints.yaml", FileKind("zendesk", "spec")),
        ("simulator/specs/zendesk/corpus/tickets.json", FileKind("zendesk", "corpus")),
        ("sources/zendesk/zendesk.py", FileKind("zendesk", "connector")),
        ("tests/unit/sources/zendesk/test_zendesk_lakeflow_connect.py", FileKind("zendesk", "test")),
        ("simulator/pagination.py", FileKind(None, "library")),
        ("tests/harness/settings.py", FileKind(None, "library")),
        # A source's spec folder itself (the event when it is deleted or renamed) is not toolkit code.
        ("simulator/specs/zendesk", FileKind(None, "other")),
        ("simulator/specs/shop", FileKind(None, "other")),
    ],
)
def test_every_path_has_the_kind_impact_expects(workspace: Workspace, path: str, kind: FileKind) -> None:
    assert workspace.classify(path) == kind
