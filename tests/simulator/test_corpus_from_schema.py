"""``connector_watch.simulator.tools.corpus_from_schema``: valid records for every Spark type, keys, cursors, no clobbering."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator.tools.corpus_from_schema import (
    CorpusExistsError,
    generate_records,
    main,
    write_corpus,
    write_corpus_from_schemas,
)
from connector_watch.simulator.values import as_instant, dotted_get
from connector_watch.sources.parsing import parse_record
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
    VariantType,
)

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 20, 14, 37, 12, tzinfo=timezone.utc)
DEFAULT_START = datetime(2015, 1, 1, tzinfo=timezone.utc)

ADDRESS = StructType(
    [
        StructField("street", StringType(), False),
        StructField("zip", IntegerType(), True),
        StructField("geo", StructType([StructField("lat", DoubleType(), False)]), True),
    ]
)
EVERY_TYPE = StructType(
    [
        StructField("id", LongType(), False),
        StructField("name", StringType(), False),
        StructField("email", StringType(), True),
        StructField("html_url", StringType(), True),
        StructField("flag", BooleanType(), False),
        StructField("tiny", ByteType(), False),
        StructField("small", ShortType(), False),
        StructField("count", IntegerType(), True),
        StructField("big", LongType(), True),
        StructField("ratio", FloatType(), True),
        StructField("score", DoubleType(), False),
        StructField("price", DecimalType(10, 2), False),
        StructField("fraction", DecimalType(5, 5), True),
        StructField("whole", DecimalType(38, 0), True),
        StructField("birthday", DateType(), False),
        StructField("created_at", TimestampType(), False),
        StructField("local_time", TimestampNTZType(), True),
        StructField("avatar", BinaryType(), False),
        StructField("address", ADDRESS, False),
        StructField("previous", ArrayType(ADDRESS, False), True),
        StructField("labels", ArrayType(StringType(), False), False),
        StructField("counts", MapType(StringType(), LongType(), False), True),
        StructField("by_year", MapType(IntegerType(), StringType()), True),
        StructField("by_day", MapType(DateType(), ArrayType(DecimalType(4, 1))), True),
        StructField("nothing", StructType([]), True),
        StructField("payload", VariantType(), True),
        StructField("updated_at", TimestampType(), True),
    ]
)


def _leaves(value: Any, data_type: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every (path, value, type) under a record, following the schema."""
    out = [(path, value, data_type)]
    if isinstance(data_type, StructType) and isinstance(value, dict):
        for field in data_type.fields:
            out += _leaves(value.get(field.name), field.dataType, f"{path}.{field.name}".lstrip("."))
    elif isinstance(data_type, ArrayType) and isinstance(value, list):
        for i, item in enumerate(value):
            out += _leaves(item, data_type.elementType, f"{path}[{i}]")
    return out


def _nullability_holds(value: Any, data_type: Any) -> bool:
    if isinstance(data_type, StructType):
        if not isinstance(value, dict):
            return value is None
        for field in data_type.fields:
            child = value.get(field.name)
            if child is None and not field.nullable:
                return False
            if child is not None and not _nullability_holds(child, field.dataType):
                return False
        return True
    if isinstance(data_type, ArrayType) and isinstance(value, list):
        return all(
            (item is not None or data_type.containsNull) and _nullability_holds(item, data_type.elementType)
            for item in value
        )
    if isinstance(data_type, MapType) and isinstance(value, dict):
        return all(v is not None or data_type.valueContainsNull for v in value.values())
    return True


# --------------------------------------------------------------------------- values


def test_every_spark_type_parses() -> None:
    records = generate_records(
        EVERY_TYPE, count=40, cursor_field="updated_at", primary_key_fields=["id"], seed=7, now=NOW
    )
    assert len(records) == 40
    for i, record in enumerate(records):
        parse_record(record, EVERY_TYPE, table="every_type")  # raises on any value that does not fit
        assert _nullability_holds(record, EVERY_TYPE), i
        assert list(record) == EVERY_TYPE.fieldNames()
    first = records[0]
    assert all(first[name] is not None for name in EVERY_TYPE.fieldNames() if name != "nothing")
    assert first["nothing"] is None  # a struct without fields has no non-empty value
    # the JSON forms APIs use
    assert isinstance(first["price"], str) and Decimal(first["price"]) == Decimal(first["price"]).quantize(
        Decimal("0.01")
    )
    assert Decimal(first["price"]).adjusted() < 8  # fits DECIMAL(10, 2)
    assert first["fraction"].startswith("0.") and len(first["fraction"]) == 7
    assert datetime.strptime(first["birthday"], "%Y-%m-%d")
    assert first["created_at"].endswith("Z")
    assert not first["local_time"].endswith("Z")
    assert base64.b64decode(first["avatar"], validate=True)
    assert "@" in first["email"] and first["html_url"].startswith("https://")
    assert 0 <= first["tiny"] <= 127 and 0 <= first["small"] <= 32_767
    assert all(isinstance(k, str) for k in first["by_year"]) and all(k.isdigit() for k in first["by_year"])
    assert isinstance(first["payload"], dict)  # a variant holds any JSON


