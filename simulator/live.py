"""Live mode (``record`` is the same mode): pass requests to the real API and record them.

Each request goes to the network unchanged; the response is returned to the
connector as is, and a copy is kept. When the simulator exits, the copies are
merged into the cassette (see :mod:`simulator.recording`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import requests

from simulator import trace
from simulator.cassette import Interaction, RecordedRequest, RecordedResponse, body_sha256, request_query
from simulator.request import SimRequest
from simulator.trace import TraceEntry


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


class LiveResponder:
    mode = "live"

    def __init__(self) -> None:
        self.interactions: list[Interaction] = []
        self.requests: list[SimRequest] = []

    def respond(self, request: SimRequest, prepared: Any, send_original: Callable[[], requests.Response]):
        started = time.perf_counter()
        entry = TraceEntry(
            seq=trace.next_seq(),
            mode=self.mode,
            method=request.method,
            url=request.url,
            outcome="live",
            caller=trace.find_caller(),
            timeout=request.timeout,
        )
        try:
            response = send_original()
            entry.status = response.status_code
            self.interactions.append(record_interaction(request, response))
            self.requests.append(request)
            return response
        except requests.RequestException as exc:
            entry.outcome = "live-error"
            entry.message = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            entry.elapsed_ms = (time.perf_counter() - started) * 1000
            trace.publish(entry)
