"""A merged single-file connector built on :mod:`connector_watch.sources.spark.readers` reads through Spark like the package.

``python -m connector_watch.simulator.tools.merge_source github`` (its default template is
``sources/spark/readers.py``) gives one file with no import from this repository; its ``register_lakeflow_source``
registers the same readers (batch drain, partitions, streams). The connector talks to
a real local HTTP server (:mod:`connector_watch.simulator.live_servers`), since no simulator is
inside a merged file.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator.layout import Layout
from connector_watch.simulator.tools.merge_source import merge
from connector_watch.sources.spark.datasource import register
from connector_watch.tests.spark.conftest import ROOT, pk_values

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def merged_github(spark: Any, tmp_path: Path) -> Iterator[Any]:
    path = tmp_path / "github_merged.py"
    path.write_text(merge(Layout.load(ROOT), "github"), encoding="utf-8")  # default template: these readers
    text = path.read_text(encoding="utf-8")
    assert "from sources" not in text and "class LakeflowPartitionedStreamReader" in text
    spec = importlib.util.spec_from_file_location("github_merged", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        module.register_lakeflow_source(spark)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
        register(spark)  # the package's data source again, for the other tests


def test_the_merged_file_reads_every_batch_partitions_and_streams(
    spark: Any, merged_github: Any, tmp_path: Path
) -> None:
    from connector_watch.simulator.live_servers.process import start

    with start("github") as server:
        options = {**server.config, "max_records_per_batch": "3"}
        issues = spark.read.format("lakeflow_connect").options(**options, tableName="issues").load()
        rows = issues.collect()
        connector = merged_github.LakeflowConnectImpl(options)
        expected: list[dict[str, Any]] = []
        offset: Any = None
        while True:
            batch, new = connector.read_table("issues", offset, options)
            expected.extend(batch)
            if merged_github.offset_settled(offset, new):
                break
            offset = new
        assert len(expected) > 3 and pk_values(rows, ["id"]) == pk_values(expected, ["id"])

        commits = spark.read.format("lakeflow_connect").options(**options, tableName="commits").load()
        assert commits.rdd.getNumPartitions() == len(options["repos"].split(","))
        assert commits.count() > 0

        query = (
            spark.readStream.format("lakeflow_connect")
            .options(**options, tableName="issues")
            .load()
            .writeStream.format("memory")
            .queryName("merged_issues")
            .option("checkpointLocation", str(tmp_path / "checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
        assert query.awaitTermination(120) and query.exception() is None
        streamed = spark.table("merged_issues").collect()
        assert set(pk_values(streamed, ["id"])) == set(pk_values(rows, ["id"]))
