"""A spec handler that reads one corpus table by its name (the public fhir handler's shape)."""

from __future__ import annotations

from typing import Any

import requests
from connector_watch.simulator.responses import json_response


def serve_patients(request: requests.PreparedRequest, endpoint: Any, corpus: Any) -> requests.Response:
    return json_response(request, {"resourceType": "Bundle", "entry": corpus.get("Patient") or []})
