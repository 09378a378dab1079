"""Structured failures: every harness check fails with a code the daemon can read.

The message is what a person reads; ``check``, ``table`` and ``details`` are what
blame reads (never the message text).
"""

from __future__ import annotations

from typing import Any


class HarnessFailure(AssertionError):
    """A check of the harness failed.

    ``check`` names the check (``read_table.empty_first_read``, ``ground_truth``,
    ...), ``table`` the table it concerns, ``details`` JSON-able evidence, and
    ``hint`` one line on what usually fixes it.
    """

    def __init__(
        self,
        message: str,
        *,
        check: str,
        table: str | None = None,
        details: dict[str, Any] | None = None,
        hint: str | None = None,
    ) -> None:
        self.check = check
        self.table = table
        self.details = details or {}
        self.hint = hint
        text = f"[{table}] {message}" if table else message
        if hint:
            text += f"\n  Hint: {hint}"
        super().__init__(text)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "table": self.table, "details": self.details, "hint": self.hint}


class HarnessConfigError(HarnessFailure):
    """The test class or its environment is set up wrongly (mode, credentials, paths)."""

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, check="config", details=details, hint=hint)


def annotate(exc: BaseException, note: str) -> BaseException:
    """Attach context to an exception raised by connector code, keeping its traceback."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    return exc
