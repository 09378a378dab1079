"""Write-back for the HubSpot connector: create contacts, and archive them (deletes).

``POST /crm/v3/objects/contacts`` creates; ``DELETE /crm/v3/objects/contacts/{id}``
archives, which is how a contact reaches ``read_table_deletes``. A delete
creates its own contact first, so no existing data is destroyed. Works against
a HubSpot portal (a private-app token with contact write scopes) and against
the local live server (``python -m connector_watch.simulator.live_servers hubspot``). Writes
bypass the simulator (:class:`~simulator.live.DirectSession`).
"""

from __future__ import annotations

import uuid
from typing import Any

from connector_watch.simulator.live import DirectSession
from connector_watch.tests.unit.sources.lakeflow_connect_test_utils import (
    WRITE_BACK_MARKER,
    LakeflowConnectWriteTestUtils,
)

from sources.hubspot.hubspot import DEFAULT_BASE_URL

TIMEOUT = (10, 30)


class HubspotTestUtils(LakeflowConnectWriteTestUtils):
    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.base_url = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.session = DirectSession()
        self.session.headers.update(
            {"Accept": "application/json", "Authorization": f"Bearer {options['access_token']}"}
        )

    def list_insertable_tables(self) -> list[str]:
        return ["contacts"]

    def list_deletable_tables(self) -> list[str]:
        return ["contacts"]

    def _owner_id(self) -> str | None:
        """An owner to assign new contacts to (as a sales rep would), or None."""
        response = self.session.get(f"{self.base_url}/crm/v3/owners", params={"limit": 1}, timeout=TIMEOUT)
        if response.status_code != 200:
            return None
        owners = (response.json() or {}).get("results") or []
        return str(owners[0]["id"]) if owners else None

    def _create(self) -> dict[str, Any] | None:
        tag = uuid.uuid4().hex[:10]
        properties = {
            "email": f"writeback-{tag}@example.com",
            "firstname": "Writeback",
            "lastname": tag,
            "phone": "+1 555-555-0100",
            "company": WRITE_BACK_MARKER,
            "jobtitle": "Test contact",
            "lifecyclestage": "subscriber",
            "hs_lead_status": "NEW",
        }
        owner = self._owner_id()
        if owner:
            properties["hubspot_owner_id"] = owner
        response = self.session.post(
            f"{self.base_url}/crm/v3/objects/contacts", json={"properties": properties}, timeout=TIMEOUT
        )
        return response.json() if response.status_code == 201 else None

    def generate_rows_and_write(
        self, table_name: str, count: int
    ) -> tuple[bool, list[dict[str, Any]], dict[str, str]]:
        if table_name != "contacts":
            return False, [], {}
        rows = []
        for _ in range(count):
            created = self._create()
            if created is None:
                return False, rows, {}
            rows.append({"id": created["id"], "email": created["properties"]["email"]})
        return True, rows, {"id": "id"}

    def delete_rows(self, table_name: str, count: int) -> tuple[bool, list[dict[str, Any]], dict[str, str]]:
        if table_name != "contacts":
            return False, [], {}
        rows = []
        for _ in range(count):
            created = self._create()
            if created is None:
                return False, rows, {}
            response = self.session.delete(
                f"{self.base_url}/crm/v3/objects/contacts/{created['id']}", timeout=TIMEOUT
            )
            if response.status_code not in (200, 204):
                return False, rows, {}
            rows.append({"id": created["id"]})
        return True, rows, {"id": "id"}
