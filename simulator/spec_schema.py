"""The JSON Schema of ``endpoints.yaml`` (``endpoints.schema.json``, beside this module): the parsed
schema and its validator, the roles, filter ops, pagination styles and computed names read from
it, and ``SpecIssues``, which collects a spec's located issues and says the schema's errors in the
loader's words (unknown keys and values with a "did you mean", missing keys, wrong types).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from connector_watch.simulator.errors import Issue, did_you_mean
from connector_watch.simulator.locations import (
    LocatedDocument,
    PathKey,
)

SCHEMA_PATH = Path(__file__).with_name("endpoints.schema.json")

#: Roles that may appear more than once in one endpoint.
REPEATABLE_ROLES = frozenset({"filter", "ignore"})


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``endpoints.yaml`` (parsed once)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def _enum(*path: str) -> tuple[str, ...]:
    node: Any = schema()["$defs"]
    for part in path:
        node = node[part]
    return tuple(node["enum"])


def roles() -> tuple[str, ...]:
    return _enum("param", "properties", "role")


def filter_ops() -> tuple[str, ...]:
    return _enum("param", "properties", "op")


def pagination_styles() -> tuple[str, ...]:
    return _enum("response", "properties", "pagination_style")


def computed_names() -> tuple[str, ...]:
    return tuple(schema()["$defs"]["computed_names"]["enum"])


class SpecIssues:
    """The located issues of one spec document, and its schema pass."""

    def __init__(self, doc: LocatedDocument) -> None:
        self.doc = doc
        self.issues: list[Issue] = []

    # -- reporting
    def issue(
        self,
        where: PathKey,
        message: str,
        *,
        severity: str = "error",
        code: str = "spec",
        blocking: bool | None = None,
        prefer: str = "key",
    ) -> None:
        span = self.doc.span(where, prefer=prefer)
        self.issues.append(
            Issue(
                file=self.doc.file,
                span=span,
                message=message,
                severity=severity,
                code=code,
                blocking=(severity == "error") if blocking is None else blocking,
            )
        )

    def label(self, where: PathKey) -> str:
        if len(where) >= 2 and where[0] == "endpoints" and isinstance(where[1], int):
            data = self.doc.data["endpoints"][where[1]]
            if isinstance(data, dict):
                method = str(data.get("method", "?")).upper()
                return f"endpoint #{where[1]} ({method} {data.get('path', '?')}): "
            return f"endpoint #{where[1]}: "
        return ""

    # -- schema pass
    def schema_issues(self) -> None:
        errors = sorted(validator().iter_errors(self.doc.data), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            if error.validator == "required" and self._misspelled_required(error):
                continue  # the unknown-key issue says "did you mean" for it: one problem, one issue
            self._schema_issue(error)

    @staticmethod
    def _misspelled_required(error: jsonschema.ValidationError) -> bool:
        match = re.search(r"'([^']+)' is a required property", error.message)
        if not match or not isinstance(error.instance, dict):
            return False
        allowed = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        extras = [str(k) for k in error.instance if k not in allowed]
        return bool(difflib.get_close_matches(match.group(1), extras, n=1, cutoff=0.6))

    def _schema_issue(self, error: jsonschema.ValidationError) -> None:
        where: PathKey = tuple(error.absolute_path)
        label = self.label(where)
        subject = _subject(where)
        validator = error.validator
        if validator == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            extras = [k for k in error.instance if k not in allowed]
            for extra in extras:
                self.issue(
                    (*where, extra),
                    f"{label}{subject}unknown key {extra!r}{did_you_mean(extra, allowed)}"
                    f" (allowed: {', '.join(allowed)})",
                    code="unknown-key",
                )
            return
        if validator == "enum":
            options = [str(v) for v in error.validator_value]
            if where and where[-1] == "method":
                options = [o for o in options if o.isupper()]
            kind = {"role": "role", "op": "filter op", "pagination_style": "pagination_style"}.get(
                str(where[-1]) if where else "", str(where[-1]) if where else "value"
            )
            self.issue(
                where,
                f"{label}{subject}unknown {kind} {error.instance!r}{did_you_mean(error.instance, options)};"
                f" expected one of [{', '.join(options)}]",
                code=f"unknown-{kind.replace(' ', '-').replace('_', '-')}",
                prefer="value",
            )
            return
        if validator == "required":
            missing = re.search(r"'([^']+)' is a required property", error.message)
            name = missing.group(1) if missing else error.message
            if where == ():
                message = "top-level must be a mapping with an 'endpoints' key"
            elif name in ("field", "op"):
                message = f"{label}{subject}filter requires {name!r}"
            elif name == "wrapper":
                style = error.instance.get("pagination_style") if isinstance(error.instance, dict) else None
                message = (
                    f"{label}pagination_style {style!r} puts the next page's token or URL in the body,"
                    " so the body must be an object: add response.wrapper with a records_key"
                )
            elif name in ("records_key", "cursor_field"):
                parent = "response.wrapper" if name == "records_key" else "synthesize_future_records"
                message = f"{label}{parent} requires a {name!r} field"
            else:
                message = f"{label}{subject}missing required key {name!r}"
            self.issue(where, message, code="missing-key")
            return
        if validator == "type":
            expected = error.validator_value
            expected = (
                " or ".join(map(_article, expected)) if isinstance(expected, list) else _article(expected)
            )
            got = _json_type(error.instance)
            if where == ():
                message = "top-level must be a mapping with an 'endpoints' key"
            else:
                message = f"{label}{subject}expected {expected}, got {got}"
            self.issue(where, message, code="wrong-type", prefer="value")
            return
        if validator == "pattern" and where and where[-1] == "default_sort":
            order = str(error.instance).split()[-1] if len(str(error.instance).split()) > 1 else ""
            self.issue(
                where,
                f"{label}default_sort must be 'field [asc|desc]'"
                + (f"; order must be asc/desc, got {order!r}" if order else f", got {error.instance!r}"),
                code="bad-default-sort",
                prefer="value",
            )
            return
        if validator == "pattern" and where and where[-1] == "handler":
            self.issue(
                where,
                f"{label}handler must be 'module.path:function', got {error.instance!r}",
                code="bad-handler",
                prefer="value",
            )
            return
        if validator == "pattern" and where and where[-1] == "path":
            self.issue(where, f"{label}path must start with '/', got {error.instance!r}", prefer="value")
            return
        self.issue(where, f"{label}{subject}{error.message}", prefer="value")


def _subject(where: PathKey) -> str:
    if "params" in where:
        i = where.index("params")
        if len(where) > i + 1:
            return f"param {where[i + 1]!r}: "
    return ""


def _json_type(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _article(kind: str) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "boolean": "a boolean",
        "integer": "an integer",
        "number": "a number",
    }
    return words.get(kind, kind)
