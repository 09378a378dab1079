"""Read the public harness's failure texts as the structured facts our harness raises.

Pure. The public community-connectors suite (``tests/unit/sources/test_suite.py`` and its
partition / write-back mixins) fails with plain ``AssertionError``\\ s and ``pytest.fail`` texts:
one ``[table] …`` block per failing table, joined by blank lines, each with a ``Fix:`` line, some
with the ``traceback.format_exc()`` of the connector's exception. Our harness raises
:class:`~connector_watch.tests.harness.failures.HarnessFailure` with a ``check`` code, a table and
typed details, which the plugin sends and blame reads. :func:`facts` turns a public text into the
same shape: a list of exception-chain items (what ``plugin_payloads.describe_exception`` builds), one per
``[table]`` block, each carrying

- ``harness``: ``{"check", "table", "details", "hint"}`` with our check codes and detail keys
  (``read.schema_parse`` → ``record_index``/``field``/``value``/``spark_type``, ``read.terminates``
  → ``offsets``, ``read.null_columns`` → ``columns``/``checked``, ...), or
- for an exception the connector raised inside a harness ``try`` (``[t] read_table() raised: …``
  followed by its traceback): the exception's own ``type``, ``message`` and ``frames`` (parsed from
  the traceback text, workspace-relative) and, for the public simulator's ``UnknownEndpoint``,
  ``request`` = ``{"method", "url", "nearest"}``.

Setup errors (credentials, mode, cassette, corpus directory, spec load) are real exceptions with
real frames; :func:`facts` gives them the ``config`` check or a ``spec``/``corpus`` fact so blame
treats them as it treats ours.

This module reads the ``[table]`` blocks of the suite's own checks; a connector exception inside a
block is :mod:`.public_tracebacks`, a text without a ``[table]`` prefix :mod:`.public_setup`, and
the values, ``Fix:`` lines and chain items they all use :mod:`.public_text`.
"""

from __future__ import annotations

import re
from typing import Any

from connector_watch.daemon.public_setup import setup_fact, untabled_fact
from connector_watch.daemon.public_text import harness_item, literal_list, parse_conversion, parse_offset
from connector_watch.daemon.public_tracebacks import raised_fact

#: A block starts with "[table] " at the start of the text or after a blank line.
_BLOCK_SPLIT = re.compile(r"\n\s*\n(?=\[[^\]\n]{1,200}\] )")
_TABLE_PREFIX = re.compile(r"^\[(?P<table>[^\]\n]{1,200})\] (?P<rest>.*)$", re.S)

#: How the public suite fails a check: ``pytest.fail`` (``Failed``) or a bare ``assert``.
_FAILURE_TYPES = ("Failed", "AssertionError")


# ---------------------------------------------------------------------------- entry point


def facts(exc_type: str, message: str, root: str = "") -> list[dict[str, Any]]:
    """Chain items for a public-harness failure text; ``[]`` when the text is not one.

    ``exc_type`` is the exception's class name (``Failed``, ``AssertionError``, ``ValueError``,
    ...), ``message`` its ``str()``, ``root`` the workspace root (frame paths are made relative
    to it).
    """
    text = message or ""
    stripped = text.lstrip()
    if exc_type in _FAILURE_TYPES and stripped.startswith("[") and _TABLE_PREFIX.match(stripped):
        return [_block_fact(block, exc_type, root) for block in _blocks(stripped)]
    setup = setup_fact(exc_type, stripped, root)
    if setup is not None:
        return [setup]
    untabled = untabled_fact(exc_type, stripped)
    return [untabled] if untabled is not None else []


def _blocks(text: str) -> list[str]:
    return [b.strip("\n") for b in _BLOCK_SPLIT.split(text) if b.strip()]


# ---------------------------------------------------------------------------- one [table] block


