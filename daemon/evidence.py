"""What a test touched, whoever answered it: HTTP requests at the transport level, and the
workspace files it opened. Runs inside every pytest process the daemon starts (the plugin
installs it once per process).

Requests are seen wherever a connector's call goes, before anything answers it:

- ``requests``: every lookup of ``send`` on a ``Session`` goes through a ``__getattribute__`` this
  module installs once, so the call is observed *whatever function the class holds at that moment*.
  A simulator that replaces ``Session.send`` later (the public one does, in ``setup_class``, before
  the connector's ``__init__`` asks for a token) is observed too: patch order does not matter.
- ``urllib.request.urlopen``: the module's class is swapped for one whose ``__setattr__`` wraps any
  function assigned to ``urlopen``, so a simulator installing its own ``urlopen`` is wrapped too.
- anything else reaching the network through ``http.client`` (the ``http.client.send`` audit
  event), when no call above is already in flight.

Calls answered by a test double (``responses``, a cassette, a simulator) are therefore recorded
like real ones. Files are seen through the ``open`` audit event, kept when they are in the
workspace and are not Python (imports are tracked apart). An open made by a simulator's own code
(loading a spec or a whole corpus directory at setup) is a *load*; any other is a *read*: a corpus
every test of a class loads is a dependency of the tests whose requests reach it, not of all.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connector_watch.simulator.layout import SIMULATOR_PACKAGE

#: Modules whose opens are a simulator loading its spec or corpus, not a test reading data.
_LOADER_PREFIXES = ("connector_watch.simulator",)
_SKIPPED_PARTS = ("/__pycache__/", "/.venv/", "/site-packages/", "/.connector-watch/", "/.pytest_cache/", "/.git/")
_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".so")
MAX_REQUESTS = 400


@dataclass(eq=False)  # sinks are told apart by identity (two may hold the same evidence)
class Sink:
    """Evidence gathered while a :func:`Evidence.capture` block is open."""

    requests: dict[tuple[str, str, str], None] = field(default_factory=dict)  # (method, host, path)
    #: The query parameter names sent with each (method, path): the spec cross-checks read them.
    params: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)
    loaded: set[str] = field(default_factory=set)

    def merge(self, other: Sink) -> None:
        for key in other.requests:
            if len(self.requests) < MAX_REQUESTS:
                self.requests.setdefault(key, None)
        for key, names in other.params.items():
            self.params.setdefault(key, set()).update(names)
        self.read |= other.read
        self.loaded |= other.loaded


class Evidence:
    """The process-wide recorder. :meth:`install` once; :meth:`capture` per scope (nestable)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.prefix = self.root.rstrip(os.sep) + os.sep
        self._sinks: list[Sink] = []
        self._local = threading.local()

    # ------------------------------------------------------------------ scopes
    @contextlib.contextmanager
    def capture(self) -> Iterator[Sink]:
        sink = Sink()
        self._sinks.append(sink)
        try:
            yield sink
        finally:
            self._sinks[:] = [s for s in self._sinks if s is not sink]

    @property
    def active(self) -> bool:
        return bool(self._sinks)

    # ------------------------------------------------------------------ recording
    def request(self, method: str | None, url: str | None) -> None:
        if not self._sinks or not url:
            return
        parts = urlsplit(url)
        key = ((method or "GET").upper(), parts.netloc, parts.path or "/")
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        for sink in list(self._sinks):
            if len(sink.requests) < MAX_REQUESTS:
                sink.requests.setdefault(key, None)
                if names:
                    sink.params.setdefault((key[0], key[2]), set()).update(names)

    def opened(self, path: Any, mode: Any, flags: Any) -> None:
        if not self._sinks or isinstance(path, int):
            return
        try:
            raw = os.fsdecode(path)
        except TypeError:
            return
        if isinstance(mode, str):
            if any(c in mode for c in "wax+"):
                return
        elif isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR):
            return
        absolute = raw if os.path.isabs(raw) else os.path.join(os.getcwd(), raw)
        absolute = os.path.normpath(absolute)
        if not absolute.startswith(self.prefix) or absolute.endswith(_CODE_SUFFIXES):
            return
        if any(part in absolute for part in _SKIPPED_PARTS):
            return
        rel = absolute[len(self.prefix) :].replace(os.sep, "/")
        loaded = _opened_by_simulator()
        for sink in list(self._sinks):
            (sink.loaded if loaded else sink.read).add(rel)

    def in_flight(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    @contextlib.contextmanager
    def call(self, method: str | None, url: str | None) -> Iterator[None]:
        """Around one outermost HTTP call: record it, and ignore what it does inside."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self.request(method, url)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth

    # ------------------------------------------------------------------ hooks
    def install(self) -> None:
        """Hook ``requests``, ``urllib`` and the audit events (once per process)."""
        global _installed
        _current[0] = self
        if _installed:
            return
        _installed = True
        _hook_requests()
        _hook_urllib()
        sys.addaudithook(_audit)


_current: list[Evidence | None] = [None]
_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        recorder = _current[0]
        if recorder is not None and recorder._sinks:
            recorder.opened(*args[:3])
    elif event == "http.client.send":
        recorder = _current[0]
        if recorder is not None and recorder._sinks and not recorder.in_flight():
            _record_raw_http(recorder, args)


def _record_raw_http(recorder: Evidence, args: tuple[Any, ...]) -> None:
    """A request another client sent through ``http.client``: its request line and host."""
    connection, data = args[0], args[1] if len(args) > 1 else b""
    if not isinstance(data, (bytes, bytearray)):
        return
    line = bytes(data[:2048]).split(b"\r\n", 1)[0].decode("latin-1", "replace").split(" ")
    if len(line) < 3 or not line[2].startswith("HTTP/"):
        return
    method, target = line[0], line[1]
    if target.startswith(("http://", "https://")):
        recorder.request(method, target)
        return
    host = f"{getattr(connection, 'host', '')}:{getattr(connection, 'port', '')}"
    recorder.request(method, f"http://{host}{target}")


def _opened_by_simulator() -> bool:
    """Whether the open in progress was made by a simulator's code (ours or a package named
    ``source_simulator``, the public repository's)."""
    try:
        frame = sys._getframe(3)  # this function, Evidence.opened, the audit hook, then the opener
    except ValueError:
        return False
    for _ in range(24):
        if frame is None:
            return False
        name = frame.f_globals.get("__name__", "") or ""
        if name.startswith(_LOADER_PREFIXES) or f".{SIMULATOR_PACKAGE}." in f".{name}.":
            # A spec handler is workspace code that happens to live under the simulator's specs.
            return ".specs." not in name
        frame = frame.f_back
    return False


# ---------------------------------------------------------------------------- requests


def _hook_requests() -> None:
    try:
        import requests.sessions
    except ImportError:  # pragma: no cover - requests is a dependency
        return
    session_class = requests.sessions.Session
    original = session_class.__getattribute__

    def __getattribute__(self: Any, name: str) -> Any:  # installed on Session
        value = original(self, name)
        if name == "send" and isinstance(value, types.MethodType):
            recorder = _current[0]
            if recorder is not None and recorder._sinks:
                return _TrackedSend(value, recorder)
        return value

    session_class.__getattribute__ = __getattribute__  # type: ignore[method-assign]


class _TrackedSend:
    """``session.send`` as looked up now (whoever patched the class), recorded when called."""

    __slots__ = ("_bound", "_recorder")

    def __init__(self, bound: Callable[..., Any], recorder: Evidence) -> None:
        self._bound = bound
        self._recorder = recorder

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with self._recorder.call(getattr(request, "method", None), getattr(request, "url", None)):
            return self._bound(request, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bound, name)


# ---------------------------------------------------------------------------- urllib


class _WatchedUrllib(types.ModuleType):
    """``urllib.request``, wrapping every plain function assigned to ``urlopen``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "urlopen":
            value = _track_urlopen(value)
        super().__setattr__(name, value)


def _hook_urllib() -> None:
    module = urllib.request
    if not isinstance(module, _WatchedUrllib):
        module.__class__ = _WatchedUrllib
    module.urlopen = module.urlopen  # wraps the current one


def _track_urlopen(function: Any) -> Any:
    if not isinstance(function, types.FunctionType) or getattr(function, "_cw_tracked", False):
        return function  # a test double (a Mock) or already wrapped

    def urlopen(url: Any, *args: Any, **kwargs: Any) -> Any:
        recorder = _current[0]
        if recorder is None or not recorder._sinks:
            return function(url, *args, **kwargs)
        if isinstance(url, urllib.request.Request):
            method, target = url.get_method(), url.full_url
        else:
            data = args[0] if args else kwargs.get("data")
            method, target = ("POST" if data is not None else "GET"), str(url)
        with recorder.call(method, target):
            return function(url, *args, **kwargs)

    urlopen._cw_tracked = True  # type: ignore[attr-defined]
    urlopen.__wrapped__ = function  # type: ignore[attr-defined]
    urlopen.__name__ = getattr(function, "__name__", "urlopen")
    urlopen.__doc__ = function.__doc__
    return urlopen
