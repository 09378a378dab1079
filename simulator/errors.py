"""Errors the simulator raises, each saying where the problem is and what to do (and the "did you mean" of a name)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import requests
from connector_watch.simulator.locations import Span


@dataclass(frozen=True)
class Issue:
    """One located finding in a spec or corpus file.

    ``blocking`` errors stop the spec from loading; non-blocking ones (a
    missing corpus file, an unused one) are reported but the spec still serves.
    """

    file: str
    span: Span
    message: str
    severity: str = "error"  # "error" | "warning" | "information"
    code: str = "spec"
    blocking: bool = True

    @property
    def line(self) -> int:
        return self.span.start.line

    @property
    def column(self) -> int:
        return self.span.start.column

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class SpecError(ValueError):
    """An ``endpoints.yaml`` that cannot be loaded. ``issues`` holds every problem."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class CorpusError(ValueError):
    """A corpus file that cannot be read (not JSON, not the expected shape)."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        super().__init__(str(issue))


class UnknownEndpoint(requests.RequestException, LookupError):
    """A request the spec does not model.

    A :class:`requests.RequestException` (so connector error handling treats it
    like any failed call) and a :class:`LookupError` (as the public simulator's).
    """

    def __init__(self, method: str, url: str, spec_file: str | None, nearest: Sequence[str] = ()) -> None:
        self.method = method
        self.url = url
        self.spec_file = spec_file
        self.nearest = list(nearest)
        lines = [f"No endpoint in the spec matches {method} {url}"]
        if nearest:
            lines.append("  Nearest spec paths: " + ", ".join(nearest))
        where = spec_file or "the spec file"
        lines.append(
            f"  Fix: add an entry under 'endpoints:' in {where}, or check the URL the connector builds."
        )
        super().__init__("\n".join(lines))


class NoMatchingInteraction(requests.RequestException, AssertionError):
    """Replay mode: the cassette holds no response for this request."""

    def __init__(self, method: str, url: str, cassette: str, nearest: Sequence[str] = ()) -> None:
        self.method = method
        self.url = url
        self.cassette = cassette
        self.nearest = list(nearest)
        lines = [f"No cassette match for {method} {url} in {cassette}"]
        if nearest:
            lines.append("  Nearest recorded requests:")
            lines.extend(f"    {n}" for n in nearest)
        lines.append(
            "  Fix: re-record with CONNECTOR_TEST_MODE=record, or check the request the connector builds."
        )
        super().__init__("\n".join(lines))


class SimulatorConfigError(ValueError):
    """The simulator was set up wrongly (bad mode, missing paths)."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest candidate, ignoring case (``FILTER`` → ``filter``)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(str(candidate).casefold(), str(candidate))
    guess = difflib.get_close_matches(str(word).casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean {by_folded[guess[0]]!r}?" if guess else ""
