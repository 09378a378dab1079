"""The one loader for ``endpoints.yaml``.

Everything that reads a spec (the simulator, the validator, the corpus tools,
the daemon's static checks) calls :func:`check_spec` or :func:`load_spec`.

The allowed keys, roles, ops and pagination styles are read from the JSON
Schema shipped beside this module (``endpoints.schema.json``), so the schema
editors use and the loader can never disagree; the loader adds the checks a
schema cannot express (a path filter naming a missing placeholder, a handler
that does not import, a corpus file that does not exist, ...). Every problem is
an :class:`~connector_watch.simulator.errors.Issue` with file, line and column.
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import importlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
from connector_watch.simulator.errors import Issue, SpecError
from connector_watch.simulator.locations import (
    LocatedDocument,
    LocatedSyntaxError,
    PathKey,
    Span,
    display_path,
    load_yaml,
)

SCHEMA_PATH = Path(__file__).with_name("endpoints.schema.json")

#: Roles that may appear more than once in one endpoint.
REPEATABLE_ROLES = frozenset({"filter", "ignore"})


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``endpoints.yaml`` (parsed once)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def _enum(*path: str) -> tuple[str, ...]:
    node: Any = schema()["$defs"]
    for part in path:
        node = node[part]
    return tuple(node["enum"])


def roles() -> tuple[str, ...]:
    return _enum("param", "properties", "role")


def filter_ops() -> tuple[str, ...]:
    return _enum("param", "properties", "op")


def pagination_styles() -> tuple[str, ...]:
    return _enum("response", "properties", "pagination_style")


def computed_names() -> tuple[str, ...]:
    return tuple(schema()["$defs"]["computed_names"]["enum"])


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Param:
    name: str
    role: str
    location: str = "query"  # "query" | "path" | "body"
    key: str | None = None  # dotted path in the body (in: body)
    field: str | None = None
    op: str | None = None
    type: str | None = None
    options: tuple[str, ...] | Mapping[str, str] | None = None
    default: int | str | None = None
    max: int | None = None

    @property
    def body_key(self) -> str:
        return self.key or self.name


@dataclass(frozen=True)
class Wrapper:
    records_key: str
    extras: Mapping[str, Any] = field(default_factory=dict)
    ignore_extra_keys: bool = False


@dataclass(frozen=True)
class ResponseSpec:
    pagination_style: str = "none"
    next_key: str | None = None
    on_last_page: str | None = None  # "omit" | "null"; None = the style's default
    default_sort: tuple[str, str] | None = None  # (field, "asc"|"desc")
    single_entity: bool = False
    wrapper: Wrapper | None = None
    expected_status_codes: tuple[int, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    on_calls: tuple[int, ...] = ()
    when: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FutureRecords:
    cursor_field: str
    count: int = 3


_PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")


@dataclass
class Endpoint:
    """One entry of ``endpoints:``."""

    index: int
    path: str
    method: str
    corpus: str | None
    params: dict[str, Param]
    response: ResponseSpec
    spec_file: str
    line: int
    handler: str | None = None
    strict_params: bool = False
    synthesize_future_records: FutureRecords | None = None
    errors: tuple[ErrorResponse, ...] = ()
    description: str | None = None
    fingerprint: str = ""
    pattern: re.Pattern[str] = field(init=False, repr=False)
    placeholders: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.placeholders = tuple(_PLACEHOLDER.findall(self.path))
        regex, last = [], 0
        for i, match in enumerate(_PLACEHOLDER.finditer(self.path)):
            regex.append(re.escape(self.path[last : match.start()]))
            regex.append(f"(?P<p{i}>[^/]+)")
            last = match.end()
        regex.append(re.escape(self.path[last:]))
        self.pattern = re.compile("^" + "".join(regex).rstrip("/") + "/?$")

    @property
    def key(self) -> str:
        """``"GET /repos/{owner}/{repo}/commits"``: how reports name the endpoint."""
        return f"{self.method} {self.path}"

    @property
    def location(self) -> str:
        return f"{self.spec_file}:{self.line}"

    def match_path(self, url_path: str) -> dict[str, str] | None:
        """The placeholder values when ``url_path`` matches, else None."""
        m = self.pattern.match(url_path.rstrip("/") or "/")
        if m is None:
            return None
        return {name: unquote(m.group(f"p{i}")) for i, name in enumerate(self.placeholders)}

    def with_role(self, role: str) -> Param | None:
        for param in self.params.values():
            if param.role == role:
                return param
        return None

    def filters(self) -> list[Param]:
        return [p for p in self.params.values() if p.role == "filter"]


@dataclass
class Spec:
    """A loaded ``endpoints.yaml``."""

    path: Path
    file: str  # the path as reports print it
    endpoints: list[Endpoint]
    corpus_dir: Path
    issues: list[Issue]  # non-blocking findings
    document: LocatedDocument

    def match(self, method: str, url_path: str) -> tuple[Endpoint, dict[str, str]] | None:
        method = method.upper()
        for endpoint in self.endpoints:
            if endpoint.method != method:
                continue
            values = endpoint.match_path(url_path)
            if values is not None:
                return endpoint, values
        return None

    def nearest(self, method: str, url_path: str, limit: int = 3) -> list[str]:
        """Spec entries that look most like a request no entry matched."""
        request_parts = [p for p in url_path.split("/") if p]

        def score(endpoint: Endpoint) -> float:
            parts = [p for p in endpoint.path.split("/") if p]
            same = sum(
                1.0
                if a == b
                else 0.7
                if b.startswith("{")
                else difflib.SequenceMatcher(None, a, b).ratio() * 0.5
                for a, b in zip(request_parts, parts, strict=False)
            )
            size = max(len(parts), len(request_parts)) or 1
            return same / size + (0.05 if endpoint.method == method.upper() else 0.0)

        ranked = sorted(self.endpoints, key=score, reverse=True)[:limit]
        return [f"{e.key} ({e.location})" for e in ranked]


# --------------------------------------------------------------------------- loading


def _close(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest candidate, ignoring case (``FILTER`` → ``filter``)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(str(candidate).casefold(), str(candidate))
    guess = difflib.get_close_matches(str(word).casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean {by_folded[guess[0]]!r}?" if guess else ""


class _SpecReader:
    """Builds a :class:`Spec` from a located document, collecting issues."""

    def __init__(
        self,
        doc: LocatedDocument,
        path: Path,
        corpus_dir: Path,
        check_files: bool,
        handler_roots: Sequence[Path] | None = None,
    ) -> None:
        self.handler_roots = list(handler_roots) if handler_roots is not None else None
        self.doc = doc
        self.path = path
        self.corpus_dir = corpus_dir
        self.check_files = check_files
        self.issues: list[Issue] = []

    # -- reporting
    def issue(
        self,
        where: PathKey,
        message: str,
        *,
        severity: str = "error",
        code: str = "spec",
        blocking: bool | None = None,
        prefer: str = "key",
    ) -> None:
        span = self.doc.span(where, prefer=prefer)
        self.issues.append(
            Issue(
                file=self.doc.file,
                span=span,
                message=message,
                severity=severity,
                code=code,
                blocking=(severity == "error") if blocking is None else blocking,
            )
        )

    def _label(self, where: PathKey) -> str:
        if len(where) >= 2 and where[0] == "endpoints" and isinstance(where[1], int):
            data = self.doc.data["endpoints"][where[1]]
            if isinstance(data, dict):
                method = str(data.get("method", "?")).upper()
                return f"endpoint #{where[1]} ({method} {data.get('path', '?')}): "
            return f"endpoint #{where[1]}: "
        return ""

    # -- schema pass
    def schema_issues(self) -> None:
        errors = sorted(
            _validator().iter_errors(self.doc.data), key=lambda e: list(map(str, e.absolute_path))
        )
        for error in errors:
            if error.validator == "required" and self._misspelled_required(error):
                continue  # the unknown-key issue says "did you mean" for it: one problem, one issue
            self._schema_issue(error)

    @staticmethod
    def _misspelled_required(error: jsonschema.ValidationError) -> bool:
        match = re.search(r"'([^']+)' is a required property", error.message)
        if not match or not isinstance(error.instance, dict):
            return False
        allowed = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        extras = [str(k) for k in error.instance if k not in allowed]
        return bool(difflib.get_close_matches(match.group(1), extras, n=1, cutoff=0.6))

    def _schema_issue(self, error: jsonschema.ValidationError) -> None:
        where: PathKey = tuple(error.absolute_path)
        label = self._label(where)
        subject = _subject(where)
        validator = error.validator
        if validator == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            extras = [k for k in error.instance if k not in allowed]
            for extra in extras:
                self.issue(
                    (*where, extra),
                    f"{label}{subject}unknown key {extra!r}{_close(extra, allowed)}"
                    f" (allowed: {', '.join(allowed)})",
                    code="unknown-key",
                )
            return
        if validator == "enum":
            options = [str(v) for v in error.validator_value]
            if where and where[-1] == "method":
                options = [o for o in options if o.isupper()]
            kind = {"role": "role", "op": "filter op", "pagination_style": "pagination_style"}.get(
                str(where[-1]) if where else "", str(where[-1]) if where else "value"
            )
            self.issue(
                where,
                f"{label}{subject}unknown {kind} {error.instance!r}{_close(error.instance, options)};"
                f" expected one of [{', '.join(options)}]",
                code=f"unknown-{kind.replace(' ', '-').replace('_', '-')}",
                prefer="value",
            )
            return
        if validator == "required":
            missing = re.search(r"'([^']+)' is a required property", error.message)
            name = missing.group(1) if missing else error.message
            if where == ():
                message = "top-level must be a mapping with an 'endpoints' key"
            elif name in ("field", "op"):
                message = f"{label}{subject}filter requires {name!r}"
            elif name == "wrapper":
                style = error.instance.get("pagination_style") if isinstance(error.instance, dict) else None
                message = (
                    f"{label}pagination_style {style!r} puts the next page's token or URL in the body,"
                    " so the body must be an object: add response.wrapper with a records_key"
                )
            elif name in ("records_key", "cursor_field"):
                parent = "response.wrapper" if name == "records_key" else "synthesize_future_records"
                message = f"{label}{parent} requires a {name!r} field"
            else:
                message = f"{label}{subject}missing required key {name!r}"
            self.issue(where, message, code="missing-key")
            return
        if validator == "type":
            expected = error.validator_value
            expected = (
                " or ".join(map(_article, expected)) if isinstance(expected, list) else _article(expected)
            )
            got = _json_type(error.instance)
            if where == ():
                message = "top-level must be a mapping with an 'endpoints' key"
            else:
                message = f"{label}{subject}expected {expected}, got {got}"
            self.issue(where, message, code="wrong-type", prefer="value")
            return
        if validator == "pattern" and where and where[-1] == "default_sort":
            order = str(error.instance).split()[-1] if len(str(error.instance).split()) > 1 else ""
            self.issue(
                where,
                f"{label}default_sort must be 'field [asc|desc]'"
                + (f"; order must be asc/desc, got {order!r}" if order else f", got {error.instance!r}"),
                code="bad-default-sort",
                prefer="value",
            )
            return
        if validator == "pattern" and where and where[-1] == "handler":
            self.issue(
                where,
                f"{label}handler must be 'module.path:function', got {error.instance!r}",
                code="bad-handler",
                prefer="value",
            )
            return
        if validator == "pattern" and where and where[-1] == "path":
            self.issue(where, f"{label}path must start with '/', got {error.instance!r}", prefer="value")
            return
        self.issue(where, f"{label}{subject}{error.message}", prefer="value")

    # -- model pass (only on schema-valid documents)
    def build(self) -> list[Endpoint]:
        endpoints = []
        for index, raw in enumerate(self.doc.data["endpoints"]):
            endpoints.append(self._endpoint(index, raw))
        self._shadowing(endpoints)
        if self.check_files:
            self._corpus_files(endpoints)
        return endpoints

    def _endpoint(self, index: int, raw: dict[str, Any]) -> Endpoint:
        where: PathKey = ("endpoints", index)
        label = self._label(where)
        method = str(raw["method"]).upper()
        path = str(raw["path"])
        placeholders = _PLACEHOLDER.findall(path)
        params: dict[str, Param] = {}
        seen_roles: dict[str, str] = {}
        for name, p in (raw.get("params") or {}).items():
            pwhere = (*where, "params", name)
            role = p["role"]
            if role not in REPEATABLE_ROLES:
                if role in seen_roles:
                    self.issue(
                        (*pwhere, "role"),
                        f"{label}only one {role} param allowed; second was {name!r}"
                        f" (first was {seen_roles[role]!r})",
                        code="duplicate-role",
                    )
                seen_roles[role] = name
            location = p.get("in", "query")
            if location == "path" and name not in placeholders:
                self.issue(
                    (*pwhere, "in"),
                    f"{label}param {name!r} is 'in: path' but the path has no {{{name}}} placeholder"
                    + _close(name, placeholders),
                    code="unknown-placeholder",
                )
            if "key" in p and location != "body":
                self.issue((*pwhere, "key"), f"{label}param {name!r}: 'key' only applies to 'in: body'")
            options = p.get("options")
            if role in ("sort_by", "sort_order") and options is not None:
                options = self._options(pwhere, label, name, role, options)
            elif options is not None:
                self.issue(
                    (*pwhere, "options"), f"{label}param {name!r}: 'options' only applies to sort roles"
                )
            if role not in ("filter",) and ("field" in p or "op" in p):
                self.issue(
                    pwhere,
                    f"{label}param {name!r}: 'field'/'op' only apply to role 'filter' (role is {role!r})",
                )
            if role in ("page", "per_page", "limit", "offset") and "default" in p:
                if not re.fullmatch(r"-?\d+", str(p["default"]).strip()):
                    self.issue(
                        (*pwhere, "default"),
                        f"{label}param {name!r}: default must be a whole number, got {p['default']!r}",
                        prefer="value",
                    )
                elif role in ("per_page", "limit") and int(p["default"]) > int(p.get("max", 100)):
                    self.issue(
                        (*pwhere, "default"),
                        f"{label}param {name!r}: default {int(p['default'])} is above max {int(p.get('max', 100))}"
                        " (served as declared, but a real API never defaults above its maximum)",
                        severity="warning",
                        prefer="value",
                    )
            params[name] = Param(
                name=name,
                role=role,
                location=location,
                key=p.get("key"),
                field=p.get("field"),
                op=p.get("op"),
                type=p.get("type"),
                options=options,
                default=p.get("default"),
                max=p.get("max"),
            )
        response = self._response(where, label, raw.get("response") or {}, params)
        corpus = raw.get("corpus")
        handler = raw.get("handler")
        if handler:
            self._check_handler((*where, "handler"), label, handler)
        errors = tuple(self._error(where, label, i, e, params) for i, e in enumerate(raw.get("errors") or []))
        future = raw.get("synthesize_future_records")
        return Endpoint(
            index=index,
            path=path,
            method=method,
            corpus=corpus,
            params=params,
            response=response,
            spec_file=self.doc.file,
            line=self.doc.span(where, prefer="value").start.line,
            handler=handler,
            strict_params=bool(raw.get("strict_params", False)),
            synthesize_future_records=(
                FutureRecords(future["cursor_field"], int(future.get("count", 3))) if future else None
            ),
            errors=errors,
            description=raw.get("description"),
            fingerprint=hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16],
        )

    def _options(
        self, where: PathKey, label: str, name: str, role: str, options: Any
    ) -> tuple[str, ...] | dict[str, str]:
        if isinstance(options, list):
            return tuple(str(o) for o in options)
        result = {str(k): str(v) for k, v in options.items()}
        if role == "sort_order":
            for option, direction in result.items():
                if direction.lower() not in ("asc", "desc"):
                    self.issue(
                        (*where, "options", option),
                        f"{label}param {name!r}: sort_order option {option!r} must map to asc or desc,"
                        f" got {direction!r}",
                    )
        return result

    def _response(
        self, where: PathKey, label: str, raw: dict[str, Any], params: dict[str, Param]
    ) -> ResponseSpec:
        rwhere = (*where, "response")
        style = raw.get("pagination_style", "none")
        pagination = raw.get("pagination") or {}
        if pagination and style not in ("cursor", "next_url", "odata_next_link"):
            self.issue(
                (*rwhere, "pagination"),
                f"{label}'pagination' applies to the cursor, next_url and odata_next_link styles,"
                f" not {style!r}",
                severity="warning",
            )
        sort = None
        if raw.get("default_sort"):
            parts = str(raw["default_sort"]).split()
            sort = (parts[0], parts[1].lower() if len(parts) > 1 else "asc")
        wrapper = None
        if raw.get("wrapper") is not None:
            w = raw["wrapper"]
            extras = w.get("extras") or {}
            self._check_computed((*rwhere, "wrapper", "extras"), label, extras)
            wrapper = Wrapper(w["records_key"], extras, bool(w.get("ignore_extra_keys", False)))
        elif style == "odata_next_link":
            wrapper = Wrapper("value")
        if raw.get("single_entity") and style != "none":
            self.issue(
                (*rwhere, "pagination_style"),
                f"{label}single_entity responses are not paginated; pagination_style {style!r} is ignored",
                severity="warning",
            )
        return ResponseSpec(
            pagination_style=style,
            next_key=pagination.get("next_key"),
            on_last_page=pagination.get("on_last_page"),
            default_sort=sort,
            single_entity=bool(raw.get("single_entity", False)),
            wrapper=wrapper,
            expected_status_codes=tuple(raw.get("expected_status_codes") or ()),
            headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        )

    def _check_computed(self, where: PathKey, label: str, value: Any) -> None:
        if isinstance(value, dict):
            if set(value) == {"computed"}:
                name = value["computed"]
                if name not in computed_names():
                    self.issue(
                        (*where, "computed"),
                        f"{label}unknown computed value {name!r}{_close(str(name), computed_names())};"
                        f" expected one of [{', '.join(computed_names())}]",
                        code="unknown-computed",
                        prefer="value",
                    )
                return
            for key, child in value.items():
                self._check_computed((*where, key), label, child)

    def _error(
        self, where: PathKey, label: str, i: int, raw: dict[str, Any], params: dict[str, Param]
    ) -> ErrorResponse:
        for name in raw.get("when") or {}:
            if name not in params:
                self.issue(
                    (*where, "errors", i, "when", name),
                    f"{label}errors[{i}].when names {name!r}, which is not a declared param"
                    + _close(name, params),
                    severity="warning",
                )
        return ErrorResponse(
            status=int(raw["status"]),
            body=raw.get("body"),
            headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
            on_calls=tuple(raw.get("on_calls") or ()),
            when={str(k): _as_text(v) for k, v in (raw.get("when") or {}).items()},
        )

    def _check_handler(self, where: PathKey, label: str, handler: str) -> None:
        module_name, _, func_name = handler.partition(":")
        if self.handler_roots is not None:  # check by reading the module, never running it
            problem = _static_handler_problem(module_name, func_name, self.handler_roots)
            if problem:
                self.issue(where, f"{label}handler {handler!r}: {problem}", code="bad-handler", prefer="value")
            return
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import failure is the spec's problem to report
            self.issue(
                where,
                f"{label}handler module {module_name!r} does not import: {exc}",
                code="bad-handler",
                prefer="value",
            )
            return
        if not callable(getattr(module, func_name, None)):
            names = [n for n in dir(module) if not n.startswith("_")]
            self.issue(
                where,
                f"{label}handler {handler!r}: module has no function {func_name!r}{_close(func_name, names)}",
                code="bad-handler",
                prefer="value",
            )

    def _shadowing(self, endpoints: list[Endpoint]) -> None:
        for later in endpoints:
            # ``later`` never matches when ``earlier`` matches every URL it does: try two
            # unrelated values in its placeholders (a literal in ``earlier`` can equal at most one).
            probes = [_PLACEHOLDER.sub(value, later.path) for value in ("x-probe", "y-other")]
            for earlier in endpoints[: later.index]:
                if earlier.method == later.method and all(
                    earlier.match_path(probe) is not None for probe in probes
                ):
                    self.issue(
                        ("endpoints", later.index, "path"),
                        f"{self._label(('endpoints', later.index))}never matches: endpoint #{earlier.index}"
                        f" ({earlier.key}, line {earlier.line}) comes first and matches the same URLs",
                        severity="warning",
                        code="shadowed-endpoint",
                        prefer="value",
                    )
                    break

    def _corpus_files(self, endpoints: list[Endpoint]) -> None:
        """A corpus named but absent is served as empty, as upstream does on purpose (a stub table):
        a note, or a warning when an existing file's name is one typo away. A corpus file no
        endpoint names is a warning, unless a spec handler may read it."""
        named = set()
        existing = sorted(p.stem for p in self.corpus_dir.glob("*.json")) if self.corpus_dir.is_dir() else []
        for endpoint in endpoints:
            if endpoint.corpus is None:
                continue
            named.add(endpoint.corpus)
            if not (self.corpus_dir / f"{endpoint.corpus}.json").is_file():
                typo = _typo_of(endpoint.corpus, existing)
                hint = f"; did you mean {typo!r}?" if typo else ""
                self.issue(
                    ("endpoints", endpoint.index, "corpus"),
                    f"{self._label(('endpoints', endpoint.index))}corpus {endpoint.corpus!r} has no file"
                    f" {display_path(self.corpus_dir / (endpoint.corpus + '.json'))}{hint}"
                    " (served as empty)",
                    severity="warning" if typo else "information",
                    code="missing-corpus",
                    blocking=False,
                    prefer="value",
                )
        handled = self._handler_corpora(endpoints, existing)
        if self.corpus_dir.is_dir():
            for corpus_file in sorted(self.corpus_dir.glob("*.json")):
                if corpus_file.stem not in named and corpus_file.stem not in handled:
                    self.issues.append(
                        Issue(
                            file=display_path(corpus_file),
                            span=Span.point(1, 1),
                            message=f"corpus file {corpus_file.name} is not used by any endpoint in {self.doc.file}",
                            severity="warning",
                            code="unused-corpus",
                            blocking=False,
                        )
                    )

    def _handler_corpora(self, endpoints: list[Endpoint], existing: list[str]) -> set[str]:
        """Corpus names the spec's handlers may read: every string in a handler's module that names
        a corpus file, or all of them when a handler reads the corpus by a computed name."""
        found: set[str] = set()
        for module_name in sorted({str(e.handler).partition(":")[0] for e in endpoints if e.handler}):
            source = _module_source(module_name, self.handler_roots or [])
            if source is None:
                return set(existing)  # cannot tell: assume it may read any
            strings, computed = _corpus_reads(source)
            if computed:
                return set(existing)
            found |= strings & set(existing)
        return found


def _typo_of(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate one slip away from ``word`` (case, a plural, two edits at most), if any."""
    folded = word.casefold()
    best: tuple[int, str] | None = None
    for candidate in candidates:
        distance = _edits(folded, candidate.casefold())
        limit = 1 if len(word) < 6 else 2
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (names are short)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _module_source(module_name: str, roots: Sequence[Path] = ()) -> str | None:
    """A handler module's source text: the imported module's file, else the file found under
    ``roots`` (and ``sys.path``) without importing it."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    path = Path(file) if file else _module_file(module_name, roots)
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _module_file(module_name: str, roots: Sequence[Path]) -> Path | None:
    """Where ``module_name`` lives under ``roots`` or ``sys.path``, found without importing it."""
    relative = Path(*module_name.split("."))
    for root in [*roots, *(Path(p) for p in sys.path if p)]:
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _corpus_reads(source: str) -> tuple[set[str], bool]:
    """The string constants of a handler module, and whether it looks a corpus table up by a
    computed name (``corpus.get(name)``, ``corpus[name]``) or uses the tables otherwise (``corpus.tables``
    iterated)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), True
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    computed = False
    looked_up: set[int] = set()  # ``corpus.tables`` nodes used for a lookup
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            target, key = node.func.value, node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        else:
            continue
        if not _names_corpus(target):
            continue
        looked_up.add(id(target))
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            computed = True
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "tables" and _names_corpus(node.value):
            computed = computed or id(node) not in looked_up
    return strings, computed


