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
"""

from __future__ import annotations

import ast
import json
import os
import re
from typing import Any

#: A block starts with "[table] " at the start of the text or after a blank line.
_BLOCK_SPLIT = re.compile(r"\n\s*\n(?=\[[^\]\n]{1,200}\] )")
_TABLE_PREFIX = re.compile(r"^\[(?P<table>[^\]\n]{1,200})\] (?P<rest>.*)$", re.S)
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)\s*$')
_EXC_LINE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Endpoint|Interaction|Failed|Exit|Warning|Timeout|Failure|Interrupt)\b)(?::\s?(?P<message>.*))?$"
)
_UNKNOWN_ENDPOINT = re.compile(r"No endpoint spec matches (?P<method>[A-Z]+) (?P<url>\S+)")
_UNKNOWN_PARAMS = re.compile(
    r"Unknown query parameter\(s\): (?P<unknown>\[[^\]]*\])\.(?: Allowed: (?P<allowed>\[[^\]]*\]))?"
)
_CONVERSION = re.compile(
    r"Error converting '(?P<value>.*)' \(<class '(?P<pytype>[\w.]+)'>\) to (?P<spark>[A-Za-z]+Type(?:\([^)]*\))?)(?:: (?P<reason>.*))?$",
    re.S,
)
_YAML_MARK = re.compile(r'in "([^"]+\.ya?ml)", line (\d+), column (\d+)')
_SPEC_LOAD = re.compile(r"^(?P<file>\S+\.ya?ml): endpoint #(?P<index>\d+): (?P<message>.+)$", re.S)

#: pyspark type reprs → the ``simpleString()`` our harness reports.
_SPARK_SIMPLE = {
    "StringType": "string",
    "LongType": "bigint",
    "IntegerType": "int",
    "ShortType": "smallint",
    "ByteType": "tinyint",
    "DoubleType": "double",
    "FloatType": "float",
    "BooleanType": "boolean",
    "DateType": "date",
    "TimestampType": "timestamp",
    "TimestampNTZType": "timestamp_ntz",
    "BinaryType": "binary",
    "VariantType": "variant",
}

#: How the public suite fails a check: ``pytest.fail`` (``Failed``) or a bare ``assert``.
_FAILURE_TYPES = ("Failed", "AssertionError")

_CONFIG_SIGNATURES = (
    "Set connector_class",
    "No credentials provided",
    "CONNECTOR_TEST_CONFIG_JSON is not valid JSON",
    "CONNECTOR_TEST_CONFIG_PATH points to a non-existent file",
    "Invalid CONNECTOR_TEST_MODE",
    "mode requires spec_path and corpus_dir",
    "mode requires cassette_path",
    "Cassette not found",
    "No test_utils_class configured",
)


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
    setup = _setup_fact(exc_type, stripped, root)
    if setup is not None:
        return [setup]
    untabled = _untabled_fact(exc_type, stripped)
    return [untabled] if untabled is not None else []


def _blocks(text: str) -> list[str]:
    return [b.strip("\n") for b in _BLOCK_SPLIT.split(text) if b.strip()]


def _fix_line(text: str) -> str | None:
    match = re.search(r"^\s*Fix: (.+(?:\n {4,}.+)*)", text, re.M)
    return re.sub(r"\s+", " ", match.group(1)).strip() if match else None


def _harness_item(
    exc_type: str, block: str, check: str, table: str | None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": exc_type,
        "message": block,
        "frames": [],
        "harness": {"check": check, "table": table, "details": details or {}, "hint": _fix_line(block)},
        "publicHarness": True,
    }


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
        return _raised_fact(table, raised.group("call"), raised.group("error"), exc_type, block, root)
    for prefix, iterating in (("Iterator raised: ", True), ("Termination test error: ", False)):
        if head.startswith(prefix):
            error = re.split(r"\n  Fix: ", rest[len(prefix) :], maxsplit=1)[0]
            return _raised_fact(table, "read_table", error, exc_type, block, root, iterating=iterating)

    fact = _record_check(table, rest, head, exc_type, block, partition)
    if fact is not None:
        return fact
    check = _contract_check(head)
    details: dict[str, Any] = {}
    if check == "metadata.not_in_schema":
        details = _not_in_schema(head)
    if check == "stream.convergence":
        details = {"offsets": [_offset(m) for m in re.findall(r"Last (?:start|end)_offset:\s*(.+)", rest)]}
    return _harness_item(exc_type, block, check or "unclassified", table, details)


def _record_check(
    table: str, rest: str, head: str, exc_type: str, block: str, partition: int | None
) -> dict[str, Any] | None:
    call = "read_partition" if partition is not None else "read_table"
    if " returned no records on the first call" in head:
        call_match = re.match(r"([\w_]+)\(\)", head)
        call = call_match.group(1) if call_match else "read_table"
        ingestion = re.search(r"ingestion_type='([^']*)'", head)
        check = "deletes.empty_first_read" if call == "read_table_deletes" else "read.empty_first_read"
        return _harness_item(
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
        return _harness_item(
            exc_type,
            block,
            "read.terminates",
            table,
            {
                "offsets": [_offset(converge.group("offset"))],
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
        details = {"record_index": index, "field": None, "record": None, **_conversion(error)}
        if parse.group("pidx") is not None:
            details["partition"] = int(parse.group("pidx"))
        return _harness_item(exc_type, block, "read.schema_parse", table, details)
    fields = re.match(r"Non-nullable field\(s\) are None: (?P<fields>\[.*?\])", head)
    if fields:
        return _harness_item(
            exc_type,
            block,
            "read.non_nullable",
            table,
            {"fields": _literal_list(fields.group("fields")), "record": None},
        )
    if head.startswith("All columns are null in a record"):
        return _harness_item(exc_type, block, "read.all_null", table, {"record": None})
    null_pk = re.match(r"Record has null primary key\(s\) (?P<fields>\[.*?\])", head)
    if null_pk:
        return _harness_item(
            exc_type,
            block,
            "read.null_primary_key",
            table,
            {"fields": _literal_list(null_pk.group("fields")), "record": None},
        )
    deleted_pk = re.match(r"Deleted record missing primary key\(s\): (?P<fields>\[.*?\])", head)
    if deleted_pk:
        return _harness_item(
            exc_type,
            block,
            "deletes.primary_key",
            table,
            {"fields": _literal_list(deleted_pk.group("fields"))},
        )
    columns = re.match(
        r"Columns null in every sampled record \(checked (?P<n>\d+) record\(s\)\): (?P<cols>\[.*?\])", head
    )
    if columns:
        return _harness_item(
            exc_type,
            block,
            "read.null_columns",
            table,
            {"columns": _literal_list(columns.group("cols")), "checked": int(columns.group("n"))},
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
        return {"missing": _literal_list(pks.group(1)), "schema_fields": _literal_list(pks.group(2))}
    if cursor:
        return {"missing": [cursor.group(1)], "schema_fields": _literal_list(cursor.group(2))}
    return {}


# ---------------------------------------------------------------------------- exceptions inside a [table] block

_CALL_CHECK = {
    "read_table": "read.raised",
    "read_table_deletes": "deletes.raised",
    "read_table_metadata": "metadata.raised",
    "get_table_schema": "schema.raised",
    "get_partitions": "partition.raised",
    "read_partition": "partition.raised",
    "latest_offset": "stream.raised",
    "generate_rows_and_write": "write_back.write",
}


def _raised_fact(
    table: str, call: str, error: str, exc_type: str, block: str, root: str, iterating: bool = False
) -> dict[str, Any]:
    method = re.match(r"[\w_]+", call).group(0)  # type: ignore[union-attr]
    message, traceback_text = _split_traceback(error)
    frames = parse_frames(traceback_text, root) if traceback_text else []
    inner_type, inner_message = _final_exception(traceback_text) if traceback_text else (None, None)
    if inner_message is None:
        inner_message = re.split(r"\n  Fix: ", message, maxsplit=1)[0].strip()
    endpoint = _UNKNOWN_ENDPOINT.search(error)
    if inner_type is None and endpoint:
        inner_type = "UnknownEndpoint"
    item: dict[str, Any] = {
        "type": inner_type.rsplit(".", 1)[-1] if inner_type else exc_type,
        "module": inner_type.rsplit(".", 1)[0] if inner_type and "." in inner_type else None,
        "message": f"[{table}] {inner_message}",
        "frames": frames,
        "table": table,
        "call": method,
        "publicHarness": True,
    }
    if endpoint:
        item["request"] = {"method": endpoint.group("method"), "url": endpoint.group("url"), "nearest": []}
    params = _UNKNOWN_PARAMS.search(error)
    if params:
        item["unknownParams"] = {
            "unknown": _literal_list(params.group("unknown")),
            "allowed": _literal_list(params.group("allowed") or "[]"),
        }
    conversion = _conversion(inner_message)
    if conversion.get("spark_type"):
        item["conversion"] = {
            "path": None,
            "value": conversion.get("value"),
            "sparkType": conversion["spark_type"],
            "table": table,
        }
    if not frames and not endpoint:
        # No traceback to locate it: the harness check names the connector method that raised.
        check = _CALL_CHECK.get(method, "read.raised")
        item["harness"] = {
            "check": check,
            "table": table,
            "details": {"call": method, "error": inner_message, "while_iterating": iterating},
            "hint": _fix_line(block),
        }
    return item


def _split_traceback(error: str) -> tuple[str, str | None]:
    marker = error.find("Traceback (most recent call last):")
    if marker < 0:
        return error, None
    return error[:marker].rstrip("\n"), error[marker:]


def parse_frames(text: str, root: str = "") -> list[dict[str, Any]]:
    """The frames of a ``traceback.format_exc()`` text (the last exception of a chained one)."""
    # A chained traceback repeats "Traceback (most recent call last):" per exception; the raise is
    # in the last one.
    parts = text.split("Traceback (most recent call last):")
    lines = parts[-1].splitlines()
    frames: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if not match:
            continue
        code = ""
        if i + 1 < len(lines) and not _FRAME.match(lines[i + 1]) and lines[i + 1].startswith("    "):
            code = lines[i + 1].strip()
        frames.append(
            {
                "file": _relative(match.group("file"), root),
                "line": int(match.group("line")),
                "function": match.group("function"),
                "code": code[:200],
            }
        )
    return frames


def _final_exception(text: str) -> tuple[str | None, str | None]:
    """The ``module.Type: message`` line that ends a traceback text."""
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.startswith((" ", "\t")) or line.startswith("Traceback"):
            continue
        match = _EXC_LINE.match(line)
        if match:
            rest = "\n".join([match.group("message") or "", *lines[index + 1 :]]).strip()
            return match.group("type"), rest
    return None, None


def _relative(path: str, root: str) -> str:
    if not root or not os.path.isabs(path):
        return path
    root = root.rstrip(os.sep)
    if path == root or path.startswith(root + os.sep):
        return os.path.relpath(path, root)
    return path


# ---------------------------------------------------------------------------- values


def _conversion(error: str) -> dict[str, Any]:
    """``parse_value``'s message as our ``read.schema_parse`` details (value, spark_type, ...)."""
    match = _CONVERSION.search(error)
    if match:
        spark = match.group("spark")
        return {
            "value": _python_value(match.group("value"), match.group("pytype")),
            "python_type": match.group("pytype").rsplit(".", 1)[-1],
            "spark_type": spark_simple(spark),
            "reason": (match.group("reason") or "").strip() or None,
        }
    struct = re.search(
        r"Expected a (dictionary|list) for (StructType|ArrayType|MapType), got <class '([\w.]+)'>", error
    )
    if struct:
        return {
            "value": None,
            "python_type": struct.group(3),
            "spark_type": {"StructType": "struct", "ArrayType": "array", "MapType": "map"}[struct.group(2)],
            "reason": struct.group(0),
        }
    if "cannot be an empty dict" in error:
        return {
            "value": {},
            "python_type": "dict",
            "spark_type": "struct",
            "reason": "empty dict for a struct",
        }
    missing = re.search(r"Field (\S+) is not nullable but not found in the input", error)
    if missing:
        return {
            "value": None,
            "python_type": None,
            "spark_type": None,
            "reason": missing.group(0),
            "missing_field": missing.group(1),
        }
    return {"value": None, "python_type": None, "spark_type": None, "reason": error.strip() or None}


