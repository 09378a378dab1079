"""Cassettes: recorded HTTP traffic in the public format (version 1), and replay.

```
{"version": 1, "source": "<name>", "interactions": [
  {"request":  {"method", "url" (scheme://host/path), "query": {k: v}, "body_sha256": hex|null},
   "response": {"status_code", "headers", "body_text"|null, "body_b64"|null, "encoding", "url"}}]}
```

Replay matches on method, path, query (minus ignored keys) and body hash. Unlike
the public replayer it ignores scheme, host and port (a recording made against
a local server on a random port replays anywhere) and serves repeated requests
in recorded order, repeating the last, instead of round-robin. A token request matches on
method, path and query alone (its body holds the recording's client credentials), and with a spec
a miss on a recorded endpoint is answered from the cassette's records (``connector_watch.simulator.derived``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from connector_watch.simulator import trace
from connector_watch.simulator.errors import NoMatchingInteraction
from connector_watch.simulator.interactions import Interaction, RecordedRequest, RecordedResponse
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.responses import make_response
from connector_watch.simulator.scrub import body_fingerprint, is_token_endpoint, mask_emails, scrub_query
from connector_watch.simulator.synthesis import seed_of, synthesized_body
from connector_watch.simulator.trace import TraceEntry

CASSETTE_VERSION = 1


def body_sha256(body: bytes | None) -> str | None:
    return hashlib.sha256(body).hexdigest() if body else None


@dataclass
class Cassette:
    source: str = ""
    interactions: list[Interaction] = field(default_factory=list)
    version: int = CASSETTE_VERSION

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        version = data.get("version")
        if version != CASSETTE_VERSION:
            raise ValueError(
                f"Unsupported cassette version {version!r} in {path} (expected {CASSETTE_VERSION})"
            )
        interactions = [
            Interaction(
                RecordedRequest(
                    **{k: item["request"].get(k) for k in ("method", "url", "query", "body_sha256")}
                ),
                RecordedResponse(
                    **{
                        k: item["response"].get(k)
                        for k in ("status_code", "headers", "body_text", "body_b64", "encoding", "url")
                    }
                ),
            )
            for item in data.get("interactions", [])
        ]
        for interaction in interactions:
            interaction.request.query = interaction.request.query or {}
            interaction.response.headers = interaction.response.headers or {}
        return cls(source=data.get("source", ""), interactions=interactions)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "version": self.version,
            "source": self.source,
            "interactions": [i.to_dict() for i in self.interactions],
        }
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def query_for_match(query: dict[str, Any], ignore: frozenset[str]) -> tuple[tuple[str, str], ...]:
    items = []
    for key, value in query.items():
        if key in ignore:
            continue
        values = value if isinstance(value, list) else [value]
        items.extend((key, str(v)) for v in values)
    return tuple(sorted(items))


def match_key(
    method: str, path: str, query: dict[str, Any], body_hash: str | None, ignore: frozenset[str]
) -> tuple:
    return (method.upper(), path.rstrip("/") or "/", query_for_match(query, ignore), body_hash)


def _has_email(key: tuple) -> bool:
    return "@" in key[1] or "%40" in key[1] or any("@" in v or "%40" in v for _, v in key[2])


def _masked(key: tuple) -> tuple:
    """A match key with every email address in its path and query values masked."""
    method, path, query, body = key
    return (method, mask_emails(path), tuple((k, mask_emails(v)) for k, v in query), body)


def request_query(request: SimRequest) -> dict[str, Any]:
    """The query as the cassette stores it: one value per key, a list when repeated."""
    return {k: (v[0] if len(v) == 1 else list(v)) for k, v in request.query.items()}


class ReplayResponder:
    """Serves recorded responses for matching requests."""

    mode = "replay"

    def __init__(
        self,
        cassette: Cassette,
        path: str | Path,
        ignore_query_params: frozenset[str] = frozenset(),
        derive: Callable[[], Any] | None = None,
        synthesize_count: int = 0,
    ) -> None:
        self.cassette = cassette
        self.synthesize_count = synthesize_count  # records added to each recorded list (simulator.synthesis)
        self.path = str(path)
        self.ignore = ignore_query_params
        # Answers a miss on a recorded endpoint from the cassette's records (simulator.derived).
        self.derive = derive
        self._by_key: dict[tuple, list[Interaction]] = defaultdict(list)
        # Token requests carry the recording's client id and secret, which replay's stand-in
        # credentials never reproduce: they match on method, path and query alone.
        self._tokens: dict[tuple, list[Interaction]] = defaultdict(list)
        # Emails are stored as stand-ins (redacted-1@example.com): a request carrying a real address
        # matches its recording with every address masked.
        self._by_masked: dict[tuple, list[Interaction]] = defaultdict(list)
        for interaction in cassette.interactions:
            req = interaction.request
            key = match_key(req.method, req.path, req.query, req.body_sha256, self.ignore)
            self._by_key[key].append(interaction)
            if _has_email(key):
                self._by_masked[_masked(key)].append(interaction)
            if req.method.upper() == "POST" and is_token_endpoint(req.path, interaction.response.json()):
                self._tokens[key[:3]].append(interaction)
        self._served: dict[tuple, int] = defaultdict(int)

    def covers(self, request: SimRequest) -> bool:
        return self._recorded(self._key(request)) is not None

    def _recorded(self, key: tuple) -> tuple[tuple, list[Interaction]] | None:
        if key in self._by_key:
            return key, self._by_key[key]
        if key[:3] in self._tokens:
            return key[:3], self._tokens[key[:3]]
        if self._by_masked and _has_email(key) and _masked(key) in self._by_masked:
            return _masked(key), self._by_masked[_masked(key)]
        return None

    def _key(self, request: SimRequest) -> tuple:
        # Recordings store credential values redacted (simulator.scrub); match the same way.
        return match_key(
            request.method,
            request.path,
            scrub_query(request_query(request)),
            body_fingerprint(request.body),
            self.ignore,
        )

    def respond(self, request: SimRequest, prepared: Any = None) -> requests.Response:
        if self.derive is not None and not self.covers(request):
            derived = self.derive()
            if derived is not None and derived.covers(request):
                return derived.respond(request, prepared)
        started = time.perf_counter()
        entry = TraceEntry(
            seq=trace.next_seq(),
            mode=self.mode,
            method=request.method,
            url=request.url,
            outcome="replayed",
            caller=trace.find_caller(),
            timeout=request.timeout,
        )
        try:
            found = self._recorded(self._key(request))
            if found is None:
                entry.outcome = "no-cassette-match"
                entry.nearest = self.nearest(request)
                raise NoMatchingInteraction(request.method, request.url, self.path, entry.nearest)
            key, recorded = found
            index = min(self._served[key], len(recorded) - 1)
            self._served[key] += 1
            rec = recorded[index].response
            entry.status = rec.status_code
            headers = {
                k: v
                for k, v in rec.headers.items()
                if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
            }
            body, encoding = rec.body, rec.encoding
            if self.synthesize_count > 0 and 200 <= rec.status_code < 300:
                seed = seed_of(request.method, request.path, request_query(request))
                synthesized = synthesized_body(body, encoding, self.synthesize_count, seed)
                if synthesized is not None:
                    body, encoding = synthesized, "utf-8"
            return make_response(
                rec.status_code,
                body,
                headers,
                url=rec.url or request.url,
                request=prepared,
                encoding=encoding,
            )
        finally:
            entry.elapsed_ms = (time.perf_counter() - started) * 1000
            trace.publish(entry)

    def nearest(self, request: SimRequest, limit: int = 3) -> list[str]:
        wanted = f"{request.method} {request.path}?{'&'.join(f'{k}={v}' for k, v in query_for_match(scrub_query(request_query(request)), frozenset()))}"
        candidates = []
        for interaction in self.cassette.interactions:
            req = interaction.request
            text = f"{req.method} {req.path}?{'&'.join(f'{k}={v}' for k, v in query_for_match(req.query, frozenset()))}"
            candidates.append(text)
        unique = list(dict.fromkeys(candidates))
        ranked = sorted(unique, key=lambda c: difflib.SequenceMatcher(None, wanted, c).ratio(), reverse=True)
        return ranked[:limit]
