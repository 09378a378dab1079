"""The wire protocol's constants, in one place, read from ``protocol.schema.json``.

The JSON Schema is the definition; this module only exposes what the server
needs from it (the version, the method names) and helpers to validate messages
against it (used by the tests and, for incoming params, by the server).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).with_name("protocol.schema.json")

# JSON-RPC 2.0 error codes, and ours (-32000 to -32099 are for servers).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_INITIALIZED = -32002
UNKNOWN_NODE = -32010
PATH_OUTSIDE_WORKSPACE = -32011
MODE_UNAVAILABLE = -32012
MESSAGE_TOO_LARGE = -32013
UNSUPPORTED_VERSION = -32014
FILE_NOT_READABLE = -32015


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def protocol_version() -> str:
    return schema()["x-protocol-version"]


def methods() -> dict[str, dict[str, str]]:
    return schema()["x-methods"]


def requests() -> list[str]:
    return [name for name, info in methods().items() if info["kind"] == "request"]


@functools.cache
def validator(definition: str) -> jsonschema.protocols.Validator:
    """A validator for one ``$defs`` entry (``"RunParams"``, ``"Snapshot"``, ...)."""
    root = schema()
    document = {"$schema": root["$schema"], "$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}
    cls = jsonschema.validators.validator_for(document)
    return cls(document)


def params_errors(method: str, params: Any) -> list[str]:
    """Why ``params`` are not valid for ``method`` (empty when they are)."""
    info = methods().get(method)
    if info is None:
        return [f"unknown method {method!r}"]
    errors = sorted(validator(info["params"]).iter_errors(params), key=lambda e: list(map(str, e.path)))
    return [f"{'/'.join(map(str, e.path)) or 'params'}: {e.message}" for e in errors]


def message_errors(message: dict[str, Any]) -> list[str]:
    """Validate a whole message the server sent: envelope, then params or result by method."""
    method = message.get("method")
    errors: list[str] = []
    if method is not None:
        info = methods().get(method)
        if info is None:
            return [f"unknown method {method!r}"]
        errors += [e.message for e in validator("Notification").iter_errors(message)]
        errors += [
            f"params: {e.message} at {list(e.path)}"
            for e in validator(info["params"]).iter_errors(message.get("params", {}))
        ]
    return errors


def result_errors(method: str, result: Any) -> list[str]:
    info = methods()[method]
    definition = info.get("result")
    if definition is None:
        return []
    return [f"{e.message} at {list(e.path)}" for e in validator(definition).iter_errors(result)]
