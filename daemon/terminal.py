"""The headless terminal front end of ``connector-watch watch``.

A live screen (rich): what changed, what is running, per-source status, and
every current failure with its blame, location and one-line fix. Keys: ``a``
reruns everything, ``f`` reruns what failed, ``q`` quits. ``--json`` prints every
event instead, one JSON-RPC notification per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from typing import Any, TextIO

from connector_watch.daemon import events as ev
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.index import FAILING
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

BLAME_STYLE = {
    "connector": "bold magenta",
    "spec": "bold yellow",
    "corpus": "bold cyan",
    "test": "bold blue",
    "environment": "bold red",
    "drift": "bold green",
}
OUTCOME_STYLE = {
    "passed": "green",
    "failed": "red",
    "error": "red",
    "timeout": "red",
    "crashed": "red",
    "skipped": "dim",
    None: "dim",
}


class JsonLines:
    """``--json``: every event as one line on ``stream``."""

    def __init__(self, wire: ev.Wire, stream: TextIO = sys.stdout) -> None:
        self.wire = wire
        self.stream = stream

    def __call__(self, event: ev.Event) -> None:
        self.stream.write(json.dumps(event.to_message(self.wire)) + "\n")
        self.stream.flush()


class Screen:
    """Keeps a small view model from the events and renders it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.changed: list[str] = []
        self.changed_at: float | None = None
        self.run_line = "starting workers…"
        self.last_run_line = ""
        self.log: list[str] = []
        self.dirty = True

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.FilesChanged):
            self.changed = event.paths
            self.changed_at = time.time()
        elif isinstance(event, ev.RunStarted):
            self.run_line = f"run #{event.run_id} ({event.trigger}): {len(event.nodes)} node(s)"
        elif isinstance(event, ev.Progress):
            self.run_line = f"run #{event.run_id}: {event.done}/{event.total}"
        elif isinstance(event, ev.RunFinished):
            c = event.counts
            self.last_run_line = (
                f"last run #{event.run_id}{' (cancelled)' if event.cancelled else ''}: "
                f"{c.get('passed', 0)} passed, {sum(c.get(o, 0) for o in FAILING)} failed, "
                f"{c.get('skipped', 0)} skipped in {event.duration_ms:.0f} ms"
            )
            self.run_line = "idle — watching for saves"
        elif isinstance(event, ev.LogMessage) and event.level in ("error", "warning"):
            self.log = [*self.log[-2:], f"{event.level}: {event.message}"]
        self.dirty = True

    def render(self) -> Group:
        engine = self.engine
        header = Text.assemble(
            ("connector-watch ", "bold"),
            (str(engine.workspace.root), "dim"),
            ("  mode: ", "dim"),
            (engine.mode, "bold"),
        )
        status = Text(self.run_line, style="bold")
        if self.last_run_line:
            status.append("   " + self.last_run_line, style="dim")
        parts: list[Any] = [header, status]
        if self.changed:
            parts.append(
                Text(
                    "changed: " + ", ".join(self.changed[:6]) + (" …" if len(self.changed) > 6 else ""),
                    style="dim",
                )
            )
        parts.append(self._sources())
        failures = self._failures()
        if failures is not None:
            parts.append(failures)
        for line in self.log:
            parts.append(Text(line, style="yellow"))
        parts.append(Text("[a] rerun all   [f] rerun failed   [q] quit", style="dim"))
        return Group(*parts)

    def _sources(self) -> Table:
        table = Table(box=None, show_edge=False, pad_edge=False)
        for column in ("source", "passed", "failed", "skipped", "running"):
            table.add_column(column, justify="left" if column == "source" else "right")
        running = set()
        if self.engine.current is not None:
            running = self.engine.current.started_nodes - set(self.engine.current.finished)
        per_source: dict[str, Counter[str]] = {}
        for node_id, record in self.engine.index.nodes.items():
            counts = per_source.setdefault(record.source or "?", Counter())
            counts[record.outcome or "pending"] += 1
            if node_id in running:
                counts["running"] += 1
        for path in self.engine.collect_errors:
            source = self.engine.workspace.classify(path).source or "?"
            per_source.setdefault(source, Counter())["error"] += 1
        for source in sorted(per_source):
            c = per_source[source]
            bad = sum(c[o] for o in FAILING)
            table.add_row(
                Text(source, style="red" if bad else "green"),
                str(c["passed"]),
                Text(str(bad), style="red" if bad else ""),
                str(c["skipped"]),
                str(c["running"] or ""),
            )
        return table

    def _failures(self) -> Panel | None:
        lines: list[Text] = []
        for _path, diagnostics in sorted(self.engine.file_diagnostics().items()):
            for d in diagnostics:
                if d.severity not in ("error",) and d.source == "static":
                    continue
                line = Text()
                line.append(f" {d.blame} ", style=f"reverse {BLAME_STYLE.get(d.blame, 'bold')}")
                line.append(f" {d.location} ", style="bold")
                line.append(d.message.splitlines()[0][:160])
                if d.fix:
                    line.append(f"\n   fix: {d.fix}", style="green")
                if d.node_ids:
                    line.append(
                        f"\n   {len(d.node_ids)} node(s): "
                        + ", ".join(n.split("::", 1)[-1] for n in d.node_ids[:3]),
                        style="dim",
                    )
                lines.append(line)
        if not lines:
            return None
        return Panel(Group(*lines[:20]), title=f"{len(lines)} problem(s)", border_style="red")


async def run_screen(engine: Engine, console: Console | None = None) -> None:
    """Render until ``q`` (or Ctrl-C); keys drive reruns."""
    console = console or Console()
    screen = Screen(engine)
    engine.subscribe(screen)
    quit_event = asyncio.Event()
    restore = _cbreak(sys.stdin)
    loop = asyncio.get_running_loop()

    def on_key() -> None:
        data = os.read(sys.stdin.fileno(), 32).decode(errors="ignore")
        for key in data:
            if key in ("q", "\x03", "\x04"):
                quit_event.set()
            elif key == "a":
                engine.rerun_all()
            elif key == "f":
                engine.rerun_failed()

    interactive = sys.stdin.isatty()
    if interactive:
        loop.add_reader(sys.stdin.fileno(), on_key)
    try:
        with Live(screen.render(), console=console, refresh_per_second=10, transient=False) as live:
            while not quit_event.is_set():
                if screen.dirty:
                    screen.dirty = False
                    live.update(screen.render())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(quit_event.wait(), timeout=0.1)
    finally:
        if interactive:
            loop.remove_reader(sys.stdin.fileno())
        restore()


def _cbreak(stream: TextIO):  # type: ignore[no-untyped-def]
    if not stream.isatty():
        return lambda: None
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
