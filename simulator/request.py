"""An incoming request, parsed once: URL parts, every query value, the body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from connector_watch.simulator.values import dotted_get

if TYPE_CHECKING:
    from connector_watch.simulator.spec import Param


@dataclass
class SimRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: Any = None

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        parts = urlsplit(self.url)
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.path = parts.path or "/"
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.query: dict[str, list[str]] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            self.query.setdefault(key, []).append(value)
        self.json_body: Any = None
        self.form_body: dict[str, list[str]] = {}
        if self.body:
            content_type = {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")
            text = self.body.decode("utf-8", errors="replace")
            if "json" in content_type or text.lstrip().startswith(("{", "[")):
                try:
                    self.json_body = json.loads(text)
                except ValueError:
                    self.json_body = None
            if self.json_body is None and ("form" in content_type or "=" in text):
                for key, value in parse_qsl(text, keep_blank_values=True):
                    self.form_body.setdefault(key, []).append(value)

    @classmethod
    def from_prepared(cls, prepared: Any, timeout: Any = None) -> SimRequest:
        body = prepared.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, (bytes, bytearray)):
            body = None  # a streamed body (file, generator): not inspectable
        return cls(prepared.method or "GET", prepared.url or "", dict(prepared.headers or {}), body, timeout)

    def values(self, param: Param, path_values: dict[str, str] | None = None) -> list[Any]:
        """Every value the request carries for ``param`` (empty when absent)."""
        if param.location == "path":
            value = (path_values or {}).get(param.name)
            return [] if value is None else [value]
        if param.location == "body":
            if self.json_body is not None:
                value = dotted_get(self.json_body, param.body_key)
                if value is None:
                    return []
                return list(value) if isinstance(value, list) and param.op == "in" else [value]
            return list(self.form_body.get(param.body_key, []))
        return list(self.query.get(param.name, []))

    def body_keys(self) -> list[str]:
        if isinstance(self.json_body, dict):
            return list(self.json_body)
        return list(self.form_body)
