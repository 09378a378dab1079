"""The terminal front end of ``connector-watch watch``.

A full-screen live view (rich, on the terminal's alternate screen, so it starts on a clean screen
and leaves the shell as it was): what changed, what runs, per-source counts, and one entry per
root cause with the tests it breaks. It fits the terminal (80×24 included): the problem list
scrolls, names beyond the width become "+N more". Keys (``?`` lists them): ↑↓ select, Enter shows a
problem's message, fix, evidence, related places and expected-vs-actual diff, ``p``/``t`` filter
by file / test name (as Vitest's), ``a`` reruns everything, ``f`` what failed, ``q`` quits.
``--json`` prints every event instead, one JSON-RPC notification per line.

The layout is :mod:`connector_watch.daemon.screen` (pure); the entries are
:mod:`connector_watch.daemon.problems` (pure). This module copies the engine's state into them
and turns key presses into view changes and engine calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from typing import Any, TextIO

from connector_watch.daemon import events as ev
from connector_watch.daemon.engine import Engine
from connector_watch.daemon.index import FAILING
from connector_watch.daemon.problems import Recency, collect
from connector_watch.daemon.screen import Model, View, render
from rich.console import Console, Group
from rich.live import Live

#: Escape sequences of the keys the screen knows, longest first.
KEYS = {
    "\x1b[A": "up", "\x1bOA": "up", "\x1b[B": "down", "\x1bOB": "down",
    "\x1b[5~": "pageup", "\x1b[6~": "pagedown", "\x1b[H": "home", "\x1b[F": "end",
    "\x1b[1~": "home", "\x1b[4~": "end", "\x1bOH": "home", "\x1bOF": "end",
    "\x1b[C": "right", "\x1b[D": "left", "\r": "enter", "\n": "enter", "\x7f": "backspace",
    "\x08": "backspace", "\x1b": "escape", "\x03": "quit", "\x04": "quit",
}  # fmt: skip


class JsonLines:
    """``--json``: every event as one line on ``stream``."""

    def __init__(self, wire: ev.Wire, stream: TextIO = sys.stdout) -> None:
        self.wire = wire
        self.stream = stream

    def __call__(self, event: ev.Event) -> None:
        self.stream.write(json.dumps(event.to_message(self.wire)) + "\n")
        self.stream.flush()


def split_keys(data: str) -> list[str]:
    """Raw terminal input → key names (``up``, ``enter``…) and plain characters."""
    out = []
    i = 0
    while i < len(data):
        for sequence in sorted(KEYS, key=len, reverse=True):
            if data.startswith(sequence, i):
                out.append(KEYS[sequence])
                i += len(sequence)
                break
        else:
            out.append(data[i])
            i += 1
    return out


class Screen:
    """Keeps the model from the engine's events, the view from the keys, and renders both."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.model = Model(root=str(engine.workspace.root))
        self.view = View()
        self.recency = Recency()
        self.dirty = True
        self.quit = False

    # ------------------------------------------------------------------ events
    def __call__(self, event: ev.Event) -> None:
        m = self.model
        if isinstance(event, ev.FilesChanged):
            m.changed = list(event.paths)
        elif isinstance(event, ev.RunStarted):
            m.run_line = f"run #{event.run_id} ({event.trigger}): {len(event.nodes)} test(s)"
        elif isinstance(event, ev.Progress):
            m.run_line = f"run #{event.run_id}: {event.done}/{event.total}"
        elif isinstance(event, ev.RunFinished):
            c = event.counts
            m.last_run_line = (
                f"last run #{event.run_id}{' (cancelled)' if event.cancelled else ''}: "
                f"{c.get('passed', 0)} passed, {sum(c.get(o, 0) for o in FAILING)} failed, "
                f"{c.get('skipped', 0)} skipped in {event.duration_ms:.0f} ms"
            )
            m.run_line = "watching for saves"
        elif isinstance(event, ev.LogMessage) and event.level in ("error", "warning"):
            m.log = [*m.log[-2:], f"{event.level}: {event.message}"]
        self.dirty = True

    def refresh_model(self) -> None:
        engine, m = self.engine, self.model
        m.mode = engine.mode
        running: set[str] = set()
        if engine.current is not None:
            running = engine.current.started_nodes - set(engine.current.finished)
        sources: dict[str, Counter[str]] = {}
        failing: dict[str, str | None] = {}
        for node_id, record in engine.index.nodes.items():
            counts = sources.setdefault(record.source or "?", Counter())
            counts[record.outcome or "pending"] += 1
            if node_id in running:
                counts["running"] += 1
            if record.outcome in FAILING:
                failing[node_id] = engine.results.node_messages.get(node_id)
        for path in engine.results.collect_errors:
            sources.setdefault(engine.workspace.classify(path).source or "?", Counter())["error"] += 1
            failing[path] = engine.results.node_messages.get(path)
        m.sources = sources
        m.problems = self.recency.order(collect(engine.results.file_diagnostics(), failing, engine.results.node_diagnostics))
        self.view.clamp(m)

    def render(self, width: int, height: int) -> Group:
        self.refresh_model()
        return Group(*render(self.model, self.view, width, height))

    # ------------------------------------------------------------------ keys
    def key(self, key: str) -> None:
        view, count = self.view, len(self.view.visible(self.model))
        self.dirty = True
        if view.prompt is not None:
            self._prompt_key(key)
            return
        if key in ("q", "quit"):
            self.quit = True
        elif key == "?":
            view.mode = "list" if view.mode == "help" else "help"
        elif key == "escape":
            view.mode = "list"
        elif view.mode == "detail":
            step = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -view.page, "pagedown": view.page,
                    "home": -(10**9), "end": 10**9}.get(key)  # fmt: skip
            if step is not None:
                view.detail_top += step
            elif key == "enter":
                view.mode = "list"
        elif key in ("up", "k", "down", "j", "pageup", "pagedown", "home", "end"):
            step = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -view.page, "pagedown": view.page,
                    "home": -(10**9), "end": 10**9}[key]  # fmt: skip
            view.mode = "list"
            view.select(self.model, view.selected + step)
        elif key == "enter" and count:
            view.mode, view.detail_top = "detail", 0
        elif key in ("p", "t"):
            view.prompt = "file" if key == "p" else "test"
            view.buffer = view.file_filter if key == "p" else view.test_filter
        elif key == "c":
            view.file_filter = view.test_filter = ""
        elif key == "a":
            self.engine.rerun_all()
        elif key == "f":
            self.engine.rerun_failed()

    def _prompt_key(self, key: str) -> None:
        view = self.view
        if key == "enter":
            if view.prompt == "file":
                view.file_filter = view.buffer.strip()
            else:
                view.test_filter = view.buffer.strip()
            view.prompt, view.top, view.mode = None, 0, "list"
            view.select(self.model, 0)
        elif key in ("escape", "quit"):
            view.prompt = None
        elif key == "backspace":
            view.buffer = view.buffer[:-1]
        elif len(key) == 1 and key.isprintable():
            view.buffer += key


