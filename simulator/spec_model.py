"""The model of a loaded ``endpoints.yaml``: ``Spec`` (its endpoints, in file order, and how a
request's method and path find one), ``Endpoint``, ``Param``, ``ResponseSpec``, ``Wrapper``,
``ErrorResponse`` and ``FutureRecords``. Built by the loader (``spec_reader``) and imported by
callers from ``connector_watch.simulator.spec``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from connector_watch.simulator.errors import Issue
from connector_watch.simulator.locations import (
    LocatedDocument,
)


@dataclass(frozen=True)
class Param:
    name: str
    role: str
    location: str = "query"  # "query" | "path" | "body"
    key: str | None = None  # dotted path in the body (in: body)
    field: str | None = None
    op: str | None = None
    type: str | None = None
    options: tuple[str, ...] | Mapping[str, str] | None = None
    default: int | str | None = None
    max: int | None = None

    @property
    def body_key(self) -> str:
        return self.key or self.name


@dataclass(frozen=True)
class Wrapper:
    records_key: str
    extras: Mapping[str, Any] = field(default_factory=dict)
    ignore_extra_keys: bool = False


@dataclass(frozen=True)
class ResponseSpec:
    pagination_style: str = "none"
    next_key: str | None = None
    on_last_page: str | None = None  # "omit" | "null"; None = the style's default
    default_sort: tuple[str, str] | None = None  # (field, "asc"|"desc")
    single_entity: bool = False
    wrapper: Wrapper | None = None
    expected_status_codes: tuple[int, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    on_calls: tuple[int, ...] = ()
    when: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FutureRecords:
    cursor_field: str
    count: int = 3


PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")


@dataclass
class Endpoint:
    """One entry of ``endpoints:``."""

    index: int
    path: str
    method: str
    corpus: str | None
    params: dict[str, Param]
    response: ResponseSpec
    spec_file: str
    line: int
    handler: str | None = None
    strict_params: bool = False
    synthesize_future_records: FutureRecords | None = None
    errors: tuple[ErrorResponse, ...] = ()
    description: str | None = None
    fingerprint: str = ""
    pattern: re.Pattern[str] = field(init=False, repr=False)
    placeholders: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.placeholders = tuple(PLACEHOLDER.findall(self.path))
        regex, last = [], 0
        for i, match in enumerate(PLACEHOLDER.finditer(self.path)):
            regex.append(re.escape(self.path[last : match.start()]))
            regex.append(f"(?P<p{i}>[^/]+)")
            last = match.end()
        regex.append(re.escape(self.path[last:]))
        self.pattern = re.compile("^" + "".join(regex).rstrip("/") + "/?$")

    @property
    def key(self) -> str:
        """``"GET /repos/{owner}/{repo}/commits"``: how reports name the endpoint."""
        return f"{self.method} {self.path}"

    @property
    def location(self) -> str:
        return f"{self.spec_file}:{self.line}"

    def match_path(self, url_path: str) -> dict[str, str] | None:
        """The placeholder values when ``url_path`` matches, else None."""
        m = self.pattern.match(url_path.rstrip("/") or "/")
        if m is None:
            return None
        return {name: unquote(m.group(f"p{i}")) for i, name in enumerate(self.placeholders)}

    def with_role(self, role: str) -> Param | None:
        for param in self.params.values():
            if param.role == role:
                return param
        return None

    def filters(self) -> list[Param]:
        return [p for p in self.params.values() if p.role == "filter"]


@dataclass
class Spec:
    """A loaded ``endpoints.yaml``."""

    path: Path
    file: str  # the path as reports print it
    endpoints: list[Endpoint]
    corpus_dir: Path
    issues: list[Issue]  # non-blocking findings
    document: LocatedDocument

    def match(self, method: str, url_path: str) -> tuple[Endpoint, dict[str, str]] | None:
        method = method.upper()
        for endpoint in self.endpoints:
            if endpoint.method != method:
                continue
            values = endpoint.match_path(url_path)
            if values is not None:
                return endpoint, values
        return None

    def nearest(self, method: str, url_path: str, limit: int = 3) -> list[str]:
        """Spec entries that look most like a request no entry matched."""
        request_parts = [p for p in url_path.split("/") if p]

        def score(endpoint: Endpoint) -> float:
            parts = [p for p in endpoint.path.split("/") if p]
            same = sum(
                1.0
                if a == b
                else 0.7
                if b.startswith("{")
                else difflib.SequenceMatcher(None, a, b).ratio() * 0.5
                for a, b in zip(request_parts, parts, strict=False)
            )
            size = max(len(parts), len(request_parts)) or 1
            return same / size + (0.05 if endpoint.method == method.upper() else 0.0)

        ranked = sorted(self.endpoints, key=score, reverse=True)[:limit]
        return [f"{e.key} ({e.location})" for e in ranked]
