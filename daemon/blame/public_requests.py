"""Public-harness requests the spec does not model: an unknown endpoint, an unknown parameter.

Pure. Without a request trace (the public simulator answered), the request in the failure text is
judged against the spec, what changed since the test last passed, and the source's API
documentation as referee (``*_api_doc.md``, README); the connector line that builds the URL or
adds the parameter is found by its literal text, nearest a frame of the failure."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from connector_watch.daemon.blame.context import Context, frame_location, table_spec
from connector_watch.daemon.blame.public_table import endpoint_location, table_endpoints
from connector_watch.daemon.blame.traffic import path_similarity
from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related

# ---------------------------------------------------------------------------- an unmodelled request


def unknown_endpoint(ctx: Context, fact: dict[str, Any]) -> list[Diagnostic] | None:

    request = fact["request"]
    method, url = request.get("method") or "GET", request.get("url") or ""
    path = urlsplit(url).path
    spec = table_spec(ctx)
    spec_file = ctx.spec_file()
    nearest = None
    if spec is not None:
        ranked = spec.nearest(method, path, limit=1)
        if ranked:
            nearest = next((e for e in spec.endpoints if ranked[0].startswith(f"{e.key} (")), None)
    frame = ctx.deepest_frame(("connector",))
    connector_location = _url_site(ctx, path, frame) or (
        frame_location(frame) if frame else ctx.node_location()
    )
    spec_location = (
        endpoint_location(ctx, nearest, "path")
        if nearest
        else (Location(spec_file, Range.lines(0)) if spec_file else None)
    )
    evidence = [f"{method} {url} matched no endpoint in {spec_file or 'the spec'}"]
    if nearest:
        evidence.append(f"nearest spec endpoint: {nearest.key} ({nearest.spec_file}:{nearest.line})")
    spec_changed, connector_changed = ctx.changed(spec_file), ctx.connector_changed()
    verdict = _documented(ctx, path, nearest.path if nearest else None)
    if verdict:
        evidence.append(verdict[1])
    if spec_changed and not connector_changed:
        blame_to, confidence, why = "spec", 0.75, "the spec changed since this test last passed"
    elif connector_changed and not spec_changed:
        blame_to, confidence, why = "connector", 0.75, "the connector changed since this test last passed"
    elif verdict:
        blame_to, confidence, why = verdict[0], 0.7, verdict[1]
    elif nearest and path_similarity(path, nearest.path) >= 0.8:
        blame_to, confidence, why = "connector", 0.55, f"it looks like a misspelling of {nearest.path}"
    else:
        blame_to, confidence, why = "spec", 0.55, "no spec endpoint looks like it"
    if blame_to == "spec":
        message = f"the spec does not model {method} {path}: {why}"
        fix = (
            f"make the endpoint's path match the API ({nearest.path} → the documented path)"
            if nearest and verdict
            else f"add an endpoint for {method} {path} under 'endpoints:' in {spec_file}"
        )
        primary, other, other_note = (
            spec_location,
            connector_location,
            "the connector line that made the request",
        )
    else:
        message = f"the connector calls {method} {path}, which the spec does not model: {why}"
        fix = f"call {nearest.path}" if nearest else "fix the URL the connector builds"
        primary, other, other_note = connector_location, spec_location, "the spec's nearest endpoint"
    return [
        ctx.diag(
            blame_to,
            message,
            primary or ctx.node_location(),
            confidence,
            fix=fix,
            evidence=evidence,
            related=[Related(other, other_note)] if other else [],
            code="simulator.unknown_endpoint",
        )
    ]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template.rstrip("/"))
    body = "".join(r"[^/\s`'\"]+" if p.startswith("{") else re.escape(p) for p in parts if p)
    return re.compile(body + r"(?![\w-])")


def _documented(ctx: Context, request_path: str, spec_path: str | None) -> tuple[str, str] | None:
    """Which side the source's API documentation (``*_api_doc.md``, README) agrees with."""
    if not spec_path or not ctx.failure.source:
        return None
    source = ctx.failure.source
    directory = ctx.layout.source_dir(source)
    names = {ctx.layout.relative(d) for d in directory.glob("*.md")} if directory.is_dir() else set()
    base = ctx.layout.relative(directory)
    names |= {f"{base}/{source}_api_doc.md", f"{base}/README.md"}  # the repository's conventions
    texts = [(name, text) for name in sorted(names) if (text := ctx.view.text(name))]
    documented_templates = {m.group(0) for _, t in texts for m in re.finditer(r"/[\w{}./-]+", t)}
    request_documented = any(
        _template_regex(template).fullmatch(request_path) or template == request_path
        for template in documented_templates
        if "{" in template or template.count("/") > 1
    )
    spec_documented = any(_template_regex(spec_path).search(t) for _, t in texts)
    names = ", ".join(name for name, _ in texts[:2])
    if request_documented and not spec_documented:
        return "spec", f"the API documentation ({names}) has the path the connector requested, not the spec's"
    if spec_documented and not request_documented:
        return (
            "connector",
            f"the API documentation ({names}) has the spec's path {spec_path}, not the one requested",
        )
    return None


