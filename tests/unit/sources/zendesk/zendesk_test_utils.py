"""Write-back for the Zendesk connector: create tickets (``POST /api/v2/tickets.json``).

Works against a Zendesk account (an agent's API token) and against the local
live server (``python -m connector_watch.simulator.live_servers zendesk``). Writes bypass the
simulator (:class:`~simulator.live.DirectSession`), so they are not recorded.
"""

from __future__ import annotations

import uuid
from typing import Any

from connector_watch.simulator.live import DirectSession
from connector_watch.tests.unit.sources.lakeflow_connect_test_utils import (
    WRITE_BACK_MARKER,
    LakeflowConnectWriteTestUtils,
)

TIMEOUT = (10, 30)


class ZendeskTestUtils(LakeflowConnectWriteTestUtils):
    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        subdomain = str(options.get("subdomain") or "").strip()
        base_url = options.get("base_url") or (f"https://{subdomain}.zendesk.com" if subdomain else "")
        if not base_url:
            raise ValueError("Zendesk write-back needs 'subdomain' or 'base_url'")
        self.base_url = str(base_url).rstrip("/")
        self.session = DirectSession()
        self.session.headers["Accept"] = "application/json"
        if options.get("email") and options.get("api_token"):
            self.session.auth = (f"{options['email']}/token", str(options["api_token"]))

    def list_insertable_tables(self) -> list[str]:
        return ["tickets"]

    def generate_rows_and_write(
        self, table_name: str, count: int
    ) -> tuple[bool, list[dict[str, Any]], dict[str, str]]:
        if table_name != "tickets":
            return False, [], {}
        rows: list[dict[str, Any]] = []
        for _ in range(count):
            subject = f"{WRITE_BACK_MARKER} {uuid.uuid4().hex[:12]}"
            ticket = {
                "subject": subject,
                "comment": {"body": "Created by the connector-watch write-back test; safe to delete."},
                "priority": "normal",
                "type": "question",
                "tags": ["connector_watch"],
            }
            response = self.session.post(
                f"{self.base_url}/api/v2/tickets.json", json={"ticket": ticket}, timeout=TIMEOUT
            )
            if response.status_code != 201:
                return False, rows, {}
            created = (response.json() or {}).get("ticket") or {}
            rows.append({"subject": subject, "id": created.get("id")})
        return True, rows, {"subject": "subject", "id": "id"}
