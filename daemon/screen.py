"""The terminal screen of ``connector-watch watch`` as lines that fit the terminal.

**Pure**: a :class:`View` (what the user is looking at: the list, one problem's details, the help,
a filter being typed) and a :class:`Model` (what the engine knows, copied by ``terminal.py``) become
exactly ``height`` or fewer lines of at most ``width`` cells, the key line always last. Nothing
wraps: a long line ends in ``…``; a list longer than the screen scrolls with its selection and says
how many entries are above and below.
"""

from __future__ import annotations

import difflib
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from connector_watch.daemon.problems import Problem
from rich.text import Text

BLAME_STYLE = {
    "connector": "bold magenta",
    "spec": "bold yellow",
    "corpus": "bold cyan",
    "test": "bold blue",
    "environment": "bold red",
    "drift": "bold green",
}
FAILING = ("failed", "error", "timeout", "crashed")
LIST_KEYS = "↑↓ select  ⏎ details  p file  t test  a all  f failed  ? help  q quit"
DETAIL_KEYS = "↑↓ PgUp PgDn scroll  esc/⏎ back  q quit"
HELP_KEYS = "esc back  q quit"
HELP = [
    ("↑ ↓  k j", "select a problem (the list scrolls with it)"),
    ("PgUp PgDn", "a page up or down"),
    ("Enter", "the selected problem: message, fix, evidence, related places, expected vs actual, tests"),
    (
        "p",
        "filter by file (part of a path: spec, corpus, connector or test file); Enter applies, empty clears",
    ),
    ("t", "filter by test name (part of Class::test[table])"),
    ("c", "clear both filters"),
    ("a", "rerun every test"),
    ("f", "rerun the failing tests"),
    ("?", "this help"),
    ("Esc", "back to the list"),
    ("q", "quit"),
]


@dataclass
class Model:
    """What the screen shows, copied from the engine."""

    root: str = ""
    mode: str = "simulate"
    run_line: str = "starting workers…"
    last_run_line: str = ""
    changed: list[str] = field(default_factory=list)
    sources: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # ordered (see problems.Recency)
    log: list[str] = field(default_factory=list)


@dataclass
class View:
    mode: str = "list"  # list | detail | help
    selected: int = 0
    top: int = 0  # first entry shown in the list
    detail_top: int = 0
    file_filter: str = ""
    test_filter: str = ""
    prompt: str | None = None  # "file" | "test" while typing a filter
    buffer: str = ""
    page: int = 10  # entries (or detail lines) per page, set by the last render
    #: The selected problem's identity: the selection follows it when the list reorders.
    selected_key: tuple[Any, ...] | None = None

    def visible(self, model: Model) -> list[Problem]:
        return [p for p in model.problems if p.matches(self.file_filter, self.test_filter)]

    def clamp(self, model: Model) -> None:
        visible = self.visible(model)
        keys = [p.key for p in visible]
        if self.selected_key in keys:
            self.selected = keys.index(self.selected_key)
        self.selected = min(max(self.selected, 0), max(len(visible) - 1, 0))
        self.selected_key = keys[self.selected] if visible else None

    def select(self, model: Model, index: int) -> None:
        visible = self.visible(model)
        self.selected = min(max(index, 0), max(len(visible) - 1, 0))
        self.selected_key = visible[self.selected].key if visible else None


def _line(text: str | Text, width: int, style: str = "") -> Text:
    line = text if isinstance(text, Text) else Text(text, style=style)
    line.no_wrap = True
    line.overflow = "ellipsis"
    line.truncate(width, overflow="ellipsis")
    return line


def _nodes_line(node_ids: list[str], width: int) -> str:
    """``  4 tests: a, b +2 more``: as many names as fit, then an exact count of the rest."""
    count = len(node_ids)
    if not count:
        return ""
    head = f"    {count} test{'s' if count != 1 else ''}: "
    names = [short_name(n) for n in node_ids]
    shown: list[str] = []
    for index, name in enumerate(names):
        rest = count - index - 1
        tail = f" +{rest} more" if rest else ""
        candidate = ", ".join([*shown, name])
        if len(head) + len(candidate) + len(tail) > width and shown:
            break
        shown.append(name)
    rest = count - len(shown)
    text = head + ", ".join(shown)
    more = f" +{rest} more" if rest else ""
    if len(text) + len(more) > width:  # one long name: cut it, never the count
        text = text[: max(width - len(more) - 1, 0)] + "…"
    return text + more


def short_name(node_id: str) -> str:
    """``test_read_table[tickets]``: a node ID's last part (its class is the source's)."""
    return node_id.rsplit("::", 1)[-1]


def _headline(problem: Problem, width: int, selected: bool) -> Text:
    line = Text("> " if selected else "  ", style="bold" if selected else "")
    if problem.blame:
        line.append(f" {problem.blame} ", style=f"reverse {BLAME_STYLE.get(problem.blame, 'bold')}")
    else:
        line.append(" failed ", style="reverse red")
    if problem.origin == "static":
        line.append(" static", style="dim")
    line.append(f" {problem.location or ''} ", style="bold")
    line.append(problem.headline, style="" if problem.severity == "error" else "yellow")
    if selected:
        line.stylize("on grey23")
    return _line(line, width)


