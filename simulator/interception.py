"""Patching ``requests`` and ``urllib`` so connector code runs unchanged.

While at least one simulator is active, ``requests.Session.send`` and
``urllib.request.urlopen`` hand every request to the innermost active
simulator. The originals are restored when the last one exits.
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any, Protocol

import requests
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.responses import make_response
from requests.hooks import dispatch_hook

_ORIGINAL_SEND = requests.sessions.Session.send
_ORIGINAL_URLOPEN = urllib.request.urlopen
_lock = threading.RLock()
_stack: list[Dispatcher] = []


class Dispatcher(Protocol):
    def dispatch(
        self, request: SimRequest, prepared: Any, send_original: Callable[[], requests.Response]
    ) -> requests.Response: ...


def push(dispatcher: Dispatcher) -> None:
    with _lock:
        if not _stack:
            requests.sessions.Session.send = _patched_send  # type: ignore[method-assign]
            urllib.request.urlopen = _patched_urlopen  # type: ignore[assignment]
        _stack.append(dispatcher)


def pop(dispatcher: Dispatcher) -> None:
    with _lock:
        if dispatcher in _stack:
            _stack.remove(dispatcher)
        if not _stack:
            requests.sessions.Session.send = _ORIGINAL_SEND  # type: ignore[method-assign]
            urllib.request.urlopen = _ORIGINAL_URLOPEN  # type: ignore[assignment]


def active() -> bool:
    return bool(_stack)


def original_send(
    session: requests.Session, prepared: requests.PreparedRequest, **kwargs: Any
) -> requests.Response:
    return _ORIGINAL_SEND(session, prepared, **kwargs)


def _patched_send(
    self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
) -> requests.Response:
    dispatcher = _stack[-1] if _stack else None
    if dispatcher is None:  # pragma: no cover - a race with pop()
        return _ORIGINAL_SEND(self, request, **kwargs)
    sim_request = SimRequest.from_prepared(request, timeout=kwargs.get("timeout"))
    # ``override`` lets live mode cap the timeout of a call (``timeout=``).
    response = dispatcher.dispatch(
        sim_request, request, lambda **override: _ORIGINAL_SEND(self, request, **{**kwargs, **override})
    )
    return dispatch_hook("response", request.hooks, response, **kwargs)


class UrllibResponse:
    """What ``urlopen`` returns: ``status``, ``read()``, ``headers``, a context manager."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        self.status = self.code = response.status_code
        self.reason = self.msg = response.reason
        self.url = response.url
        self.headers = Message()
        for key, value in response.headers.items():
            self.headers[key] = value
        self._body = response.content
        self._pos = 0

    def read(self, amt: int | None = None) -> bytes:
        end = len(self._body) if amt is None or amt < 0 else self._pos + amt
        chunk = self._body[self._pos : end]
        self._pos += len(chunk)
        return chunk

    def getcode(self) -> int:
        return self.status

    def geturl(self) -> str:
        return self.url

    def info(self) -> Message:
        return self.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def close(self) -> None:
        pass

    def __enter__(self) -> UrllibResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _from_urllib(result: Any) -> requests.Response:
    body = result.read()
    headers = dict(result.headers.items()) if getattr(result, "headers", None) is not None else {}
    return make_response(
        getattr(result, "status", None) or result.getcode(), body, headers, url=result.geturl()
    )


def _patched_urlopen(
    url: Any, data: Any = None, timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT, **kwargs: Any
) -> Any:
    dispatcher = _stack[-1] if _stack else None
    if dispatcher is None:  # pragma: no cover
        return _ORIGINAL_URLOPEN(url, data, timeout, **kwargs)
    req = url if isinstance(url, urllib.request.Request) else urllib.request.Request(url, data=data)
    body = data if data is not None else req.data
    if isinstance(body, str):
        body = body.encode("utf-8")
    sim_request = SimRequest(
        req.get_method(),
        req.full_url,
        dict(req.header_items()),
        body if isinstance(body, bytes) else None,
        timeout=None if timeout is socket._GLOBAL_DEFAULT_TIMEOUT else timeout,
    )

    def send_original(**override: Any) -> requests.Response:
        try:
            return _from_urllib(_ORIGINAL_URLOPEN(url, data, override.get("timeout", timeout), **kwargs))
        except urllib.error.HTTPError as exc:
            return _from_urllib(exc)

    response = dispatcher.dispatch(sim_request, None, send_original)
    wrapped = UrllibResponse(response)
    if response.status_code >= 400:
        raise urllib.error.HTTPError(
            req.full_url, response.status_code, response.reason, wrapped.headers, wrapped
        )  # type: ignore[arg-type]
    return wrapped
