"""A live HubSpot API (CRM v3 objects and owners, legacy v1 engagements, contact writes).

* ``POST /crm/v3/objects/{contacts|companies}/search``: ``filterGroups`` (OR of
  groups, AND of filters; ``EQ NEQ LT LTE GT GTE BETWEEN IN HAS_PROPERTY
  NOT_HAS_PROPERTY``; timestamps compare as instants, epoch milliseconds or
  ISO), ``sorts``, ``properties``, ``limit`` (max 200), ``after``;
  ``{total, results, paging.next.after}``, ``paging`` only when a next page exists.
* ``GET /crm/v3/objects/contacts``: ``archived``, ``limit`` (max 100), ``after``.
* ``GET /crm/v3/owners``: ``limit`` (max 500), ``after``, ``email``, ``archived``.
* ``GET /engagements/v1/engagements/paged``: ``limit`` (max 250), ``offset``;
  ``{results, hasMore, offset}``.
* ``POST /crm/v3/objects/contacts`` and ``DELETE /crm/v3/objects/contacts/{id}``
  (archives it): write-back.

Auth: ``Authorization: Bearer <access token>``; 401 INVALID_AUTHENTICATION otherwise.
"""

from __future__ import annotations

import secrets
from typing import Any

from connector_watch.simulator.live_servers.framework import (
    ApiError,
    ApiRequest,
    ApiResponse,
    LiveApp,
    instant,
    now_iso,
    route,
)

SEARCH_DEFAULTS = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}
OPERATORS = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
)


def _bad_request(message: str) -> ApiError:
    return ApiError(400, {"status": "error", "message": message, "category": "VALIDATION_ERROR"})


def _compare(value: Any, wanted: Any) -> tuple[Any, Any] | None:
    """Comparable forms of a property value and a filter value (instants, numbers, else strings)."""
    if value is None:
        return None
    as_value, as_wanted = instant(value), instant(wanted)
    if as_value is not None and as_wanted is not None and not str(value).lstrip("-").isdigit():
        return as_value, as_wanted
    try:
        return float(value), float(wanted)
    except (TypeError, ValueError):
        return str(value), str(wanted)


def _matches(record: dict[str, Any], spec: dict[str, Any]) -> bool:
    name = spec.get("propertyName")
    operator = str(spec.get("operator", "EQ")).upper()
    if operator not in OPERATORS:
        raise _bad_request(f"Unsupported operator {operator!r}")
    value = (record.get("properties") or {}).get(name)
    if name == "hs_object_id" and value is None:
        value = record.get("id")
    if operator == "HAS_PROPERTY":
        return value not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if operator in ("IN", "NOT_IN"):
        values = [str(v) for v in spec.get("values") or []]
        inside = value is not None and str(value) in values
        return inside if operator == "IN" else not inside
    if operator == "BETWEEN":
        low, high = _compare(value, spec.get("value")), _compare(value, spec.get("highValue"))
        return low is not None and high is not None and low[1] <= low[0] and high[0] <= high[1]
    pair = _compare(value, spec.get("value"))
    if pair is None:
        return operator == "NEQ"
    left, right = pair
    return {
        "EQ": left == right,
        "NEQ": left != right,
        "LT": left < right,
        "LTE": left <= right,
        "GT": left > right,
        "GTE": left >= right,
    }[operator]


