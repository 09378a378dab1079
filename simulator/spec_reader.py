"""The loader's model pass: ``SpecReader`` builds the ``Endpoint``s of a schema-valid
``endpoints.yaml`` and adds the checks a schema cannot express (a path filter naming a missing
placeholder, a handler that does not import, a corpus file that does not exist or is never used,
an endpoint shadowed by an earlier one), each a located ``Issue``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from connector_watch.simulator.errors import Issue, did_you_mean
from connector_watch.simulator.handler_source import corpus_reads, module_source, static_handler_problem
from connector_watch.simulator.locations import (
    LocatedDocument,
    PathKey,
    Span,
    display_path,
)
from connector_watch.simulator.spec_model import (
    PLACEHOLDER,
    Endpoint,
    ErrorResponse,
    FutureRecords,
    Param,
    ResponseSpec,
    Wrapper,
)
from connector_watch.simulator.spec_schema import REPEATABLE_ROLES, SpecIssues, computed_names


class SpecReader(SpecIssues):
    """Builds a :class:`Spec` from a located document, collecting issues."""

    def __init__(
        self,
        doc: LocatedDocument,
        path: Path,
        corpus_dir: Path,
        check_files: bool,
        handler_roots: Sequence[Path] | None = None,
    ) -> None:
        super().__init__(doc)
        self.handler_roots = list(handler_roots) if handler_roots is not None else None
        self.path = path
        self.corpus_dir = corpus_dir
        self.check_files = check_files

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
        label = self.label(where)
        method = str(raw["method"]).upper()
        path = str(raw["path"])
        placeholders = PLACEHOLDER.findall(path)
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
                    + did_you_mean(name, placeholders),
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
                        f"{label}unknown computed value {name!r}{did_you_mean(str(name), computed_names())};"
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
                    + did_you_mean(name, params),
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
            problem = static_handler_problem(module_name, func_name, self.handler_roots)
            if problem:
                self.issue(
                    where, f"{label}handler {handler!r}: {problem}", code="bad-handler", prefer="value"
                )
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
                f"{label}handler {handler!r}: module has no function {func_name!r}{did_you_mean(func_name, names)}",
                code="bad-handler",
                prefer="value",
            )

    def _shadowing(self, endpoints: list[Endpoint]) -> None:
        for later in endpoints:
            # ``later`` never matches when ``earlier`` matches every URL it does: try two
            # unrelated values in its placeholders (a literal in ``earlier`` can equal at most one).
            probes = [PLACEHOLDER.sub(value, later.path) for value in ("x-probe", "y-other")]
            for earlier in endpoints[: later.index]:
                if earlier.method == later.method and all(
                    earlier.match_path(probe) is not None for probe in probes
                ):
                    self.issue(
                        ("endpoints", later.index, "path"),
                        f"{self.label(('endpoints', later.index))}never matches: endpoint #{earlier.index}"
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
                    f"{self.label(('endpoints', endpoint.index))}corpus {endpoint.corpus!r} has no file"
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
            source = module_source(module_name, self.handler_roots or [])
            if source is None:
                return set(existing)  # cannot tell: assume it may read any
            strings, computed = corpus_reads(source)
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


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
