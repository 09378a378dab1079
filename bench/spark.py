"""Spark benchmark: rows per second through the ``lakeflow_connect`` data source vs plain Python.

    .venv/bin/python -m bench.spark                     # 1,000,000 records, local[2]
    .venv/bin/python -m bench.spark --records 200000 --json bench/spark-results.json

What it measures, on a generated corpus served by the simulator (simulate mode):

1. **plain Python**: the connector drained in one process, the way the harness reads
   (``read_table``), records only; and the same drain with every record converted by
   :func:`connector_watch.sources.parsing.parse_record` (the data source's conversion).
2. **Spark**: session start, the first query of the session, then the whole table read
   through the data source into Spark's ``noop`` sink (every row materialised in the
   JVM), with the table split into 1 and then 2 partitions on ``local[2]``.

The connector (:class:`BenchConnector`) is an ordinary HTTP connector: offset/limit
pages of ``GET /v1/shards/<n>/items`` (``page_size`` records each) over two shards; as
a ``SupportsPartition`` connector it gives each partition its share of the shards. Both
paths pay the same simulated-HTTP cost per page (the simulator loads one corpus file
per shard it serves); the difference is Spark's (conversion, Arrow, JVM, processes).
Results are printed as a Markdown table (see ``bench/SPARK.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from connector_watch.sources.interface import LakeflowConnect, SupportsPartition
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://bench.connector-watch.invalid"
CONNECTOR = "bench.spark:BenchConnector"

ENDPOINT = """\
  - path: /v1/shards/{shard}/items
    method: GET
    corpus: items_{shard}
    params:
      offset: {{role: offset}}
      limit: {{role: limit, default: 1000, max: 100000}}
    response:
      pagination_style: offset_limit
      wrapper:
        records_key: items
        extras:
          total: {{computed: total}}
