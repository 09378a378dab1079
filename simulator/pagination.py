"""Pagination styles: how a request picks a page and how the response points at the next.

A style has two steps. :meth:`Style.window` reads the request (page number,
offset, opaque token, page size) and returns the :class:`Window` of the
filtered, sorted records to serve. :meth:`Style.render` then says whether
more pages exist and how the response tells the client: a ``Link`` header, a
token or URL in the body, or nothing (the client stops on a short page).

Styles are registered by name; ``endpoints.schema.json`` lists the names the
loader accepts.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.spec import Endpoint, Param

DEFAULT_PAGE_SIZE = 30


class BadPageRequest(ValueError):
    """The request's page position is invalid (e.g. a token we never issued)."""


@dataclass
class Window:
    offset: int
    limit: int | None  # None: everything from offset
    page: int | None = None
    token: str | None = None


@dataclass
class PageInfo:
    has_more: bool
    next: Any = None  # next token / URL / page / offset
    headers: dict[str, str] = field(default_factory=dict)
    body_next: Any = None  # value for response.next_key (cursor, next_url, odata)
    on_last_page: str = "omit"


def encode_token(offset: int) -> str:
    """An opaque page token (clients must pass it back verbatim)."""
    return base64.urlsafe_b64encode(f"cw:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith("cw:") or not text[3:].isdigit():
        raise BadPageRequest(
            f"invalid page token {token!r}: pass back the token the previous response returned"
        )
    return int(text[3:])


def _int_value(request: SimRequest, param: Param | None, path_values: dict[str, str]) -> int | None:
    if param is None:
        return None
    values = request.values(param, path_values)
    if not values:
        return None
    try:
        return int(str(values[-1]))
    except ValueError:
        return None


def role_param(endpoint: Endpoint, role: str) -> Param:
    """The endpoint's ``page``/``offset`` param, or one of that name (as upstream read them undeclared)."""
    return endpoint.with_role(role) or Param(name=role, role=role)


def page_size(request: SimRequest, endpoint: Endpoint, path_values: dict[str, str]) -> int:
    """The ``per_page``/``limit`` value clamped to ``[1, max]``; when absent, the default as declared.

    The default is not clamped (upstream served it as is; the loader warns when it exceeds ``max``).
    """
    param = endpoint.with_role("per_page") or endpoint.with_role("limit")
    if param is None:
        return DEFAULT_PAGE_SIZE
    default = int(param.default) if param.default is not None else DEFAULT_PAGE_SIZE
    maximum = param.max if param.max is not None else 100
    value = _int_value(request, param, path_values)
    if value is None:
        return max(1, default)
    return max(1, min(value, maximum))


def page_base(endpoint: Endpoint) -> int:
    param = endpoint.with_role("page")
    if param is not None and param.default is not None:
        try:
            return int(param.default)
        except ValueError:
            return 1
    return 1


def _with_query(url: str, updates: dict[str, str], safe: str = "") -> str:
    """``url`` with the keys of ``updates`` set in place (appended when absent); other keys kept.

    ``safe`` characters stay unescaped (OData writes ``$top``/``$skiptoken`` literally).
    """
    parts = urlsplit(url)
    pairs: list[tuple[str, str]] = []
    pending = dict(updates)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in updates:
            if key in pending:
                pairs.append((key, pending.pop(key)))
            continue
        pairs.append((key, value))
    pairs.extend(pending.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, safe=safe), parts.fragment))


class Style:
    name = ""
    on_last_page = "omit"

    def window(self, request: SimRequest, endpoint: Endpoint, path_values: dict[str, str]) -> Window:
        raise NotImplementedError

    def render(self, request: SimRequest, endpoint: Endpoint, window: Window, total: int) -> PageInfo:
        has_more = window.limit is not None and window.offset + window.limit < total
        return PageInfo(has_more=has_more, next=(window.offset + window.limit) if has_more else None)


class NoPagination(Style):
    name = "none"

    def window(self, request, endpoint, path_values):
        return Window(0, None)

    def render(self, request, endpoint, window, total):
        return PageInfo(has_more=False)


class PageNumber(Style):
    name = "page_number"

    def window(self, request, endpoint, path_values):
        size = page_size(request, endpoint, path_values)
        base = page_base(endpoint)
        page = _int_value(request, role_param(endpoint, "page"), path_values)
        page = base if page is None else max(base, page)
        return Window((page - base) * size, size, page=page)

    def render(self, request, endpoint, window, total):
        has_more = window.offset + (window.limit or 0) < total
        return PageInfo(has_more=has_more, next=(window.page or 0) + 1 if has_more else None)


class PageNumberWithLinkHeader(PageNumber):
    """GitHub style: ``Link: <…page=2>; rel="next", <…page=5>; rel="last"``."""

    name = "page_number_with_link_header"

    def render(self, request, endpoint, window, total):
        info = super().render(request, endpoint, window, total)
        size = window.limit or 1
        base = page_base(endpoint)
        current = window.page if window.page is not None else base
        last = base + max(1, math.ceil(total / size)) - 1
        param = endpoint.with_role("page")
        name = param.name if param is not None else "page"

        def link(page: int, rel: str) -> str:
            return f'<{_with_query(request.url, {name: str(page)})}>; rel="{rel}"'

        links = []
        if current < last:
            links += [link(current + 1, "next"), link(last, "last")]
        if current > base:
            links += [link(base, "first"), link(current - 1, "prev")]
        if links:
            info.headers["Link"] = ", ".join(links)
        return info


