"""Custom handlers the tests' specs name with ``handler: connector_watch.tests.simulator.sample_handlers:...``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from connector_watch.simulator.responses import json_response

#: Every call, for assertions: (method, url, endpoint key, corpus tables visible).
CALLS: list[tuple[str, str, str, list[str]]] = []


def serve_items(request: requests.PreparedRequest, endpoint: Any, corpus: Any) -> requests.Response:
    """Echo the query and serve the items whose ``kind`` is the ``kind`` query value."""
    CALLS.append((request.method or "", request.url or "", endpoint.key, sorted(corpus.tables)))
    query = dict(parse_qsl(urlsplit(request.url or "").query))
    records = [r for r in corpus.tables.get("items", []) if r.get("kind") == query.get("kind")]
    return json_response(request, {"query": query, "items": records}, headers={"X-Handler": "yes"})


def teapot(request: requests.PreparedRequest, endpoint: Any, corpus: Any) -> requests.Response:
    return json_response(request, {"error": "short and stout"}, status=418)


def explode(request: requests.PreparedRequest, endpoint: Any, corpus: Any) -> requests.Response:
    raise RuntimeError("handler bug")