def _url_site(ctx: Context, request_path: str, frame: dict[str, Any] | None) -> Location | None:
    """The connector line that builds the request's URL: its last literal segment in a string."""
    segments = [s for s in request_path.split("/") if s]
    if not segments:
        return None
    last = re.escape(segments[-1])
    pattern = re.compile(rf"""/{last}(?:["'?]|$)""")
    frame_files = [
        f["file"] for exc in ctx.chain for f in exc.get("frames", []) if ctx.kind_of(f["file"]) == "connector"
    ]
    files = [*dict.fromkeys([*frame_files, *ctx.connector_files()])]
    frame_lines = {(f["file"], f["line"]) for exc in ctx.chain for f in exc.get("frames", [])}
    best: tuple[int, str, int] | None = None
    for path in files:
        if "/_generated_" in path:
            continue
        for number, line in enumerate((ctx.view.text(path) or "").splitlines()):
            if line.strip().startswith("#") or not pattern.search(line):
                continue
            # Prefer the line nearest a frame of the failure (the function that built the request).
            distance = min((abs(number + 1 - fl) for ff, fl in frame_lines if ff == path), default=10_000)
            if best is None or distance < best[0]:
                best = (distance, path, number)
    return Location(best[1], Range.lines(best[2])) if best else None


# ---------------------------------------------------------------------------- a parameter the spec does not allow


def unknown_params(ctx: Context, fact: dict[str, Any]) -> list[Diagnostic] | None:
    """A strict endpoint answered 400 "Unknown query parameter(s)": the spec's list, or the connector's
    request? The API documentation decides when it names the parameter."""
    params = fact["unknownParams"].get("unknown") or []
    if not params:
        return None
    table = fact.get("table") or ctx.failure.table or ""
    spec = table_spec(ctx)
    strict = [e for e in (spec.endpoints if spec else []) if e.strict_params]
    mine = [e for e in table_endpoints(ctx, table) if e.strict_params] or strict
    endpoint = mine[0] if mine else None
    frame = ctx.deepest_frame(("connector",))
    connector_location = _param_site(ctx, params[0]) or (
        frame_location(frame) if frame else ctx.node_location()
    )
    spec_location = (
        (endpoint_location(ctx, endpoint, "params") or endpoint_location(ctx, endpoint, "strict_params"))
        if endpoint
        else None
    )
    documented = [p for p in params if _documents_param(ctx, p)]
    spec_changed, connector_changed = ctx.changed(ctx.spec_file()), ctx.connector_changed()
    evidence = [f"the endpoint answered 400: unknown query parameter(s) {params}"]
    if (spec_changed and not connector_changed) or (documented and not connector_changed and spec_location):
        why = (
            "the spec changed since this test last passed"
            if spec_changed
            else f"the API documentation names {documented}"
        )
        return [
            ctx.diag(
                "spec",
                f"the spec's strict endpoint {endpoint.key if endpoint else ''} does not list {params}, which "
                f"the connector sends: {why}",
                spec_location or ctx.node_location(),
                0.65,
                code="simulator.unknown_params",
                evidence=evidence,
                related=[Related(connector_location, "where the connector adds the parameter")],
                fix=f"declare {params} under the endpoint's params (with their role)",
            )
        ]
    return [
        ctx.diag(
            "connector",
            f"the connector sends {params}, which the endpoint does not take (the API documentation does not "
            "name it either)",
            connector_location,
            0.6,
            code="simulator.unknown_params",
            evidence=evidence,
            related=[Related(spec_location, "the endpoint's parameters")] if spec_location else [],
            fix="drop or rename the parameter",
        )
    ]


def _param_site(ctx: Context, param: str) -> Location | None:
    """The connector line that adds a query parameter (``?name=``, ``"name":``), nearest a frame."""
    pattern = re.compile(rf"""[?&"']{re.escape(param)}(?:=|["']\s*:)""")
    frames = {(f["file"], f["line"]) for exc in ctx.chain for f in exc.get("frames", [])}
    best: tuple[int, str, int] | None = None
    for path in ctx.connector_files():
        if "/_generated_" in path:
            continue
        for number, line in enumerate((ctx.view.text(path) or "").splitlines()):
            if pattern.search(line) and not line.strip().startswith("#"):
                distance = min((abs(number + 1 - fl) for ff, fl in frames if ff == path), default=10_000)
                if best is None or distance < best[0]:
                    best = (distance, path, number)
    return Location(best[1], Range.lines(best[2])) if best else None


def _documents_param(ctx: Context, param: str) -> bool:
    if not ctx.failure.source:
        return False
    base = ctx.layout.relative(ctx.layout.source_dir(ctx.failure.source))
    pattern = re.compile(rf"""(?:[?&`'"\s]){re.escape(param)}(?:=|`|\b)""")
    for name in (f"{base}/{ctx.failure.source}_api_doc.md", f"{base}/README.md"):
        if pattern.search(ctx.view.text(name) or ""):
            return True
    return False
