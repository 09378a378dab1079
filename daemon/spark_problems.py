"""A Spark stage problem located in the workspace and blamed: the diagnostics it publishes.

Pure (reads the workspace's files). :func:`enrich` adds where a problem sits (the schema's
declaration of the field, the corpus record, the deepest connector frame) and
:func:`diagnostics_for` builds the blamed diagnostics from it: a conversion error is the
connector's schema unless the corpus value is the odd one out among that field's values.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related
from connector_watch.daemon.spark_ground_truth import key_text
from connector_watch.simulator.layout import Layout


def _file_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def schema_field_location(
    layout: Layout, source: str, table: str, field_path: str | None
) -> tuple[str, int] | None:
    """``(file, 1-based line)`` where the connector's schema declares ``field_path`` of ``table``.

    Follows the schema variables: ``"issues": ISSUES_SCHEMA`` → ``ISSUES_SCHEMA = ...`` →
    ``("user", USER)`` → ``USER = ...`` → ``("login", ...)``. Falls back to the first
    declaration of the last segment anywhere in the connector's package.
    """
    if not field_path:
        return None
    segments = [s for s in re.split(r"\.|\[\d+\]", field_path) if s]
    files = sorted(layout.source_dir(source).rglob("*.py")) if layout.source_dir(source).is_dir() else []
    texts = {f: t for f in files if (t := _file_text(f)) is not None}

    def definition(name: str) -> tuple[Path, int, int] | None:
        """The block of a top-level assignment ``NAME = ...`` (up to the next top-level line)."""
        pattern = re.compile(rf"^{re.escape(name)}\s*(?::[^=]*)?=", re.M)
        for file, text in texts.items():
            match = pattern.search(text)
            if match:
                body = text.find("\n", match.start()) + 1 or len(text)
                following = re.search(r"^\S", text[body:], re.M)
                return file, match.start(), body + following.start() if following else len(text)
        return None

    declaration = r"""(?:StructField\(\s*|\(\s*)["']{name}["']\s*,\s*(?P<type>[^\n]*)"""
    scope: tuple[Path, int, int] | None = None
    table_pattern = re.compile(rf"""["']{re.escape(table)}["']\s*:\s*(?P<var>[A-Za-z_]\w*)""")
    for text in texts.values():
        match = table_pattern.search(text)
        if match and match.group("var")[0].isupper():
            scope = definition(match.group("var"))
            if scope:
                break
    found: tuple[Path, int] | None = None
    for segment in segments:
        if scope is None:
            found = None
            break
        file, begin, end = scope
        hit = re.compile(declaration.format(name=re.escape(segment))).search(texts[file], begin, end)
        if hit is None:
            found = None
            break
        name_at = texts[file].index(segment, hit.start())
        found = (file, name_at)
        type_names = re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", hit.group("type"))
        # A named struct (``USER``) continues in its definition; an inline one right here.
        scope = definition(type_names[0]) if type_names else (file, hit.end(), end)
    if found is None:
        name = segments[-1] if segments else field_path
        pattern = re.compile(declaration.format(name=re.escape(name)))
        for file, text in texts.items():
            match = pattern.search(text)
            if match:
                found = (file, text.index(name, match.start()))
                break
    if found is None:
        return None
    file, offset = found
    return layout.relative(file), texts[file].count("\n", 0, offset) + 1


def corpus_record_location(
    layout: Layout,
    corpus_files: Iterable[Path],
    record: Any,
    keys: Mapping[str, Any] | None,
    field_path: str | None,
) -> dict[str, Any] | None:
    """Where a record the connector returned sits in the corpus: file, index, 1-based line of the field."""
    from connector_watch.simulator.locations import json_value_spans
    from connector_watch.simulator.values import dotted_get

    wanted = {k: key_text(v) for k, v in (keys or {}).items() if v is not None}
    for file in corpus_files:
        text = _file_text(file)
        if text is None:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, list):
            continue
        index = None
        for i, candidate in enumerate(data):
            if candidate == record or (
                wanted
                and isinstance(candidate, dict)
                and all(key_text(dotted_get(candidate, k)) == v for k, v in wanted.items())
            ):
                index = i
                break
        if index is None:
            continue
        top = re.split(r"[.\[]", field_path or "")[0]
        values, keys_spans = json_value_spans(text, max_depth=2)
        span = values.get((index, top)) or keys_spans.get((index, top)) or values.get((index,))
        dotted = (field_path or "").replace("[", ".").replace("]", "")
        kinds = Counter(
            type(value).__name__
            for r in data
            if isinstance(r, dict) and (value := dotted_get(r, dotted)) is not None
        )
        return {
            "corpusFile": layout.relative(file),
            "recordIndex": index,
            "corpusLine": span.start.line if span else None,
            "corpusColumn": span.start.column if span else None,
            "fieldTypes": dict(kinds),
        }
    return None


def connector_frame(
    layout: Layout, source: str, frames: Sequence[Mapping[str, Any]]
) -> tuple[str, int] | None:
    """The deepest traceback frame inside the source's connector package."""
    package = layout.source_dir(source).resolve()
    for frame in reversed(frames):
        path = Path(str(frame.get("file", "")))
        try:
            path.resolve().relative_to(package)
        except (ValueError, OSError):
            continue
        return layout.relative(path), int(frame.get("line") or 1)
    return None


def _def_line(layout: Layout, source: str, method: str) -> tuple[str, int] | None:
    for file in sorted(layout.source_dir(source).rglob("*.py")) if layout.source_dir(source).is_dir() else []:
        text = _file_text(file)
        if text is None:
            continue
        match = re.search(rf"^[ \t]*def {re.escape(method)}\b", text, re.M)
        if match:
            return layout.relative(file), text.count("\n", 0, match.start()) + 1
    return None


def _location(path: str | None, line: int | None, column: int | None = None) -> Location | None:
    if not path:
        return None
    return Location(path, Range.from_one_based(line or 1, column or 1))


def enrich(
    problem: dict[str, Any], layout: Layout, source: str, corpus_files: Sequence[Path]
) -> dict[str, Any]:
    """Add corpus, schema and connector locations, then the blamed diagnostics."""
    problem = dict(problem)
    problem.setdefault("source", source)
    kind = problem.get("kind")
    table = problem.get("table") or ""
    if kind in ("conversion", "nulls") and problem.get("field"):
        found = schema_field_location(layout, source, table, problem.get("field"))
        if found:
            problem["schemaFile"], problem["schemaLine"] = found
    if kind == "conversion":
        where = corpus_record_location(
            layout, corpus_files, problem.get("record"), problem.get("keys"), problem.get("field")
        )
        if where:
            problem.update(where)
        problem.setdefault(
            "message",
            f"field '{problem.get('field')}' = {problem.get('value')!r} does not convert to {problem.get('sparkType')}",
        )
    if kind == "error":
        found = connector_frame(layout, source, problem.get("frames") or [])
        if found:
            problem["connectorFile"], problem["connectorLine"] = found
        problem.setdefault("message", f"{problem.get('exception')}: {problem.get('message')}")
    if kind == "count" and problem.get("corpusFile") and problem.get("recordIndex") is not None:
        text = _file_text(layout.root / problem["corpusFile"])
        if text:
            from connector_watch.simulator.locations import json_value_spans

            values, _ = json_value_spans(text, max_depth=1)
            span = values.get((problem["recordIndex"],))
            problem["corpusLine"] = span.start.line if span else None
    problem["diagnostics"] = [d.to_dict() for d in diagnostics_for(problem, layout, source)]
    return problem


def diagnostics_for(problem: Mapping[str, Any], layout: Layout, source: str) -> list[Diagnostic]:
    """Blamed, located diagnostics for one problem (the same shape every other node publishes)."""
    kind = problem.get("kind")
    table = problem.get("table") or "?"
    code = f"spark.{kind}"
    prefix = f"[spark e2e {source}.{table}] "
    connector_file = str(layout.relative(layout.connector_file(source)))
    fallback = Location(connector_file, Range.lines(0))
    schema = _location(problem.get("schemaFile"), problem.get("schemaLine"))
    corpus = _location(problem.get("corpusFile"), problem.get("corpusLine"), problem.get("corpusColumn"))
    if kind == "conversion":
        field, value, spark_type = problem.get("field"), problem.get("value"), problem.get("sparkType")
        evidence = [
            f"field '{field}' holds {value!r} ({type(value).__name__}); the schema says {spark_type}",
            f"Spark read of {source}.{table} stopped at this record: {json.dumps(problem.get('record'), default=str)[:300]}",
        ]
        types = problem.get("fieldTypes") or {}
        if corpus:
            evidence.append(
                f"{problem.get('corpusFile')}[{problem.get('recordIndex')}] is the record; the field's types "
                f"across the corpus: {types}"
            )
        mine = type(value).__name__
        common = max(types.items(), key=lambda item: item[1])[0] if types else mine
        outlier = corpus is not None and mine != common and types.get(common, 0) > 1
        if outlier:
            assert corpus is not None
            return [
                Diagnostic(
                    "corpus",
                    f"{prefix}corpus value {value!r} of '{field}' does not fit the connector's schema ({spark_type}): "
                    "other records of the corpus hold this field with another type",
                    corpus,
                    0.7,
                    related=[Related(schema or fallback, "the schema declares the type here")],
                    evidence=evidence,
                    fix=f"give '{field}' a {spark_type} value in the corpus record",
                    code=code,
                )
            ]
        return [
            Diagnostic(
                "connector",
                f"{prefix}the schema declares '{field}' as {spark_type}, but the corpus value is {value!r} "
                f"({type(value).__name__})",
                schema or fallback,
                0.7,
                related=[Related(corpus, "the corpus value that does not convert")] if corpus else [],
                evidence=evidence,
                fix=f"declare '{field}' with a type that fits {type(value).__name__} values, or convert it in the connector",
                code=code,
            )
        ]
    if kind == "error":
        found = _location(problem.get("connectorFile"), problem.get("connectorLine"))
        return [
            Diagnostic(
                "connector",
                f"{prefix}{problem.get('message')}",
                found or fallback,
                0.6,
                evidence=[f"{problem.get('call')}() raised {problem.get('exception')} inside Spark"],
                code=code,
            )
        ]
    if kind == "nulls":
        return [
            Diagnostic(
                "connector",
                f"{prefix}{problem.get('message')}",
                schema or fallback,
                0.6,
                fix=f"declare '{problem.get('field')}' nullable, or make sure the connector always fills it",
                code=code,
            )
        ]
    method = "read_partition" if problem.get("partitioned") else "read_table"
    site = _def_line(layout, source, method)
    location = _location(*site) if site else fallback
    related = [Related(corpus, "the first corpus record concerned")] if corpus else []
    return [
        Diagnostic(
            "connector",
            f"{prefix}{problem.get('message')}",
            location or fallback,
            0.55,
            related=related,
            evidence=[e.get("explanation", "") for e in problem.get("lost", [])[:5] if e.get("explanation")],
            code=code,
        )
    ]
