"""``python -m connector_watch.sources.spark``: read a connector's table into a Spark DataFrame and show it.

```
python -m connector_watch.sources.spark read github issues                 # against the simulator, local[*]
python -m connector_watch.sources.spark read hubspot contacts --deletes    # read_table_deletes
python -m connector_watch.sources.spark read github commits --stream       # a streaming read, Trigger.AvailableNow
python -m connector_watch.sources.spark tables zendesk                     # the tables and their metadata
```

Options come from the source's tests (``replay_config`` and
``configs/dev_table_config.json``, see :mod:`connector_watch.sources.spark.config`) plus ``-o key=value``.
``--mode`` picks the simulator (``simulate`` by default, ``replay``, ``hybrid``) or ``off``
for the real API (credentials from ``$CONNECTOR_TEST_CONFIG_JSON`` / ``_PATH`` or ``-o``).
``--master`` (or ``$CONNECTOR_WATCH_SPARK_MASTER``) picks the Spark master; default ``local[*]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from connector_watch.simulator.layout import Layout
from connector_watch.sources.spark import session as session_module
from connector_watch.sources.spark.config import SourceConfigError, load_source_config
from connector_watch.sources.spark.runtime import PROBLEM_MARKER
from connector_watch.sources.spark.session import SparkSetupError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connector_watch.sources.spark", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("source", help="source name, e.g. github")
        p.add_argument("--mode", default="simulate", help="simulate (default) | replay | hybrid | off")
        p.add_argument(
            "--master", default=None, help="Spark master (default $CONNECTOR_WATCH_SPARK_MASTER or local[*])"
        )
        p.add_argument(
            "--workspace", default=None, help="workspace root (default: found from the current directory)"
        )
        p.add_argument("--cassette", default=None, help="cassette for --mode replay/hybrid")
        p.add_argument(
            "-o", "--option", action="append", default=[], metavar="KEY=VALUE", help="extra read option"
        )

    read = sub.add_parser("read", help="read a table and show it")
    common(read)
    read.add_argument("table")
    read.add_argument("--show", type=int, default=20, metavar="N", help="rows to show (default 20; 0: none)")
    read.add_argument("--truncate", type=int, default=30, help="cut cells to this width (0: no cut)")
    read.add_argument("--schema", action="store_true", help="print the schema too")
    read.add_argument(
        "--columns",
        default=None,
        help="comma-separated columns to show, or 'all' (default: up to 8 plain ones)",
    )
    read.add_argument("--deletes", action="store_true", help="read_table_deletes (isDeleteFlow)")
    read.add_argument("--stream", action="store_true", help="a streaming read with Trigger.AvailableNow")
    tables = sub.add_parser("tables", help="list the tables and their metadata")
    common(tables)
    return parser


def _options(args: argparse.Namespace, layout: Layout, table: str | None) -> dict[str, str]:
    config = load_source_config(layout, args.source)
    options = config.options(table) if table else dict(config.connection)
    if table and table in config.table_configs:
        options["tableConfigs"] = json.dumps(config.table_configs)
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"-o {item!r}: expected KEY=VALUE")
        options[key] = value
    options["source"] = args.source
    if args.mode and args.mode.lower() != "off":
        options["simulatorMode"] = args.mode
        if layout.spec_file(args.source).is_file():
            options["simulatorSpecsDir"] = str(layout.specs_dir())
        if args.cassette:
            options["simulatorCassette"] = str(Path(args.cassette).resolve())
    return options


def _read(spark: Any, options: dict[str, str], table: str, args: argparse.Namespace) -> Any:
    reader_options = {**options, "tableName": table}
    if args.deletes:
        reader_options["isDeleteFlow"] = "true"
    if not args.stream:
        return spark.read.format("lakeflow_connect").options(**reader_options).load()
    stream = spark.readStream.format("lakeflow_connect").options(**reader_options).load()
    name = f"cw_{args.source}_{table}".replace("-", "_")
    checkpoint = tempfile.mkdtemp(prefix="connector-watch-stream-")
    query = (
        stream.writeStream.format("memory")
        .queryName(name)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    return spark.table(name)


def _display_columns(spark: Any, options: dict[str, str], table: str, df: Any, limit: int = 8) -> list[str]:
    """A readable default: the primary keys, the cursor, then other plain columns (no URLs)."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if len(df.columns) <= limit:
        return list(df.columns)
    metadata = (
        spark.read.format("lakeflow_connect")
        .options(**options, tableName="_community_table_metadata", tableNameList=json.dumps([table]))
        .load()
        .collect()
    )
    first: list[str] = []
    if metadata:
        first = [*(metadata[0].primary_keys or []), metadata[0].cursor_field or ""]
    wanted = [c.split(".")[0] for c in first if c and c.split(".")[0] in df.columns]
    plain = [
        f.name
        for f in df.schema.fields
        if not isinstance(f.dataType, (StructType, ArrayType, MapType)) and not f.name.lower().endswith("url")
    ]
    chosen = list(dict.fromkeys([*wanted, *plain, *df.columns]))[:limit]
    return [c for c in df.columns if c in chosen]


