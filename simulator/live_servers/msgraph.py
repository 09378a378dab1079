"""A live Microsoft Graph v1.0 with its identity platform token endpoint.

* ``POST /{tenant}/oauth2/v2.0/token``: OAuth 2.0 client-credentials grant
  (form-encoded ``grant_type``, ``client_id``, ``client_secret``, ``scope``);
  issues a random bearer token valid for ``expires_in`` seconds.
* ``GET /v1.0/users`` and ``/v1.0/groups``: ``$select``, ``$top`` (1-999),
  ``$skiptoken``; ``@odata.nextLink`` while more remain.
* ``GET /v1.0/auditLogs/directoryAudits``: ``$filter`` on ``activityDateTime``
  (``ge le gt lt eq``, joined by ``and``), ``$orderby activityDateTime
  [asc|desc]`` (default newest first), ``$top``, ``$skiptoken``.
* ``GET /v1.0/organization``.

Data requests need a token this server issued (401 InvalidAuthenticationToken
otherwise). The connector's ``base_url`` is ``<server>/v1.0`` and its
``login_url`` the server root.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any

from connector_watch.simulator.live_servers.framework import (
    ApiError,
    ApiRequest,
    ApiResponse,
    LiveApp,
    decode_token,
    encode_token,
    instant,
    route,
)

CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
TOKEN_LIFETIME = 3599
MAX_TOP = 999
_CLAUSE = re.compile(r"^activityDateTime\s+(eq|ge|le|gt|lt)\s+(\S+)$", re.IGNORECASE)
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ge": lambda a, b: a >= b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
}


def _graph_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"request-id": str(uuid.uuid4()), "date": time.strftime("%Y-%m-%dT%H:%M:%S")},
            }
        },
    )


def _ticks(value: str) -> int:
    """100 ns ticks since the epoch (Graph keeps seven fractional digits)."""
    match = re.match(r"^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", value)
    if match is None:
        raise ValueError(value)
    head, fraction, zone = match.groups()
    seconds = instant(head + (zone or "Z"))
    if seconds is None:
        raise ValueError(value)
    return int(seconds) * 10_000_000 + int((fraction or "0")[:7].ljust(7, "0"))


class MsgraphApp(LiveApp):
    source = "msgraph"
    CREDENTIALS = {
        "tenant_id": lambda: "4a3f1c9e-7b2d-4e8f-9c61-2d5a8b0e3f47",
        "client_id": lambda: str(uuid.uuid4()),
        "client_secret": lambda: secrets.token_urlsafe(30),
    }
    DRIFT_DEFAULTS = {
        "extra_field": "organization.onPremisesSyncEnabled=false",
        "removed_field": "users.mobilePhone",
        "null_field": "users.jobTitle",
        "changed_type": "groups.securityEnabled",
        "renamed_wrapper": "organization=values",
    }

    def load(self) -> None:
        self.tokens: dict[str, float] = getattr(self, "tokens", {})

    def connector_config(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": f"{base_url}/v1.0",
            "login_url": base_url,
            "tenant_id": self.credentials["tenant_id"],
            "client_id": self.credentials["client_id"],
            "client_secret": self.credentials["client_secret"],
        }

    def authenticate(self, request: ApiRequest) -> None:
        token = request.bearer()
        if not token:
            raise _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        expires = self.tokens.get(token)
        if expires is None or expires < time.time():
            raise _graph_error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )

    def rate_limited(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            429, {"error": {"code": "TooManyRequests", "message": "Too many requests."}}, {"Retry-After": "0"}
        )

    def not_found(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            404,
            {
                "error": {
                    "code": "Request_ResourceNotFound",
                    "message": f"Resource '{request.path}' does not exist.",
                }
            },
        )

    # ------------------------------------------------------------------ token
    @route("POST", "/{tenant}/oauth2/v2.0/token", auth=False, name="token")
    def token(self, request: ApiRequest) -> ApiResponse:
        form = request.form()
        if request.path_params["tenant"] != self.credentials["tenant_id"]:
            return ApiResponse(
                400,
                {
                    "error": "invalid_request",
                    "error_description": f"AADSTS90002: Tenant '{request.path_params['tenant']}' not found.",
                },
            )
        if form.get("grant_type") != "client_credentials":
            return ApiResponse(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "AADSTS70003: The app requested an unsupported grant type.",
                },
            )
        if (
            form.get("client_id") != self.credentials["client_id"]
            or form.get("client_secret") != self.credentials["client_secret"]
        ):
            return ApiResponse(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        token = secrets.token_urlsafe(40)
        self.tokens[token] = time.time() + TOKEN_LIFETIME
        return ApiResponse(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": token,
            },
        )

    # ------------------------------------------------------------------ collections
    def _top(self, request: ApiRequest, default: int) -> int:
        raw = request.arg("$top")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
            raise _graph_error(
                400,
                "Request_BadRequest",
                f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.",
            )
        return int(raw)

    def _skip(self, request: ApiRequest) -> int:
        raw = request.arg("$skiptoken")
        if not raw:
            return 0
        state = decode_token(raw, lambda: _graph_error(400, "Request_BadRequest", "Invalid skip token."))
        return int(state.get("position", 0))

    def _collection(
        self,
        request: ApiRequest,
        table: str,
        records: list[dict[str, Any]],
        context: str,
        default_top: int = 100,
    ) -> dict[str, Any]:
        top = self._top(request, default_top)
        start = self._skip(request)
        window = records[start : start + top]
        select = request.arg("$select")
        if select:
            fields = [f.strip() for f in select.split(",") if f.strip()]
            window = [{k: r.get(k) for k in (["id"] if "id" not in fields else []) + fields} for r in window]
            context = f"{context}({select})"
        body: dict[str, Any] = {
            "@odata.context": CONTEXT + context,
            self.records_key(table, "value"): self.present_all(table, window),
        }
        if start + top < len(records):
            query = [(k, v[-1]) for k, v in request.query.items() if k != "$skiptoken"]
            query.append(("$skiptoken", encode_token({"position": start + top})))
            body["@odata.nextLink"] = request.url(request.path, query)
        return body

    @route("GET", "/v1.0/users")
    def users(self, request: ApiRequest) -> dict[str, Any]:
        return self._collection(request, "users", self.table("users"), "users")

    @route("GET", "/v1.0/groups")
    def groups(self, request: ApiRequest) -> dict[str, Any]:
        return self._collection(request, "groups", self.table("groups"), "groups")

    @route("GET", "/v1.0/organization")
    def organization(self, request: ApiRequest) -> dict[str, Any]:
        return self._collection(request, "organization", self.table("organization"), "organization")

    @route("GET", "/v1.0/auditLogs/directoryAudits")
    def directory_audits(self, request: ApiRequest) -> dict[str, Any]:
        entries = list(self.table("directory_audits"))
        expression = (request.arg("$filter") or "").strip()
        for clause in filter(None, (c.strip() for c in re.split(r"\s+and\s+", expression))):
            match = _CLAUSE.match(clause)
            if match is None:
                raise _graph_error(400, "BadRequest", "Invalid filter clause")
            op, literal = match.group(1).lower(), match.group(2)
            try:
                bound = _ticks(literal)
            except ValueError:
                raise _graph_error(400, "BadRequest", f"Invalid DateTimeOffset literal '{literal}'.")
            entries = [e for e in entries if _COMPARE[op](_ticks(e["activityDateTime"]), bound)]
        orderby = (request.arg("$orderby") or "activityDateTime desc").strip()
        match = re.fullmatch(r"activityDateTime(?:\s+(asc|desc))?", orderby, re.IGNORECASE)
        if match is None:
            raise _graph_error(400, "BadRequest", f"OrderBy not supported for '{orderby}'.")
        entries.sort(
            key=lambda e: _ticks(e["activityDateTime"]), reverse=(match.group(1) or "asc").lower() == "desc"
        )
        return self._collection(request, "directory_audits", entries, "auditLogs/directoryAudits")
