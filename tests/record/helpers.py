"""Helpers shared by the record-mode tests: an in-process record session and a full drain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_watch.simulator import Simulator
from connector_watch.simulator.scrub import secret_values

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "simulator" / "specs"


def record(
    tmp_path: Path,
    source: str,
    config: dict[str, Any],
    action: Callable[[], Any],
    *,
    spec_path: Path | None = None,
    **kwargs: Any,
) -> Simulator:
    """Run ``action`` under a record-mode simulator (the connector talks to a live server)."""
    simulator = Simulator(
        mode="record",
        cassette_path=kwargs.pop("cassette", tmp_path / "cassettes" / f"Test{source.capitalize()}.json"),
        source=source,
        spec_path=spec_path or SPECS / source / "endpoints.yaml",
        secrets=secret_values(config),
        **kwargs,
    )
    with simulator:
        action()
    return simulator


def drain(
    connector: Any, table: str, options: dict[str, str] | None = None, call: str = "read_table"
) -> list[Any]:
    """Every record of a table: read until the offset settles."""
    records: list[Any] = []
    offset = None
    for _ in range(50):
        batch, end = getattr(connector, call)(table, offset, options or {})
        records.extend(batch)
        if end is None or end == offset or (not end and not offset):
            break
        offset = end
    return records


def report_of(simulator: Simulator) -> dict[str, Any]:
    return json.loads(simulator.recording.validation.read_text())


def coverage_of(simulator: Simulator) -> dict[str, Any]:
    return json.loads(simulator.recording.coverage.read_text())


def findings(report: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    found = [f for row in report["endpoints"] for f in row["findings"]]
    return [f for f in found if kind is None or f["kind"] == kind]


def line_of(path: Path, text: str, after: str | None = None) -> int:
    """The 1-based line of the first line containing ``text`` (after the first containing ``after``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1
