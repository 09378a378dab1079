"""Clock-dependent data: records dated outside the window a connector reads, offsets that walk
towards now.

Pure. Connectors read incremental tables from "now minus a window" (``_init_date -
timedelta(days=30)``) or from a fixed ``start_date`` table option in fixed-size batches; a corpus
dated when it was written ages out of the first, and a fixed start date needs more batches every
day for the second. Both pass on the day they are committed and fail weeks later, with nothing
changed: the clock is to blame (``environment``), and the evidence is the dates.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

DAY = 86_400.0
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?")
#: ``now - timedelta(days=30)``, ``self._init_date - timedelta(days=30)``, ``today() - timedelta(30)``
_WINDOW = re.compile(
    r"(?:now|init|today|utc|start)\w*(?:\(\))?\)?\s*-\s*timedelta\(\s*(?:days\s*=\s*)?(\d+)\s*\)", re.I
)
_DATE_NAMES = ("date", "time", "updated", "created", "modified", "_at", "day", "timestamp")


def as_date(value: Any) -> date | None:
    """The calendar date of an ISO-8601 date or timestamp string (``None`` for anything else)."""
    if not isinstance(value, str):
        return None
    match = _ISO_DATE.match(value.strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def today(now: float) -> date:
    return datetime.fromtimestamp(now, timezone.utc).date()


@dataclass(frozen=True)
class DatedField:
    """The field of a corpus that dates its records, and the records' dates."""

    field: str
    dates: list[tuple[int, date]]  # (record index, date)

    @property
    def newest(self) -> tuple[int, date]:
        return max(self.dates, key=lambda item: item[1])

    @property
    def oldest(self) -> tuple[int, date]:
        return min(self.dates, key=lambda item: item[1])


def dated_field(records: Any, preferred: str | None = None) -> DatedField | None:
    """The top-level field holding ISO dates in most records (``preferred``, e.g. the cursor field,
    when it holds dates)."""
    if not isinstance(records, list):
        return None
    counts: Counter[str] = Counter()
    for record in records:
        if isinstance(record, dict):
            counts.update(k for k, v in record.items() if as_date(v) is not None)
    if not counts:
        return None
    if preferred and preferred in counts:
        field = preferred
    else:
        best = max(counts.values())
        candidates = [k for k, n in counts.items() if n == best]
        field = next((k for k in candidates if any(name in k.lower() for name in _DATE_NAMES)), candidates[0])
    dates = [
        (i, d)
        for i, record in enumerate(records)
        if isinstance(record, dict) and (d := as_date(record.get(field))) is not None
    ]
    return DatedField(field, dates) if dates else None


@dataclass(frozen=True)
class Window:
    """A connector's default read window: ``now - days``, written at ``line`` (0-based) of ``path``."""

    days: int
    path: str
    line: int
    code: str


def read_windows(path: str, text: str) -> list[Window]:
    """Every ``<now-ish> - timedelta(days=N)`` in a connector file."""
    windows = []
    for number, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        for match in _WINDOW.finditer(line):
            windows.append(Window(int(match.group(1)), path, number, stripped[:160]))
    return windows


@dataclass(frozen=True)
class AgedCorpus:
    """A corpus whose every record is older than the connector's first read window."""

    field: str
    newest_index: int
    newest: date
    oldest: date
    window: Window | None
    window_start: date
    today: date

    def evidence(self) -> list[str]:
        lines = [
            f"corpus records are dated {self.oldest.isoformat()} … {self.newest.isoformat()} ({self.field}); "
            f"today is {self.today.isoformat()}"
        ]
        if self.window is not None:
            lines.append(
                f"the connector's first read starts at now − {self.window.days} days = "
                f"{self.window_start.isoformat()} ({self.window.path}:{self.window.line + 1}: {self.window.code})"
            )
        else:
            lines.append(
                f"the newest record is {(self.today - self.newest).days} days old; no connector window was found"
            )
        return lines


def aged_corpus(
    records: Any,
    windows: list[Window],
    now: float,
    preferred_field: str | None = None,
    fallback_days: int = 30,
) -> AgedCorpus | None:
    """The corpus aged out of the connector's window (every record before ``now - window``)."""
    dated = dated_field(records, preferred_field)
    if dated is None:
        return None
    current = today(now)
    window = max(windows, key=lambda w: w.days) if windows else None
    days = window.days if window else fallback_days
    start = date.fromordinal(current.toordinal() - days)
    index, newest = dated.newest
    if newest >= start:
        return None
    return AgedCorpus(dated.field, index, newest, dated.oldest[1], window, start, current)


@dataclass(frozen=True)
class Walk:
    """Reads that walk from a fixed start date towards now in batches and run out of iterations."""

    option: str  # the table option holding the start date
    start: date
    reached: date
    today: date
    iterations: int
    batch_days: float

    @property
    def reads_left(self) -> int:
        return max(1, round((self.today - self.reached).days / self.batch_days)) if self.batch_days else 0

    def evidence(self) -> list[str]:
        return [
            f"{self.iterations} reads from {self.option}={self.start.isoformat()} reached "
            f"{self.reached.isoformat()} (about {self.batch_days:.1f} days per read)",
            f"today is {self.today.isoformat()}: about {self.reads_left} more read(s) would be needed, and one "
            "more every "
            f"{self.batch_days:.0f} days from now on",
        ]


def offset_dates(offset: Any) -> list[date]:
    if isinstance(offset, dict):
        return [d for v in offset.values() for d in offset_dates(v)]
    if isinstance(offset, list):
        return [d for v in offset for d in offset_dates(v)]
    found = as_date(offset)
    return [found] if found else []


def tracks_wall_clock(offset: Any, now: float, slack_days: float = 1.0) -> bool:
    """The offset holds a timestamp within a day of now: it follows the clock instead of the data."""
    current = today(now)
    return any(abs((d - current).days) <= slack_days for d in offset_dates(offset))


def walk_towards_now(offset: Any, table_options: dict[str, Any], iterations: int, now: float) -> Walk | None:
    """The last offset is a date before today and the table options fix a start date before it."""
    reached = offset_dates(offset)
    current = today(now)
    if not reached or max(reached) >= current:
        return None
    last = max(reached)
    for option, value in table_options.items():
        start = as_date(value)
        if (
            start is not None
            and start < last
            and any(w in option.lower() for w in ("start", "from", "since"))
        ):
            batch = (last - start).days / max(iterations, 1)
            return Walk(option, start, last, current, iterations, batch)
    return None


def counter_key(offset: Any, iterations: int) -> str | None:
    """A key of the offset holding an integer about as large as the number of reads: a counter that
    grows with every read, so the offset never repeats."""
    if not isinstance(offset, dict) or iterations < 5:
        return None
    for key, value in offset.items():
        if isinstance(value, int) and not isinstance(value, bool) and iterations - 3 <= value <= iterations:
            return str(key)
    return None
