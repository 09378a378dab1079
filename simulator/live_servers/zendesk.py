"""A live Zendesk Support API v2 (the endpoints ``sources/zendesk`` reads, plus ticket creation).

* ``GET /api/v2/incremental/tickets/cursor.json`` and ``.../users/cursor.json``:
  cursor-based incremental exports. ``start_time`` (epoch seconds, at least a
  minute old) or ``cursor``; ``per_page`` up to 1000; records updated at or
  after ``start_time``, oldest first; ``after_url``/``after_cursor`` point at the
  next page, ``end_of_stream`` says there is none.
* ``GET /api/v2/incremental/ticket_metric_events.json``: time-based export from
  ``start_time``; up to 1000 events a page, ``next_page`` restarts at the last
  event's time.
* ``GET /api/v2/groups.json``: ``page``/``per_page`` (max 100), ``count``.
* ``POST /api/v2/tickets.json``: create a ticket (write-back).

Auth: HTTP Basic ``{email}/token:{api_token}``; 401 "Couldn't authenticate you".
"""

from __future__ import annotations

import copy
import secrets
import time

from connector_watch.simulator.live_servers.framework import (
    ApiError,
    ApiRequest,
    ApiResponse,
    LiveApp,
    decode_token,
    encode_token,
    instant,
    now_iso,
    route,
)

EXPORT_MAX_PAGE = 1000
TIME_EXPORT_PAGE = 1000
EXPORT_MIN_AGE = 60


def _invalid(description: str) -> ApiError:
    return ApiError(400, {"error": "InvalidValue", "description": description})