def test_every_column_is_populated_by_some_record_and_nullable_ones_are_sometimes_null() -> None:
    records = generate_records(EVERY_TYPE, count=60, primary_key_fields=["id"], seed=1, now=NOW)
    nullable = [f.name for f in EVERY_TYPE.fields if f.nullable and f.name != "nothing"]
    for name in EVERY_TYPE.fieldNames():
        if name != "nothing":
            assert any(r[name] is not None for r in records), name
    assert any(r[name] is None for r in records for name in nullable)
    for field in EVERY_TYPE.fields:
        if not field.nullable:
            assert all(r[field.name] is not None for r in records), field.name


def test_integer_fields_named_like_moments_hold_epoch_times() -> None:
    schema = StructType(
        [
            StructField("createdAt", LongType()),
            StructField("end_time", IntegerType()),
            StructField("created_sec", LongType()),
            StructField("count", LongType()),
        ]
    )
    [record] = generate_records(schema, count=1, now=NOW)
    month_ago = NOW - timedelta(days=31)
    assert month_ago.timestamp() * 1000 < record["createdAt"] < NOW.timestamp() * 1000
    assert month_ago.timestamp() < record["end_time"] < NOW.timestamp()
    assert month_ago.timestamp() < record["created_sec"] < NOW.timestamp()
    assert record["count"] < 10**9 + 1


def test_deterministic_by_seed() -> None:
    one = generate_records(EVERY_TYPE, count=5, seed=3, now=NOW)
    assert one == generate_records(EVERY_TYPE, count=5, seed=3, now=NOW)
    assert one != generate_records(EVERY_TYPE, count=5, seed=4, now=NOW)


# --------------------------------------------------------------------------- primary keys


@pytest.mark.parametrize(
    "data_type",
    [
        LongType(),
        IntegerType(),
        ShortType(),
        ByteType(),
        StringType(),
        DoubleType(),
        FloatType(),
        DecimalType(10, 2),
        DecimalType(3, 0),
        DateType(),
        TimestampType(),
        TimestampNTZType(),
        BinaryType(),
    ],
    ids=lambda t: t.simpleString(),
)
def test_primary_keys_are_unique_for_any_type(data_type: Any) -> None:
    schema = StructType([StructField("key", data_type, False), StructField("other", data_type, True)])
    records = generate_records(schema, count=100, primary_key_fields=["key"], seed=0, now=NOW)
    keys = [r["key"] for r in records]
    assert len(set(keys)) == 100
    for record in records:
        parse_record(record, schema)


def test_composite_and_nested_primary_keys() -> None:
    schema = StructType(
        [
            StructField(
                "engagement", StructType([StructField("id", LongType()), StructField("type", StringType())])
            ),
            StructField("portal", IntegerType()),
            StructField("lastUpdated", LongType()),
        ]
    )
    records = generate_records(
        schema, count=30, primary_key_fields=["engagement.id", "portal"], cursor_field="lastUpdated", now=NOW
    )
    assert len({r["engagement"]["id"] for r in records}) == 30
    assert len({r["portal"] for r in records}) == 30
    for record in records:
        parse_record(record, schema)


def test_boolean_key_can_hold_two_records_only() -> None:
    schema = StructType([StructField("flag", BooleanType(), False)])
    assert {r["flag"] for r in generate_records(schema, count=2, primary_key_fields=["flag"])} == {
        True,
        False,
    }
    with pytest.raises(
        ValueError, match="primary key 'flag' is a boolean: at most 2 distinct values, 3 asked"
    ):
        generate_records(schema, count=3, primary_key_fields=["flag"])