def _explain(exc: BaseException) -> str:
    """The readable part of a Spark failure: our problem messages, else the Python error line."""
    text = str(exc)
    found = re.findall(rf"ConnectorProblem: (.*?)\n{PROBLEM_MARKER} ", text, re.S)
    if found:
        return "\n".join(dict.fromkeys(found))
    errors = re.findall(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", text, re.M)
    if errors:
        return "\n".join(dict.fromkeys(f"{name}: {message}" for name, message in errors[-2:]))
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("at ")]
    return "\n".join(lines[-8:])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    layout = Layout.load(args.workspace) if args.workspace else Layout.discover()
    if not args.workspace and not layout.connector_file(args.source).is_file():
        # Outside a workspace: the example sources shipped with the package.
        import sources

        packaged = Layout.load(Path(sources.__file__).resolve().parent.parent)
        if packaged.connector_file(args.source).is_file():
            layout = packaged
    try:
        options = _options(args, layout, getattr(args, "table", None))
    except SourceConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        spark = session_module.spark_session(args.master, python_path=[layout.root])
    except SparkSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    session_seconds = time.perf_counter() - started
    where = f"{spark.sparkContext.master}, simulator: {options.get('simulatorMode', 'off')}"
    try:
        if args.command == "tables":
            names = [
                r.tableName
                for r in spark.read.format("lakeflow_connect")
                .options(**options, tableName="_community_tables")
                .load()
                .collect()
            ]
            spark.read.format("lakeflow_connect").options(
                **options, tableName="_community_table_metadata", tableNameList=json.dumps(names)
            ).load().show(truncate=False)
            return 0
        read_started = time.perf_counter()
        df = _read(spark, options, args.table, args).cache()
        rows = df.count()
        read_seconds = time.perf_counter() - read_started
        if args.schema:
            df.printSchema()
        note = ""
        if args.show:
            if args.columns == "all":
                columns = df.columns
            elif args.columns:
                columns = [c.strip() for c in args.columns.split(",") if c.strip()]
            else:
                columns = _display_columns(spark, options, args.table, df)
            if len(columns) < len(df.columns):
                note = f"; showing {len(columns)} of {len(df.columns)} columns (--columns a,b,c or --columns all)"
            df.select(*columns).show(args.show, truncate=args.truncate or False)
        kind = "deletes of " if args.deletes else ""
        how = "streamed (availableNow)" if args.stream else "read"
        print(
            f"{kind}{args.source}.{args.table}: {rows} row(s) {how} in {read_seconds:.2f} s "
            f"(session {session_seconds:.2f} s; {where}){note}"
        )
        return 0
    except Exception as exc:
        print(f"error: {args.source}.{getattr(args, 'table', '')} failed:\n{_explain(exc)}", file=sys.stderr)
        return 1
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
