"""Microsoft Graph connector: users, groups, the directory audit log and the organization.

Authentication is the OAuth 2.0 client-credentials grant of the Microsoft identity platform: an
app registration's ``client_id`` and ``client_secret`` are exchanged at
``{login_url}/{tenant_id}/oauth2/v2.0/token`` for an access token (application permissions
User.Read.All, Group.Read.All, AuditLog.Read.All, Organization.Read.All). The token is fetched
on the first data request, reused until shortly before it expires, and fetched again once if
Graph answers 401.

==================  =========  ==========================================================
table               ingestion  endpoint
==================  =========  ==========================================================
users               snapshot   ``GET /users?$select=...&$top=``
groups              snapshot   ``GET /groups?$select=...&$top=``
directory_audits    append     ``GET /auditLogs/directoryAudits?$filter=...&$orderby=...``
organization        snapshot   ``GET /organization``
==================  =========  ==========================================================

Collections page with ``@odata.nextLink``, which the connector follows verbatim. The audit log
is read ascending by ``activityDateTime`` between the offset's cursor (inclusive) and the
connector's start time; the offset ``{"cursor": <activityDateTime>, "ids_at_cursor": [...]}``
lets a batch end between two entries of the same instant.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from connector_watch.sources.interface import LakeflowConnect, is_initial_offset
from pyspark.sql.types import StructType

from sources.msgraph.msgraph_schemas import GROUP_FIELDS, TABLE_METADATA, TABLE_SCHEMAS, USER_FIELDS

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_SCOPE = "https://graph.microsoft.com/.default"

REQUEST_TIMEOUT = (10, 60)  # (connect, read) seconds
MAX_ATTEMPTS = 5
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_DELAY = 60.0
TOKEN_REFRESH_MARGIN = 300.0  # seconds before expiry at which a cached token is replaced

MAX_PAGE_SIZE = 999  # the largest $top Graph accepts on these collections
DEFAULT_MAX_RECORDS_PER_BATCH = 5_000
DEFAULT_START = "1970-01-01T00:00:00Z"

_ISO_INSTANT = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


class MsgraphLakeflowConnect(LakeflowConnect):
    """Reads Microsoft Entra ID (Azure AD) directory data through Microsoft Graph."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        missing = [name for name in ("tenant_id", "client_id", "client_secret") if not options.get(name)]
        if missing:
            raise ValueError(f"msgraph: missing required option(s): {', '.join(missing)}")
        self._tenant_id = options["tenant_id"]
        self._client_id = options["client_id"]
        self._client_secret = options["client_secret"]
        self._scope = options.get("scope") or DEFAULT_SCOPE
        self._base_url = (options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self._login_url = (options.get("login_url") or DEFAULT_LOGIN_URL).rstrip("/")
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json"})
        self._access_token: str | None = None
        self._token_expires_at = 0.0  # time.monotonic() after which the token is stale
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
        page_size = _page_size(table_options)
        if table_name == "users":
            return self._records("/users", {"$select": ",".join(USER_FIELDS), "$top": page_size}), {}
        if table_name == "groups":
            return self._records("/groups", {"$select": ",".join(GROUP_FIELDS), "$top": page_size}), {}
        if table_name == "organization":
            return self._records("/organization", {}), {}
        return self._read_directory_audits(start_offset, table_options)

    def read_table_deletes(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        _check_table(table_name)
        raise ValueError(f"msgraph: table {table_name!r} is not a cdc_with_deletes table")

    # ------------------------------------------------------------------ directory audits

    def _read_directory_audits(
        self, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict]:
        if is_initial_offset(start_offset):
            start_date = table_options.get("start_date") or self.options.get("start_date")
            cursor_text, seen_ids = start_date or DEFAULT_START, []
        else:
            assert start_offset is not None
            cursor_text, seen_ids = start_offset["cursor"], list(start_offset.get("ids_at_cursor", []))
        cursor = _instant(cursor_text)
        batch_size = _batch_size(table_options)
        until = self._init_ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        params = {
            "$filter": f"activityDateTime ge {_odata_datetime(cursor_text)} and activityDateTime le {until}",
            "$orderby": "activityDateTime asc",
            # Entries already emitted at the cursor come back first; leave room for them.
            "$top": min(_page_size(table_options), batch_size + len(seen_ids)),
        }
        records: list[dict] = []
        for entry in self._records("/auditLogs/directoryAudits", params):
            if entry["id"] in seen_ids and _instant(entry["activityDateTime"]) == cursor:
                continue
            records.append(entry)
            if len(records) == batch_size:
                break
        if not records:
            return iter([]), start_offset or {}

        last_text = records[-1]["activityDateTime"]
        last = _instant(last_text)
        ids = {entry["id"] for entry in records if _instant(entry["activityDateTime"]) == last}
        if last == cursor:
            ids.update(seen_ids)
        return iter(records), {"cursor": last_text, "ids_at_cursor": sorted(ids)}

    # ------------------------------------------------------------------ HTTP

    def _records(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        """Items of a Graph collection, following ``@odata.nextLink`` page by page."""
        url: str | None = f"{self._base_url}{path}"
        query: dict[str, Any] | None = params
        while url:
            payload = self._get(url, query)
            yield from payload.get("value") or []
            url, query = payload.get("@odata.nextLink"), None  # the link carries the whole query

    def _get(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        response = self._send("GET", url, params=params, headers=self._authorization())
        if response.status_code == 401:
            logger.info("Microsoft Graph rejected the access token; requesting a new one")
            self._access_token = None
            response = self._send("GET", url, params=params, headers=self._authorization())
        _raise_for_status(response, f"Microsoft Graph GET {url}")
        return response.json()

    def _authorization(self) -> dict[str, str]:
        if self._access_token is None or time.monotonic() >= self._token_expires_at:
            self._access_token, self._token_expires_at = self._fetch_token()
        return {"Authorization": f"Bearer {self._access_token}"}

    def _fetch_token(self) -> tuple[str, float]:
        """A client-credentials access token and the monotonic time to replace it at."""
        token_url = f"{self._login_url}/{self._tenant_id}/oauth2/v2.0/token"
        response = self._send(
            "POST",
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": self._scope,
            },
        )
        _raise_for_status(response, f"Token request POST {token_url}")
        payload = response.json()
        expires_in = float(payload.get("expires_in", 3599))
        refresh_in = expires_in - min(TOKEN_REFRESH_MARGIN, expires_in / 2)
        return payload["access_token"], time.monotonic() + refresh_in

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP call, retried on 429, 5xx and network errors (honouring Retry-After)."""
        attempt = 1
        while True:
            try:
                response = self._session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if attempt >= MAX_ATTEMPTS:
                    raise
                delay = _backoff(attempt)
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt >= MAX_ATTEMPTS:
                    return response
                delay = _retry_delay(response, attempt)
            logger.warning("%s %s: attempt %d failed; retry in %.1fs", method, url, attempt, delay)
            time.sleep(delay)
            attempt += 1


# ---------------------------------------------------------------------- helpers


def _check_table(table_name: str) -> None:
    if table_name not in TABLE_SCHEMAS:
        raise ValueError(f"msgraph: unknown table {table_name!r}; expected one of {sorted(TABLE_SCHEMAS)}")


def _positive_int(table_options: dict[str, str], name: str, default: int) -> int:
    raw = table_options.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"msgraph: table option {name!r} must be a positive integer, got {raw!r}")
    return value


def _batch_size(table_options: dict[str, str]) -> int:
    return _positive_int(table_options, "max_records_per_batch", DEFAULT_MAX_RECORDS_PER_BATCH)


def _page_size(table_options: dict[str, str]) -> int:
    return min(_positive_int(table_options, "page_size", MAX_PAGE_SIZE), MAX_PAGE_SIZE)


def _instant(value: str) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime.

    Graph writes up to seven fractional digits (``2025-03-14T08:21:11.5617474Z``); they are
    truncated to microseconds, which Python's parser needs before 3.11. A date alone is
    midnight UTC.
    """
    match = _ISO_INSTANT.match(value)
    if match is None:
        parsed = datetime.fromisoformat(value)
    else:
        seconds, fraction, zone = match.groups()
        text = seconds + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
        parsed = datetime.fromisoformat(text + ("+00:00" if zone in (None, "Z") else zone))
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _odata_datetime(value: str) -> str:
    """``value`` as an OData DateTimeOffset literal: kept verbatim (all its precision) when it is
    already a UTC timestamp, else normalised."""
    if value.endswith("Z") and "T" in value:
        return value
    return _instant(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _raise_for_status(response: requests.Response, what: str) -> None:
    if not response.ok:
        raise requests.HTTPError(
            f"{what} returned HTTP {response.status_code}: {response.text[:500]}", response=response
        )


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
