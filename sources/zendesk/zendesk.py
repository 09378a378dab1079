"""Zendesk Support connector: tickets, users and ticket metric events by incremental export, and groups.

Connection options
------------------
``subdomain``   the account's subdomain (``acme`` for ``acme.zendesk.com``).
``email``       the agent's email address; with ``api_token`` it authenticates as ``{email}/token``.
``api_token``   an API token of the account.
``base_url``    API root, default ``https://{subdomain}.zendesk.com``.
``start_date``  ISO date or timestamp; incremental tables start after it (default 2015-01-01).

Table options
-------------
``max_records_per_batch``  upper bound on the records of one incremental read (default 1000).
``page_size``              records per request: ``per_page`` of the cursor exports (at most 1000)
                           and of ``groups`` (at most 100).

Tables
------
``tickets``               cdc on ``updated_at``: ``GET /api/v2/incremental/tickets/cursor.json``.
``users``                 cdc on ``updated_at``: ``GET /api/v2/incremental/users/cursor.json``.
``ticket_metric_events``  append on ``time``: ``GET /api/v2/incremental/ticket_metric_events.json``.
``groups``                snapshot: ``GET /api/v2/groups.json`` with ``page``/``per_page``.

The exports start at ``start_time`` (epoch seconds) and are followed through ``after_url`` (cursor
exports) or ``next_page`` (time-based exports) until ``end_of_stream``. The offset of an incremental
table is the cursor of the last record returned, e.g. ``{"updated_at": "2024-05-01T09:30:00Z"}``;
the next read restarts the export at that second and skips what it has already returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests
from connector_watch.sources.interface import LakeflowConnect, is_initial_offset
from pyspark.sql.types import StructType

from sources.zendesk.zendesk_schemas import TABLE_SCHEMAS

DEFAULT_START_DATE = "2015-01-01T00:00:00Z"
DEFAULT_MAX_RECORDS_PER_BATCH = 1000
EXPORT_MAX_PAGE_SIZE = 1000  # per_page ceiling of the cursor-based exports
LIST_MAX_PAGE_SIZE = 100  # per_page ceiling of offset-paginated list endpoints
EXPORT_LAG_SECONDS = 60  # exports refuse a start_time within the last minute

REQUEST_TIMEOUT = (10, 60)  # (connect, read) seconds
MAX_ATTEMPTS = 5
MAX_RETRY_SLEEP = 60.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class IncrementalExport:
    """One incremental export endpoint and how to page through it."""

    path: str
    records_key: str
    cursor_field: str
    next_key: str  # body key of the next page's URL
    accepts_page_size: bool


EXPORTS: dict[str, IncrementalExport] = {
    "tickets": IncrementalExport(
        "/api/v2/incremental/tickets/cursor.json", "tickets", "updated_at", "after_url", True
    ),
    "users": IncrementalExport(
        "/api/v2/incremental/users/cursor.json", "users", "updated_at", "after_url", True
    ),
    "ticket_metric_events": IncrementalExport(
        "/api/v2/incremental/ticket_metric_events.json", "ticket_metric_events", "time", "next_page", False
    ),
}

TABLE_METADATA: dict[str, dict[str, Any]] = {
    "tickets": {"primary_keys": ["id"], "cursor_field": "updated_at", "ingestion_type": "cdc"},
    "groups": {"primary_keys": ["id"], "ingestion_type": "snapshot"},
    "users": {"primary_keys": ["id"], "cursor_field": "updated_at", "ingestion_type": "cdc"},
    "ticket_metric_events": {"primary_keys": ["id"], "cursor_field": "time", "ingestion_type": "append"},
}


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp (or date) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def without_empty_objects(value: Any) -> Any:
    """``value`` with every nested empty object replaced by None.

    Zendesk writes an absent ``via.source.from``/``to`` as ``{}``; a Spark struct wants None.
    """
    if isinstance(value, dict):
        return {key: None if item == {} else without_empty_objects(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_empty_objects(item) for item in value]
    return value


def take_batch(records: Iterable[dict], cursor_of: Callable[[dict], Any], limit: int) -> list[dict]:
    """Up to ``limit`` records of a cursor-ordered stream, never splitting records that share a cursor.

    The next read resumes strictly after the last cursor returned, so a batch must not end in the
    middle of a group of equal cursors. The group straddling the limit is left to the next batch,
    unless it is the whole batch, which then grows to hold all of it.
    """
    batch: list[dict] = []
    for record in records:
        if len(batch) >= limit and cursor_of(record) != cursor_of(batch[-1]):
            break
        batch.append(record)
    if len(batch) > limit:
        last = cursor_of(batch[-1])
        head = [record for record in batch if cursor_of(record) != last]
        if head:
            return head
    return batch


class ZendeskLakeflowConnect(LakeflowConnect):
    """Reads Zendesk Support through its REST API (v2)."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self._init_ts = datetime.now(timezone.utc)
        subdomain = (options.get("subdomain") or "").strip()
        base_url = options.get("base_url") or (f"https://{subdomain}.zendesk.com" if subdomain else "")
        if not base_url:
            raise ValueError("Zendesk connector: option 'subdomain' (or 'base_url') is required")
        self._base_url = base_url.rstrip("/")
        self._start = parse_timestamp(options.get("start_date") or DEFAULT_START_DATE)
        # Reads never go past the moment the connector was built, so every read terminates.
        self._cap = self._init_ts.replace(microsecond=0)

        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"
        email, api_token = options.get("email"), options.get("api_token")
        if email and api_token:
            self._session.auth = (f"{email}/token", api_token)

    # ------------------------------------------------------------------ interface

    def list_tables(self) -> list[str]:
        return list(TABLE_METADATA)

    def get_table_schema(self, table_name: str, table_options: dict[str, str]) -> StructType:
        self._check_table(table_name)
        return TABLE_SCHEMAS[table_name]

    def read_table_metadata(self, table_name: str, table_options: dict[str, str]) -> dict:
        self._check_table(table_name)
        return dict(TABLE_METADATA[table_name])

    def read_table(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        self._check_table(table_name)
        if table_name == "groups":
            return iter([without_empty_objects(group) for group in self._read_groups(table_options)]), {}
        return self._read_export(EXPORTS[table_name], start_offset, table_options)

    # ------------------------------------------------------------------ incremental exports

    def _read_export(
        self, export: IncrementalExport, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        cursor = export.cursor_field
        last = None if is_initial_offset(start_offset) else start_offset.get(cursor)  # type: ignore[union-attr]
        since = parse_timestamp(last) if last else self._start
        if since >= self._cap:
            return iter([]), self._settled(start_offset)

        # The export restarts at the offset's second (start_time is inclusive, whole seconds, and
        # at least a minute old); what was already returned is skipped below.
        params: dict[str, Any] = {
            "start_time": min(int(since.timestamp()), int(self._init_ts.timestamp()) - EXPORT_LAG_SECONDS)
        }
        if export.accepts_page_size:
            params["per_page"] = self._page_size(table_options, EXPORT_MAX_PAGE_SIZE)
        fresh = self._between(self._export_pages(export, params), cursor, since)
        batch = take_batch(fresh, lambda record: record[cursor], self._batch_limit(table_options))
        if not batch:
            return iter([]), self._settled(start_offset)
        return iter(batch), {cursor: batch[-1][cursor]}

    def _export_pages(self, export: IncrementalExport, params: dict[str, Any]) -> Iterator[dict]:
        """The records of an export, page after page, until the end of the stream."""
        url: str | None = f"{self._base_url}{export.path}"
        query: dict[str, Any] | None = params
        while url:
            body = self._get(url, query).json()
            records = body.get(export.records_key) or []
            for record in records:
                yield without_empty_objects(record)
            next_url = body.get(export.next_key)
            if body.get("end_of_stream") or not records or not next_url or next_url == url:
                return
            url, query = next_url, None  # the next URL carries the whole query

    def _between(self, records: Iterable[dict], cursor: str, since: datetime) -> Iterator[dict]:
        """Records after ``since`` and up to the cap, each once (time-based pages overlap)."""
        seen: set[Any] = set()
        for record in records:
            at = parse_timestamp(record[cursor])
            if at > self._cap:
                return  # exports are ordered by time: nothing later is in range
            if at <= since or record.get("id") in seen:
                continue
            seen.add(record.get("id"))
            yield record

    # ------------------------------------------------------------------ groups

    def _read_groups(self, table_options: dict[str, str]) -> Iterator[dict]:
        """Every group, page by page; a short page is the last one."""
        per_page = self._page_size(table_options, LIST_MAX_PAGE_SIZE)
        page = 1
        while True:
            body = self._get(
                f"{self._base_url}/api/v2/groups.json", {"page": page, "per_page": per_page}
            ).json()
            groups = body.get("groups") or []
            yield from groups
            if len(groups) < per_page:
                return
            page += 1

    # ------------------------------------------------------------------ options

    @staticmethod
    def _settled(start_offset: dict | None) -> dict:
        """The offset of a read that found nothing new: the one it was given."""
        return start_offset if start_offset is not None else {}

    def _batch_limit(self, table_options: dict[str, str]) -> int:
        return self._positive_int(table_options, "max_records_per_batch", DEFAULT_MAX_RECORDS_PER_BATCH)

    def _page_size(self, table_options: dict[str, str], ceiling: int) -> int:
        return min(self._positive_int(table_options, "page_size", ceiling), ceiling)

    def _positive_int(self, table_options: dict[str, str], name: str, default: int) -> int:
        raw = table_options.get(name) or self.options.get(name)
        value = int(raw) if raw else default
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
        return value

    def _check_table(self, table_name: str) -> None:
        if table_name not in TABLE_METADATA:
            raise ValueError(f"Unknown table {table_name!r}; expected one of {list(TABLE_METADATA)}")

    # ------------------------------------------------------------------ HTTP

    def _get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET with a timeout, retrying 429 and 5xx a bounded number of times."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = self._session.get(url, params=params, timeout=REQUEST_TIMEOUT)
            if attempt < MAX_ATTEMPTS and response.status_code in RETRY_STATUSES:
                time.sleep(_retry_delay(response, attempt))
                continue
            response.raise_for_status()
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_delay(response: requests.Response, attempt: int) -> float:
    """Seconds to wait before retrying: ``Retry-After`` when given, else exponential backoff."""
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_SLEEP)
        except ValueError:
            pass
    return min(2.0 ** (attempt - 1), MAX_RETRY_SLEEP)
