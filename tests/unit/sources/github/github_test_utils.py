"""Write-back for the GitHub connector: create issues (``POST /repos/{owner}/{repo}/issues``).

Works against GitHub itself (a token with ``issues: write``) and against the
local live server (``python -m connector_watch.simulator.live_servers github``). Writes bypass
the simulator (:class:`~simulator.live.DirectSession`), so they are not
recorded into the cassette; the connector's reads that follow are.
"""

from __future__ import annotations

import uuid
from typing import Any

from connector_watch.simulator.live import DirectSession
from connector_watch.tests.unit.sources.lakeflow_connect_test_utils import (
    WRITE_BACK_MARKER,
    LakeflowConnectWriteTestUtils,
)

from sources.github.github import DEFAULT_BASE_URL

TIMEOUT = (10, 30)


class GithubTestUtils(LakeflowConnectWriteTestUtils):
    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.base_url = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.owner = str(options["owner"])
        repos = [r.strip() for r in str(options.get("repos") or "").split(",") if r.strip()]
        if not repos:
            raise ValueError("GitHub write-back needs the 'repos' option (issues are created in the first)")
        self.repo = repos[0]
        self.session = DirectSession()
        self.session.headers.update(
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        )
        if options.get("token"):
            self.session.headers["Authorization"] = f"Bearer {options['token']}"

    def list_insertable_tables(self) -> list[str]:
        return ["issues"]

    def generate_rows_and_write(
        self, table_name: str, count: int
    ) -> tuple[bool, list[dict[str, Any]], dict[str, str]]:
        if table_name != "issues":
            return False, [], {}
        rows: list[dict[str, Any]] = []
        for _ in range(count):
            title = f"{WRITE_BACK_MARKER} {uuid.uuid4().hex[:12]}"
            response = self.session.post(
                f"{self.base_url}/repos/{self.owner}/{self.repo}/issues",
                json={
                    "title": title,
                    "body": "Created by the connector-watch write-back test; safe to close.",
                },
                timeout=TIMEOUT,
            )
            if response.status_code != 201:
                return False, rows, {}
            created = response.json()
            rows.append({"title": title, "number": created.get("number"), "id": created.get("id")})
        return True, rows, {"title": "title", "id": "id"}
