"""The Spark pieces that need no JVM: setup checks, option handling, spec lookup, fresh code, stage checks."""

from __future__ import annotations

import importlib
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from connector_watch.daemon.spark_ground_truth import ground_truth_problems
from connector_watch.daemon.spark_problems import diagnostics_for, schema_field_location
from connector_watch.simulator.layout import Layout
from connector_watch.sources.spark import runtime, session
from connector_watch.sources.spark.config import load_source_config
from connector_watch.sources.spark.runtime import ConnectorProblem, DataSourceOptionError
from connector_watch.sources.spark.session import SparkSetupError

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = Layout.load(ROOT)


# ---------------------------------------------------------------------------- session


def test_the_master_is_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(session.ENV_MASTER, raising=False)
    assert session.resolve_master() == "local[*]"
    monkeypatch.setenv(session.ENV_MASTER, "spark://cluster:7077")
    assert session.resolve_master() == "spark://cluster:7077"
    assert session.resolve_master("local[2]") == "local[2]"
    assert session.is_local("local[2]") and session.is_local("local")
    assert not session.is_local("spark://cluster:7077") and not session.is_local("yarn")


def test_a_missing_java_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkSetupError, match=r"No Java runtime found: Spark needs Java 17 or newer"):
        session.check_java()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(SparkSetupError, match=r"has no bin/java"):
        session.check_java()


def test_an_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n", encoding="utf-8")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(SparkSetupError, match=r"is Java 8; PySpark 4 needs Java 17 or newer"):
        session.check_java()


def test_a_missing_pyarrow_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    worker_python = tmp_path / "python"
    worker_python.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    worker_python.chmod(0o755)
    with pytest.raises(
        SparkSetupError, match=r"pyarrow is not importable by PYSPARK_PYTHON=.*pip install pyarrow"
    ):
        session.check_pyarrow(str(worker_python))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(SparkSetupError, match=r"pyarrow is not installed in .*pip install pyarrow"):
        session.check_pyarrow()


# ---------------------------------------------------------------------------- options and connector


def test_the_connector_comes_from_the_source_name_or_an_explicit_class() -> None:
    from sources.github.github import GithubLakeflowConnect

    assert runtime.connector_class({"source": "github"}) is GithubLakeflowConnect
    explicit = runtime.connector_class({"connector": "sources.github.github:GithubLakeflowConnect"})
    assert explicit is GithubLakeflowConnect
    with pytest.raises(DataSourceOptionError, match=r"option 'source' is required"):
        runtime.connector_class({})
    with pytest.raises(DataSourceOptionError, match=r"no module sources.nope.nope"):
        runtime.connector_class({"source": "nope"})


def test_the_connector_sees_its_options_not_the_data_sources() -> None:
    options = runtime.lower_options(
        {"source": "github", "tableName": "issues", "simulatorMode": "simulate", "owner": "o"}
    )
    assert runtime.connector_options(options) == {"owner": "o"}


def test_the_connector_reads_options_in_any_case_as_spark_allows() -> None:
    options = runtime.connector_options(runtime.lower_options({"apiKey": "k", "tableName": "t"}))
    assert options["apiKey"] == options["apikey"] == options.get("APIKEY") == "k"
    assert "apiKey" in options and "tableName" not in options and options.get("missing") is None
    assert json.loads(json.dumps(options)) == {"apikey": "k"} and options.copy()["ApiKey"] == "k"


def test_record_mode_is_refused_inside_spark_with_what_to_do() -> None:
    with pytest.raises(DataSourceOptionError, match=r"Record through pytest \(CONNECTOR_TEST_MODE=record\)"):
        runtime.simulator_mode({"simulatormode": "record"})
    assert runtime.simulator_mode({}) is None
    assert runtime.simulator_mode({"simulatormode": "Simulate"}) == "simulate"


def test_problem_markers_survive_being_wrapped_in_other_text() -> None:
    problem = {"kind": "conversion", "table": "t", "field": "a.b", "value": "x\ny {", "record": {"id": 1}}
    error = ConnectorProblem("[s.t] cannot convert", problem)
    wrapped = f"Traceback (most recent call last):\n  ...\n{type(error).__name__}: {error}\n\tat org.apache.spark..."
    assert runtime.parse_problems(wrapped + wrapped) == [problem]


def test_a_large_record_keeps_its_keys_and_the_failing_field() -> None:
    record = {"id": 7, "title": "t", "body": "x" * 5000, "nested": {"deep": "y" * 5000}}
    shown = runtime.shown_record(record, ("nested.deep",))
    assert shown["id"] == 7 and shown["title"] == "t" and shown["nested"] == record["nested"]
    assert "body" not in shown and shown["…"] == "1 long field(s) omitted"


# ---------------------------------------------------------------------------- specs