async def run_screen(engine: Engine, console: Console | None = None) -> None:
    """Render until ``q`` (or Ctrl-C); keys drive the view and reruns."""
    console = console or Console()
    screen = Screen(engine)
    engine.subscribe(screen)
    restore = _cbreak(sys.stdin)
    loop = asyncio.get_running_loop()
    interactive = sys.stdin.isatty()

    def on_key() -> None:
        data = os.read(sys.stdin.fileno(), 256).decode(errors="ignore")
        for key in split_keys(data):
            screen.key(key)

    if interactive:
        loop.add_reader(sys.stdin.fileno(), on_key)
    with contextlib.suppress(ValueError, RuntimeError):  # not the main thread, or no SIGWINCH here
        loop.add_signal_handler(signal.SIGWINCH, lambda: setattr(screen, "dirty", True))

    def frame() -> Any:
        size = console.size
        return screen.render(size.width, size.height)

    try:
        with Live(frame(), console=console, screen=True, auto_refresh=False, transient=False) as live:
            while not screen.quit:
                if screen.dirty:
                    screen.dirty = False
                    live.update(frame(), refresh=True)
                await asyncio.sleep(0.1)
        if screen.model.last_run_line:  # the alternate screen is gone: leave the outcome in the shell
            console.print(screen.model.last_run_line, style="dim")
    finally:
        if interactive:
            loop.remove_reader(sys.stdin.fileno())
        with contextlib.suppress(ValueError, RuntimeError):
            loop.remove_signal_handler(signal.SIGWINCH)
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
