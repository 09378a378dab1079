"""The merge tool: one self-contained file per connector that registers a PySpark data source."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator.layout import Layout
from connector_watch.simulator.tools.merge_source import INTERNAL_ROOTS, MergeError, merge
from connector_watch.tests.record.helpers import REPO

SOURCES = ("github", "zendesk", "hubspot", "msgraph")
STANDALONE = textwrap.dedent(
    """
    import importlib.abc, importlib.util, json, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {roots!r}:
                raise ImportError("the generated file imported " + name)

    sys.meta_path.insert(0, Block())
    counts = {{}}
    for source, (path, config) in json.loads(sys.argv[1]).items():
        spec = importlib.util.spec_from_file_location("_generated_" + source, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        connector = module.LakeflowConnectImpl(config)
        for table in connector.list_tables():
            schema = connector.get_table_schema(table, {{}})
            counts[source + "." + table] = len(list(module.read_all(connector, table, {{}}, schema)))
    print(json.dumps(counts))
    """
).format(roots=INTERNAL_ROOTS)


def _generate(tmp_path: Path, source: str) -> Path:
    target = tmp_path / f"_generated_{source}_python_source.py"
    target.write_text(merge(Layout.load(REPO), source), encoding="utf-8")
    return target


def test_merging_is_deterministic_and_check_reports_a_stale_file(tmp_path: Path) -> None:
    layout = Layout.load(REPO)
    assert merge(layout, "github") == merge(layout, "github")
    workspace = tmp_path / "ws"
    for part in ("sources", "simulator"):
        shutil.copytree(
            REPO / part, workspace / part, ignore=shutil.ignore_patterns("__pycache__", "_generated_*")
        )
    shutil.copy(REPO / "pyproject.toml", workspace / "pyproject.toml")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "connector_watch.simulator.tools.merge_source", *args, "--workspace", str(workspace)],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("all").returncode == 0
    generated = workspace / "sources" / "github" / "_generated_github_python_source.py"
    assert generated.read_text() == merge(layout, "github")  # the same inputs give the same text anywhere
    first = generated.read_bytes()
    assert cli("github").returncode == 0 and generated.read_bytes() == first  # byte-identical
    assert cli("all", "--check").returncode == 0
    connector = workspace / "sources" / "github" / "github.py"
    connector.write_text(connector.read_text() + "\n# an edit\n")
    stale = cli("github", "--check")
    assert stale.returncode == 1 and "is stale" in stale.stdout


@pytest.mark.parametrize("source", SOURCES)
def test_the_generated_file_imports_nothing_from_the_repository(tmp_path: Path, source: str) -> None:
    tree = ast.parse(_generate(tmp_path, source).read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not imported & set(INTERNAL_ROOTS), imported
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert {"LakeflowSource", "register_lakeflow_source", "parse_record", "LakeflowConnect"} <= names


def test_every_generated_connector_reads_its_live_api_without_the_repository(
    live_servers: Any, tmp_path: Path
) -> None:
    jobs = {source: (str(_generate(tmp_path, source)), live_servers[source].config) for source in SOURCES}
    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE)
    run = subprocess.run(
        [sys.executable, str(script), json.dumps(jobs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    counts = json.loads(run.stdout)
    assert counts["github.repositories"] == 21 and counts["zendesk.ticket_metric_events"] == 42
    assert counts["hubspot.engagements"] == 30 and counts["msgraph.organization"] == 1
    assert all(count > 0 for count in counts.values()), counts


def _toy_workspace(tmp_path: Path, connector: str, extra: dict[str, str] | None = None) -> Layout:
    root = tmp_path / "toy"
    (root / "sources" / "toy").mkdir(parents=True)
    for name in ("interface.py", "parsing.py"):
        shutil.copy(REPO / "sources" / name, root / "sources" / name)
    (root / "simulator" / "specs").mkdir(parents=True)
    (root / "sources" / "toy" / "toy.py").write_text(textwrap.dedent(connector))
    for name, text in (extra or {}).items():
        (root / "sources" / "toy" / name).write_text(textwrap.dedent(text))
    return Layout.load(root)


def test_unmergeable_connectors_are_clear_errors(tmp_path: Path) -> None:
    nested = _toy_workspace(
        tmp_path / "a",
        """
        from connector_watch.sources.interface import LakeflowConnect

        class ToyLakeflowConnect(LakeflowConnect):
            def list_tables(self):
                from connector_watch.sources.toy.helpers import TABLES
                return TABLES
        """,
    )
    with pytest.raises(MergeError, match=r"toy\.py:6: a nested import from the repository"):
        merge(nested, "toy")
    clash = _toy_workspace(
        tmp_path / "b",
        """
        from connector_watch.sources.interface import LakeflowConnect
        from connector_watch.sources.toy.helpers import helper

        def is_initial_offset(offset):
            return offset is None

        class ToyLakeflowConnect(LakeflowConnect):
            pass
        """,
        {"helpers.py": "def helper():\n    return 1\n"},
    )
    with pytest.raises(
        MergeError,
        match=r"'is_initial_offset' is defined differently in sources/interface\.py and sources/toy/toy\.py",
    ):
        merge(clash, "toy")
    none = _toy_workspace(tmp_path / "c", "class Toy:\n    pass\n")
    with pytest.raises(MergeError, match="expected exactly one class deriving from LakeflowConnect"):
        merge(none, "toy")


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reads_a_table_through_the_generated_file(
    spark: Any, live_servers: Any, tmp_path: Path
) -> None:
    path = _generate(tmp_path, "github")
    spec = importlib.util.spec_from_file_location("_generated_github_python_source", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        module.register_lakeflow_source(spark)
        config = live_servers["github"].config
        frame = spark.read.format("lakeflow_connect").option("tableName", "issues").options(**config).load()
        rows = frame.collect()
        connector = module.LakeflowConnectImpl(config)
        expected = list(module.read_all(connector, "issues", {}, connector.get_table_schema("issues", {})))
        assert len(rows) == len(expected) > 0
        assert {r["id"] for r in rows} == {r[frame.columns.index("id")] for r in expected}
        assert frame.schema == connector.get_table_schema("issues", {})
    finally:
        sys.modules.pop(spec.name, None)