def _block_fact(block: str, exc_type: str, root: str) -> dict[str, Any]:
    match = _TABLE_PREFIX.match(block)
    assert match is not None
    table, rest = match.group("table"), match.group("rest")
    # A partitioned read's record check nests a second prefix: "[t] Partition 0, record 2: [t] ..."
    nested = re.match(r"Partition (\d+), record (\d+): \[[^\]\n]+\] (.*)$", rest, re.S)
    partition = None
    if nested:
        partition, rest = int(nested.group(1)), nested.group(3)
    head = rest.split("\n", 1)[0]

    raised = re.match(
        r"(?P<call>[\w_]+(?:\((?:[^()]|\([^()]*\))*\))?(?: with start_offset| with offsets| \(partition \d+\))?)"
        r" raised(?: during [\w -]+?| on iteration \d+)?: (?P<error>.*)$",
        rest,
        re.S,
    )
    if raised and not head.startswith(("Iterator raised", "Termination test error")):
        return raised_fact(table, raised.group("call"), raised.group("error"), exc_type, block, root)
    for prefix, iterating in (("Iterator raised: ", True), ("Termination test error: ", False)):
        if head.startswith(prefix):
            error = re.split(r"\n  Fix: ", rest[len(prefix) :], maxsplit=1)[0]
            return raised_fact(table, "read_table", error, exc_type, block, root, iterating=iterating)

    fact = _record_check(table, rest, head, exc_type, block, partition)
    if fact is not None:
        return fact
    check = _contract_check(head)
    details: dict[str, Any] = {}
    if check == "metadata.not_in_schema":
        details = _not_in_schema(head)
    if check == "stream.convergence":
        details = {
            "offsets": [parse_offset(m) for m in re.findall(r"Last (?:start|end)_offset:\s*(.+)", rest)]
        }
    return harness_item(exc_type, block, check or "unclassified", table, details)


def _record_check(
    table: str, rest: str, head: str, exc_type: str, block: str, partition: int | None
) -> dict[str, Any] | None:
    call = "read_partition" if partition is not None else "read_table"
    if " returned no records on the first call" in head:
        call_match = re.match(r"([\w_]+)\(\)", head)
        call = call_match.group(1) if call_match else "read_table"
        ingestion = re.search(r"ingestion_type='([^']*)'", head)
        check = "deletes.empty_first_read" if call == "read_table_deletes" else "read.empty_first_read"
        return harness_item(
            exc_type,
            block,
            check,
            table,
            {"ingestion_type": ingestion.group(1) if ingestion else None, "call": call},
        )
    converge = re.match(
        r"(?P<call>[\w_]+) did not converge in (?P<n>\d+) iterations \(last offset: (?P<offset>.*)\)\.?$",
        head,
    )
    if converge:
        return harness_item(
            exc_type,
            block,
            "read.terminates",
            table,
            {
                "offsets": [parse_offset(converge.group("offset"))],
                "records": None,
                "iterations": int(converge.group("n")),
            },
        )
    parse = re.match(
        r"(?:Record (?P<index>\d+)|Partition (?P<pidx>\d+), record (?P<j>\d+)) failed\s+schema parsing: (?P<error>.*)$",
        rest,
        re.S,
    )
    if parse:
        index = int(parse.group("index") or parse.group("j"))
        error = parse.group("error").split("\n  Fix:", 1)[0].strip()
        details = {"record_index": index, "field": None, "record": None, **parse_conversion(error)}
        if parse.group("pidx") is not None:
            details["partition"] = int(parse.group("pidx"))
        return harness_item(exc_type, block, "read.schema_parse", table, details)
    fields = re.match(r"Non-nullable field\(s\) are None: (?P<fields>\[.*?\])", head)
    if fields:
        return harness_item(
            exc_type,
            block,
            "read.non_nullable",
            table,
            {"fields": literal_list(fields.group("fields")), "record": None},
        )
    if head.startswith("All columns are null in a record"):
        return harness_item(exc_type, block, "read.all_null", table, {"record": None})
    null_pk = re.match(r"Record has null primary key\(s\) (?P<fields>\[.*?\])", head)
    if null_pk:
        return harness_item(
            exc_type,
            block,
            "read.null_primary_key",
            table,
            {"fields": literal_list(null_pk.group("fields")), "record": None},
        )
    deleted_pk = re.match(r"Deleted record missing primary key\(s\): (?P<fields>\[.*?\])", head)
    if deleted_pk:
        return harness_item(
            exc_type,
            block,
            "deletes.primary_key",
            table,
            {"fields": literal_list(deleted_pk.group("fields"))},
        )
    columns = re.match(
        r"Columns null in every sampled record \(checked (?P<n>\d+) record\(s\)\): (?P<cols>\[.*?\])", head
    )
    if columns:
        return harness_item(
            exc_type,
            block,
            "read.null_columns",
            table,
            {"columns": literal_list(columns.group("cols")), "checked": int(columns.group("n"))},
        )
    return None


