"""Live mode (``record`` is the same mode): pass requests to the real API and record them.

Each request goes to the network; the response is returned to the connector as
is, and an unsampled, unscrubbed copy is kept in memory. When the simulator
exits, :mod:`connector_watch.simulator.recording` scrubs, validates, samples and merges the
copies into the cassette.

Every live call has a timeout: the connector's, capped at
``CONNECTOR_TEST_LIVE_TIMEOUT`` seconds (default 30; the connect part at 10);
a call the connector made without any timeout gets the cap and is noted in the
coverage report. An API that cannot be reached or does not answer in time
raises :class:`LiveAPIError` at once: not a ``requests`` exception, so connector
retry loops do not turn a dead endpoint into a minutes-long hang.

Writes made by write-back test utilities should not be recorded: they use
:class:`DirectSession`, which bypasses the simulator entirely.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from connector_watch.simulator import interception, trace
from connector_watch.simulator.cassette import body_sha256, request_query
from connector_watch.simulator.interactions import Interaction, RecordedRequest, RecordedResponse
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.scrub import redact_query_secrets, scrub_url_query
from connector_watch.simulator.trace import Caller, TraceEntry

ENV_LIVE_TIMEOUT = "CONNECTOR_TEST_LIVE_TIMEOUT"
DEFAULT_LIVE_TIMEOUT = 30.0
MAX_CONNECT_TIMEOUT = 10.0


class LiveAPIError(RuntimeError):
    """The live API could not be reached or did not answer in time (record/live mode).

    Deliberately not a :class:`requests.RequestException`: a connector's retry
    loop would otherwise wait out its whole backoff against a dead endpoint.
    """

    def __init__(self, kind: str, method: str, url: str, detail: str, hint: str) -> None:
        self.kind = kind  # "unreachable" | "timeout"
        self.method = method
        self.url = url
        super().__init__(f"live API {kind}: {method} {url}: {detail}\n  Fix: {hint}")


def live_timeout_cap() -> float:
    raw = os.environ.get(ENV_LIVE_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_LIVE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_LIVE_TIMEOUT}={raw!r} is not a number of seconds")
    if value <= 0:
        raise ValueError(f"{ENV_LIVE_TIMEOUT} must be positive, got {raw!r}")
    return value


def capped_timeout(timeout: Any, cap: float) -> tuple[float, float] | float:
    """The connector's timeout with each part capped at ``cap`` (connect also at 10 s)."""
    connect_cap = min(cap, MAX_CONNECT_TIMEOUT)
    if timeout is None:
        return (connect_cap, cap)
    if isinstance(timeout, (tuple, list)) and len(timeout) == 2:
        connect, read = timeout
        return (
            min(float(connect), connect_cap) if connect is not None else connect_cap,
            min(float(read), cap) if read is not None else cap,
        )
    try:
        return min(float(timeout), cap)
    except (TypeError, ValueError):
        return (connect_cap, cap)


def record_interaction(request: SimRequest, response: requests.Response) -> Interaction:
    """An unsampled, unscrubbed copy of one exchange (scrubbing happens before anything is written)."""
    recorded_request = RecordedRequest(
        method=request.method,
        url=request.base_url,
        query=request_query(request),
        body_sha256=body_sha256(request.body),
    )
    encoding = response.encoding or "utf-8"
    content = response.content or b""
    try:
        body_text, body_b64 = content.decode(encoding), None
    except (UnicodeDecodeError, LookupError):
        body_text, body_b64 = None, base64.b64encode(content).decode()
    recorded_response = RecordedResponse(
        status_code=response.status_code,
        headers={k: v for k, v in response.headers.items()},
        body_text=body_text if content else None,
        body_b64=body_b64,
        encoding=encoding,
        url=response.url or request.url,
    )
    return Interaction(recorded_request, recorded_response)


@dataclass
class LiveCall:
    """One live exchange as record mode keeps it in memory until the session ends."""

    request: SimRequest
    interaction: Interaction
    caller: Caller | None = None
    timeout_given: bool = True
    elapsed_ms: float = 0.0


@dataclass
class LiveFailure:
    """A live call that raised instead of answering (unreachable, timed out)."""

    kind: str
    request: SimRequest
    url: str  # scrubbed
    message: str
    caller: Caller | None = None
    timeout_given: bool = True