def test_byte_key_overflow_is_an_error() -> None:
    schema = StructType([StructField("b", ByteType(), False)])
    with pytest.raises(ValueError, match=r"primary key 'b' \(tinyint\) cannot hold 200 distinct values"):
        generate_records(schema, count=200, primary_key_fields=["b"])


def test_unknown_key_field_names_the_fields() -> None:
    schema = StructType([StructField("id", LongType())])
    with pytest.raises(ValueError, match=r"primary key 'uid' is not a field of the schema \(fields: id\)"):
        generate_records(schema, count=2, primary_key_fields=["uid"])


# --------------------------------------------------------------------------- cursors


@pytest.mark.parametrize(
    ("name", "data_type", "check"),
    [
        ("updated_at", TimestampType(), lambda v: isinstance(v, str) and v.endswith("Z")),
        ("updated_at", StringType(), lambda v: isinstance(v, str) and v.endswith("Z")),
        ("modified", TimestampNTZType(), lambda v: isinstance(v, str) and not v.endswith("Z")),
        ("day", DateType(), lambda v: len(v) == 10),
        ("updated", IntegerType(), lambda v: isinstance(v, int) and 10**9 < v < 10**10),  # epoch seconds
        ("lastUpdated", LongType(), lambda v: isinstance(v, int) and 10**12 < v < 10**13),  # epoch ms
        ("updated_ms", LongType(), lambda v: 10**12 < v < 10**13),
        ("end_time_sec", LongType(), lambda v: 10**9 < v < 10**10),  # the name says seconds
        ("updated_unix", LongType(), lambda v: 10**9 < v < 10**10),
        ("ts", DoubleType(), lambda v: isinstance(v, float) and 10**9 < v < 10**10),
        ("ts_millis", DoubleType(), lambda v: 10**12 < v < 10**13),
        ("version", DecimalType(20, 0), lambda v: isinstance(v, str) and 10**9 < int(v) < 10**10),
        ("seq", ShortType(), lambda v: isinstance(v, int)),
    ],
)
def test_cursor_is_strictly_increasing_and_ends_just_before_now(
    name: str, data_type: Any, check: Any
) -> None:
    schema = StructType([StructField("id", StringType(), False), StructField(name, data_type, True)])
    records = generate_records(schema, count=12, cursor_field=name, primary_key_fields=["id"], now=NOW)
    values = [r[name] for r in records]
    assert all(check(v) for v in values), values
    if isinstance(data_type, ShortType):
        assert values == list(range(1, 13))
        return
    instants = [_instant(v, data_type) for v in values]
    assert instants == sorted(instants) and len(set(instants)) == 12  # strictly increasing
    last = instants[-1]
    assert last < NOW  # none in the future
    assert last > NOW - timedelta(days=2)  # recent: a capped connector sees them on its first read
    assert instants[0] > DEFAULT_START  # a connector starting from a default past start date reads them all
    for record in records:
        parse_record(record, schema)


def _instant(value: Any, data_type: Any) -> datetime:
    if isinstance(data_type, DateType):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    if isinstance(data_type, DecimalType):
        value = int(value)
    micros = as_instant(value if not isinstance(data_type, TimestampNTZType) else value + "Z")
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


def test_nested_cursor_field_and_nullable_parents() -> None:
    author = StructType([StructField("name", StringType()), StructField("date", TimestampType())])
    commit = StructType([StructField("author", author, True), StructField("message", StringType())])
    schema = StructType([StructField("sha", StringType(), False), StructField("commit", commit, True)])
    records = generate_records(
        schema, count=50, cursor_field="commit.author.date", primary_key_fields=["sha"], now=NOW
    )
    dates = [dotted_get(r, "commit.author.date") for r in records]
    assert None not in dates  # the structs on the cursor's path are never null
    assert dates == sorted(dates, key=as_instant)
    assert len(set(dates)) == 50


def test_the_default_now_is_the_real_clock() -> None:
    schema = StructType([StructField("updated_at", TimestampType())])
    before = datetime.now(timezone.utc)
    [record] = generate_records(schema, count=1, cursor_field="updated_at")
    moment = datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00"))
    assert before - timedelta(hours=2) <= moment < before


# --------------------------------------------------------------------------- writing files


SCHEMAS = {
    "issues": StructType([StructField("id", LongType(), False), StructField("updated_at", TimestampType())]),
    "users": StructType([StructField("login", StringType(), False)]),
}