class ZendeskApp(LiveApp):
    source = "zendesk"
    CREDENTIALS = {
        "email": lambda: "hana.suzuki@northwind-outfitters.com",
        "api_token": lambda: secrets.token_urlsafe(30),
    }
    DRIFT_DEFAULTS = {
        "extra_field": 'tickets.encoded_id="PZ8Q3M-D8Q1"',
        "removed_field": "tickets.raw_subject",
        "null_field": "users.time_zone",
        "changed_type": "ticket_metric_events.instance_id",
        "renamed_wrapper": "groups=group_list",
    }
    SUBDOMAIN = "northwind"

    def connector_config(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": base_url,
            "subdomain": self.SUBDOMAIN,
            "email": self.credentials["email"],
            "api_token": self.credentials["api_token"],
        }

    def authenticate(self, request: ApiRequest) -> None:
        expected = (f"{self.credentials['email']}/token", self.credentials["api_token"])
        if request.basic() != expected:
            raise ApiError(401, {"error": "Couldn't authenticate you"})

    def rate_limited(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            429,
            {
                "error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded",
            },
            {"Retry-After": "0"},
        )

    def not_found(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # ------------------------------------------------------------------ cursor exports
    def _cursor_export(self, request: ApiRequest, table: str) -> ApiResponse:
        per_page = request.int_arg("per_page", EXPORT_MAX_PAGE, 1, EXPORT_MAX_PAGE)
        cursor = request.arg("cursor")
        if cursor:
            state = decode_token(cursor, lambda: _invalid("cursor is invalid"))
            start, position = int(state.get("start", 0)), int(state.get("pos", 0))
        else:
            raw = request.arg("start_time")
            if raw is None:
                raise _invalid("start_time or cursor is required")
            try:
                start = int(raw)
            except ValueError:
                raise _invalid(f"start_time must be an epoch timestamp, got {raw!r}")
            if start > time.time() - EXPORT_MIN_AGE:
                raise _invalid("Too recent start_time. Use a start_time older than 1 minute")
            position = 0
        records = [r for r in self.table(table) if (instant(r.get("updated_at")) or 0) >= start]
        records.sort(key=lambda r: (instant(r.get("updated_at")) or 0, r.get("id", 0)))
        window = records[position : position + per_page]
        more = position + per_page < len(records)
        after_cursor = encode_token({"start": start, "pos": position + per_page}) if more else None
        after_url = (
            request.url(request.path, {"cursor": after_cursor, "per_page": per_page}) if more else None
        )
        return ApiResponse(
            200,
            {
                self.records_key(table, table): self.present_all(table, window),
                "after_url": after_url,
                "after_cursor": after_cursor,
                "before_url": None,
                "before_cursor": None,
                "end_of_stream": not more,
            },
        )

    @route("GET", "/api/v2/incremental/tickets/cursor.json")
    def export_tickets(self, request: ApiRequest) -> ApiResponse:
        return self._cursor_export(request, "tickets")

    @route("GET", "/api/v2/incremental/users/cursor.json")
    def export_users(self, request: ApiRequest) -> ApiResponse:
        return self._cursor_export(request, "users")

    # ------------------------------------------------------------------ time-based export
    @route("GET", "/api/v2/incremental/ticket_metric_events.json")
    def export_metric_events(self, request: ApiRequest) -> ApiResponse:
        raw = request.arg("start_time")
        if raw is None:
            raise _invalid("start_time is required")
        try:
            start = int(raw)
        except ValueError:
            raise _invalid(f"start_time must be an epoch timestamp, got {raw!r}")
        table = "ticket_metric_events"
        events = [e for e in self.table(table) if (instant(e.get("time")) or 0) >= start]
        events.sort(key=lambda e: (instant(e.get("time")) or 0, e.get("id", 0)))
        window = events[:TIME_EXPORT_PAGE]
        end_of_stream = len(events) <= TIME_EXPORT_PAGE
        end_time = int(instant(window[-1]["time"]) or start) if window else start
        next_page = None if end_of_stream else request.url(request.path, {"start_time": end_time})
        return ApiResponse(
            200,
            {
                self.records_key(table, table): self.present_all(table, window),
                "next_page": next_page,
                "count": len(window),
                "end_time": end_time,
                "end_of_stream": end_of_stream,
            },
        )

    # ------------------------------------------------------------------ groups
    @route("GET", "/api/v2/groups.json")
    def list_groups(self, request: ApiRequest) -> ApiResponse:
        per_page = request.int_arg("per_page", 100, 1, 100)
        page = request.int_arg("page", 1, 1)
        groups = self.table("groups")
        if request.arg("exclude_deleted") == "true":
            groups = [g for g in groups if not g.get("deleted")]
        window = groups[(page - 1) * per_page : page * per_page]
        return ApiResponse(
            200,
            {self.records_key("groups", "groups"): self.present_all("groups", window), "count": len(groups)},
        )

    # ------------------------------------------------------------------ write-back
    @route("POST", "/api/v2/tickets.json", name="create_ticket")
    def create_ticket(self, request: ApiRequest) -> ApiResponse:
        body = request.json() or {}
        ticket_in = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket_in, dict):
            raise ApiError(400, {"error": "InvalidValue", "description": 'expected {"ticket": {...}}'})
        comment = ticket_in.get("comment") or {}
        if not comment.get("body") and not ticket_in.get("description"):
            raise ApiError(
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"description": [{"description": "Description: cannot be blank"}]},
                },
            )
        tickets = self.table("tickets")
        ticket = copy.deepcopy(tickets[0]) if tickets else {}
        ticket_id = max((t.get("id", 0) for t in tickets), default=10000) + 1
        stamp = now_iso()
        subject = ticket_in.get("subject") or (comment.get("body") or "")[:60]
        ticket.update(
            {
                "id": ticket_id,
                "url": f"https://{self.SUBDOMAIN}.zendesk.com/api/v2/tickets/{ticket_id}.json",
                "subject": subject,
                "raw_subject": subject,
                "description": comment.get("body") or ticket_in.get("description"),
                "status": "new",
                "priority": ticket_in.get("priority", ticket.get("priority")),
                "type": ticket_in.get("type", ticket.get("type")),
                "tags": list(ticket_in.get("tags") or []),
                "created_at": stamp,
                "updated_at": stamp,
                "generated_timestamp": int(time.time()),
                "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
                "external_id": ticket_in.get("external_id"),
            }
        )
        tickets.append(ticket)
        return ApiResponse(201, {"ticket": self.present("tickets", ticket)})
