"""Corpus lint is pure: corpus text + what the connector declares → located findings."""

from __future__ import annotations

import json

from connector_watch.daemon.corpus_lint import TableContext, lint_corpus
from pyspark.sql.types import LongType, StringType, StructField, StructType

PATH = "simulator/specs/shop/corpus/orders.json"
SCHEMA = StructType([StructField("id", LongType()), StructField("name", StringType())]).jsonValue()
NOW = 1_900_000_000.0


def _lint(records: list, metadata: dict | None = None) -> list:
    text = json.dumps(records, indent=2)
    return lint_corpus(PATH, text, records, [TableContext("orders", SCHEMA, metadata)], now=NOW)


def _line_of(records: list, needle: str) -> int:
    return next(i for i, line in enumerate(json.dumps(records, indent=2).splitlines()) if needle in line)


def test_a_value_of_a_minority_type_that_does_not_fit_is_located() -> None:
    records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": "oops", "name": "c"}]
    findings = [d for d in _lint(records) if d.code == "corpus.type_mismatch"]
    assert len(findings) == 1
    assert findings[0].blame == "corpus"
    assert findings[0].location.path == PATH
    assert findings[0].location.range.start.line == _line_of(records, '"oops"')
    assert findings[0].message.startswith('id: string value "oops" does not fit the schema type')
    assert "2 other record(s) hold an integer" in findings[0].message
    assert findings[0].fix == "make id an integer like the other records"


def test_a_type_the_whole_corpus_agrees_on_is_the_connectors_to_convert() -> None:
    records = [{"id": "x1", "name": "a"}, {"id": "x2", "name": "b"}, {"id": "x3", "name": "c"}]
    assert not [d for d in _lint(records) if d.code == "corpus.type_mismatch"]


def test_a_minority_value_that_still_parses_is_not_a_finding() -> None:
    records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": "3", "name": "c"}]
    assert not [d for d in _lint(records) if d.code == "corpus.type_mismatch"]


def test_duplicate_primary_keys_point_at_the_second_record() -> None:
    records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 1, "name": "c"}]
    findings = [d for d in _lint(records, {"primary_keys": ["id"]}) if d.code == "corpus.duplicate_key"]
    assert len(findings) == 1
    assert findings[0].location.range.start.line == _line_of(records, '"c"') - 1