#: (pattern on the block's first line, check code): the connector-contract checks.
_CONTRACT = (
    (r"returned \w+, expected 2-tuple", "read.shape"),
    (r"^First element is not iterable", "read.shape"),
    (r"^Offset must be dict or None", "read.offset"),
    (r"^Offset not JSON-serializable", "read.offset"),
    (r"^Offset is None but ingestion_type", "read.offset"),
    (r"^Record is \w+, expected dict", "read.record_type"),
    (r"^Record from partition \d+ is", "read.record_type"),
    (r"^Expected StructType", "schema.type"),
    (r"^Schema has no fields", "schema.empty"),
    (r"^Duplicate field names", "schema.duplicates"),
    (r"^Schema is non-deterministic", "schema.deterministic"),
    (r"^Expected dict, got", "metadata.type"),
    (r"^Metadata is non-deterministic", "metadata.deterministic"),
    (r"^Missing 'ingestion_type'|^Invalid ingestion_type", "metadata.ingestion_type"),
    (r"^Missing 'primary_keys'|^primary_keys must be", "metadata.primary_keys"),
    (r"^Missing 'cursor_field'|^cursor_field must be str", "metadata.cursor_field"),
    (r"^(?:primary_keys \[.*\]|cursor_field '.*') not in schema", "metadata.not_in_schema"),
    (r"read_table_deletes\(\) not implemented", "metadata.deletes"),
    (r"^get_partitions returned empty", "partition.empty"),
    (r"^get_partitions returned", "partition.type"),
    (r"^Partition \d+ is \w+, expected dict", "partition.type"),
    (r"^get_partitions is non-deterministic", "partition.stable"),
    (r"^Partition \d+ not JSON-serializable", "partition.serializable"),
    (r"^All partitions produced zero records", "partition.no_records"),
    (r"^read_partition \(partition \d+\) returned", "partition.type"),
    (r"^is_partitioned returned", "stream.is_partitioned"),
    (r"^latest_offset returned empty dict", "stream.latest_offset"),
    (r"^latest_offset(?:\(start_offset=\.\.\.\))? returned", "stream.latest_offset"),
    (r"^Offset did not converge after \d+", "stream.convergence"),
    (r"^Expected 0 partitions when start==end", "stream.equal_offsets"),
    (r"^Stream round-trip", "stream.round_trip"),
    (r"^Write returned success=False|^generate_rows_and_write", "write_back.write"),
    (r"^Written row not found|^Expected >= 1 record", "write_back.incremental"),
    (r"^Deleted row not found|^Delete returned success=False", "write_back.delete_not_found"),
    (r"not in list_tables|insertable|deletable", "write_back.tables"),
)


def _contract_check(head: str) -> str | None:
    for pattern, check in _CONTRACT:
        if re.search(pattern, head):
            return check
    return None


def _not_in_schema(head: str) -> dict[str, Any]:
    pks = re.match(r"primary_keys (\[.*?\]) not in schema (\[.*?\])", head)
    cursor = re.match(r"cursor_field '(.*?)' not in schema (\[.*?\])", head)
    if pks:
        return {"missing": literal_list(pks.group(1)), "schema_fields": literal_list(pks.group(2))}
    if cursor:
        return {"missing": [cursor.group(1)], "schema_fields": literal_list(cursor.group(2))}
    return {}
