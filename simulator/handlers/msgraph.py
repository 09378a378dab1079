"""Microsoft Graph handlers: OData query options that a declarative endpoint cannot express.

``directory_audits`` serves ``GET /v1.0/auditLogs/directoryAudits`` the way Graph does:

* ``$filter``: clauses joined by ``and``; ``activityDateTime`` with ``eq ge le gt lt`` and an
  unquoted DateTimeOffset literal (compared as instants at 100 ns precision), or any other
  top-level string property with ``eq 'value'``. Anything else is Graph's 400 "Invalid filter
  clause".
* ``$orderby``: ``activityDateTime [asc|desc]``; without it, newest first (Graph's default).
* ``$top`` (1-999, default 100) and ``$skiptoken``: the response carries ``@odata.nextLink``
  (the request URL with a fresh ``$skiptoken``) while more entries remain.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict

DEFAULT_TOP = 100
MAX_TOP = 999
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INSTANT = re.compile(r"(\d{4}-\d\d-\d\d)(?:T(\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?)?(Z|[+-]\d\d:\d\d)?$")
_DATETIME_CLAUSE = re.compile(r"activityDateTime\s+(eq|ge|le|gt|lt)\s+(\S+)$", re.IGNORECASE)
_STRING_CLAUSE = re.compile(r"(\w+)\s+eq\s+'((?:[^']|'')*)'$")
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ge": lambda a, b: a >= b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
}


class _BadRequest(Exception):
    """A query option Graph would reject with 400."""


def directory_audits(request: requests.PreparedRequest, endpoint: Any, corpus: Any) -> requests.Response:
    parts = urlsplit(request.url or "")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        predicates = _parse_filter(query.get("$filter", ""))
        descending = _parse_orderby(query.get("$orderby"))
        top = _parse_top(query.get("$top"))
        start = _parse_skiptoken(query.get("$skiptoken"))
    except _BadRequest as exc:
        return _response(request, 400, {"error": {"code": "BadRequest", "message": str(exc)}})

    entries = [entry for entry in corpus.tables[endpoint.corpus] if all(test(entry) for test in predicates)]
    entries.sort(key=lambda entry: _ticks(entry["activityDateTime"]), reverse=descending)
    body: dict[str, Any] = {"@odata.context": CONTEXT, "value": entries[start : start + top]}
    if start + top < len(entries):
        next_query = {**query, "$skiptoken": _skiptoken(start + top)}
        body["@odata.nextLink"] = urlunsplit(parts._replace(query=urlencode(next_query)))
    return _response(request, 200, body)


# ---------------------------------------------------------------------- query options


def _parse_filter(expression: str) -> list:
    predicates = []
    for clause in filter(None, (part.strip() for part in re.split(r"\s+and\s+", expression.strip()))):
        if match := _DATETIME_CLAUSE.match(clause):
            op, literal = match.group(1).lower(), match.group(2)
            try:
                bound = _ticks(literal)
            except ValueError:
                raise _BadRequest(f"Invalid DateTimeOffset literal '{literal}'.")
            predicates.append(
                lambda entry, op=op, bound=bound: _COMPARE[op](_ticks(entry["activityDateTime"]), bound)
            )
        elif match := _STRING_CLAUSE.match(clause):
            field, value = match.group(1), match.group(2).replace("''", "'")
            predicates.append(lambda entry, field=field, value=value: entry.get(field) == value)
        else:
            raise _BadRequest("Invalid filter clause")
    return predicates


def _parse_orderby(value: str | None) -> bool:
    """True for descending."""
    if value is None:
        return True
    match = re.fullmatch(r"\s*activityDateTime(?:\s+(asc|desc))?\s*", value, re.IGNORECASE)
    if match is None:
        raise _BadRequest(f"OrderBy not supported for '{value}'.")
    return (match.group(1) or "asc").lower() == "desc"


def _parse_top(value: str | None) -> int:
    if value is None:
        return DEFAULT_TOP
    if not value.isdigit() or not 1 <= int(value) <= MAX_TOP:
        raise _BadRequest(
            f"Invalid page size specified: '{value}'. Must be between 1 and {MAX_TOP} inclusive."
        )
    return int(value)


def _skiptoken(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"position": position}).encode()).decode().rstrip("=")


def _parse_skiptoken(value: str | None) -> int:
    if value is None:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return int(decoded["position"])
    except (ValueError, TypeError, KeyError):
        raise _BadRequest("Invalid skip token.")


def _ticks(value: str) -> int:
    """An ISO-8601 timestamp as 100 ns ticks since the epoch (Graph keeps seven digits)."""
    match = _INSTANT.match(value or "")
    if match is None:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    date, clock, fraction, zone = match.groups()
    clock = clock or "00:00:00"
    if clock.count(":") == 1:
        clock += ":00"
    offset = "+00:00" if zone in (None, "Z") else zone
    moment = datetime.fromisoformat(f"{date}T{clock}{offset}")
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * 10_000_000 + int((fraction or "0")[:7].ljust(7, "0"))


# ---------------------------------------------------------------------- response


def _response(request: requests.PreparedRequest, status: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "OK" if status == 200 else "Bad Request"
    response.headers = CaseInsensitiveDict(
        {"Content-Type": "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"}
    )
    response._content = json.dumps(body).encode("utf-8")
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    return response
