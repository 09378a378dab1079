"""Where a collected test is defined, for editors that place it: the ``def`` line of its function
(for an inherited harness test, the harness method, not the test class's file) and the decorator
that parametrises its ``table`` (``@for_tables(...)`` or ``@pytest.mark.parametrize("table", ...)``).

Runs inside the pytest plugin at collection; reads source lines through ``linecache`` (already
loaded by the import). Lines are zero-based, paths relative to the workspace when inside it.
"""

from __future__ import annotations

import inspect
import linecache
import re
from collections.abc import Callable
from typing import Any

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)\s*\(")
_TABLE_DECORATOR = re.compile(r"^\s*@.*(?:for_tables\s*\(|parametrize\s*\(\s*['\"]table['\"])")


def definition_lines(
    function: Any, relative: Callable[[str], str]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``({"path", "line"} of the def, {"path", "line"} of the table decorator)``; None where unknown.

    ``relative`` turns an absolute file name into the workspace path the protocol carries."""
    try:
        target = inspect.unwrap(function)
        code = target.__code__
        path = inspect.getsourcefile(target) or code.co_filename
    except (AttributeError, TypeError, ValueError):
        return None, None
    lines = linecache.getlines(path)
    first = code.co_firstlineno - 1  # the first decorator's line when there are decorators
    def_line = first
    parametrisation = None
    for index in range(first, min(len(lines), first + 40)):
        text = lines[index]
        if parametrisation is None and _TABLE_DECORATOR.match(text):
            parametrisation = index
        match = _DEF.match(text)
        if match and match.group(1) == code.co_name:
            def_line = index
            break
    rel = relative(path)
    return (
        {"path": rel, "line": def_line},
        {"path": rel, "line": parametrisation} if parametrisation is not None else None,
    )
