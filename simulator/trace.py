"""The trace: every request the simulator answered, and how.

Blame stands on this record. For each request it keeps the method and URL, the
spec endpoint it matched (file and line) or the nearest ones when none did, the
corpus table and the records served (by corpus index), the pagination state,
whether the response signalled another page, and the connector line that made
the call. A *family* groups requests that differ only in their page position,
and remembers every corpus record the family's filters select: the records the
connector should have reached by paging to the end.

Anyone may listen: :func:`capture` collects entries made inside a ``with``
block (the harness and the daemon's pytest plugin use it per test phase).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

#: The simulator's own modules are plumbing too (a spec handler, workspace code, is not).
_SIMULATOR = "connector_watch.simulator"
#: Top-level packages that are plumbing, not the caller we want to name.
_PLUMBING = (
    "requests",
    "urllib3",
    "urllib",
    "http",
    "contextlib",
    "json",
    "ssl",
    "socket",
    "functools",
    "unittest",
    "email",
)


@dataclass(frozen=True)
class EndpointRef:
    """A spec endpoint, as the trace and reports refer to it."""

    index: int
    method: str
    path: str
    spec_file: str
    line: int
    fingerprint: str = ""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Caller:
    file: str
    line: int
    function: str
    #: The frames further out in the same file, innermost first, as (line, function): the loop
    #: that called a shared request helper, say.
    outer: tuple[tuple[int, str], ...] = ()


@dataclass
class Family:
    """Requests to one endpoint with the same filters: pages of one result set."""

    id: str
    endpoint: EndpointRef
    corpus: str | None
    params: dict[str, list[Any]]
    matched: tuple[int, ...]  # corpus indices the filters select, in serving order
    requests: list[int] = field(default_factory=list)  # trace seq numbers
    served: set[int] = field(default_factory=set)


@dataclass
class TraceEntry:
    seq: int
    mode: str  # simulate | replay | live
    method: str
    url: str
    outcome: (
        str  # served | declared-error | bad-request | unknown-endpoint | no-cassette-match | handler | ...
    )
    status: int | None = None
    endpoint: EndpointRef | None = None
    corpus: str | None = None
    corpus_file: str | None = None
    corpus_missing: bool = False
    served: list[int] = field(default_factory=list)
    future_served: list[int] = field(default_factory=list)
    total: int | None = None
    family: str | None = None
    page: dict[str, Any] | None = None
    has_more: bool | None = None
    message: str | None = None
    nearest: list[str] = field(default_factory=list)
    caller: Caller | None = None
    timeout: Any = None
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trace:
    """An ordered list of entries plus the families they belong to."""

    def __init__(self) -> None:
        self.entries: list[TraceEntry] = []
        self.families: dict[str, Family] = {}
        self.corpus_tables_read: set[str] = set()

    def add(self, entry: TraceEntry, family: Family | None = None) -> None:
        self.entries.append(entry)
        if entry.corpus:
            self.corpus_tables_read.add(entry.corpus)
        if family is not None:
            known = self.families.setdefault(family.id, family)
            known.requests.append(entry.seq)
            known.served.update(entry.served)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def for_corpus(self, table: str) -> list[TraceEntry]:
        return [e for e in self.entries if e.corpus == table]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [e.to_dict() for e in self.entries],
            "families": {
                k: {
                    "endpoint": asdict(f.endpoint),
                    "corpus": f.corpus,
                    "params": f.params,
                    "matched": list(f.matched),
                    "requests": f.requests,
                    "served": sorted(f.served),
                }
                for k, f in self.families.items()
            },
        }


_sinks: list[Trace] = []
_seq = itertools.count(1)  # next() on a count is atomic: concurrent requests get distinct numbers


def next_seq() -> int:
    return next(_seq)


def publish(entry: TraceEntry, family: Family | None = None) -> None:
    """Hand an entry to every active :func:`capture`, once each.

    A sink is listed once per request in flight, so concurrent requests list it
    several times; a snapshot without repeats keeps each entry single.
    """
    for sink in {id(s): s for s in list(_sinks)}.values():
        sink.add(entry, family)


@contextmanager
def capture() -> Iterator[Trace]:
    """Collect every trace entry made inside the block, from any simulator."""
    sink = Trace()
    _sinks.append(sink)
    try:
        yield sink
    finally:
        _sinks.remove(sink)


def find_caller() -> Caller | None:
    """The first frame outside HTTP plumbing and the simulator: the line that made the call."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        package = module.partition(".")[0]  # "json" is plumbing, "jsonplaceholder_source" is not
        if package not in _PLUMBING and not module.startswith(_SIMULATOR):
            code = frame.f_code
            return Caller(code.co_filename, frame.f_lineno, code.co_name, _outer_frames(frame))
        frame = frame.f_back
    return None


def _outer_frames(frame: Any, limit: int = 3) -> tuple[tuple[int, str], ...]:
    found = []
    outer = frame.f_back
    while outer is not None and len(found) < limit and outer.f_code.co_filename == frame.f_code.co_filename:
        found.append((outer.f_lineno, outer.f_code.co_name))
        outer = outer.f_back
    return tuple(found)
