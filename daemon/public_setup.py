"""Public-harness failures without a ``[table]`` prefix: setup errors and untabled checks.

Pure. ``setup_class`` errors (credentials, mode, cassette, corpus directory, a missing spec) get
the ``config`` check; YAML syntax errors and the public loader's ``endpoint #N`` errors become
``spec`` issues; an unknown endpoint its ``request``; ``list_tables`` and the partition-contract
texts their check codes."""

from __future__ import annotations

import re
from typing import Any

from connector_watch.daemon.public_text import (
    UNKNOWN_ENDPOINT,
    fix_line,
    harness_item,
    relative,
)

_YAML_MARK = re.compile(r'in "([^"]+\.ya?ml)", line (\d+), column (\d+)')
_SPEC_LOAD = re.compile(r"^(?P<file>\S+\.ya?ml): endpoint #(?P<index>\d+): (?P<message>.+)$", re.S)

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


def _config_fact(exc_type: str, text: str, details: dict[str, Any], hint: str | None) -> dict[str, Any]:
    return {
        "type": exc_type,
        "message": text,
        "frames": [],
        "harness": {"check": "config", "table": None, "details": details, "hint": hint},
        "publicHarness": True,
    }


def setup_fact(exc_type: str, text: str, root: str) -> dict[str, Any] | None:
    """setup_class errors: configuration, the spec or the corpus directory."""
    first = text.split("\n", 1)[0]
    if any(signature in first for signature in _CONFIG_SIGNATURES):
        return _config_fact(exc_type, text, {}, fix_line(text))
    corpus = re.match(r"Corpus directory not found: (?P<dir>.+)$", first)
    if corpus:
        details = {"corpus_dir": relative(corpus.group("dir").strip(), root)}
        return _config_fact(exc_type, text, details, "create the corpus directory, or fix simulator_source")
    missing = re.match(r"\[Errno 2\] No such file or directory: '(?P<path>[^']+/endpoints\.ya?ml)'", first)
    if missing:
        details = {"missing_spec": relative(missing.group("path"), root)}
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
                    "file": relative(file, root),
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
                    "file": relative(spec.group("file"), root),
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
    if exc_type == "UnknownEndpoint" or UNKNOWN_ENDPOINT.match(first):
        endpoint = UNKNOWN_ENDPOINT.search(first)
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


def untabled_fact(exc_type: str, text: str) -> dict[str, Any] | None:
    first = text.split("\n", 1)[0]
    for pattern, check in _UNTABLED:
        if re.search(pattern, first):
            return harness_item(exc_type, text, check, None)
    return None