class HubspotApp(LiveApp):
    source = "hubspot"
    CREDENTIALS = {"access_token": lambda: "pat-na1-" + secrets.token_hex(16)}
    DRIFT_DEFAULTS = {
        "extra_field": 'contacts.url="https://app.hubspot.com/contacts/24512345"',
        "removed_field": "contacts.archived",
        "null_field": "companies.properties.domain",
        "changed_type": "companies.properties.numberofemployees",
        "renamed_wrapper": "owners=items",
    }

    def connector_config(self, base_url: str) -> dict[str, str]:
        return {"base_url": base_url, "access_token": self.credentials["access_token"]}

    def authenticate(self, request: ApiRequest) -> None:
        if request.bearer() != self.credentials["access_token"]:
            raise ApiError(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                    "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "correlationId": "00000000-0000-0000-0000-000000000401",
                    "category": "INVALID_AUTHENTICATION",
                },
            )

    def rate_limited(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "00000000-0000-0000-0000-000000000429",
                "policyName": "SECONDLY",
            },
            {"Retry-After": "0"},
        )

    def not_found(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            404, {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}
        )

    # ------------------------------------------------------------------ paging
    def _cursor_page(
        self,
        request: ApiRequest,
        table: str,
        records: list[dict[str, Any]],
        limit: int,
        after: Any,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            start = int(after) if after not in (None, "") else 0
        except (TypeError, ValueError):
            raise _bad_request(f"Invalid after token {after!r}")
        window = records[start : start + limit]
        body: dict[str, Any] = dict(extra or {})
        body[self.records_key(table, "results")] = self.present_all(table, window)
        if start + limit < len(records):
            token = str(start + limit)
            body["paging"] = {"next": {"after": token, "link": request.url(request.path, {"after": token})}}
        return body

    # ------------------------------------------------------------------ search
    def _search(self, request: ApiRequest, object_type: str) -> dict[str, Any]:
        body = request.json() or {}
        if not isinstance(body, dict):
            raise _bad_request("expected a JSON object")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            raise _bad_request("limit must be between 1 and 200")
        groups = body.get("filterGroups") or []
        records = [
            r
            for r in self.table(object_type)
            if not groups or any(all(_matches(r, f) for f in g.get("filters") or []) for g in groups)
        ]
        for sort in reversed(
            body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        ):
            name = sort.get("propertyName") if isinstance(sort, dict) else str(sort)
            descending = (
                isinstance(sort, dict) and str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            )

            def key(record: dict[str, Any], name: str = name) -> tuple[int, Any]:
                value = (
                    (record.get("properties") or {}).get(name) if name != "hs_object_id" else record.get("id")
                )
                if value is None:
                    return (1, 0.0)
                moment = instant(value)
                return (0, moment if moment is not None else str(value))

            records.sort(key=key, reverse=descending)
        wanted = body.get("properties")
        names = set(SEARCH_DEFAULTS.get(object_type, ())) | set(wanted or [])
        projected = []
        for record in records:
            out = dict(record)
            props = record.get("properties") or {}
            out["properties"] = {n: props.get(n) for n in sorted(names) if n in props or n in (wanted or [])}
            projected.append(out)
        return self._cursor_page(
            request, object_type, projected, limit, body.get("after"), {"total": len(projected)}
        )

    @route("POST", "/crm/v3/objects/contacts/search")
    def search_contacts(self, request: ApiRequest) -> dict[str, Any]:
        return self._search(request, "contacts")

    @route("POST", "/crm/v3/objects/companies/search")
    def search_companies(self, request: ApiRequest) -> dict[str, Any]:
        return self._search(request, "companies")

    # ------------------------------------------------------------------ lists
    @route("GET", "/crm/v3/objects/contacts")
    def list_contacts(self, request: ApiRequest) -> dict[str, Any]:
        archived = (request.arg("archived", "false") or "false").lower() == "true"
        table = "contacts_archived" if archived else "contacts"
        limit = request.int_arg("limit", 10, 1, 100)
        wanted = [p for p in (request.arg("properties") or "").split(",") if p]
        names = set(SEARCH_DEFAULTS["contacts"]) | set(wanted)
        projected = [
            dict(r, properties={k: v for k, v in (r.get("properties") or {}).items() if k in names})
            for r in self.table(table)
        ]
        return self._cursor_page(request, table, projected, limit, request.arg("after"))

    @route("GET", "/crm/v3/owners")
    def list_owners(self, request: ApiRequest) -> dict[str, Any]:
        limit = request.int_arg("limit", 100, 1, 500)
        archived = (request.arg("archived", "false") or "false").lower() == "true"
        owners = [o for o in self.table("owners") if bool(o.get("archived")) == archived]
        email = request.arg("email")
        if email:
            owners = [o for o in owners if o.get("email") == email]
        return self._cursor_page(request, "owners", owners, limit, request.arg("after"))

    @route("GET", "/engagements/v1/engagements/paged")
    def list_engagements(self, request: ApiRequest) -> dict[str, Any]:
        limit = request.int_arg("limit", 100, 1, 250)
        offset = request.int_arg("offset", 0, 0)
        engagements = sorted(
            self.table("engagements"), key=lambda e: (e["engagement"]["createdAt"], e["engagement"]["id"])
        )
        window = engagements[offset : offset + limit]
        return {
            self.records_key("engagements", "results"): self.present_all("engagements", window),
            "hasMore": offset + limit < len(engagements),
            "offset": offset + len(window),
        }

    # ------------------------------------------------------------------ write-back
    @route("POST", "/crm/v3/objects/contacts", name="create_contact")
    def create_contact(self, request: ApiRequest) -> ApiResponse:
        body = request.json() or {}
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise _bad_request('expected {"properties": {...}}')
        contacts = self.table("contacts")
        email = properties.get("email")
        if email and any((c.get("properties") or {}).get("email") == email for c in contacts):
            raise ApiError(
                409,
                {
                    "status": "error",
                    "message": f"Contact already exists. Existing ID: {email}",
                    "category": "CONFLICT",
                },
            )
        ids = [
            int(c["id"]) for c in contacts + self.table("contacts_archived") if str(c.get("id", "")).isdigit()
        ]
        contact_id = str(max(ids, default=70000000000) + 1)
        stamp = now_iso("milliseconds")
        props = {str(k): (None if v is None else str(v)) for k, v in properties.items()}
        props.update({"createdate": stamp, "lastmodifieddate": stamp, "hs_object_id": contact_id})
        contact = {
            "id": contact_id,
            "properties": props,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        contacts.append(contact)
        return ApiResponse(201, self.present("contacts", contact))

    @route("DELETE", "/crm/v3/objects/contacts/{contact_id}", name="archive_contact")
    def archive_contact(self, request: ApiRequest) -> ApiResponse:
        contacts = self.table("contacts")
        wanted = request.path_params["contact_id"]
        for index, contact in enumerate(contacts):
            if str(contact.get("id")) == wanted:
                stamp = now_iso("milliseconds")
                archived = dict(contact, archived=True, archivedAt=stamp, updatedAt=stamp)
                del contacts[index]
                self.table("contacts_archived").append(archived)
                return ApiResponse(204, None)
        return self.not_found(request)