def spark_simple(spark_repr: str) -> str:
    """``LongType()`` → ``bigint``, ``DecimalType(10,2)`` → ``decimal(10,2)`` (``simpleString()``)."""
    name = spark_repr.split("(", 1)[0]
    if name == "DecimalType":
        args = re.findall(r"\d+", spark_repr)
        return f"decimal({args[0]},{args[1]})" if len(args) >= 2 else "decimal(10,0)"
    return _SPARK_SIMPLE.get(name, name.removesuffix("Type").lower())


def _python_value(text: str, pytype: str) -> Any:
    """The raw value back from its ``'{value}'`` rendering, given its Python type."""
    kind = pytype.rsplit(".", 1)[-1]
    if kind == "str":
        return text
    if kind in ("int", "float", "bool", "dict", "list", "NoneType"):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def _literal_list(text: str) -> list[Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return [t.strip(" '\"") for t in text.strip("[]").split(",") if t.strip()]
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _offset(text: str) -> Any:
    text = text.strip().rstrip(".")
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    return text


# ---------------------------------------------------------------------------- tracebacks seen before

MEMO_LIMIT = 256


def borrow_frames(found: list[dict[str, Any]], memo: dict[tuple[Any, str], dict[str, Any]]) -> None:
    """Give a fact that kept only an exception's message (``Termination test error: e``) the frames
    of the same error on the same table seen earlier with its traceback (``read_table() raised: e``
    of ``test_read_table``, run before ``test_read_terminates`` in the same process). ``memo`` is
    the caller's, kept across a process's tests."""
    for fact in found:
        harness = fact.get("harness") or {}
        table = fact.get("table") or harness.get("table")
        if fact.get("frames") and fact.get("call"):
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            error = fact["message"].removeprefix(f"[{table}] ")
            memo[(table, error)] = {k: fact.get(k) for k in ("type", "module", "frames")}
        elif harness.get("check", "").endswith(".raised"):
            seen = memo.get((table, (harness.get("details") or {}).get("error") or ""))
            if seen:
                fact.update(seen)
                fact["borrowedFrames"] = True
                fact.pop("harness", None)


# ---------------------------------------------------------------------------- without a [table] prefix


def _config_fact(exc_type: str, text: str, details: dict[str, Any], hint: str | None) -> dict[str, Any]:
    return {
        "type": exc_type,
        "message": text,
        "frames": [],
        "harness": {"check": "config", "table": None, "details": details, "hint": hint},
        "publicHarness": True,
    }


def _setup_fact(exc_type: str, text: str, root: str) -> dict[str, Any] | None:
    """setup_class errors: configuration, the spec or the corpus directory."""
    first = text.split("\n", 1)[0]
    if any(signature in first for signature in _CONFIG_SIGNATURES):
        return _config_fact(exc_type, text, {}, _fix_line(text))
    corpus = re.match(r"Corpus directory not found: (?P<dir>.+)$", first)
    if corpus:
        details = {"corpus_dir": _relative(corpus.group("dir").strip(), root)}
        return _config_fact(exc_type, text, details, "create the corpus directory, or fix simulator_source")
    missing = re.match(r"\[Errno 2\] No such file or directory: '(?P<path>[^']+/endpoints\.ya?ml)'", first)
    if missing:
        details = {"missing_spec": _relative(missing.group("path"), root)}
        return _config_fact(
            exc_type, text, details, "set simulator_source to the name of a directory under the specs root"
        )
    marks = _YAML_MARK.findall(text)
    if marks and exc_type.endswith(("ParserError", "ScannerError", "ComposerError", "ConstructorError")):
        # "while parsing X <mark>": X began at the first mark (an unclosed bracket); else the problem's
        file, line, column = marks[0] if text.startswith("while ") else marks[-1]
        return {
            "type": "SpecError",
            "message": text,
            "frames": [],
            "issues": [
                {
                    "file": _relative(file, root),
                    "line": int(line),
                    "column": int(column),
                    "endLine": None,
                    "endColumn": None,
                    "message": "YAML syntax error: " + " ".join(text.split()),
                    "severity": "error",
                    "code": "yaml-syntax",
                }
            ],
            "publicHarness": True,
        }
    spec = _SPEC_LOAD.match(text)
    if spec:
        # The public loader names the endpoint by index, not line: blame finds the line.
        return {
            "type": "SpecError",
            "message": text,
            "frames": [],
            "issues": [
                {
                    "file": _relative(spec.group("file"), root),
                    "line": None,
                    "endpoint": int(spec.group("index")),
                    "column": None,
                    "endLine": None,
                    "endColumn": None,
                    "message": f"endpoint #{spec.group('index')}: {spec.group('message').strip()}",
                    "severity": "error",
                    "code": "invalid",
                }
            ],
            "publicHarness": True,
        }
    if exc_type == "UnknownEndpoint" or _UNKNOWN_ENDPOINT.match(first):
        endpoint = _UNKNOWN_ENDPOINT.search(first)
        if endpoint:
            return {
                "type": "UnknownEndpoint",
                "message": text,
                "frames": [],
                "request": {"method": endpoint.group("method"), "url": endpoint.group("url"), "nearest": []},
                "publicHarness": True,
            }
    return None


_UNTABLED = (
    (
        r"^list_tables\(\) returned an empty list|^Expected list, got|^Table at index \d+ is|^Duplicate table names",
        "list_tables",
    ),
    (r"did not raise for invalid table", "invalid_table"),
    (r"extends \w+ or \w+ but not LakeflowConnect", "partition.requires_lakeflow_connect"),
    (r"does not implement SupportsPartition", "partition.requires_lakeflow_connect"),
)


def _untabled_fact(exc_type: str, text: str) -> dict[str, Any] | None:
    first = text.split("\n", 1)[0]
    for pattern, check in _UNTABLED:
        if re.search(pattern, first):
            return _harness_item(exc_type, text, check, None)
    return None