def _names_corpus(node: ast.AST) -> bool:
    """``corpus`` (any name holding the word) or ``corpus.tables``."""
    if isinstance(node, ast.Attribute) and node.attr == "tables":
        node = node.value
    return isinstance(node, ast.Name) and "corpus" in node.id.lower()


def _static_handler_problem(module_name: str, func_name: str, roots: Sequence[Path]) -> str | None:
    """What is wrong with a handler, read from its module's source (None: it looks right)."""
    path = _module_file(module_name, roots)
    if path is None:
        return f"module {module_name!r} is not found in the workspace"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        return f"module {module_name!r} does not parse: {exc}"
    names = [
        n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ] + [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)]
    if func_name in names:
        return None
    return f"module has no function {func_name!r}{_close(func_name, [n for n in names if not n.startswith('_')])}"


def _subject(where: PathKey) -> str:
    if "params" in where:
        i = where.index("params")
        if len(where) > i + 1:
            return f"param {where[i + 1]!r}: "
    return ""


def _json_type(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _article(kind: str) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "boolean": "a boolean",
        "integer": "an integer",
        "number": "a number",
    }
    return words.get(kind, kind)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_spec(
    path: str | Path,
    corpus_dir: str | Path | None = None,
    *,
    text: str | None = None,
    display: str | None = None,
    check_files: bool = True,
    handler_roots: Sequence[Path] | None = None,
) -> tuple[Spec | None, list[Issue]]:
    """Load a spec without raising: ``(spec or None, every issue found)``.

    ``spec`` is None when a blocking issue (syntax, unknown key, ...) prevents
    serving it. ``text`` overrides the file contents (the daemon checks unsaved
    or just-saved text); ``display`` is the path to print in messages.
    ``handler_roots``: check handlers by finding their module under these folders (and
    ``sys.path``) and reading it, without importing it (the daemon never runs user code).
    """
    path = Path(path)
    corpus_dir = Path(corpus_dir) if corpus_dir is not None else path.parent / "corpus"
    file = display or display_path(path)
    try:
        source = text if text is not None else path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Issue(file, Span.point(1, 1), f"cannot read spec: {exc.strerror or exc}", code="io")]
    try:
        doc = load_yaml(source, file)
    except LocatedSyntaxError as exc:
        return None, [Issue(file, exc.span, exc.message, code="yaml-syntax")]
    reader = _SpecReader(doc, path, corpus_dir, check_files, handler_roots)
    for dup_path, span in doc.duplicate_keys:
        reader.issues.append(
            Issue(
                file,
                span,
                f"duplicate key {dup_path[-1]!r}: the later value wins",
                severity="warning",
                code="duplicate-key",
                blocking=False,
            )
        )
    reader.schema_issues()
    if any(i.blocking for i in reader.issues):
        return None, reader.issues
    endpoints = reader.build()
    if any(i.blocking for i in reader.issues):
        return None, reader.issues
    return Spec(path, file, endpoints, corpus_dir, reader.issues, doc), reader.issues


_loaded: dict[tuple[Any, ...], Spec] = {}


def load_spec(path: str | Path, corpus_dir: str | Path | None = None, *, check_files: bool = True) -> Spec:
    """Load a spec, raising :class:`SpecError` (a ``ValueError``) on any blocking issue.

    A spec whose file (and corpus directory) did not change since it was last loaded in this
    process is returned again rather than parsed and validated again; specs are read-only.
    """
    path = Path(path)
    corpus = Path(corpus_dir) if corpus_dir is not None else path.parent / "corpus"
    key = (str(path.resolve()), str(corpus), check_files, _stamp(path), _stamp(corpus))
    cached = _loaded.get(key)
    if cached is not None:
        return cached
    spec, issues = check_spec(path, corpus_dir, check_files=check_files)
    if spec is None:
        raise SpecError([i for i in issues if i.blocking])
    if len(_loaded) > 32:
        _loaded.clear()
    _loaded[key] = spec
    return spec


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