def test_write_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_corpus(
        SCHEMAS,
        tmp_path / "corpus",
        records_per_table=4,
        cursor_fields={"issues": "updated_at"},
        primary_keys={"issues": ["id"], "users": ["login"]},
        now=NOW,
    )
    assert written == [tmp_path / "corpus" / "issues.json", tmp_path / "corpus" / "users.json"]
    issues = json.loads(written[0].read_text())
    assert [r["id"] for r in issues] == [1001, 1002, 1003, 1004]
    assert [r["updated_at"] for r in issues] == [
        "2026-05-20T10:00:00Z",
        "2026-05-20T11:00:00Z",
        "2026-05-20T12:00:00Z",
        "2026-05-20T13:00:00Z",
    ]
    assert json.loads(written[1].read_text())[0] == {"login": "login-0001"}
    assert written[0].read_text().endswith("]\n")
    assert "wrote" in capsys.readouterr().out


def test_existing_corpus_is_never_overwritten_without_force(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "users.json").write_text('[{"login": "hand-edited"}]\n')
    with pytest.raises(CorpusExistsError) as caught:
        write_corpus(SCHEMAS, corpus, now=NOW)
    assert caught.value.paths == [corpus / "users.json"]
    assert str(corpus / "users.json") in str(caught.value)
    assert str(caught.value).startswith(
        f"corpus file already exists (it may be hand-edited): {corpus}/users.json"
    )
    assert "force=True" in str(caught.value)
    assert isinstance(caught.value, FileExistsError)
    assert (corpus / "users.json").read_text() == '[{"login": "hand-edited"}]\n'
    assert not (corpus / "issues.json").exists()  # nothing is written when anything would be clobbered

    write_corpus(SCHEMAS, corpus, force=True, now=NOW)
    assert json.loads((corpus / "users.json").read_text())[0]["login"] != "hand-edited"


def test_records_per_table_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="records_per_table must be at least 1, got 0"):
        write_corpus(SCHEMAS, tmp_path, records_per_table=0)


# --------------------------------------------------------------------------- the example connectors

EXAMPLES = {
    "github": (
        "sources.github.github",
        "GithubLakeflowConnect",
        {"token": "t", "owner": "octo-org", "repos": "a"},
    ),
    "zendesk": (
        "sources.zendesk.zendesk",
        "ZendeskLakeflowConnect",
        {"subdomain": "acme", "email": "a@b.c", "api_token": "t"},
    ),
    "hubspot": ("sources.hubspot.hubspot", "HubspotLakeflowConnect", {"access_token": "t"}),
    "msgraph": (
        "sources.msgraph.msgraph",
        "MsgraphLakeflowConnect",
        {"tenant_id": "t", "client_id": "c", "client_secret": "s"},
    ),
}


def _connector(name: str) -> Any:
    module, cls, config = EXAMPLES[name]
    return getattr(__import__(module, fromlist=[cls]), cls)(config)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_connectors(tmp_path: Path, name: str) -> None:
    connector = _connector(name)
    written = write_corpus_from_schemas(connector, tmp_path, records_per_table=6, now=NOW)
    assert sorted(p.stem for p in written) == sorted(connector.list_tables())
    for path in written:
        table = path.stem
        schema = connector.get_table_schema(table, {})
        metadata = connector.read_table_metadata(table, {})
        records = json.loads(path.read_text())
        assert len(records) == 6
        for record in records:
            parse_record(record, schema, table=table)
        for key in metadata.get("primary_keys") or []:
            assert len({json.dumps(dotted_get(r, key)) for r in records}) == 6, (table, key)
        cursor = metadata.get("cursor_field")
        if cursor:
            instants = [as_instant(dotted_get(r, cursor)) for r in records]
            assert None not in instants, (table, cursor)
            assert instants == sorted(instants) and len(set(instants)) == 6, (table, cursor)
            assert instants[-1] < as_instant(NOW.isoformat())


def test_hubspot_long_cursor_is_epoch_milliseconds(tmp_path: Path) -> None:
    written = write_corpus_from_schemas(_connector("hubspot"), tmp_path, records_per_table=3, now=NOW)
    engagements = json.loads(next(p for p in written if p.stem == "engagements").read_text())
    assert [e["engagement"]["lastUpdated"] for e in engagements] == [
        int((NOW.replace(minute=0, second=0) - timedelta(hours=h)).timestamp()) * 1000 for h in (3, 2, 1)
    ]