@dataclass
class LiveResponder:
    mode: str = "live"
    timeout_cap: float | None = None
    calls: list[LiveCall] = field(default_factory=list)
    failures: list[LiveFailure] = field(default_factory=list)

    @property
    def interactions(self) -> list[Interaction]:
        return [c.interaction for c in self.calls]

    @property
    def requests(self) -> list[SimRequest]:
        return [c.request for c in self.calls]

    def respond(
        self, request: SimRequest, prepared: Any, send_original: Callable[..., requests.Response]
    ) -> requests.Response:
        started = time.perf_counter()
        caller = trace.find_caller()
        entry = TraceEntry(
            seq=trace.next_seq(),
            mode=self.mode,
            method=request.method,
            url=scrub_url_query(request.url),  # traces may be kept (the daemon's): no credentials in them
            outcome="live",
            caller=caller,
            timeout=request.timeout,
        )
        cap = self.timeout_cap if self.timeout_cap is not None else live_timeout_cap()
        timeout = capped_timeout(request.timeout, cap)
        try:
            try:
                response = send_original(timeout=timeout)
            except requests.Timeout as exc:
                raise self._fail(
                    entry,
                    "timeout",
                    request,
                    f"no answer within {_describe_timeout(timeout)} ({type(exc).__name__})",
                    "the API is slow or the query too wide: narrow it in configs/dev_table_config.json "
                    f"(small windows, max_records_per_batch), or raise {ENV_LIVE_TIMEOUT}",
                    caller,
                ) from exc
            except requests.ConnectionError as exc:
                raise self._fail(
                    entry,
                    "unreachable",
                    request,
                    redact_query_secrets(_first_line(exc), request.url),  # requests quotes the full URL
                    "check the base URL in the connector config (CONNECTOR_TEST_CONFIG_JSON / _PATH) and that "
                    "the API is up; for the example sources start one with "
                    "`python -m connector_watch.simulator.live_servers <source>`",
                    caller,
                ) from exc
            entry.status = response.status_code
            if response.status_code in (401, 403):
                entry.message = (
                    f"live API answered {response.status_code}: check the credentials in the connector config"
                )
            elapsed = (time.perf_counter() - started) * 1000
            self.calls.append(
                LiveCall(
                    request,
                    record_interaction(request, response),
                    caller,
                    timeout_given=request.timeout is not None,
                    elapsed_ms=elapsed,
                )
            )
            return response
        finally:
            entry.elapsed_ms = (time.perf_counter() - started) * 1000
            trace.publish(entry)

    def _fail(
        self,
        entry: TraceEntry,
        kind: str,
        request: SimRequest,
        detail: str,
        hint: str,
        caller: Caller | None,
    ) -> LiveAPIError:
        url = scrub_url_query(request.url)
        error = LiveAPIError(kind, request.method, url, detail, hint)
        entry.outcome = f"live-{kind}"
        entry.message = str(error)
        self.failures.append(
            LiveFailure(kind, request, url, str(error), caller, timeout_given=request.timeout is not None)
        )
        return error


def _describe_timeout(timeout: Any) -> str:
    if isinstance(timeout, tuple):
        return f"{timeout[1]:g} s (connect {timeout[0]:g} s)"
    return f"{timeout:g} s"


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


class DirectSession(requests.Session):
    """A ``requests.Session`` that bypasses every active simulator (never recorded or simulated).

    For write-back test utilities: their writes set up live data, they are not
    traffic of the connector under test. Rate-limited answers (429, 503 with a
    ``Retry-After`` of at most :attr:`max_wait` seconds) are retried up to
    :attr:`retries` times; every call gets :attr:`default_timeout` unless it
    passes its own.
    """

    retries = 3
    max_wait = 10.0
    default_timeout: tuple[float, float] = (10.0, 30.0)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        for _ in range(self.retries):
            response = interception.original_send(self, request, **kwargs)
            wait = _retry_after(response)
            if response.status_code not in (429, 503) or wait is None or wait > self.max_wait:
                return response
            time.sleep(wait)
        return interception.original_send(self, request, **kwargs)


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None
