"""Ground truth: did a full read return exactly the corpus records its requests reached?

In simulate mode the simulator knows, for every family of requests (same
endpoint, same filters, different page positions), which corpus records the
filters select. A connector that reads a table to the end should return each
of them once. This module compares the two, record by record, and explains
each difference:

- **lost**: a selected record the connector never returned. Either it was
  served in a response and dropped by the connector, or it sat on a page that
  was never requested (the connector stopped paging early).
- **duplicated**: returned more than once (an error for append and snapshot
  tables; expected overlap for cdc tables with inclusive cursors, so only noted).
- **future**: a record the simulator dated after the read started was returned,
  so the connector does not cap its reads at its start time.

Pure: it takes the returned records, the trace and the corpus, and returns a
:class:`GroundTruth`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from connector_watch.simulator.trace import Family, Trace, TraceEntry
from connector_watch.simulator.values import dotted_get

MAX_LISTED = 10
INCREMENTAL = ("cdc", "cdc_with_deletes", "append")


@dataclass
class Lost:
    corpus: str
    index: int
    key: Any
    reason: str  # "dropped" | "never-requested"
    explanation: str
    request_seq: int | None = None
    url: str | None = None
    page: int | None = None


@dataclass
class GroundTruth:
    table: str
    ingestion_type: str | None
    primary_keys: list[str]
    expected: int = 0
    returned: int = 0
    corpora: list[str] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    future: list[Any] = field(default_factory=list)
    note: str | None = None

    @property
    def duplicates_fail(self) -> bool:
        return bool(self.duplicates) and self.ingestion_type in ("append", "snapshot")

    @property
    def ok(self) -> bool:
        return not self.lost and not self.future and not self.duplicates_fail

    @property
    def inconclusive(self) -> bool:
        """No returned record could be matched with the corpus: only counts were compared."""
        return bool(self.note) and self.note.startswith("inconclusive")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lost"] = data["lost"][:MAX_LISTED]
        data["lost_count"] = len(self.lost)
        data["lost_by_reason"] = dict(Counter(lost.reason for lost in self.lost))  # beyond the listed ones
        data["duplicates"] = data["duplicates"][:MAX_LISTED]
        data["duplicate_count"] = len(self.duplicates)
        data["diff"] = self.diff()
        return data

    def diff(self) -> dict[str, str]:
        """Expected vs. actual, as lines an editor shows side by side: the records the requests
        selected, and what the connector returned instead (lost, repeated, from the future)."""
        expected = [f"{self.expected} record(s) in the corpus that the requests selected"]
        actual = [f"{self.returned} record(s) returned by the connector"]
        for lost in self.lost[:MAX_LISTED]:
            record = f"{lost.corpus}[{lost.index}] key {lost.key!r}"
            reason = "page never requested" if lost.reason == "never-requested" else "served, then dropped"
            expected.append(f"{record}: returned")
            actual.append(f"{record}: missing ({reason})")
        if len(self.lost) > MAX_LISTED:
            expected.append(f"… {len(self.lost) - MAX_LISTED} more record(s): returned")
            actual.append(f"… {len(self.lost) - MAX_LISTED} more record(s): missing")
        if self.duplicates_fail:
            for duplicate in self.duplicates[:MAX_LISTED]:
                expected.append(f"key {duplicate['key']!r} x1")
                actual.append(f"key {duplicate['key']!r} x{duplicate['count']}")
        if self.future:
            expected.append("no record dated after the read started")
            actual.append(
                f"{len(self.future)} record(s) dated after the read started (keys {self.future[:5]!r})"
            )
        return {"expected": "\n".join(expected), "actual": "\n".join(actual)}

    def summary(self) -> str:
        lines = [
            f"read returned {self.returned} record(s); the corpus holds {self.expected} record(s) that its requests "
            f"selected (corpus: {', '.join(self.corpora) or '-'}, keys: {self.primary_keys or 'whole record'})"
        ]
        if self.lost:
            lines.append(f"{len(self.lost)} record(s) lost:")
            lines.extend(f"  - {lost.explanation}" for lost in self.lost[:MAX_LISTED])
            if len(self.lost) > MAX_LISTED:
                lines.append(f"  ... and {len(self.lost) - MAX_LISTED} more")
        if self.duplicates:
            verb = "duplicated" if self.duplicates_fail else "returned more than once (fine for cdc)"
            lines.append(f"{len(self.duplicates)} record(s) {verb}:")
            lines.extend(f"  - key {d['key']!r} x{d['count']}" for d in self.duplicates[:MAX_LISTED])
        if self.future:
            lines.append(
                f"{len(self.future)} record(s) dated after the read started were returned (keys "
                f"{self.future[:5]!r}): the connector does not cap reads at its start time"
            )
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _key(record: Any, pks: Sequence[str]) -> Any:
    if not isinstance(record, dict):
        return None
    if not pks:
        return json.dumps(record, sort_keys=True, default=str)
    values = tuple(dotted_get(record, pk) for pk in pks)
    if any(v is None for v in values):
        return None
    return tuple(json.dumps(v, sort_keys=True, default=str) for v in values)


def _show(key: Any) -> Any:
    if isinstance(key, tuple):
        values = [json.loads(k) for k in key]
        return values[0] if len(values) == 1 else values
    return key


def compare(
    table: str,
    returned: Sequence[Any],
    trace: Trace,
    corpus: Mapping[str, Any],
    primary_keys: Sequence[str],
    ingestion_type: str | None,
    future_indices: Mapping[str, set[int]] | None = None,
) -> GroundTruth:
    """Compare a full read with the corpus records its requests selected."""
    pks = list(primary_keys)
    result = GroundTruth(table=table, ingestion_type=ingestion_type, primary_keys=pks, returned=len(returned))
    future_indices = future_indices or {}
    families: list[Family] = [
        f for f in trace.families.values() if f.corpus and isinstance(corpus.get(f.corpus), list)
    ]
    # Duplicates are judged on the table's whole key; matching with the corpus on the key fields
    # the corpus has (a connector often adds a parent's id to child records).
    duplicates = Counter(k for k in (_key(r, pks) for r in returned) if k is not None)
    corpus_pks = _fields_the_corpus_has(pks, [corpus[f.corpus] for f in families])  # type: ignore[index]
    if corpus_pks != pks:
        result.note = f"matched on {corpus_pks} ({sorted(set(pks) - set(corpus_pks))} added by the connector)"
        pks = corpus_pks
    returned_keys = Counter(k for k in (_key(r, pks) for r in returned) if k is not None)

    # Which corpus tables hold this table's records: list corpora whose records carry the keys.
    keyed: dict[str, list[Any]] = {}
    for family in families:
        records = corpus[family.corpus]  # type: ignore[index]
        if family.corpus not in keyed:
            keyed[family.corpus] = [_key(r, pks) for r in records]  # type: ignore[index]
    data_corpora = {name for name, keys in keyed.items() if any(k is not None for k in keys)}
    if returned_keys:
        overlapping = {name for name in data_corpora if any(k in returned_keys for k in keyed[name])}
        if not overlapping:
            result.note = (
                f"inconclusive: none of the {len(returned)} returned record(s) matches a corpus record by "
                f"{pks or 'whole record'} (the connector may transform records); counts only"
            )
            result.corpora = sorted(data_corpora)
            return result
        data_corpora = overlapping
    result.corpora = sorted(data_corpora)

    expected: dict[tuple[str, int], list[Family]] = {}
    for family in families:
        if family.corpus not in data_corpora:
            continue
        future = future_indices.get(family.corpus, set())  # type: ignore[arg-type]
        for index in family.matched:
            if index in future:
                continue
            expected.setdefault((family.corpus, index), []).append(family)  # type: ignore[arg-type]
    result.expected = len({keyed[c][i] for c, i in expected if keyed[c][i] is not None})

    entries = {e.seq: e for e in trace.entries}
    seen_lost: set[Any] = set()
    for (name, index), owners in sorted(expected.items(), key=lambda item: (item[0][0], item[0][1])):
        key = keyed[name][index]
        if key is None or key in returned_keys or key in seen_lost:
            continue
        seen_lost.add(key)
        result.lost.append(_explain(name, index, key, owners, entries))

    for key, count in duplicates.items():
        if count > 1:
            result.duplicates.append({"key": _show(key), "count": count})

    # Records dated after the read started are never required; returning them is wrong only for an
    # incremental read, which must stop at its start time (a snapshot may take everything).
    for name in data_corpora if ingestion_type in INCREMENTAL else ():
        future = future_indices.get(name, set())
        present = {k for i, k in enumerate(keyed[name]) if i not in future}
        for index in future:
            key = keyed[name][index] if 0 <= index < len(keyed[name]) else None
            if key is not None and key in returned_keys and key not in present:
                result.future.append(_show(key))
    return result


def _fields_the_corpus_has(pks: list[str], tables: Sequence[Any]) -> list[str]:
    """The key fields some corpus record holds (all of ``pks`` when none does: nothing to learn)."""
    records = [r for table in tables if isinstance(table, list) for r in table if isinstance(r, dict)]
    held = [pk for pk in pks if any(dotted_get(r, pk) is not None for r in records)]
    return held or pks


def _explain(
    name: str, index: int, key: Any, owners: list[Family], entries: Mapping[int, TraceEntry]
) -> Lost:
    shown = _show(key)
    for family in owners:
        if index in family.served:
            seq = next(s for s in family.requests if index in entries[s].served) if family.requests else None
            entry = entries.get(seq) if seq is not None else None
            return Lost(
                corpus=name,
                index=index,
                key=shown,
                reason="dropped",
                request_seq=seq,
                url=entry.url if entry else None,
                explanation=(
                    f"{name}[{index}] (key {shown!r}) was served in request #{seq} "
                    f"({entry.method} {entry.url}) but the connector did not return it"
                    if entry
                    else f"{name}[{index}] (key {shown!r}) was served but the connector did not return it"
                ),
            )
    family = max(owners, key=lambda f: len(f.served))
    position = family.matched.index(index)
    requests = [entries[s] for s in family.requests if s in entries]
    limits = [e.page.get("limit") for e in requests if e.page and e.page.get("limit")]
    size = limits[-1] if limits else None
    page = position // size + 1 if size else None
    last = requests[-1] if requests else None
    pages_seen = sorted({(e.page or {}).get("offset", 0) // size + 1 for e in requests} if size else [])
    more = " although the last response said more pages exist" if last is not None and last.has_more else ""
    where = (
        f"page {page} (records {position + 1} of {len(family.matched)})"
        if page
        else f"position {position + 1}"
    )
    explanation = (
        f"{name}[{index}] (key {shown!r}) is on {where} of {family.endpoint.key} with "
        f"{_params(family.params)}, which was never requested; pages requested: {pages_seen or '?'}{more}"
    )
    return Lost(
        corpus=name,
        index=index,
        key=shown,
        reason="never-requested",
        page=page,
        url=last.url if last else None,
        request_seq=last.seq if last else None,
        explanation=explanation,
    )


def _params(params: Mapping[str, list[Any]]) -> str:
    if not params:
        return "no filters"
    return ", ".join(f"{k}={v[-1] if len(v) == 1 else v}" for k, v in sorted(params.items()))
