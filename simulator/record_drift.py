"""Record-level drift: every dotted field path of a set of records profiled (types, nulls,
presence), and the live records of an endpoint compared with its corpus both ways (fields live has
and the corpus never has, fields the corpus has and live never returns, types, nullability), each
finding located at a corpus record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from connector_watch.simulator.corpus import CorpusStore
from connector_watch.simulator.spec import Endpoint
from connector_watch.simulator.validation_report import Finding, Location


def type_tag(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


@dataclass
class FieldStats:
    types: set[str] = field(default_factory=set)
    nulls: int = 0
    present: int = 0
    example: Any = None
    first_record: int | None = None  # index (within the profiled records) of a record with a value
    by_type_record: dict[str, int] = field(default_factory=dict)


def profile(records: Iterable[Any]) -> dict[str, FieldStats]:
    """Every dotted field path of ``records`` with the types, nulls and presence seen."""
    stats: dict[str, FieldStats] = defaultdict(FieldStats)

    def note(path: str, value: Any, index: int) -> None:
        entry = stats[path]
        entry.present += 1
        tag = type_tag(value)
        if tag == "null":
            entry.nulls += 1
        else:
            entry.types.add(tag)
            entry.by_type_record.setdefault(tag, index)
            if entry.example is None and not isinstance(value, (dict, list)):
                entry.example = value if not isinstance(value, str) else value[:60]
            if entry.first_record is None:
                entry.first_record = index
        if isinstance(value, dict):
            for key, item in value.items():
                note(f"{path}.{key}", item, index)
        elif isinstance(value, list):
            for item in value:
                note(f"{path}[]", item, index)

    for index, record in enumerate(records):
        if isinstance(record, dict):
            for key, value in record.items():
                note(str(key), value, index)
    return dict(stats)


def parent_path(path: str) -> str | None:
    if path.endswith("[]"):
        return path[:-2]
    if "." in path:
        return path.rsplit(".", 1)[0]
    return None


def top_most(paths: set[str]) -> list[str]:
    result = []
    for path in sorted(paths):
        parent = parent_path(path)
        while parent is not None and parent not in paths:
            parent = parent_path(parent)
        if parent is None:
            result.append(path)
    return result


def kinds(types: set[str]) -> set[str]:
    return {"number" if t in ("int", "float") else t for t in types}


def record_findings(
    endpoint: Endpoint,
    live_records: list[Any],
    spec_answers: list[Any],
    *,
    corpus: CorpusStore,
    spec_location: Callable[..., Location],
    corpus_location: Callable[..., Location | None],
    reseed: str,
) -> list[Finding]:
    """Every live record of the endpoint against the corpus: fields both ways, types, nulls.

    Fields live has and types are checked against the whole corpus table (the records the spec
    can serve); fields live never returned against the records the spec served for the same
    requests (so a field of a record the connector never asked for is not "missing").
    """
    live_records = [r for r in live_records if isinstance(r, dict)]
    if not live_records:
        return []
    table = endpoint.corpus
    corpus_value = corpus.get(table) if table else None
    if isinstance(corpus_value, list):
        corpus_records = [r for r in corpus_value if isinstance(r, dict)]
    elif isinstance(corpus_value, dict):
        corpus_records = [corpus_value]
    else:
        corpus_records = [r for r in spec_answers if isinstance(r, dict)]
    if not corpus_records:
        return []
    live_profile = profile(live_records)
    corpus_profile = profile(corpus_records)
    answer_profile = profile(spec_answers) if spec_answers else {}
    indexed = corpus_value if isinstance(corpus_value, list) else None
    findings: list[Finding] = []
    corpus_display = corpus.display_path(table) if table else "the corpus"
    reseed = reseed
    checked = f"{len(live_records)} live record(s), {len(corpus_records)} corpus record(s)"

    for path in top_most(set(live_profile) - set(corpus_profile)):
        stats = live_profile[path]
        types = "|".join(sorted(stats.types)) or "null"
        findings.append(
            Finding(
                "extra_field",
                "warning",
                f"record field '{path}' in live missing from corpus (live={types})",
                fix=f"add '{path}' to the records of {corpus_display}{reseed}",
                path=path,
                live=sorted(stats.types) or ["null"],
                location=corpus_location(table, 0 if indexed else None, path),
                related=[spec_location(endpoint, "corpus", note="the endpoint serving this corpus")],
            )
        )
    for path in top_most(set(answer_profile) - set(live_profile)):
        stats = answer_profile[path]
        in_corpus = corpus_profile.get(path)
        record = (
            in_corpus.first_record
            if in_corpus is not None and indexed is not None
            else corpus_index(indexed, spec_answers, stats.first_record or 0)
        )
        findings.append(
            Finding(
                "missing_field",
                "warning",
                f"record field '{path}' in corpus never returned by live ({checked})",
                fix=f"remove '{path}' from {corpus_display} if the API dropped it, or check the fields the "
                "connector asks for ($select, properties)",
                path=path,
                spec=sorted(stats.types) or ["null"],
                location=corpus_location(table, record, path),
            )
        )
    for path in sorted(set(live_profile) & set(corpus_profile)):
        live_stats, spec_stats = live_profile[path], corpus_profile[path]
        live_kinds, spec_kinds = kinds(live_stats.types), kinds(spec_stats.types)
        new_kinds = live_kinds - spec_kinds
        if new_kinds and spec_kinds:
            tag = next(iter(sorted(spec_stats.by_type_record)), None)
            index = spec_stats.by_type_record.get(tag, 0) if tag else 0
            record = corpus_index(indexed, corpus_records, index)
            live_t = "|".join(sorted(live_stats.types))
            spec_t = "|".join(sorted(spec_stats.types))
            findings.append(
                Finding(
                    "type_mismatch",
                    "error",
                    f"field '{path}': live={live_t} corpus={spec_t}",
                    fix=f"change '{path}' to {live_t} values in {corpus_display}"
                    + (
                        f" (record #{record}; live example: {live_stats.example!r})"
                        if record is not None
                        else ""
                    )
                    + reseed,
                    path=path,
                    live=sorted(live_stats.types),
                    spec=sorted(spec_stats.types),
                    location=corpus_location(table, record, path),
                )
            )
        elif (
            live_kinds == spec_kinds == {"number"}
            and "float" in live_stats.types
            and "float" not in spec_stats.types
        ):
            record = corpus_index(indexed, corpus_records, spec_stats.first_record or 0)
            findings.append(
                Finding(
                    "number_kind",
                    "warning",
                    f"field '{path}': live=float corpus=int",
                    fix=f"give '{path}' a fractional value in {corpus_display} so simulate mode exercises it",
                    path=path,
                    live=sorted(live_stats.types),
                    spec=sorted(spec_stats.types),
                    location=corpus_location(table, record, path),
                )
            )
        elif live_kinds and not spec_kinds:
            findings.append(
                Finding(
                    "nullability",
                    "warning",
                    f"field '{path}': corpus is always null, live={'|'.join(sorted(live_stats.types))}",
                    fix=f"give '{path}' a real value in some record of {corpus_display}{reseed}",
                    path=path,
                    live=sorted(live_stats.types),
                    spec=["null"],
                    location=corpus_location(table, 0 if indexed else None, path),
                )
            )
        if live_stats.nulls and not spec_stats.nulls and spec_kinds:
            always = not live_kinds
            message = (
                f"field '{path}': live is always null ({live_stats.nulls} record(s)), "
                f"corpus={'|'.join(sorted(spec_stats.types))}"
                if always
                else f"field '{path}': live has nulls ({live_stats.nulls} of {live_stats.present}), corpus never"
            )
            findings.append(
                Finding(
                    "nullability",
                    "warning",
                    message,
                    fix=f"add a record with '{path}': null to {corpus_display} (the connector must handle it)",
                    path=path,
                    live=sorted(live_stats.types | {"null"}),
                    spec=sorted(spec_stats.types),
                    location=corpus_location(table, 0 if indexed else None, path),
                )
            )
    served_by = spec_location(endpoint, "corpus", note="the endpoint serving this corpus")
    for finding in findings:
        if not finding.related:
            finding.related.append(served_by)
    return findings


def corpus_index(corpus_records: list[Any] | None, spec_dicts: list[Any], index: int) -> int | None:
    """The corpus index of ``spec_dicts[index]`` (the spec serves corpus records, by identity)."""
    if corpus_records is None or not 0 <= index < len(spec_dicts):
        return None
    target = spec_dicts[index]
    for position, record in enumerate(corpus_records):
        if record is target or record == target:
            return position
    return None