class _Partial:
    """A connector whose schema lookup fails for one table and whose metadata fails for another."""

    def list_tables(self) -> list[str]:
        return ["good", "needs_options", "no_metadata"]

    def get_table_schema(self, table: str, options: dict[str, str]) -> StructType:
        if table == "needs_options" and "project" not in options:
            raise ValueError("table option 'project' is required")
        return StructType([StructField("id", IntegerType(), False), StructField("at", TimestampType())])

    def read_table_metadata(self, table: str, options: dict[str, str]) -> dict:
        if table == "no_metadata":
            raise RuntimeError("metadata needs the network")
        return {"primary_keys": ["id"], "cursor_field": "at", "ingestion_type": "cdc"}


def test_tables_that_fail_are_skipped_and_overrides_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = write_corpus_from_schemas(_Partial(), tmp_path, records_per_table=3, now=NOW)
    assert [p.stem for p in written] == ["good", "no_metadata"]
    out = capsys.readouterr().out
    assert "skip needs_options: get_table_schema raised ValueError: table option 'project' is required" in out
    assert "note no_metadata: read_table_metadata raised RuntimeError" in out

    written = write_corpus_from_schemas(
        _Partial(),
        tmp_path / "again",
        records_per_table=3,
        table_options={"needs_options": {"project": "p"}},
        cursor_field_overrides={"no_metadata": "at"},
        primary_key_overrides={"good": [], "no_metadata": ["id"]},
        now=NOW,
    )
    assert [p.stem for p in written] == ["good", "needs_options", "no_metadata"]
    no_metadata = json.loads((tmp_path / "again" / "no_metadata.json").read_text())
    assert [r["id"] for r in no_metadata] == [1001, 1002, 1003]
    assert [r["at"] for r in no_metadata] == sorted(r["at"] for r in no_metadata)


# --------------------------------------------------------------------------- command line

GITHUB = "sources.github.github:GithubLakeflowConnect"
GITHUB_CONFIG = json.dumps({"token": "t", "owner": "octo-org"})


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--connector", GITHUB, "--config", GITHUB_CONFIG, "--output", str(tmp_path), "--records", "2"]
    )
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["commits.json", "issues.json", "repositories.json"]
    assert len(json.loads((tmp_path / "issues.json").read_text())) == 2
    assert f"3 corpus files written to {tmp_path}" in capsys.readouterr().out

    assert main(["--connector", GITHUB, "--config", GITHUB_CONFIG, "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: corpus files already exist (they may be hand-edited)" in err
    assert str(tmp_path / "issues.json") in err
    assert len(json.loads((tmp_path / "issues.json").read_text())) == 2

    argv = [
        "--connector",
        GITHUB,
        "--config",
        GITHUB_CONFIG,
        "--output",
        str(tmp_path),
        "--force",
        "--records",
        "3",
    ]
    assert main(argv) == 0
    assert len(json.loads((tmp_path / "issues.json").read_text())) == 3


def test_cli_config_from_a_file(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(GITHUB_CONFIG)
    assert main(["--connector", GITHUB, "--config", f"@{config}", "--output", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--connector", "sources.github.github"], "--connector must be module.path:ClassName"),
        (
            ["--connector", "sources.nowhere:X"],
            "--connector: cannot import 'sources.nowhere': ModuleNotFoundError",
        ),
        (
            ["--connector", "sources.github.github:Github"],
            "has no class 'Github' (classes: GithubLakeflowConnect",
        ),
        (
            ["--connector", GITHUB, "--config", "{owner: x}"],
            "--config is not valid JSON (Expecting property name",
        ),
        (["--connector", GITHUB, "--config", "[1]"], "--config must be a JSON object, got list"),
        (["--connector", GITHUB, "--config", "@/nonexistent/config.json"], "--config: cannot read"),
        (["--connector", GITHUB, "--records", "0"], "--records must be at least 1, got 0"),
    ],
)
def test_cli_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--output", str(tmp_path)])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_connector_that_rejects_its_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--connector", GITHUB, "--config", "{}", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "raised ValueError: GitHub connector: option 'owner' is required" in err
    assert "Fix: pass the options the connector requires with --config" in err


def test_cli_missing_required_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "the following arguments are required: --connector, --output" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector_watch.simulator.tools.corpus_from_schema",
            "--connector",
            "sources.zendesk.zendesk:ZendeskLakeflowConnect",
            "--config",
            json.dumps({"subdomain": "acme"}),
            "--output",
            str(tmp_path),
            "--records",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in tmp_path.iterdir()) == [
        "groups",
        "ticket_metric_events",
        "tickets",
        "users",
    ]