def test_specs_are_found_by_source_name_in_the_installed_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONNECTOR_WATCH_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)  # not the driver's working directory
    spec, corpus = runtime.spec_location("github")
    import simulator

    assert spec == Path(simulator.__file__).parent / "specs" / "github" / "endpoints.yaml"
    assert spec.is_file() and (corpus / "issues.json").is_file()
    with pytest.raises(
        DataSourceOptionError, match=r"no simulator spec for source 'nope'.*simulatorSpecsDir"
    ):
        runtime.spec_location("nope")
    assert runtime.spec_location("github", str(LAYOUT.specs_dir()))[0] == LAYOUT.spec_file("github")


def test_zipped_specs_are_copied_out_once_per_process(tmp_path: Path) -> None:
    archive = tmp_path / "simulator.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("simulator/specs/demo/endpoints.yaml", "endpoints: []\n")
        zf.writestr("simulator/specs/demo/corpus/items.json", "[]")
    target = tmp_path / "out"
    target.mkdir()
    runtime._copy_tree(zipfile.Path(archive, "simulator/specs/"), target)
    assert (target / "demo" / "endpoints.yaml").read_text() == "endpoints: []\n"
    assert (target / "demo" / "corpus" / "items.json").read_text() == "[]"


# ---------------------------------------------------------------------------- fresh code


def test_a_changed_connector_package_is_imported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cw_fresh_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    module = package / "conn.py"
    module.write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        runtime.refresh("cw_fresh_pkg")
        assert importlib.import_module("cw_fresh_pkg.conn").VALUE == 1
        runtime.refresh("cw_fresh_pkg")  # unchanged: kept
        assert "cw_fresh_pkg.conn" in sys.modules
        module.write_text("VALUE = 22\n", encoding="utf-8")
        os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
        runtime.refresh("cw_fresh_pkg")
        assert "cw_fresh_pkg.conn" not in sys.modules
        assert importlib.import_module("cw_fresh_pkg.conn").VALUE == 22
    finally:
        for name in [n for n in sys.modules if n.startswith("cw_fresh_pkg")]:
            del sys.modules[name]


def test_the_framework_itself_is_never_reloaded() -> None:
    import connector_watch.sources.spark.datasource as before

    runtime.refresh("connector_watch.sources.spark")
    runtime.refresh("sources")
    assert sys.modules["connector_watch.sources.spark.datasource"] is before


# ---------------------------------------------------------------------------- configs


def test_read_options_come_from_the_tests_without_importing_them() -> None:
    config = load_source_config(LAYOUT, "github")
    assert config.connection == {"token": "stand-in-token", "owner": "octo-org", "repos": "alpha,beta"}
    assert config.test_class == "TestGithubConnector"
    assert config.table_options("issues") == {"max_records_per_batch": "7"}
    assert config.options("issues")["owner"] == "octo-org"


def test_env_credentials_win_as_in_the_harness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_TEST_CONFIG_JSON", json.dumps({"owner": "real", "page": 3}))
    config = load_source_config(LAYOUT, "github")
    assert (
        config.connection == {"owner": "real", "page": "3"} and config.origin == "CONNECTOR_TEST_CONFIG_JSON"
    )


# ---------------------------------------------------------------------------- stage checks (pure)


def _dump(corpus_dir: Path, matched: list[int], served: list[int]) -> dict[str, Any]:
    endpoint = {
        "index": 0,
        "method": "GET",
        "path": "/items",
        "spec_file": "s.yaml",
        "line": 1,
        "fingerprint": "",
    }
    return {
        "corpusDir": str(corpus_dir),
        "families": {
            "0:x": {
                "endpoint": endpoint,
                "corpus": "items",
                "params": {},
                "matched": matched,
                "requests": [1],
                "served": served,
            }
        },
        "future": {},
        "entries": [
            {
                "seq": 1,
                "method": "GET",
                "url": "https://x/items",
                "outcome": "served",
                "corpus": "items",
                "served": served,
            }
        ],
    }


def test_ground_truth_names_the_lost_record_and_its_corpus_index(tmp_path: Path) -> None:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    corpus_dir = tmp_path / "simulator" / "specs" / "demo" / "corpus"
    corpus_dir.mkdir(parents=True)
    records = [{"id": i, "name": f"n{i}"} for i in range(4)]
    (corpus_dir / "items.json").write_text(json.dumps(records, indent=2), encoding="utf-8")
    schema = StructType([StructField("id", LongType(), False), StructField("name", StringType(), False)])
    layout = Layout.load(tmp_path)
    rows = [records[0], records[1], {"id": 3, "name": None}]
    summary, problems = ground_truth_problems(
        "items",
        rows,
        schema,
        {"primary_keys": ["id"], "ingestion_type": "snapshot"},
        [_dump(corpus_dir, [0, 1, 2, 3], [0, 1, 2, 3])],
        layout,
    )
    assert summary["expected"] == 4
    kinds = {p["kind"]: p for p in problems}
    assert kinds["nulls"]["field"] == "name" and kinds["nulls"]["count"] == 1
    lost = kinds["count"]
    assert lost["reason"] == "lost" and lost["recordIndex"] == 2 and lost["value"] == "2"
    assert lost["corpusFile"] == "simulator/specs/demo/corpus/items.json"
    # Spark's 3 and a corpus "3" are the same key.
    summary, problems = ground_truth_problems(
        "items",
        [{"id": "0"}, {"id": 1}],
        StructType([StructField("id", StringType())]),
        {"primary_keys": ["id"], "ingestion_type": "cdc"},
        [_dump(corpus_dir, [0, 1], [0, 1])],
        layout,
    )
    assert problems == [] and summary["expected"] == 2