"""

SCHEMA = StructType(
    [
        StructField("id", LongType(), False),
        StructField("name", StringType(), True),
        StructField("amount", DoubleType(), True),
        StructField("active", BooleanType(), True),
        StructField("created_at", TimestampType(), True),
        StructField("tags", ArrayType(StringType(), True), True),
        StructField(
            "owner",
            StructType([StructField("id", LongType(), True), StructField("login", StringType(), True)]),
            True,
        ),
    ]
)


class BenchConnector(LakeflowConnect, SupportsPartition):
    """``items``: a snapshot table stored in ``shards`` shards, each read in offset/limit pages.

    A read walks every shard; a partitioned read gives each of ``partitions`` partitions
    its share of the shards. The simulator loads a corpus file per shard, so a task that
    reads one shard pays for that shard only, like a real API sharded by account or region.
    """

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self._base = (options.get("base_url") or BASE_URL).rstrip("/")
        self._page_size = int(options.get("page_size") or 20000)
        self._shards = int(options.get("shards") or 2)
        self._session = requests.Session()

    def list_tables(self) -> list[str]:
        return ["items"]

    def get_table_schema(self, table_name: str, table_options: dict[str, str]) -> StructType:
        self._check(table_name)
        return SCHEMA

    def read_table_metadata(self, table_name: str, table_options: dict[str, str]) -> dict:
        self._check(table_name)
        return {"primary_keys": ["id"], "ingestion_type": "snapshot"}

    def read_table(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict]:
        self._check(table_name)
        return self._read_shards(range(self._shards)), {}

    def get_partitions(self, table_name: str, table_options: dict[str, str]) -> Sequence[dict]:
        self._check(table_name)
        count = max(1, int(table_options.get("partitions") or self.options.get("partitions") or 1))
        groups = [list(range(self._shards))[i::count] for i in range(min(count, self._shards))]
        return [{"shards": group} for group in groups]

    def read_partition(
        self, table_name: str, partition: dict, table_options: dict[str, str]
    ) -> Iterator[dict]:
        self._check(table_name)
        return self._read_shards(int(s) for s in partition["shards"])

    def _read_shards(self, shards: Iterable[int]) -> Iterator[dict]:
        for shard in shards:
            offset = 0
            while True:
                response = self._session.get(
                    f"{self._base}/v1/shards/{shard}/items",
                    params={"offset": offset, "limit": self._page_size},
                    timeout=(10, 60),
                )
                response.raise_for_status()
                items = response.json()["items"]
                yield from items
                offset += len(items)
                if len(items) < self._page_size:
                    break

    @staticmethod
    def _check(table_name: str) -> None:
        if table_name != "items":
            raise ValueError(f"Unknown table {table_name!r}; expected 'items'")


# ---------------------------------------------------------------------------- corpus


def generate(directory: Path, records: int, shards: int = 2, seed: int = 7) -> Path:
    """``<directory>/bench/endpoints.yaml`` + ``corpus/items_<shard>.json``: ``records`` records in all."""
    spec_dir = directory / "bench"
    (spec_dir / "corpus").mkdir(parents=True, exist_ok=True)
    spec = "# Generated by bench/spark.py: one list endpoint per shard of a large corpus.\nendpoints:\n"
    spec += "".join(ENDPOINT.format(shard=shard) for shard in range(shards))
    (spec_dir / "endpoints.yaml").write_text(spec, encoding="utf-8")
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    tags = ["red", "green", "blue", "alpha", "beta", "gamma"]
    per_shard = -(-records // shards)
    for shard in range(shards):
        first, last = shard * per_shard, min((shard + 1) * per_shard, records)
        with open(spec_dir / "corpus" / f"items_{shard}.json", "w", encoding="utf-8") as out:
            out.write("[\n")
            for i in range(first, last):
                record = {
                    "id": i + 1,
                    "name": f"item-{i + 1:07d}",
                    "amount": round(rng.random() * 1000, 2),
                    "active": rng.random() < 0.8,
                    "created_at": (start + timedelta(seconds=i * 17)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "tags": rng.sample(tags, 2),
                    "owner": {"id": rng.randrange(1, 5000), "login": f"user{rng.randrange(1, 5000)}"},
                }
                out.write(json.dumps(record, separators=(",", ":")))
                out.write(",\n" if i + 1 < last else "\n")
            out.write("]\n")
    return spec_dir / "endpoints.yaml"


# ---------------------------------------------------------------------------- runs


def plain_python(spec: Path, options: dict[str, str], convert: bool) -> tuple[int, float]:
    from connector_watch.simulator import Simulator
    from connector_watch.sources.parsing import parse_record

    started = time.perf_counter()
    rows = 0
    with Simulator(mode="simulate", spec_path=spec, synthesize_future_records=False):
        connector = BenchConnector(options)
        records, _ = connector.read_table("items", None, options)
        for record in records:
            if convert:
                parse_record(record, SCHEMA, "items")
            rows += 1
    return rows, time.perf_counter() - started


def spark_read(
    spark: Any, specs_dir: Path, options: dict[str, str], partitions: int
) -> tuple[int, float, int]:
    """``(rows, seconds, planned partitions)`` of reading the whole table through the data source."""
    reader_options = {
        **options,
        "connector": CONNECTOR,
        "tableName": "items",
        "simulatorMode": "simulate",
        "simulatorSource": "bench",
        "simulatorSpecsDir": str(specs_dir),
        "partitions": str(partitions),
    }
    started = time.perf_counter()
    df = spark.read.format("lakeflow_connect").options(**reader_options).load()
    planned = df.rdd.getNumPartitions()
    rows = df.count()  # a Python data source has no column pruning: every row is read and converted
    seconds = time.perf_counter() - started
    return rows, seconds, planned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=20_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--repeat", type=int, default=2, help="Spark reads per partition count (best is kept)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpus (printed path)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-spark-"))
    results: dict[str, Any] = {
        "records": args.records,
        "pageSize": args.page_size,
        "master": args.master,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "loadAverage": os.getloadavg()[0],
    }
    try:
        started = time.perf_counter()
        spec = generate(workdir / "specs", args.records)
        results["generateSeconds"] = round(time.perf_counter() - started, 2)
        corpus_mb = sum(f.stat().st_size for f in (spec.parent / "corpus").glob("*.json")) / 1e6
        results["corpusMB"] = round(corpus_mb, 1)
        print(
            f"corpus: {args.records:,} records, {corpus_mb:.0f} MB, generated in {results['generateSeconds']} s"
        )
        started = time.perf_counter()
        for corpus_file in sorted((spec.parent / "corpus").glob("*.json")):
            json.loads(corpus_file.read_text(encoding="utf-8"))
        results["corpusLoadSeconds"] = round(time.perf_counter() - started, 2)
        options = {"page_size": str(args.page_size)}

        rows, seconds = plain_python(spec, options, convert=False)
        assert rows == args.records, rows
        results["plainDrain"] = {"seconds": round(seconds, 2), "rowsPerSecond": round(rows / seconds)}
        rows, seconds = plain_python(spec, options, convert=True)
        results["plainDrainConvert"] = {"seconds": round(seconds, 2), "rowsPerSecond": round(rows / seconds)}
        print(f"plain Python: {results['plainDrain']}, with parse_record: {results['plainDrainConvert']}")

        from connector_watch.sources.spark import session as session_module

        started = time.perf_counter()
        spark = session_module.spark_session(
            args.master, app_name="connector-watch-bench", python_path=[ROOT]
        )
        results["sessionStartSeconds"] = round(time.perf_counter() - started, 2)
        try:
            started = time.perf_counter()
            spark.read.format("lakeflow_connect").options(
                connector=CONNECTOR, tableName="_community_tables"
            ).load().collect()
            results["firstQuerySeconds"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            spark.read.format("lakeflow_connect").options(
                connector=CONNECTOR, tableName="_community_tables"
            ).load().collect()
            results["laterQuerySeconds"] = round(time.perf_counter() - started, 2)
            timings: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeat):
                for partitions in (1, 2):
                    rows, seconds, planned = spark_read(spark, spec.parent.parent, options, partitions)
                    assert planned == partitions and rows == args.records, (planned, rows)
                    timings[partitions].append(seconds)
                    print(
                        f"Spark, {partitions} partition(s): {seconds:.2f} s (load {os.getloadavg()[0]:.1f})"
                    )
            for partitions, runs in timings.items():
                best = min(runs)
                results[f"spark{partitions}"] = {
                    "partitions": partitions,
                    "seconds": round(best, 2),
                    "rowsPerSecond": round(args.records / best),
                    "runs": [round(r, 2) for r in runs],
                }
            results["speedup1to2"] = round(results["spark1"]["seconds"] / results["spark2"]["seconds"], 2)
        finally:
            spark.stop()
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results["loadAverageEnd"] = os.getloadavg()[0]
    plain, convert = results["plainDrain"], results["plainDrainConvert"]
    one, two = results["spark1"], results["spark2"]
    print()
    print(
        f"| {args.records:,} records, {results['machine']}, load {results['loadAverage']:.1f} | seconds | rows/s |"
    )
    print("|---|---:|---:|")
    print(f"| plain Python drain (records only) | {plain['seconds']} | {plain['rowsPerSecond']:,} |")
    print(f"| plain Python drain + parse_record | {convert['seconds']} | {convert['rowsPerSecond']:,} |")
    print(
        f"| Spark data source, 1 partition (best of {args.repeat}) | {one['seconds']} | {one['rowsPerSecond']:,} |"
    )
    print(
        f"| Spark data source, 2 partitions (best of {args.repeat}) | {two['seconds']} | {two['rowsPerSecond']:,} |"
    )
    print(
        f"\nsession start {results['sessionStartSeconds']} s, first query {results['firstQuerySeconds']} s, "
        f"later query {results['laterQuerySeconds']} s; 1→2 partitions speed-up x{results['speedup1to2']}; "
        f"loading the whole corpus (JSON) takes {results['corpusLoadSeconds']} s per process"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
