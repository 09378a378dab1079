"""``connector-watch watch`` in a real pseudo-terminal of 80×24 (tmux), as a person uses it.

The screen starts clean, keeps its key line on the last row whatever happens, lists one entry per
root cause with an exact "+N more" for the tests it breaks, scrolls so that every problem can be
reached, filters by file (``p``) and test name (``t``), shows a problem's evidence, related places
and expected-vs-actual diff on Enter, and ``?`` lists the keys. Captures land in artifacts/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from connector_watch.tests.server.support import REPO, connector_watch
from connector_watch.tests.support.workspace import copy_examples

pytestmark = pytest.mark.slow  # a real daemon behind a real terminal

WIDTH, HEIGHT = 80, 24
KEY_LINE = "↑↓ select  ⏎ details  p file  t test  a all  f failed  ? help  q quit"
#: Files broken on disk, each its own root cause (a JSON syntax error in a corpus file).
CORPORA = [
    "simulator/specs/github/corpus/commits.json",
    "simulator/specs/github/corpus/issues.json",
    "simulator/specs/hubspot/corpus/owners.json",
    "simulator/specs/hubspot/corpus/companies.json",
    "simulator/specs/msgraph/corpus/groups.json",
    "simulator/specs/zendesk/corpus/users.json",
]
ZENDESK = "sources/zendesk/zendesk.py"


class Tmux:
    """One tmux server of our own (its own socket), one 80×24 window."""

    def __init__(self) -> None:
        self.socket = f"cw-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True, timeout=20
        ).stdout

    def start(self, command: str) -> None:
        self("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "cw", command)

    def screen(self, ansi: bool = False) -> list[str]:
        """The pane as it stands still: two captures in a row agree (a capture during a redraw could
        show a line half old, half new)."""
        previous = None
        for _ in range(50):
            text = self("capture-pane", "-p", *(["-e"] if ansi else []), "-t", "cw")
            if text == previous:
                break
            previous = text
            time.sleep(0.05)
        return text.split("\n")[:HEIGHT]

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", "cw", *(["-l"] if literal else []), *keys)

    def stop(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


def artifact(name: str, lines: list[str]) -> None:
    folder = REPO / "artifacts"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (.ci/run installs it): the terminal test needs a real terminal")
    workspace = copy_examples(tmp_path / "workspace")
    tmux = Tmux()
    command = " ".join(connector_watch())
    # Noise before the screen starts, as a shell leaves it: the screen must start clean.
    tmux.start(f"echo SETUP NOISE; {command} watch --workspace {workspace}; echo WATCH EXITED $?; sleep 60")
    try:
        yield tmux, workspace
    finally:
        tmux.stop()


def wait_for(tmux: Tmux, condition: Callable[[list[str]], bool], what: str, timeout: float = 90) -> list[str]:
    deadline = time.monotonic() + timeout
    screen = tmux.screen()
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if condition(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the screen:\n" + "\n".join(screen))


def quiet(tmux: Tmux, condition: Callable[[list[str]], bool], seconds: float = 3, timeout: float = 90) -> list[str]:
    """The screen once it met ``condition`` and did not change for ``seconds``."""
    deadline = time.monotonic() + timeout
    screen, since = tmux.screen(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = tmux.screen()
        if now != screen or not condition(now):
            screen, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
    raise AssertionError("the screen never settled:\n" + "\n".join(screen))


def fits(screen: list[str]) -> None:
    assert len(screen) == HEIGHT
    assert all(len(line) <= WIDTH for line in screen)
    assert screen[-1].strip() == KEY_LINE, f"the key line is the last row:\n{chr(10).join(screen)}"


def idle(screen: list[str]) -> bool:
    return screen[1].startswith("watching for saves")


def title(screen: list[str]) -> re.Match[str] | None:
    for line in screen:
        match = re.match(r"── (\d+) problems? \((\d+) errors?\)(?: · (\d+) match (.*?))?(?: ─+|…)?$", line)
        if match:
            return match
    return None


def selected(screen: list[str]) -> int:
    return next(i for i, line in enumerate(screen) if line.startswith("> "))


def break_corpus(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first = text.index("{")  # the first record's: a bare word after it is a JSON syntax error
    path.write_text(text[: first + 1] + " oops" + text[first + 1 :], encoding="utf-8")


def test_the_watch_screen_at_80x24(terminal: tuple[Tmux, Path]) -> None:
    tmux, workspace = terminal
    green = wait_for(tmux, lambda s: idle(s) and "last run #1" in s[1], "the startup run")
    fits(green)
    assert green[0].startswith("connector-watch "), "the screen starts at the top"
    assert not any("SETUP NOISE" in line for line in green), "the screen starts clean"
    artifact("terminal-green.txt", tmux.screen(ansi=True))

    # Break six corpus files (one root cause each), then, once that settled, the zendesk connector's paging.
    originals = {path: (workspace / path).read_text(encoding="utf-8") for path in [*CORPORA, ZENDESK]}
    for corpus in CORPORA:
        break_corpus(workspace / corpus)
    quiet(tmux, lambda s: idle(s) and (m := title(s)) is not None and int(m.group(1)) >= len(CORPORA))
    connector = workspace / ZENDESK
    connector.write_text(
        connector.read_text(encoding="utf-8").replace("            page += 1\n", "            return\n", 1),
        encoding="utf-8",
    )

    def settled(screen: list[str]) -> bool:
        match = title(screen)
        return idle(screen) and match is not None and int(match.group(1)) >= len(CORPORA) + 1

    screen = wait_for(tmux, settled, "every problem listed")
    screen = quiet(tmux, settled)  # the causal reruns revise verdicts for a while after the run
    fits(screen)
    total = int(title(screen).group(1))
    artifact("terminal-broken.txt", tmux.screen(ansi=True))

    # More problems than rows: the list says how many are above and below, and every one can be selected.
    above = next(int(m.group(1)) for line in screen if (m := re.search(r"↑ (\d+) more above", line)))
    below = next(int(m.group(1)) for line in screen if (m := re.search(r"↓ (\d+) more below", line)))
    shown = sum(1 for line in screen if re.match(r"^[> ]  \S", line) and "more" not in line[:12])
    assert above + shown + below == total
    def walk() -> tuple[list[str], int, int]:
        """Home, then Down to the last entry: the entries selected on the way, how many said "+N
        more", and how many problems the title counted at the end."""
        tmux.keys("Home")
        wait_for(tmux, lambda s: any(re.search(r"↑ 0 more above", line) for line in s), "the top of the list", 10)
        seen: list[str] = []
        more = 0
        for _step in range(3 * total):
            screen = tmux.screen()
            fits(screen)
            row = selected(screen)
            seen.append(screen[row])
            nodes = screen[row + 1]
            counted = re.match(r"\s+(\d+) tests?: (.*?)(?: \+(\d+) more)?$", nodes)
            if counted:  # "+N more" is exact: the names shown and N add up to the count
                names = counted.group(2).split(", ")
                assert len(names) + int(counted.group(3) or 0) == int(counted.group(1)), nodes
                more += bool(counted.group(3))
            if screen[row + 2].strip().startswith("↓ 0 more below"):
                break
            tmux.keys("Down")
            wait_for(tmux, lambda s, line=seen[-1]: s[selected(s)] != line, "the selection to move", 10)
        else:
            raise AssertionError("the last entry was never reached:\n" + "\n".join(tmux.screen()))
        return seen, more, int(title(tmux.screen()).group(1))

    # The causal reruns may still revise, merge or add an entry while we walk: walk again then.
    for _attempt in range(4):
        seen, more, final = walk()
        if len(seen) >= final:
            break
        quiet(tmux, settled)
    assert len(seen) >= final, "every problem was reachable (two can read alike at 80 columns)"
    assert more, "a root cause breaking more tests than fit says how many more"
    # Which entry names which file is the daemon's blame (its causal reruns may credit a failure to
    # another edit of the same save); the broken files are named somewhere on the way down.
    named = [corpus for corpus in CORPORA if any(corpus in line for line in seen)]
    assert len(named) >= len(CORPORA) // 2, (named, seen)

    # t: filter by test name; Enter: the paging failure's evidence, related places and diff.
    tmux.keys("t")
    wait_for(tmux, lambda s: s[-1].startswith("filter by test name:"), "the test-name prompt", 10)
    tmux.keys("Zendesk", literal=True)
    tmux.keys("Connector::test_read_matches_corpus[groups]", literal=True)
    tmux.keys("Enter")
    screen = wait_for(tmux, lambda s: (m := title(s)) is not None and m.group(3) is not None, "the filter", 10)
    assert "test~ZendeskConnector::test_read_matches_corpus[groups]".startswith(title(screen).group(4).rstrip("…"))
    assert int(title(screen).group(3)) >= 1
    # (Its blame is the daemon's causal verdict: the connector line, or whichever save it finds.)
    fits(screen)
    tmux.keys("Enter")
    detail: list[str] = []
    screen = wait_for(tmux, lambda s: s[0].startswith("── problem 1 of"), "the details", 10)
    artifact("terminal-details.txt", tmux.screen(ansi=True))
    for _page in range(20):
        fits_detail = screen[-1].strip().startswith("↑↓ PgUp PgDn scroll")
        assert fits_detail and len(screen) == HEIGHT
        detail += screen[1:-1]
        if "lines" not in screen[0] or re.search(r"lines \d+-(\d+) of \1\b", screen[0]):
            break
        tmux.keys("PageDown")
        previous = screen[0]
        screen = wait_for(tmux, lambda s, p=previous: s[0] != p, "the next page", 10)
    text = "\n".join(detail)
    artifact("terminal-details-all-pages.log", detail)
    assert re.search(r"^at \S+:\d+:\d+$", text, re.M), "where it is"
    assert "fix:" in text and re.search(r"evidence \(\d+\):", text) and re.search(r"related \(\d+\):", text)
    assert "expected (-) vs actual (+):" in text
    assert re.search(r"^\s+- groups\[\d+\] key \d+: returned", text, re.M), "the expected side of the diff"
    assert re.search(r"^\s+\+ groups\[\d+\] key \d+: missing", text, re.M), "the actual side of the diff"
    assert "tests (1):" in text

    # Esc back; c clears the filters; p: filter by file.
    tmux.keys("Escape")
    tmux.keys("c")
    wait_for(tmux, lambda s: (m := title(s)) is not None and m.group(3) is None, "filters cleared", 10)
    tmux.keys("p")
    wait_for(tmux, lambda s: s[-1].startswith("filter by file:"), "the file prompt", 10)
    tmux.keys("BSpace", "BSpace")  # nothing typed yet: harmless
    tmux.keys("hubspot", literal=True)
    tmux.keys("Enter")
    screen = wait_for(tmux, lambda s: (m := title(s)) is not None and m.group(4) == "file~hubspot", "the file filter", 10)
    # Entries whose file, related places or tests are hubspot's: its two corpora, not the others.
    entries = [line for line in screen if re.match(r"^[> ]  \S", line) and "more" not in line[:12]]
    listed = "\n".join(entries)
    assert "hubspot/corpus/owners.json" in listed and "hubspot/corpus/companies.json" in listed, "\n".join(screen)
    for other in ("zendesk/corpus/users.json", "msgraph/corpus/groups.json", "zendesk/zendesk.py"):
        assert other not in listed, "\n".join(screen)
    assert int(title(screen).group(3)) == len(entries)
    tmux.keys("c")
    wait_for(tmux, lambda s: (m := title(s)) is not None and m.group(3) is None, "filters cleared", 10)

    # ?: the keys.
    tmux.keys("?")
    screen = wait_for(tmux, lambda s: s[0].startswith("── keys"), "the help", 10)
    fits_help = "\n".join(screen)
    for key in ("Enter", "filter by file", "filter by test name", "rerun every test", "quit"):
        assert key in fits_help
    tmux.keys("Escape")
    wait_for(tmux, lambda s: title(s) is not None, "the list again", 10)

    # Fixed: every problem goes, the list says so.
    for path, text in originals.items():
        (workspace / path).write_text(text, encoding="utf-8")
    screen = quiet(tmux, lambda s: idle(s) and any(line.startswith("no problems") for line in s))
    fits(screen)
    artifact("terminal-fixed.txt", tmux.screen(ansi=True))

    # q: the shell comes back with the last run's outcome.
    tmux.keys("q")
    screen = wait_for(tmux, lambda s: any("WATCH EXITED 0" in line for line in s), "the watch to exit", 60)
    assert any(line.startswith("last run #") for line in screen)
