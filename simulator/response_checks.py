"""The live validator's checks of one live response against simulate mode's answer: its status
code (declared, transient, credentials, undeclared), body shape, wrapper keys both ways and
pagination signals (``Link`` header, next-page keys); each finding located at a spec line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector_watch.simulator.interactions import Interaction
from connector_watch.simulator.record_drift import type_tag
from connector_watch.simulator.sampling import END_FLAGS, MORE_FLAGS, NEXT_KEYS, _marker_keys, records_path
from connector_watch.simulator.spec import Endpoint
from connector_watch.simulator.validation_report import Finding, Location
from connector_watch.simulator.values import dotted_get

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})
BODY_POINTER_STYLES = frozenset({"cursor", "next_url", "odata_next_link"})


def status_finding(
    spec_location: Callable[..., Location], endpoint: Endpoint, status: int, declared: set[int]
) -> Finding:
    if status in declared:
        return Finding(
            "declared_status",
            "info",
            f"status {status} is declared in the spec",
            live=status,
            location=spec_location(endpoint, "errors")
            if endpoint.errors
            else spec_location(endpoint, "response", "expected_status_codes"),
        )
    if status in TRANSIENT_STATUSES:
        return Finding(
            "transient_status",
            "info",
            f"status_code: live={status} (transient; the connector retried)",
            fix=f"to exercise the retry in simulate mode, declare it: errors: [{{status: {status}, "
            f"headers: {{Retry-After: '0'}}, on_calls: [1]}}]",
            live=status,
            location=spec_location(endpoint),
        )
    if status in AUTH_STATUSES:
        return Finding(
            "auth",
            "error",
            f"status_code: live={status} spec=200 (the live API refused the credentials)",
            fix="check the credentials in the connector config (CONNECTOR_TEST_CONFIG_JSON / _PATH); if the "
            f"API answers {status} by design here, declare it under errors:",
            live=status,
            spec=200,
            location=spec_location(endpoint),
        )
    return Finding(
        "status_code",
        "error",
        f"status_code: live={status} spec=200",
        fix=f"declare it (errors: [{{status: {status}}}] or response.expected_status_codes: [{status}]), or "
        "fix the request the connector sends",
        live=status,
        spec=200,
        location=spec_location(endpoint),
    )


def shape_finding(
    spec_location: Callable[..., Location], endpoint: Endpoint, live_body: Any, spec_body: Any
) -> Finding:
    live_kind, spec_kind = type_tag(live_body), type_tag(spec_body)
    if live_kind == "list" and endpoint.response.wrapper is not None:
        fix = "remove response.wrapper: the live API returns a bare list"
        where = spec_location(endpoint, "response", "wrapper")
    elif live_kind == "dict" and spec_kind == "list":
        path = records_path(live_body)
        key = ".".join(path) if path else "<records key>"
        fix = f"wrap the records: response: {{wrapper: {{records_key: {key}}}}}"
        where = spec_location(endpoint, "response")
    else:
        fix = "make the corpus value the shape the live API returns"
        where = spec_location(endpoint, "corpus")
    return Finding(
        "body_shape",
        "error",
        f"body shape: live={live_kind} spec={spec_kind}",
        fix=fix,
        live=live_kind,
        spec=spec_kind,
        location=where,
    )


def wrapper_findings(
    spec_location: Callable[..., Location],
    endpoint: Endpoint,
    live_body: Any,
    spec_body: Any,
    findings: list[Finding],
) -> tuple[list[Any], list[Any]]:
    if isinstance(live_body, list):
        return live_body, spec_body
    if endpoint.response.single_entity:
        return [live_body], [spec_body]
    wrapper = endpoint.response.wrapper
    spec_path = records_path(spec_body, endpoint)
    spec_records = get_path(spec_body, spec_path) if spec_path else []
    live_records: Any = None
    records_root = None
    if wrapper is not None:
        key_path = tuple(wrapper.records_key.split("."))
        records_root = key_path[0]
        live_records = get_path(live_body, key_path)
        if not isinstance(live_records, list):
            found = records_path(live_body)
            live_key = ".".join(found) if found else None
            findings.append(
                Finding(
                    "wrapper_key",
                    "error",
                    f"records_key '{wrapper.records_key}' is not in the live response"
                    + (f"; live has its records under '{live_key}'" if live_key else ""),
                    fix=f"set response.wrapper.records_key: {live_key}"
                    if live_key
                    else "check response.wrapper.records_key against the live body",
                    path=wrapper.records_key,
                    live=live_key,
                    spec=wrapper.records_key,
                    location=spec_location(endpoint, "response", "wrapper", "records_key"),
                )
            )
            live_records = get_path(live_body, found) if found else []
            if found:
                records_root = found[0]  # the live records key is not a wrapper extra
    else:
        found = records_path(live_body)
        live_records = get_path(live_body, found) if found else []
        records_root = found[0] if found else None
    skip = {records_root, (wrapper.records_key.split(".")[0] if wrapper else None)}
    skip |= {p[0] for p in _marker_keys(endpoint)[0]}
    live_keys = {k for k in live_body if k not in skip and not is_marker_key(k)}
    spec_keys = (
        {k for k in spec_body if k not in skip and not is_marker_key(k)}
        if isinstance(spec_body, dict)
        else set()
    )
    extra = sorted(live_keys - spec_keys)
    missing = sorted(spec_keys - live_keys)
    ignore_extra = bool(wrapper and wrapper.ignore_extra_keys)
    where_extras = spec_location(endpoint, "response", "wrapper", "extras")
    if extra and not ignore_extra:
        findings.append(
            Finding(
                "extra_key",
                "warning",
                f"top-level keys in live missing from spec: {extra}",
                fix=f"add {', '.join(extra)} to response.wrapper.extras, or set "
                "response.wrapper.ignore_extra_keys: true",
                path=",".join(extra),
                live=extra,
                location=where_extras,
            )
        )
    if missing:
        findings.append(
            Finding(
                "missing_key",
                "warning",
                f"top-level keys in spec missing from live: {missing}",
                fix=f"remove {', '.join(missing)} from response.wrapper.extras",
                path=",".join(missing),
                spec=missing,
                location=where_extras,
            )
        )
    return (live_records if isinstance(live_records, list) else []), (
        spec_records if isinstance(spec_records, list) else []
    )


def pagination_findings(
    spec_location: Callable[..., Location], endpoint: Endpoint, live: Interaction, live_body: Any
) -> list[Finding]:
    findings: list[Finding] = []
    style = endpoint.response.pagination_style
    where = spec_location(endpoint, "response", "pagination_style")
    link = next((v for k, v in live.response.headers.items() if k.lower() == "link"), "")
    if 'rel="next"' in link and style != "page_number_with_link_header":
        findings.append(
            Finding(
                "pagination",
                "error",
                f'live pages with a Link header (rel="next"); spec pagination_style is {style}',
                fix="set response.pagination_style: page_number_with_link_header",
                live="Link",
                spec=style,
                location=where,
            )
        )
    markers = live_markers(live_body)
    if not markers:
        return findings
    declared = _marker_keys(endpoint)[0]
    declared_dotted = {".".join(p) for p in declared}

    def explained(marker: str) -> bool:
        return any(
            marker == d or marker.startswith(d + ".") or d.startswith(marker + ".") for d in declared_dotted
        )

    unexplained = [m for m in markers if not explained(m)]
    if not unexplained or any(explained(m) for m in markers):
        return findings
    marker = unexplained[0]
    value = dotted_get(live_body, marker) if not marker.startswith("@") else live_body.get(marker)
    suggestion = suggest_style(marker, value)
    if style in BODY_POINTER_STYLES:
        message = f"live points at the next page with '{marker}'; spec expects '{', '.join(sorted(declared_dotted)) or style}'"
        fix = f"set response.pagination: {{next_key: {marker}}}"
        location = spec_location(endpoint, "response", "pagination")
    else:
        message = f"live paginates with '{marker}'; spec pagination_style is {style}"
        fix = f"set response.pagination_style: {suggestion}" + (
            f" and response.pagination: {{next_key: {marker}}}"
            if suggestion in ("cursor", "next_url")
            else ""
        )
        location = where
    findings.append(
        Finding(
            "pagination",
            "error",
            message,
            fix=fix,
            path=marker,
            live=marker,
            spec=style,
            location=location,
        )
    )
    return findings


def get_path(body: Any, path: tuple[str, ...] | None) -> Any:
    if path is None:
        return None
    for part in path:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def records_of(body: Any, endpoint: Endpoint | None) -> list[Any]:
    path = records_path(body, endpoint)
    value = body if path == () else get_path(body, path)
    return value if isinstance(value, list) else ([body] if isinstance(body, dict) else [])


def is_marker_key(key: str) -> bool:
    lower = key.lower()
    return lower in NEXT_KEYS or lower == "paging" or lower == "links" or lower == "_links"


def live_markers(body: Any) -> list[str]:
    """Dotted paths of non-null next-page pointers in a live body (depth ≤ 3)."""
    found: list[str] = []
    if not isinstance(body, dict):
        return found

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            lower = key.lower()
            if lower in NEXT_KEYS and value not in (None, "", [], {}):
                found.append(dotted)
            elif isinstance(value, dict) and depth < 3 and lower not in MORE_FLAGS | END_FLAGS:
                walk(value, dotted + ".", depth + 1)

    walk(body, "", 1)
    return found


def suggest_style(marker: str, value: Any) -> str:
    if marker.lower() == "@odata.nextlink":
        return "odata_next_link"
    if isinstance(value, str) and value.startswith(("http://", "https://", "/")):
        return "next_url"
    return "cursor"


def _body_excerpt(response: Any) -> str:
    try:
        text = response.content.decode("utf-8", errors="replace")
    except AttributeError:
        return ""
    return text[:120]
