"""A small HTTP API server framework on the standard library (``ThreadingHTTPServer``).

An example source's live server is a :class:`LiveApp` subclass: routes declared
with :func:`route`, an ``authenticate`` method, and data loaded from the
source's corpus (``simulator/specs/<source>/corpus``). The framework adds what
every real API has:

* **auth**: a route is authenticated unless declared ``auth=False``;
* **rate limits**: ``rate_limit="first"`` answers the first call of every route
  with 429 and ``Retry-After: 0``; ``"every:N"`` every N-th call; ``"off"``;
* **latency**: ``delay`` seconds before each answer (for timeout tests);
* **drift** (:class:`Drift`): the data may differ from the committed corpus the
  way real APIs drift from a spec: an extra field, a removed or nulled field, a
  changed type, a renamed wrapper key, a new endpoint;
* a **control API** under ``/_live/`` (``GET state``, ``POST drift``, ``POST
  reset``), accepted only with the ``X-Live-Control`` token, so a test can
  change the drift of a running server.

Responses are JSON unless a route returns bytes or text. Every socket has a
timeout; servers bind 127.0.0.1.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
CONTROL_HEADER = "X-Live-Control"
SOCKET_TIMEOUT = 30.0
DRIFT_KINDS = (
    "extra_field",
    "removed_field",
    "null_field",
    "changed_type",
    "renamed_wrapper",
    "new_endpoint",
)


# --------------------------------------------------------------------------- requests and responses


@dataclass
class ApiRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host:port, as the client addressed the server
    path_params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int, low: int | None = None, high: int | None = None) -> int:
        raw = self.arg(name)
        try:
            value = int(raw) if raw not in (None, "") else default
        except ValueError:
            value = default
        if low is not None:
            value = max(low, value)
        if high is not None:
            value = min(high, value)
        return value

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, {"error": "invalid JSON body"})

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))

    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() in ("bearer", "token") and token.strip() else None

    def basic(self) -> tuple[str, str] | None:
        scheme, _, blob = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(blob.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password

    def url(
        self, path: str | None = None, query: dict[str, Any] | list[tuple[str, Any]] | None = None
    ) -> str:
        """An absolute URL on this server (for next links)."""
        target = self.base_url + (path if path is not None else self.path)
        if query:
            items = query.items() if isinstance(query, dict) else query
            target += "?" + urlencode([(k, str(v)) for k, v in items], safe="$,")
        return target


@dataclass
class ApiResponse:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class Drift:
    """One way the live data differs from the corpus.

    ``extra_field:<table>.<field>=<json>``, ``removed_field:<table>.<field>``,
    ``null_field:<table>.<field>``, ``changed_type:<table>.<field>``,
    ``renamed_wrapper:<table>=<new key>``, ``new_endpoint``. A bare kind uses the
    source's default (:attr:`LiveApp.DRIFT_DEFAULTS`). Field paths are dotted.
    """

    kind: str
    table: str | None = None
    field: str | None = None
    value: Any = None

    def describe(self) -> str:
        if self.kind == "new_endpoint":
            return "new_endpoint"
        if self.kind == "renamed_wrapper":
            return f"renamed_wrapper:{self.table}={self.value}"
        if self.kind == "extra_field":
            return f"extra_field:{self.table}.{self.field}={json.dumps(self.value)}"
        return f"{self.kind}:{self.table}.{self.field}"

    @classmethod
    def parse(cls, text: str, defaults: dict[str, str]) -> Drift:
        text = text.strip()
        kind, _, rest = text.partition(":")
        if kind not in DRIFT_KINDS:
            raise ValueError(f"unknown drift {kind!r}; expected one of {list(DRIFT_KINDS)}")
        if kind == "new_endpoint":
            if defaults and "new_endpoint" not in defaults:
                raise ValueError("this source has no new_endpoint drift")
            return cls(kind)
        if not rest:
            if kind not in defaults:
                raise ValueError(
                    f"this source has no default {kind!r} drift; give one, e.g. {kind}:<table>.<field>"
                )
            return cls.parse(f"{kind}:{defaults[kind]}", {})
        if kind == "renamed_wrapper":
            table, sep, key = rest.partition("=")
            if not sep or not table or not key:
                raise ValueError(f"renamed_wrapper needs <table>=<new key>, got {rest!r}")
            return cls(kind, table, None, key)
        target, sep, raw = rest.partition("=")
        table, dot, field_path = target.partition(".")
        if not dot or not table or not field_path:
            raise ValueError(f"{kind} needs <table>.<field>, got {rest!r}")
        value: Any = None
        if kind == "extra_field":
            if not sep:
                raise ValueError(f"extra_field needs a value: extra_field:{target}=<json>")
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        return cls(kind, table, field_path, value)


def _dotted_set(record: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = record
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _dotted_parent(record: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    parts = path.split(".")
    node: Any = record
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), parts[-1]


def change_type(value: Any) -> Any:
    """Another JSON type for ``value``: numbers and booleans become strings, numeric strings numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return [value]
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def apply_drift(record: Any, drift: Drift) -> None:
    if not isinstance(record, dict) or drift.field is None:
        return
    if drift.kind == "extra_field":
        _dotted_set(record, drift.field, copy.deepcopy(drift.value))
        return
    parent, key = _dotted_parent(record, drift.field)
    if parent is None or key not in parent:
        return
    if drift.kind == "removed_field":
        del parent[key]
    elif drift.kind == "null_field":
        parent[key] = None
    elif drift.kind == "changed_type" and parent[key] is not None:
        parent[key] = change_type(parent[key])