def _sources(model: Model, width: int, rows: int) -> list[Text]:
    if not model.sources:
        return []
    out = [_line(f"{'source':<16}{'passed':>8}{'failed':>8}{'skipped':>9}{'running':>9}", width, "dim")]
    names = sorted(model.sources, key=lambda s: (not sum(model.sources[s][o] for o in FAILING), s))
    shown = names if len(names) <= rows else names[: max(rows - 1, 0)]
    for name in shown:
        c = model.sources[name]
        bad = sum(c[o] for o in FAILING)
        line = Text(f"{name[:15]:<16}", style="red" if bad else "green")
        line.append(f"{c['passed']:>8}")
        line.append(f"{bad:>8}", style="red" if bad else "")
        line.append(f"{c['skipped']:>9}{c['running'] or '':>9}")
        out.append(_line(line, width))
    if len(shown) < len(names):
        hidden = names[len(shown) :]
        passed = sum(model.sources[s]["passed"] for s in hidden)
        out.append(_line(f"+{len(hidden)} more sources, all green ({passed} passed)", width, "dim"))
    return out


def _rule(title: str, width: int) -> str:
    """``── title ─────`` exactly ``width`` wide (or the title cut to it)."""
    return title + " " + "─" * max(width - len(title) - 1, 0) if len(title) < width else title


def _filters(view: View) -> str:
    parts = []
    if view.file_filter:
        parts.append(f"file~{view.file_filter}")
    if view.test_filter:
        parts.append(f"test~{view.test_filter}")
    return " ".join(parts)


def _footer(view: View, width: int) -> Text:
    if view.prompt:
        label = "file" if view.prompt == "file" else "test name"
        return _line(
            Text.assemble(
                (f"filter by {label}: ", "bold"),
                view.buffer,
                ("█", "blink"),
                ("   ⏎ apply  esc cancel", "dim"),
            ),
            width,
        )
    keys = {"list": LIST_KEYS, "detail": DETAIL_KEYS, "help": HELP_KEYS}[view.mode]
    return _line(keys, width, "dim")


def render(model: Model, view: View, width: int, height: int) -> list[Text]:
    """At most ``height`` lines, none wider than ``width``; the key line last."""
    width = max(width, 20)
    height = max(height, 6)
    if view.mode == "help":
        body = _help(width, height - 1)
    elif view.mode == "detail" and view.visible(model):
        body = _detail(model, view, width, height - 1)
    else:
        view.mode = "list"
        body = _list(model, view, width, height - 1)
    body = body[: height - 1]
    return [*body, *(Text("") for _ in range(height - 1 - len(body))), _footer(view, width)]


def _top(model: Model, width: int) -> list[Text]:
    header = Text.assemble(
        ("connector-watch ", "bold"), (model.root, "dim"), ("  mode: ", "dim"), (model.mode, "bold")
    )
    status = Text(model.run_line, style="bold")
    if model.last_run_line:
        status.append("   " + model.last_run_line, style="dim")
    lines = [_line(header, width), _line(status, width)]
    if model.changed:
        lines.append(_line("changed: " + ", ".join(model.changed), width, "dim"))
    return lines


