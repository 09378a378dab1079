"""What a cassette holds: recorded requests and responses, one interaction each.

Plain data, shared by the cassette (its file format and replay), sampling, the validator and the
tools; kept apart so none of them needs the cassette's replay machinery.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RecordedRequest:
    method: str
    url: str  # scheme://host/path, no query
    query: dict[str, Any] = field(default_factory=dict)
    body_sha256: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "query": self.query, "body_sha256": self.body_sha256}


@dataclass
class RecordedResponse:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    body_text: str | None = None
    body_b64: str | None = None
    encoding: str | None = "utf-8"
    url: str | None = None

    @property
    def body(self) -> bytes:
        if self.body_text is not None:
            return self.body_text.encode(self.encoding or "utf-8")
        if self.body_b64 is not None:
            return base64.b64decode(self.body_b64)
        return b""

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode(self.encoding or "utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "headers": self.headers,
            "body_text": self.body_text,
            "body_b64": self.body_b64,
            "encoding": self.encoding,
            "url": self.url,
        }


@dataclass
class Interaction:
    request: RecordedRequest
    response: RecordedResponse

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.request.to_dict(), "response": self.response.to_dict()}
