"""``file/excerpt``: the lines around a location, for a browser panel that cannot open an editor.

Pure: the server confines the path to the workspace and reads the text; this cuts it.
"""

from __future__ import annotations

from typing import Any

DEFAULT_CONTEXT = 8
MAX_LINE_CHARS = 400
MAX_FILE_BYTES = 8 << 20


def excerpt(path: str, text: str, line: int, context: int = DEFAULT_CONTEXT) -> dict[str, Any]:
    """``{path, startLine, lines, totalLines}``: ``context`` lines either side of zero-based ``line``
    (clamped to the file), each cut at :data:`MAX_LINE_CHARS` characters."""
    lines = text.splitlines()
    total = len(lines)
    line = min(max(line, 0), max(total - 1, 0))
    start = max(0, line - context)
    end = min(total, line + context + 1)
    return {
        "path": path,
        "startLine": start,
        "lines": [t if len(t) <= MAX_LINE_CHARS else t[:MAX_LINE_CHARS] + "…" for t in lines[start:end]],
        "totalLines": total,
    }
