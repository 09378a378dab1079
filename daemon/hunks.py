"""Hunks: the parts of a file that changed, and the file with only some of them applied.

Pure functions over text. Causal blame reverts changes per file, then per hunk, to find the
smallest change that makes a test fail; a hunk's new-side lines are where the diagnostic points.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from connector_watch.daemon.utf16 import editor_lines


@dataclass(frozen=True)
class Hunk:
    """Lines ``old_start:old_end`` of the old text became ``new_start:new_end`` of the new (0-based, end exclusive)."""

    path: str
    index: int
    old_start: int
    old_end: int
    new_start: int
    new_end: int

    def new_lines(self) -> tuple[int, int]:
        """The zero-based first and last line of the new text this hunk covers (a deletion: the
        line that now stands where the deleted lines were)."""
        if self.new_end > self.new_start:
            return self.new_start, self.new_end - 1
        return self.new_start, self.new_start

    def describe(self) -> str:
        first, last = self.new_lines()
        lines = f"line {first + 1}" if first == last else f"lines {first + 1}–{last + 1}"
        return f"{self.path} {lines}"


def split_lines(text: str) -> list[str]:
    """Lines with their breaks, numbered as editors number them."""
    return editor_lines(text, keepends=True)


def hunks(path: str, old: str, new: str, context: int = 0) -> list[Hunk]:
    """The changed regions between ``old`` and ``new``; changes closer than ``context`` lines merge."""
    matcher = difflib.SequenceMatcher(None, split_lines(old), split_lines(new), autojunk=False)
    found: list[Hunk] = []
    for group in matcher.get_grouped_opcodes(context):
        changes = [op for op in group if op[0] != "equal"]
        if not changes:
            continue
        found.append(
            Hunk(
                path,
                len(found),
                changes[0][1],
                changes[-1][2],
                changes[0][3],
                changes[-1][4],
            )
        )
    return found


def apply(old: str, new: str, chosen: Iterable[Hunk]) -> str:
    """``old`` with only the ``chosen`` hunks (of ``hunks(path, old, new)``) applied."""
    old_lines, new_lines = split_lines(old), split_lines(new)
    result: list[str] = []
    position = 0
    for hunk in sorted(chosen, key=lambda h: h.old_start):
        result.extend(old_lines[position : hunk.old_start])
        result.extend(new_lines[hunk.new_start : hunk.new_end])
        position = hunk.old_end
    result.extend(old_lines[position:])
    return "".join(result)
