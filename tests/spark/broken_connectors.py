"""Connectors with one deliberate fault each, read through Spark by the tests (executors import this)."""

from __future__ import annotations

from pyspark.sql.types import LongType, StructField, StructType

from sources.github.github import GithubLakeflowConnect


class TitleAsNumberGithub(GithubLakeflowConnect):
    """``issues.title`` declared as a number: the first issue's title does not convert."""

    def get_table_schema(self, table_name: str, table_options: dict[str, str]) -> StructType:
        schema = super().get_table_schema(table_name, table_options)
        if table_name != "issues":
            return schema
        return StructType(
            [StructField(f.name, LongType(), f.nullable) if f.name == "title" else f for f in schema.fields]
        )


class StuckOffsetGithub(GithubLakeflowConnect):
    """``issues`` offsets that never settle: every read returns a new offset."""

    def read_table(self, table_name, start_offset, table_options):  # type: ignore[no-untyped-def]
        if table_name != "issues":
            return super().read_table(table_name, start_offset, table_options)
        step = int((start_offset or {}).get("step", 0)) + 1
        return iter([]), {"step": step}


class LookbackGithub(GithubLakeflowConnect):
    """``issues`` read with a lookback window: once caught up, a read hands an already-read record
    back with the same offset (as connectors that re-read the last minutes do). Not a fault."""

    def read_table(self, table_name, start_offset, table_options):  # type: ignore[no-untyped-def]
        records, offset = super().read_table(table_name, start_offset, table_options)
        records = list(records)
        if table_name == "issues" and start_offset and not records and offset == start_offset:
            first, _ = super().read_table(table_name, {}, table_options)
            records = list(first)[:1]
        return iter(records), offset