class OffsetLimit(Style):
    name = "offset_limit"

    def window(self, request, endpoint, path_values):
        offset = _int_value(request, role_param(endpoint, "offset"), path_values) or 0
        return Window(max(0, offset), page_size(request, endpoint, path_values))


class Cursor(Style):
    """An opaque token in the body; the client sends it back in the ``cursor`` param."""

    name = "cursor"
    default_next_key = "next_cursor"

    def window(self, request, endpoint, path_values):
        size = page_size(request, endpoint, path_values)
        param = endpoint.with_role("cursor")
        token = None
        if param is not None:
            values = request.values(param, path_values)
            token = str(values[-1]) if values and values[-1] not in (None, "") else None
        offset = decode_token(token) if token else 0
        return Window(offset, size, token=token)

    def render(self, request, endpoint, window, total):
        info = super().render(request, endpoint, window, total)
        info.on_last_page = endpoint.response.on_last_page or self.on_last_page
        if info.has_more:
            info.next = info.body_next = encode_token(window.offset + (window.limit or 0))
        return info


class NextUrl(Style):
    """The full URL of the next page in the body (Zendesk's ``after_url``, ``next_page``)."""

    name = "next_url"
    on_last_page = "null"
    url_safe = ""
    default_next_key = "next"

    def _position_param(self, endpoint: Endpoint) -> tuple[str, str]:
        for role in ("cursor", "page", "offset"):
            param = endpoint.with_role(role)
            if param is not None:
                return role, param.name
        return "cursor", "cursor"

    def window(self, request, endpoint, path_values):
        size = page_size(request, endpoint, path_values)
        role, name = self._position_param(endpoint)
        param = endpoint.with_role(role) or Param(name=name, role=role)
        values = request.values(param, path_values)
        raw = str(values[-1]) if values and values[-1] not in (None, "") else None
        if raw is None:
            return Window(0, size, page=page_base(endpoint) if role == "page" else None)
        if role == "cursor":
            return Window(decode_token(raw), size, token=raw)
        try:
            number = int(raw)
        except ValueError:
            raise BadPageRequest(f"{name}={raw!r} is not a number")
        if role == "page":
            base = page_base(endpoint)
            number = max(base, number)
            return Window((number - base) * size, size, page=number)
        return Window(max(0, number), size)

    def render(self, request, endpoint, window, total):
        info = super().render(request, endpoint, window, total)
        info.on_last_page = endpoint.response.on_last_page or self.on_last_page
        if info.has_more:
            role, name = self._position_param(endpoint)
            next_offset = window.offset + (window.limit or 0)
            if role == "cursor":
                value = encode_token(next_offset)
            elif role == "page":
                value = str((window.page or page_base(endpoint)) + 1)
            else:
                value = str(next_offset)
            info.next = info.body_next = _with_query(request.url, {name: value}, safe=self.url_safe)
        return info


class ODataNextLink(NextUrl):
    """OData: ``{"value": [...], "@odata.nextLink": url}`` with a ``$skiptoken``."""

    name = "odata_next_link"
    on_last_page = "omit"
    url_safe = "$"
    default_next_key = "@odata.nextLink"

    def _position_param(self, endpoint):
        param = endpoint.with_role("cursor")
        return ("cursor", param.name if param is not None else "$skiptoken")


_REGISTRY: dict[str, Style] = {}


def register_style(style: Style) -> None:
    """Add a pagination style (its name must also be in the spec schema to load)."""
    _REGISTRY[style.name] = style


for _style in (
    NoPagination(),
    PageNumber(),
    PageNumberWithLinkHeader(),
    OffsetLimit(),
    Cursor(),
    NextUrl(),
    ODataNextLink(),
):
    register_style(_style)


def get_style(name: str) -> Style:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown pagination_style {name!r}; registered styles: {sorted(_REGISTRY)}")


def next_key(endpoint: Endpoint) -> str | None:
    """Where the token or URL of the next page goes in the body, for body-pointer styles."""
    style = get_style(endpoint.response.pagination_style)
    default: str | None = getattr(style, "default_next_key", None)
    return endpoint.response.next_key or default


def position_params(endpoint: Endpoint) -> tuple[str, ...]:
    """Names of the params that only move through pages (they do not change the result set)."""
    names = [
        p.name
        for p in endpoint.params.values()
        if p.role in ("page", "per_page", "limit", "offset", "cursor")
    ]
    style = endpoint.response.pagination_style
    if style == "odata_next_link" and endpoint.with_role("cursor") is None:
        names.append("$skiptoken")
    if style == "next_url" and not any(endpoint.with_role(r) for r in ("cursor", "page", "offset")):
        names.append("cursor")
    return tuple(names)