# --------------------------------------------------------------------------- small helpers for apps

_ISO = re.compile(r"^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?)?(Z|[+-]\d\d:?\d\d)?$")


def instant(value: Any) -> float | None:
    """Seconds since the epoch for an ISO-8601 string, epoch seconds or epoch milliseconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value / 1000.0 if abs(value) >= 10**11 else float(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return instant(float(text) if "." in text else int(text))
    match = _ISO.match(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    clock = clock or "00:00:00"
    if clock.count(":") == 1:
        clock += ":00"
    offset = "+00:00" if zone in (None, "Z") else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    moment = datetime.fromisoformat(f"{day}T{clock}{offset}")
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def now_iso(precision: str = "seconds") -> str:
    """Now in UTC as ``2025-01-02T03:04:05Z`` (``precision="milliseconds"``: ``…05.678Z``)."""
    moment = datetime.now(timezone.utc)
    if precision == "milliseconds":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str, error: Callable[[], ApiError]) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise error()
    if not isinstance(data, dict):
        raise error()
    return data


# --------------------------------------------------------------------------- routes and the app


def route(method: str, template: str, *, auth: bool = True, name: str | None = None) -> Callable:
    """Declare a route on a :class:`LiveApp` method: ``@route("GET", "/users/{owner}/repos")``."""

    def mark(func: Callable) -> Callable:
        func._live_route = (method.upper(), template, auth, name or template)  # type: ignore[attr-defined]
        return func

    return mark


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    func: Callable[[Any, ApiRequest], ApiResponse | Any]
    auth: bool
    name: str


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template.rstrip("/")))
    return re.compile(f"^{regex}/?$")


class LiveApp:
    """One example API. Subclasses set :attr:`source`, declare routes, and implement
    :meth:`authenticate`, :meth:`connector_config` and :meth:`rate_limited`."""

    source: ClassVar[str] = ""
    #: Credential names and how to make a random value for each.
    CREDENTIALS: ClassVar[dict[str, Callable[[], str]]] = {}
    #: Default drift per kind, in the ``--drift`` syntax.
    DRIFT_DEFAULTS: ClassVar[dict[str, str]] = {}
    _routes: ClassVar[list[tuple[str, str, bool, str, str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = []
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                spec = getattr(value, "_live_route", None)
                if spec is not None:
                    found.append((*spec, attr))
        cls._routes = found

    def __init__(
        self,
        *,
        corpus_dir: str | Path | None = None,
        drifts: Iterable[str] = (),
        credentials: dict[str, str] | None = None,
        rate_limit: str = "off",
        delay: float = 0.0,
        control_token: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.corpus_dir = Path(corpus_dir) if corpus_dir else SPECS_DIR / self.source / "corpus"
        self.credentials = {name: make() for name, make in self.CREDENTIALS.items()}
        self.credentials.update(credentials or {})
        self.rate_limit = self._parse_rate_limit(rate_limit)
        self.delay = float(delay)
        self.control_token = control_token or secrets.token_urlsafe(16)
        self.verbose = verbose
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self.total_calls = 0
        self.routes = [
            Route(method, template, _compile(template), getattr(type(self), attr), auth, name)
            for method, template, auth, name, attr in self._routes
        ]
        self.drifts: list[Drift] = []
        self.set_drifts(drifts)
        self.reset()

    # ------------------------------------------------------------------ data
    def reset(self) -> None:
        """Reload the data from the corpus (drops writes)."""
        with self.lock:
            self.tables: dict[str, Any] = {}
            if self.corpus_dir.is_dir():
                for path in sorted(self.corpus_dir.glob("*.json")):
                    self.tables[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            self.load()

    def load(self) -> None:
        """Hook: build indexes after the corpus is loaded."""

    def table(self, name: str) -> list[dict[str, Any]]:
        value = self.tables.setdefault(name, [])
        return value if isinstance(value, list) else [value]

    def set_drifts(self, drifts: Iterable[str]) -> None:
        parsed = [Drift.parse(d, self.DRIFT_DEFAULTS) for d in drifts if d and d.strip()]
        with self.lock:
            self.drifts = parsed

    def drifting(self, kind: str) -> bool:
        return any(d.kind == kind for d in self.drifts)

    def present(self, table: str, record: Any) -> Any:
        """A copy of ``record`` as the API returns it today (drift applied)."""
        out = copy.deepcopy(record)
        for drift in self.drifts:
            if drift.table == table:
                apply_drift(out, drift)
        return out

    def present_all(self, table: str, records: Iterable[Any]) -> list[Any]:
        return [self.present(table, r) for r in records]

    def records_key(self, table: str, default: str) -> str:
        for drift in self.drifts:
            if drift.kind == "renamed_wrapper" and drift.table == table:
                return str(drift.value)
        return default

    # ------------------------------------------------------------------ per source
    def authenticate(self, request: ApiRequest) -> None:
        """Raise :class:`ApiError` (401) unless the request carries valid credentials."""

    def rate_limited(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(429, {"error": "rate limit exceeded"}, {"Retry-After": "0"})

    def not_found(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(404, {"error": "Not Found", "path": request.path})

    def connector_config(self, base_url: str) -> dict[str, str]:
        raise NotImplementedError

    # ------------------------------------------------------------------ dispatch
    @staticmethod
    def _parse_rate_limit(text: str) -> tuple[str, int]:
        text = (text or "off").strip().lower()
        if text in ("off", "none", "0"):
            return ("off", 0)
        if text == "first":
            return ("first", 1)
        if text.startswith("every:") and text[6:].isdigit() and int(text[6:]) >= 1:
            return ("every", int(text[6:]))
        raise ValueError(f"rate limit must be off, first or every:N, got {text!r}")

    def _throttled(self, route: Route) -> bool:
        kind, n = self.rate_limit
        if kind == "first":
            return self.calls[route.name] == 1
        if kind == "every":
            return self.total_calls % n == 0
        return False

    def handle(self, request: ApiRequest) -> ApiResponse:
        if request.path.startswith("/_live/"):
            return self._control(request)
        allowed = []
        for candidate in self.routes:
            match = candidate.pattern.match(request.path)
            if match is None:
                continue
            if candidate.method != request.method:
                allowed.append(candidate.method)
                continue
            request.path_params = {k: v for k, v in match.groupdict().items()}
            if candidate.auth:
                self.authenticate(request)
            with self.lock:
                self.calls[candidate.name] += 1
                self.total_calls += 1
                throttled = self._throttled(candidate)
            if self.delay:
                time.sleep(self.delay)
            if throttled:
                return self.rate_limited(request)
            with self.lock:
                result = candidate.func(self, request)
            return result if isinstance(result, ApiResponse) else ApiResponse(200, result)
        if allowed:
            return ApiResponse(405, {"error": f"method {request.method} not allowed", "allowed": allowed})
        return self.not_found(request)

    def _control(self, request: ApiRequest) -> ApiResponse:
        if not secrets.compare_digest(request.headers.get(CONTROL_HEADER.lower(), ""), self.control_token):
            return ApiResponse(403, {"error": f"control requests need the {CONTROL_HEADER} header"})
        action = request.path[len("/_live/") :].strip("/")
        if action == "state" and request.method == "GET":
            return ApiResponse(200, self.state())
        if action == "drift" and request.method == "POST":
            body = request.json() or {}
            try:
                self.set_drifts(body.get("drift", []))
            except ValueError as exc:
                return ApiResponse(400, {"error": str(exc)})
            return ApiResponse(200, self.state())
        if action == "reset" and request.method == "POST":
            self.reset()
            with self.lock:
                self.calls.clear()
                self.total_calls = 0
            return ApiResponse(200, self.state())
        return ApiResponse(404, {"error": f"unknown control action {action!r}"})

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "source": self.source,
                "drift": [d.describe() for d in self.drifts],
                "calls": dict(self.calls),
                "rate_limit": f"{self.rate_limit[0]}"
                + (f":{self.rate_limit[1]}" if self.rate_limit[0] == "every" else ""),
                "tables": {k: (len(v) if isinstance(v, list) else 1) for k, v in sorted(self.tables.items())},
            }


# --------------------------------------------------------------------------- the HTTP server


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", "application/json; charset=utf-8"
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    server_version = "connector-watch-live/1"
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    app: LiveApp  # set per server class

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = ApiRequest(
            method=self.command.upper(),
            path=parts.path or "/",
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"http://{host}",
        )
        try:
            response = self.app.handle(request)
        except ApiError as exc:
            response = ApiResponse(exc.status, exc.body, exc.headers)
        except Exception as exc:  # a bug in an example server: a 500 with the reason, and a log line
            traceback.print_exc(file=sys.stderr)
            response = ApiResponse(
                500, {"error": "internal server error", "detail": f"{type(exc).__name__}: {exc}"}
            )
        data, content_type = _encode(response.body)
        if response.status == 204:
            data = b""
        self.send_response(response.status)
        headers = {"Content-Type": content_type, **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if self.app.verbose:
            super().log_message(format, *args)


class LiveHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app: LiveApp, host: str = "127.0.0.1", port: int = 0) -> LiveHTTPServer:
    handler = type("Handler", (_Handler,), {"app": app})
    return LiveHTTPServer((host, port), handler)


def base_url_of(server: LiveHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
