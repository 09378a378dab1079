"""The ``lakeflow_connect`` data source end to end: real local Spark, the simulator on the executors.

Every table of every example source is read through Spark and checked against the
corpus ground truth; streams with ``Trigger.AvailableNow`` terminate with the same
rows; errors name the table, the field, the value and the record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from connector_watch.daemon.spark_ground_truth import ground_truth_problems, load_traces
from connector_watch.sources.spark.runtime import parse_problems
from connector_watch.tests.spark.conftest import LAYOUT, example_tables, pk_values, plain_drain, read_options

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TABLES = example_tables()


def _read(spark: Any, options: dict[str, str]) -> Any:
    return spark.read.format("lakeflow_connect").options(**options).load()


@pytest.mark.parametrize(("source", "table", "metadata"), TABLES, ids=[f"{s}.{t}" for s, t, _ in TABLES])
def test_every_table_reads_through_spark_and_matches_the_corpus(
    spark: Any, trace_dir: Path, source: str, table: str, metadata: dict[str, Any]
) -> None:
    df = _read(spark, read_options(source, table, simulatorTraceDir=str(trace_dir)))
    rows = df.collect()
    summary, problems = ground_truth_problems(
        table, rows, df.schema, metadata, load_traces(trace_dir), LAYOUT
    )
    assert problems == [], "\n".join(p["message"] for p in problems)
    assert rows, f"{source}.{table}: no rows"
    if summary["expected"] is not None:
        assert len(rows) == summary["expected"], summary
    # The same records as draining the connector in plain Python.
    assert len(rows) == len(plain_drain(source, table))


def test_a_batch_read_drains_every_batch_not_only_the_first(spark: Any) -> None:
    options = read_options("github", "issues")
    assert options["max_records_per_batch"] == "7"
    rows = _read(spark, options).collect()
    assert len(rows) == len(plain_drain("github", "issues")) > 7


def test_a_partitioned_table_reads_one_spark_partition_per_descriptor(spark: Any) -> None:
    df = _read(spark, read_options("github", "commits"))
    assert df.rdd.getNumPartitions() == 2  # repos alpha and beta
    assert pk_values(df.collect(), ["sha"]) == pk_values(plain_drain("github", "commits"), ["sha"])


def test_deletes_of_a_cdc_with_deletes_table(spark: Any) -> None:
    rows = _read(spark, read_options("hubspot", "contacts", isDeleteFlow="true")).collect()
    expected = plain_drain("hubspot", "contacts", "read_table_deletes")
    assert rows and pk_values(rows, ["id"]) == pk_values(expected, ["id"])
    assert all(row["id"] is not None for row in rows)


STREAMS = [
    ("github", "issues", {}, "simple stream reader, cdc"),
    ("github", "commits", {}, "partitioned stream reader"),
    ("zendesk", "groups", {}, "snapshot table, read once"),
    ("hubspot", "contacts", {"isDeleteFlow": "true"}, "deletes stream"),
    (
        "github",
        "issues",
        {"connector": "connector_watch.tests.spark.broken_connectors:LookbackGithub"},
        "a lookback re-reads a record with the same offset: caught up, not stuck",
    ),
]


@pytest.mark.parametrize(
    ("source", "table", "extra", "why"),
    STREAMS,
    ids=[f"{s}.{t}{'-' + next(iter(e)) if e else ''}" for s, t, e, _ in STREAMS],
)
def test_an_available_now_stream_terminates_with_the_batch_rows(
    spark: Any, tmp_path: Path, source: str, table: str, extra: dict[str, str], why: str
) -> None:
    options = read_options(source, table, **extra)
    name = f"stream_{source}_{table}_{len(extra)}"
    stream = spark.readStream.format("lakeflow_connect").options(**options).load()
    query = (
        stream.writeStream.format("memory")
        .queryName(name)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    assert query.awaitTermination(120), f"{why}: the availableNow stream did not terminate"
    assert query.exception() is None, query.exception()
    streamed = spark.table(name).collect()
    batch = _read(spark, options).collect()
    pks = ["sha"] if table == "commits" else ["id"]
    assert streamed, why
    assert sorted(set(pk_values(streamed, pks))) == sorted(set(pk_values(batch, pks))), why
    if len(extra) == 0 and table != "issues":  # append/snapshot: each record exactly once
        assert len(streamed) == len(batch)
    assert query.lastProgress is not None


def test_a_conversion_error_names_the_table_field_value_and_record(spark: Any) -> None:
    options = read_options("github", "issues", connector="connector_watch.tests.spark.broken_connectors:TitleAsNumberGithub")
    with pytest.raises(Exception) as caught:
        _read(spark, options).collect()
    text = str(caught.value)
    assert "[github.issues] cannot convert field 'title'" in text
    assert "to bigint" in text and "not a number" in text
    problems = parse_problems(text)
    assert problems, text[-2000:]
    problem = problems[0]
    assert problem["kind"] == "conversion"
    assert problem["table"] == "issues" and problem["field"] == "title" and problem["sparkType"] == "bigint"
    first = plain_drain("github", "issues")[0]
    assert problem["value"] == first["title"]
    assert problem["record"]["id"] == first["id"] and problem["keys"] == {"id": first["id"]}
    assert problem["record"]["title"] == first["title"]
    assert json.dumps(first["title"])[1:-1] in text  # the value is in the human message too


def test_a_read_that_never_settles_stops_with_a_clear_error(spark: Any) -> None:
    options = read_options(
        "github", "issues", connector="connector_watch.tests.spark.broken_connectors:StuckOffsetGithub", maxBatches="5"
    )
    with pytest.raises(Exception) as caught:
        _read(spark, options).collect()
    assert "read_table did not settle in 5 batches" in str(caught.value)


def test_virtual_tables_list_tables_and_metadata(spark: Any) -> None:
    base = read_options("zendesk", "_community_tables")
    names = [r.tableName for r in _read(spark, base).collect()]
    assert names == sorted(t for s, t, _ in TABLES if s == "zendesk")
    metadata = _read(
        spark, {**base, "tableName": "_community_table_metadata", "tableNameList": json.dumps(names)}
    ).collect()
    by_table = {r.tableName: r for r in metadata}
    assert by_table["tickets"].ingestion_type == "cdc" and by_table["tickets"].primary_keys == ["id"]
    assert by_table["groups"].cursor_field is None


def test_bad_options_fail_with_a_message_that_says_what_to_set(spark: Any) -> None:
    with pytest.raises(Exception, match="option 'source' is required"):
        _read(spark, {"tableName": "issues"}).collect()
    with pytest.raises(Exception, match="Unknown table 'nope'"):
        _read(spark, read_options("github", "nope")).collect()
    with pytest.raises(Exception, match="simulatorMode='record' is not available in Spark"):
        _read(spark, read_options("github", "issues", simulatorMode="record")).collect()
    for bad in ("abc", "0"):
        with pytest.raises(Exception, match="option 'maxBatches' must be a whole number of 1 or more"):
            _read(spark, read_options("github", "issues", maxBatches=bad)).collect()
    with pytest.raises(Exception, match="isDeleteFlow=true reads deleted records, but table 'issues' is cdc"):
        _read(spark, read_options("github", "issues", isDeleteFlow="true")).collect()


def test_executors_find_the_spec_by_source_name_alone(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No specs directory, no workspace: the specs shipped inside the ``simulator`` package serve."""
    options = read_options("zendesk", "groups")
    del options["simulatorSpecsDir"]
    monkeypatch.delenv("CONNECTOR_WATCH_WORKSPACE", raising=False)
    assert _read(spark, options).count() == len(plain_drain("zendesk", "groups"))


def test_a_cassette_recorded_against_the_live_api_replays_through_spark(spark: Any, tmp_path: Path) -> None:
    """Replay on the executors answers what the sampled recording never asked (the next cursor) too."""
    from connector_watch.simulator.live_servers.process import start
    from connector_watch.sources.spark import runtime
    from connector_watch.tests.record.helpers import drain, record

    cassette = tmp_path / "TestZendeskConnector.json"
    recorded: list[dict[str, Any]] = []
    with start("zendesk") as server:
        live = runtime.connector_class({"source": "zendesk"})(server.config)
        record(
            tmp_path,
            "zendesk",
            server.config,
            lambda: recorded.extend(drain(live, "tickets")),
            cassette=cassette,
        )
    options = read_options("zendesk", "tickets", simulatorMode="replay", simulatorCassette=str(cassette))
    rows = _read(spark, options).collect()
    assert rows and {row["id"] for row in rows} <= {r["id"] for r in recorded}
