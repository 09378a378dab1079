"""HubSpot connector: CRM contacts and companies, owners and engagements.

Authentication is a private-app access token sent as ``Authorization: Bearer <token>``.

Tables and the endpoints behind them:

=============  ================  ================================================================
table          ingestion         endpoint
=============  ================  ================================================================
contacts       cdc_with_deletes  ``POST /crm/v3/objects/contacts/search``; deletes from
                                 ``GET /crm/v3/objects/contacts?archived=true``
companies      cdc               ``POST /crm/v3/objects/companies/search``
owners         snapshot          ``GET /crm/v3/owners``
engagements    append            ``GET /engagements/v1/engagements/paged`` (legacy v1 API)
=============  ================  ================================================================

Incremental CRM reads search on the object's last-modified property between the offset's cursor
(inclusive) and the connector's start time, ascending, so every read terminates. The offset is
``{"cursor": <updatedAt>, "ids_at_cursor": [...]}``: records sharing the cursor's instant that were
already emitted are skipped, so a batch may end between two records with the same timestamp.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from connector_watch.sources.interface import LakeflowConnect, is_initial_offset
from pyspark.sql.types import StructType

from sources.hubspot.hubspot_schemas import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    TABLE_METADATA,
    TABLE_SCHEMAS,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
REQUEST_TIMEOUT = (10, 60)  # (connect, read) seconds
MAX_ATTEMPTS = 5
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_DELAY = 60.0

SEARCH_MAX_PAGE_SIZE = 200  # the search API's largest `limit`
SEARCH_RESULT_CAP = 10_000  # the search API refuses to page past 10 000 results of one query
LIST_MAX_PAGE_SIZE = 100  # GET /crm/v3/objects/{type}
OWNERS_MAX_PAGE_SIZE = 500
ENGAGEMENTS_MAX_PAGE_SIZE = 250
DEFAULT_MAX_RECORDS_PER_BATCH = 5_000

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: Search tables: object type, the property the search filters and sorts on, properties read.
SEARCH_OBJECTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "contacts": ("contacts", "lastmodifieddate", CONTACT_PROPERTIES),
    "companies": ("companies", "hs_lastmodifieddate", COMPANY_PROPERTIES),
}


class HubspotLakeflowConnect(LakeflowConnect):
    """Reads HubSpot CRM objects, owners and engagements."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        token = options.get("access_token")
        if not token:
            raise ValueError("hubspot: the 'access_token' option is required")
        self._base_url = (options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self._init_ts = datetime.now(timezone.utc)

    # ------------------------------------------------------------------ interface

    def list_tables(self) -> list[str]:
        return list(TABLE_SCHEMAS)

    def get_table_schema(self, table_name: str, table_options: dict[str, str]) -> StructType:
        _check_table(table_name)
        return TABLE_SCHEMAS[table_name]

    def read_table_metadata(self, table_name: str, table_options: dict[str, str]) -> dict:
        _check_table(table_name)
        return dict(TABLE_METADATA[table_name])

    def read_table(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        _check_table(table_name)
        if table_name in SEARCH_OBJECTS:
            return self._read_search(table_name, start_offset, table_options)
        if table_name == "owners":
            owners = self._paginate(
                "/crm/v3/owners",
                {"limit": _page_size(table_options, OWNERS_MAX_PAGE_SIZE), "archived": "false"},
            )
            return owners, {}
        return self._read_engagements(start_offset, table_options)

    def read_table_deletes(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        _check_table(table_name)
        if table_name != "contacts":
            raise ValueError(f"hubspot: table {table_name!r} has no deletes (only 'contacts' does)")
        return self._read_archived_contacts(start_offset, table_options)

    # ------------------------------------------------------------------ contacts, companies

    def _read_search(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict]:
        object_type, modified_property, properties = SEARCH_OBJECTS[table_name]
        cursor, seen_ids = self._resume_point(start_offset, table_options)
        batch_size = _batch_size(table_options)
        page_size = _page_size(table_options, SEARCH_MAX_PAGE_SIZE)
        bounds = [
            {"propertyName": modified_property, "operator": "GTE", "value": str(_epoch_ms(cursor))},
            {"propertyName": modified_property, "operator": "LTE", "value": str(_epoch_ms(self._init_ts))},
        ]
        records: list[dict] = []
        after: str | None = None
        fetched = 0
        while len(records) < batch_size and fetched < SEARCH_RESULT_CAP:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": bounds}],
                "sorts": [{"propertyName": modified_property, "direction": "ASCENDING"}],
                "properties": list(properties),
                # Already-emitted records at the cursor come back first; leave room for them.
                "limit": min(page_size, batch_size - len(records) + len(seen_ids)),
            }
            if after is not None:
                body["after"] = after
            payload = self._request("POST", f"/crm/v3/objects/{object_type}/search", json_body=body)
            results = payload.get("results") or []
            fetched += len(results)
            for record in results:
                if record["id"] in seen_ids and _parse_timestamp(_updated_at(record)) == cursor:
                    continue
                records.append(record)
                if len(records) == batch_size:
                    break
            after = _next_after(payload)
            if after is None:
                break
        if not records:
            return iter([]), _settled(start_offset)
        return iter(records), _advance(cursor, seen_ids, records, _updated_at)

    def _read_archived_contacts(
        self, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict]:
        """Archived contacts, by ``archivedAt``. The list endpoint cannot filter on time, so
        every read lists all archived contacts and keeps those past the offset."""
        cursor, seen_ids = self._resume_point(start_offset, table_options)
        listing = self._paginate(
            "/crm/v3/objects/contacts",
            {"archived": "true", "limit": _page_size(table_options, LIST_MAX_PAGE_SIZE)},
        )
        pending: list[tuple[datetime, str, dict]] = []
        for record in listing:
            archived_at = _parse_timestamp(_archived_at(record))
            already_emitted = archived_at == cursor and record["id"] in seen_ids
            if cursor <= archived_at <= self._init_ts and not already_emitted:
                pending.append((archived_at, record["id"], record))
        pending.sort(key=lambda item: item[:2])
        batch = [record for _, _, record in pending[: _batch_size(table_options)]]
        if not batch:
            return iter([]), _settled(start_offset)
        return iter(batch), _advance(cursor, seen_ids, batch, _archived_at)

    def _resume_point(
        self, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[datetime, list[str]]:
        """The cursor to search from (inclusive) and the ids already emitted at that instant."""
        if is_initial_offset(start_offset):
            start_date = table_options.get("start_date") or self.options.get("start_date")
            return (_parse_timestamp(start_date) if start_date else EPOCH), []
        assert start_offset is not None
        return _parse_timestamp(start_offset["cursor"]), list(start_offset.get("ids_at_cursor", []))

    # ------------------------------------------------------------------ engagements

    def _read_engagements(
        self, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict]:
        """Engagements in the order the paged endpoint lists them (oldest first).

        The offset is the ``offset`` of the page being read plus how many of its records were
        consumed, so a read can resume mid-page and an exhausted last page is re-read later for
        newly created engagements. A read stops before the first engagement last updated after
        the connector started, so the stream settles.
        """
        if is_initial_offset(start_offset):
            page_offset, consumed = None, 0
        else:
            assert start_offset is not None
            page_offset, consumed = start_offset.get("page_offset"), start_offset.get("consumed", 0)
        start_date = table_options.get("start_date") or self.options.get("start_date")
        lower_ms = _epoch_ms(_parse_timestamp(start_date)) if start_date else 0
        upper_ms = _epoch_ms(self._init_ts)
        batch_size = _batch_size(table_options)
        page_size = _page_size(table_options, ENGAGEMENTS_MAX_PAGE_SIZE)

        records: list[dict] = []
        while len(records) < batch_size:
            # Re-request the records consumed from this page too: the offset only marks its start.
            wanted = min(page_size, batch_size - len(records))
            params: dict[str, Any] = {"limit": min(ENGAGEMENTS_MAX_PAGE_SIZE, consumed + wanted)}
            if page_offset is not None:
                params["offset"] = page_offset
            payload = self._request("GET", "/engagements/v1/engagements/paged", params=params)
            results = payload.get("results") or []
            reached_now = False
            for record in results[consumed:]:
                last_updated = record["engagement"]["lastUpdated"]
                if last_updated > upper_ms:
                    reached_now = True
                    break
                consumed += 1
                if last_updated >= lower_ms:
                    records.append(record)
                    if len(records) == batch_size:
                        break
            if reached_now or len(records) == batch_size:
                break
            if not payload.get("hasMore") or payload.get("offset") is None:
                break
            page_offset, consumed = payload["offset"], 0

        end_offset = {"page_offset": page_offset, "consumed": consumed}
        if not records and end_offset == start_offset:
            return iter([]), start_offset
        return iter(records), end_offset

    # ------------------------------------------------------------------ HTTP

    def _paginate(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        """Records of a cursor-paged GET listing (``paging.next.after``), all pages."""
        params = dict(params)
        while True:
            payload = self._request("GET", path, params=params)
            yield from payload.get("results") or []
            after = _next_after(payload)
            if after is None:
                return
            params["after"] = after

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API call, retried on 429, 5xx and network errors (honouring Retry-After)."""
        url = f"{self._base_url}{path}"
        attempt = 1
        while True:
            try:
                response = self._session.request(
                    method, url, params=params, json=json_body, timeout=REQUEST_TIMEOUT
                )
            except (requests.ConnectionError, requests.Timeout):
                if attempt >= MAX_ATTEMPTS:
                    raise
                delay = _backoff(attempt)
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt >= MAX_ATTEMPTS:
                    if not response.ok:
                        raise requests.HTTPError(
                            f"HubSpot {method} {path} returned HTTP {response.status_code}: "
                            f"{response.text[:500]}",
                            response=response,
                        )
                    return response.json()
                delay = _retry_delay(response, attempt)
            logger.warning("HubSpot %s %s: attempt %d failed; retry in %.1fs", method, path, attempt, delay)
            time.sleep(delay)
            attempt += 1


# ---------------------------------------------------------------------- helpers


def _check_table(table_name: str) -> None:
    if table_name not in TABLE_SCHEMAS:
        raise ValueError(f"hubspot: unknown table {table_name!r}; expected one of {sorted(TABLE_SCHEMAS)}")


def _positive_int(table_options: dict[str, str], name: str, default: int) -> int:
    raw = table_options.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"hubspot: table option {name!r} must be a positive integer, got {raw!r}")
    return value


def _batch_size(table_options: dict[str, str]) -> int:
    return _positive_int(table_options, "max_records_per_batch", DEFAULT_MAX_RECORDS_PER_BATCH)


def _page_size(table_options: dict[str, str], maximum: int) -> int:
    return min(_positive_int(table_options, "page_size", maximum), maximum)


def _parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp or date (``2025-01-20T09:12:44.101Z``) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def _epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _updated_at(record: dict) -> str:
    return record["updatedAt"]


def _archived_at(record: dict) -> str:
    return record.get("archivedAt") or record["updatedAt"]


def _advance(
    cursor: datetime,
    seen_ids: list[str],
    records: list[dict],
    cursor_of: Callable[[dict], str],
) -> dict:
    """The offset after ``records`` (ascending by ``cursor_of``) were emitted."""
    last_text = cursor_of(records[-1])
    last_ts = _parse_timestamp(last_text)
    ids = {record["id"] for record in records if _parse_timestamp(cursor_of(record)) == last_ts}
    if last_ts == cursor:
        ids.update(seen_ids)
    return {"cursor": last_text, "ids_at_cursor": sorted(ids)}


def _settled(start_offset: dict | None) -> dict:
    """The offset of a read that found nothing new: the one it was given."""
    return start_offset or {}


def _next_after(payload: dict) -> str | None:
    """The ``paging.next.after`` token of a v3 response, or None on the last page."""
    return ((payload.get("paging") or {}).get("next") or {}).get("after")


def _backoff(attempt: int) -> float:
    return min(2.0 ** (attempt - 1), MAX_RETRY_DELAY)


def _retry_delay(response: requests.Response, attempt: int) -> float:
    """Seconds to wait before retrying: the Retry-After header when present."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_DELAY)
        except ValueError:
            try:
                wait = (parsedate_to_datetime(retry_after) - datetime.now(timezone.utc)).total_seconds()
            except (TypeError, ValueError):
                return _backoff(attempt)
            return min(max(wait, 0.0), MAX_RETRY_DELAY)
    return _backoff(attempt)