def test_conversion_blame_is_the_schema_unless_the_corpus_value_is_the_odd_one_out() -> None:
    problem = {
        "kind": "conversion",
        "table": "issues",
        "field": "title",
        "value": "Fix it",
        "sparkType": "bigint",
        "record": {"id": 1},
        "schemaFile": "sources/github/github_schemas.py",
        "schemaLine": 214,
        "corpusFile": "simulator/specs/github/corpus/issues.json",
        "recordIndex": 3,
        "corpusLine": 120,
        "fieldTypes": {"str": 25},
    }
    [schema_blame] = diagnostics_for(problem, LAYOUT, "github")
    assert schema_blame.blame == "connector" and schema_blame.location.path.endswith("github_schemas.py")
    assert schema_blame.location.line == 214 and schema_blame.related[0].location.line == 120
    [corpus_blame] = diagnostics_for(
        {**problem, "value": 12, "sparkType": "string", "fieldTypes": {"str": 24, "int": 1}}, LAYOUT, "github"
    )
    assert corpus_blame.blame == "corpus" and corpus_blame.location.path.endswith("issues.json")


def test_schema_fields_are_located_through_the_schema_variables() -> None:
    lines = (ROOT / "sources/github/github_schemas.py").read_text(encoding="utf-8").splitlines()
    file, line = schema_field_location(LAYOUT, "github", "issues", "title")  # type: ignore[misc]
    assert file == "sources/github/github_schemas.py" and lines[line].strip() == '("user", USER),'
    _, nested = schema_field_location(LAYOUT, "github", "issues", "milestone.title")  # type: ignore[misc]
    assert nested != line and '"title"' in lines[nested - 1]
    _, inline = schema_field_location(LAYOUT, "zendesk", "tickets", "via.source.from.name")  # type: ignore[misc]
    assert '"name"' in (ROOT / "sources/zendesk/zendesk_schemas.py").read_text().splitlines()[inline - 1]


# ---------------------------------------------------------------------------- Arrow batches


def test_arrow_batches_equal_what_pyspark_builds_for_every_example_table() -> None:
    """The column-wise Arrow conversion gives PySpark's own batches, value for value."""
    import pyarrow as pa
    from connector_watch.sources.parsing import parse_record
    from connector_watch.sources.spark.arrow import ArrowBatcher
    from connector_watch.tests.spark.conftest import example_tables, plain_drain
    from pyspark.sql.worker.plan_data_source_read import records_to_arrow_batches

    class Named:
        @staticmethod
        def name() -> str:
            return "lakeflow_connect"

    checked = 0
    for source, table, _ in example_tables():
        connector = runtime.connector_class({"source": source})(load_source_config(LAYOUT, source).connection)
        schema = connector.get_table_schema(table, {})
        rows = [tuple(parse_record(r, schema, table)) for r in plain_drain(source, table)]
        expected = pa.Table.from_batches(list(records_to_arrow_batches(iter(rows), 7, schema, Named)))
        batcher = ArrowBatcher(schema)
        actual = pa.Table.from_batches([batcher.batch(rows[i : i + 7]) for i in range(0, len(rows), 7)])
        assert actual.equals(expected), f"{source}.{table}"
        checked += 1
    assert checked == 15


def test_a_column_pyarrow_refuses_falls_back_to_pysparks_converter() -> None:
    from decimal import Decimal

    from connector_watch.sources.spark.arrow import ArrowBatcher
    from pyspark.sql.types import DecimalType, MapType, StringType, StructField, StructType, TimestampType

    schema = StructType(
        [
            StructField("price", DecimalType(10, 2)),
            StructField("labels", MapType(StringType(), StringType())),
            StructField("at", TimestampType()),
        ]
    )
    from datetime import datetime, timezone

    batch = ArrowBatcher(schema).batch(
        [(Decimal("1.5"), {"a": "b"}, datetime(2024, 1, 1, tzinfo=timezone.utc))]
    )
    assert batch.to_pylist() == [
        {"price": Decimal("1.50"), "labels": [("a", "b")], "at": datetime(2024, 1, 1, tzinfo=timezone.utc)}
    ]
