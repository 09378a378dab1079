"""The edits the latency benchmark saves, on a copy of the zendesk example.

Each edit is applied to the original text and then reverted (the original is saved again);
``cycle`` makes every applied version different from the last one, so no tool can take a save
for "nothing changed".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The example the benchmark edits a copy of (every edit below is written for it).
BASE = "zendesk"


def _sub(pattern: str, replacement: Callable[[re.Match[str]], str]) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def apply(text: str) -> str:
        result, count = compiled.subn(replacement, text, count=1)
        if count != 1:
            raise AssertionError(f"benchmark edit is stale: {pattern!r} not found")
        return result

    return apply


def _connector(text: str, cycle: int) -> str:
    # A code change (not a comment): the connector module's test file reruns whole, and passes.
    return text.rstrip("\n") + f"\n\n_BENCH_EDIT = {cycle}  # bench/latency.py connector edit\n"


def _spec(text: str, cycle: int) -> str:
    # The groups endpoint's per_page default and maximum: that endpoint's fingerprint changes, the
    # harness's page size (8) stays under it, so the nodes that requested groups rerun and pass.
    value = 99 - cycle % 50
    return _sub(
        r"per_page: \{role: per_page, default: 100, max: 100\}",
        lambda m: m.group(0).replace("100", str(value)),
    )(text)


def _corpus(text: str, cycle: int) -> str:
    # One field of one record of the tickets table (not a key or a cursor).
    return _sub(
        r'("subject": ")([^"]*)(")', lambda m: f"{m.group(1)}{m.group(2)} (edit {cycle}){m.group(3)}"
    )(text)


def _yaml_error(text: str, cycle: int) -> str:
    # An unclosed flow sequence: the spec no longer parses.
    return _sub(r"method: GET", lambda m: "method: [GET")(text)


def _corpus_fault(text: str, cycle: int) -> str:
    # The first record's key becomes a string: a static corpus diagnostic and failing tests.
    return _sub(r'(\n    "id": )\d+,', lambda m: f'{m.group(1)}"not-a-number-{cycle}",')(text)


@dataclass(frozen=True)
class EditKind:
    id: str
    title: str
    template: str  # the edited file, ``{s}`` standing for the source's name
    apply: Callable[[str, int], str]
    fault: bool  # the applied edit breaks something (a diagnostic is expected)
    extra: bool = False  # beyond the four edits issue 5 names

    def path(self, source: str) -> str:
        return self.template.format(s=source)


KINDS: dict[str, EditKind] = {
    kind.id: kind
    for kind in (
        EditKind("connector", "connector edit", "sources/{s}/{s}.py", _connector, fault=False),
        EditKind("spec", "spec endpoint edit", "simulator/specs/{s}/endpoints.yaml", _spec, fault=False),
        EditKind(
            "corpus", "one-table corpus edit", "simulator/specs/{s}/corpus/tickets.json", _corpus, fault=False
        ),
        EditKind("yaml", "YAML syntax error", "simulator/specs/{s}/endpoints.yaml", _yaml_error, fault=True),
        EditKind(
            "corpus-fault",
            "corpus fault (bad key)",
            "simulator/specs/{s}/corpus/tickets.json",
            _corpus_fault,
            fault=True,
            extra=True,
        ),
    )
}


class EditTarget:
    """One edit kind on one source: its path, original text, and the n-th applied version."""

    def __init__(self, root: Path, kind: EditKind, source: str) -> None:
        self.kind = kind
        self.relative = kind.path(source)
        self.path = root / self.relative
        self.original = self.path.read_text(encoding="utf-8")
        kind.apply(self.original, 0)  # fail now if the edit no longer applies

    def applied(self, cycle: int) -> str:
        return self.kind.apply(self.original, cycle)

    def write(self, text: str) -> None:
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def restore(self) -> None:
        self.write(self.original)