def _list(model: Model, view: View, width: int, height: int) -> list[Text]:
    lines = _top(model, width)
    source_rows = min(len(model.sources), (height - 8) // 3)
    if source_rows >= 2:  # a short terminal keeps its rows for the problems
        lines += _sources(model, width, source_rows)
    visible = view.visible(model)
    view.clamp(model)
    total = len(model.problems)
    filters = _filters(view)
    if not total:
        lines.append(_line("no problems: everything that ran passed", width, "green"))
    else:
        errors = sum(1 for p in model.problems if p.severity == "error")
        title = f"── {total} problem{'s' if total != 1 else ''} ({errors} error{'s' if errors != 1 else ''})"
        if filters:
            title += f" · {len(visible)} match {filters}"
        lines.append(_line(Text(_rule(title, width), style="red" if errors else "yellow"), width))
    log = [_line(entry, width, "yellow") for entry in model.log[-1:]] if height - len(lines) > 8 else []
    fix = visible[view.selected].fix if visible and view.selected < len(visible) else None
    fix_lines = [_line(Text.assemble(("fix: ", "bold green"), (fix, "green")), width)] if fix else []
    if height - len(lines) - len(log) - len(fix_lines) < 4:
        log, fix_lines = [], []  # no room: the entries first (Enter shows the fix)
    room = height - len(lines) - len(log) - len(fix_lines)
    if total and not visible:
        lines.append(
            _line(
                f"nothing matches {filters} (p or t with nothing typed clears; c clears both)", width, "dim"
            )
        )
    elif visible:
        lines += _entries(visible, view, width, room)
    return [*lines[: height - len(log) - len(fix_lines)], *log, *fix_lines]


def _entries(problems: list[Problem], view: View, width: int, room: int) -> list[Text]:
    """Two lines per entry; a line each for "N more above/below" when the list does not fit."""
    per_page = max(room // 2, 1)
    if len(problems) > per_page:
        per_page = max((room - 2) // 2, 1)
    view.page = per_page
    if view.selected < view.top:
        view.top = view.selected
    if view.selected >= view.top + per_page:
        view.top = view.selected - per_page + 1
    view.top = min(max(view.top, 0), max(len(problems) - per_page, 0))
    shown = problems[view.top : view.top + per_page]
    lines: list[Text] = []
    if len(problems) > per_page:
        lines.append(_line(f"  ↑ {view.top} more above", width, "dim"))
    for offset, problem in enumerate(shown):
        index = view.top + offset
        lines.append(_headline(problem, width, index == view.selected))
        lines.append(
            _line(_nodes_line(problem.node_ids, width) or "    (no test: a static check)", width, "dim")
        )
    if len(problems) > per_page:
        below = len(problems) - view.top - len(shown)
        lines.append(_line(f"  ↓ {below} more below", width, "dim"))
    return lines


def diff_lines(expected: str, actual: str) -> list[tuple[str, str]]:
    """Line diff of expected vs actual: ``(" ", same)``, ``("-", expected only)``, ``("+", actual only)``."""
    a, b = expected.splitlines(), actual.splitlines()
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [(" ", line) for line in a[i1:i2]]
            continue
        out += [("-", line) for line in a[i1:i2]]
        out += [("+", line) for line in b[j1:j2]]
    return out


def detail_lines(problem: Problem, width: int) -> list[Text]:
    """Everything about one problem, wrapped to ``width``."""

    def wrap(text: str, indent: str = "  ") -> list[str]:
        hang = " " * len(indent) + ("  " if indent.strip() == "" else "")
        return textwrap.wrap(
            text, width=max(width - 1, 10), initial_indent=indent, subsequent_indent=hang
        ) or [indent]

    out: list[Text] = []
    title = Text()
    if problem.blame:
        title.append(f" {problem.blame} ", style=f"reverse {BLAME_STYLE.get(problem.blame, 'bold')}")
        if problem.confidence is not None:
            title.append(f" confidence {round(problem.confidence * 100)}%", style="dim")
    else:
        title.append(" failed ", style="reverse red")
    title.append(f"  {problem.origin}", style="dim")
    out.append(title)
    out.append(Text(f"at {problem.location}", style="bold"))
    for paragraph in problem.message.splitlines() or [""]:
        out += [Text(t) for t in wrap(paragraph)]
    if problem.causal:
        out += [Text(t, style="dim") for t in wrap(problem.causal, "")]
    if problem.fix:
        out.append(Text("fix:", style="bold green"))
        out += [Text(t, style="green") for t in wrap(problem.fix)]
    if problem.fixes:
        out.append(Text(f"verified fixes ({len(problem.fixes)}), the tests pass with them:", style="bold green"))
        for title in problem.fixes:
            out += [Text(t, style="green") for t in wrap(title, "  - ")]
    if problem.evidence:
        out.append(Text(f"evidence ({len(problem.evidence)}):", style="bold"))
        for item in problem.evidence:
            out += [Text(t) for t in wrap(item, "  - ")]
    if problem.related:
        out.append(Text(f"related ({len(problem.related)}):", style="bold"))
        for location, message in problem.related:
            out += [Text(t) for t in wrap(f"{location}  {message}", "  ")]
    if problem.diff:
        out.append(Text("expected (-) vs actual (+):", style="bold"))
        for sign, line in diff_lines(problem.diff.get("expected", ""), problem.diff.get("actual", "")):
            style = {"-": "red", "+": "green"}.get(sign, "dim")
            out += [Text(t, style=style) for t in wrap(line, f"  {sign} ")]
    if problem.node_ids:
        out.append(Text(f"tests ({len(problem.node_ids)}):", style="bold"))
        out += [Text(f"  {n}") for n in problem.node_ids]
    return out


def _detail(model: Model, view: View, width: int, height: int) -> list[Text]:
    problem = view.visible(model)[view.selected]
    body = detail_lines(problem, width)
    room = height - 1
    view.page = max(room - 1, 1)
    view.detail_top = min(max(view.detail_top, 0), max(len(body) - room, 0))
    shown = body[view.detail_top : view.detail_top + room]
    position = f"── problem {view.selected + 1} of {len(view.visible(model))}"
    if len(body) > room:
        position += f" · lines {view.detail_top + 1}-{view.detail_top + len(shown)} of {len(body)}"
    return [_line(_rule(position, width), width, "bold"), *(_line(t, width) for t in shown)]


def _help(width: int, height: int) -> list[Text]:
    lines = [_line(_rule("── keys", width), width, "bold")]
    for keys, what in HELP:
        lines.append(_line(Text.assemble((f"  {keys:<11}", "bold"), what), width))
    lines.append(_line("", width))
    lines.append(
        _line("Filters only narrow what the screen lists; the daemon keeps running everything.", width, "dim")
    )
    return lines[:height]
