"""The daemon's optional Spark stage: after a source's tests pass, every table is read through a
real (warm, local) SparkSession against the simulator; a schema the unit tests' sample missed turns
that table's Spark node red with a diagnostic at the schema's declaration."""

from __future__ import annotations

import pytest
from connector_watch.daemon import events as ev
from connector_watch.tests.support.live_engine import LiveEngine
from connector_watch.tests.support.workspace import copy_examples

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SCHEMAS = "sources/zendesk/zendesk_schemas.py"
FOLLOWERS = '    ("follower_ids", ArrayType(LongType(), True)),\n'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    root = copy_examples(tmp_path_factory.mktemp("spark"), sources=("zendesk",))
    engine = LiveEngine(root, spark=True, node_timeout=60.0)
    yield engine
    engine.close()


def test_the_first_run_reads_every_table_through_spark(live: LiveEngine) -> None:
    nodes = live.run_in_loop(lambda: dict(live.engine.results.spark_nodes))
    assert {n.split("::")[-1] for n in nodes} == {"tickets", "users", "groups", "ticket_metric_events"}
    assert {item["outcome"] for item in nodes.values()} == {"passed"}, nodes


def test_a_schema_the_unit_sample_missed_turns_the_spark_node_red_at_the_declaration(
    live: LiveEngine,
) -> None:
    original = live.read(SCHEMAS)
    assert FOLLOWERS in original  # only record 11 of tickets has followers; unit tests sample 5 records
    broken = original.replace(FOLLOWERS, FOLLOWERS.replace("LongType()", "BooleanType()"), 1)
    line = broken.splitlines().index(FOLLOWERS.replace("LongType()", "BooleanType()").rstrip("\n"))
    events = live.save(SCHEMAS, broken, timeout=300)
    unit = [e for e in events if isinstance(e, ev.TestFinished) and not e.node_id.startswith("spark::")]
    assert unit and all(e.outcome in ("passed", "skipped") for e in unit), [
        (e.node_id, e.outcome) for e in unit if e.outcome not in ("passed", "skipped")
    ]
    spark = {
        e.node_id: e for e in events if isinstance(e, ev.TestFinished) and e.node_id.startswith("spark::")
    }
    tickets = spark["spark::zendesk::tickets"]
    assert tickets.outcome in ("failed", "error")
    diagnostic = tickets.diagnostics[0]
    assert diagnostic.blame == "connector"
    assert (diagnostic.location.path, diagnostic.location.range.start.line) == (SCHEMAS, line)
    assert any("tickets.json" in r.location.path for r in diagnostic.related)
    live.save(SCHEMAS, original, timeout=300)
    nodes = live.run_in_loop(lambda: dict(live.engine.results.spark_nodes))
    assert nodes["spark::zendesk::tickets"]["outcome"] == "passed"
