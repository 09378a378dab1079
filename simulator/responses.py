"""Building ``requests.Response`` objects without a network."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict


def encode_body(body: Any) -> tuple[bytes, str]:
    """JSON values as JSON; text as text (the public simulator served it empty)."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body), "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    if body is None:
        return b"", "application/json"
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"


def make_response(
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    url: str = "",
    request: Any = None,
    encoding: str | None = "utf-8",
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    try:
        response.reason = HTTPStatus(status).phrase
    except ValueError:
        response.reason = ""
    response.headers = CaseInsensitiveDict(headers or {})
    response._content = body
    response._content_consumed = True
    response.raw = io.BytesIO(body)
    response.url = url
    response.encoding = encoding
    response.request = request
    response.elapsed = timedelta(0)
    return response


def json_response(
    request: Any, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> requests.Response:
    """A JSON response to a prepared request: the helper custom handlers should use."""
    data, content_type = encode_body(body)
    merged = {"Content-Type": content_type, **(headers or {})}
    return make_response(status, data, merged, url=getattr(request, "url", "") or "", request=request)
