"""One run's state, and what the worker events of its jobs say about which files answered.

Pure data and functions: the engine creates a :class:`Run` per batch, the workers' events fill it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from connector_watch.daemon.impact import Selection
from connector_watch.daemon.workers import Job

OUTCOMES = ("passed", "failed", "error", "skipped", "timeout", "crashed")


@dataclass
class Run:
    id: int
    trigger: str
    paths: list[str]
    selection: Selection
    started: float = field(default_factory=time.monotonic)
    jobs: list[Job] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)
    finished: dict[str, str] = field(default_factory=dict)
    started_nodes: set[str] = field(default_factory=set)
    cancelled: bool = False
    carry_over: bool = True  # when cancelled, queue its unfinished nodes again (not on a user's cancel)
    crash_retries: int = 0
    startup_retried: bool = False  # a job no pytest process reported from was tried once more
    #: The file history's generation when the run started: the files its passes vouch for.
    generation: int = 0
    #: A save was noticed while it ran: its tests may have read a version the history never
    #: hashed, so its passes vouch for nothing (the save's own batch reruns what it affects).
    disturbed: bool = False
    #: Skipped because an earlier test of their file hung: they never ran, so vouch for nothing.
    blocked: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        counts = {o: 0 for o in OUTCOMES}
        for outcome in self.finished.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


def files_reported(event: dict[str, Any]) -> set[str]:
    """The test files (or folders) a worker event speaks for."""
    kind = event.get("event")
    if kind == "collected":
        return set(event.get("files", {})) | {item["file"] for item in event.get("nodes", [])}
    if kind == "collect_error":
        return {event.get("path") or event.get("nodeId") or ""} - {""}
    if kind in ("test_started", "test_finished"):
        return {event["nodeId"].split("::")[0]}
    return set()


def answered(arg: str, seen: set[str]) -> bool:
    """Whether a job reported anything for ``arg`` (a file, a node, or within a folder it named)."""
    file = arg.split("::")[0]
    return file in seen or any(file.startswith(path.rstrip("/") + "/") for path in seen)


def files_of(args: list[str]) -> list[str]:
    return sorted({a.split("::")[0] for a in args})


def crashed_under(jobs: list[Job]) -> list[str]:
    """Tests whose worker died under them (the watchdog's kills are timeouts, not crashes)."""
    return [n for job in jobs for n in dict.fromkeys(job.lost_nodes) if n not in job.timed_out_nodes]


def death_status(jobs: list[Job]) -> int | None:
    """The exit status that says how a worker died: a signal or an abnormal code if any job has one."""
    statuses = [j.status for j in jobs if j.status is not None]
    abnormal = [s for s in statuses if s not in (0, 1, 2, 5)]
    return (abnormal or statuses or [None])[0]


def merge_selection(into: Selection, other: Selection) -> None:
    for node_id, reasons in other.nodes.items():
        for reason in reasons:
            into.add_node(node_id, reason)
    for path, reasons in other.files.items():
        for reason in reasons:
            into.add_file(path, reason)
    into.restart_pool = into.restart_pool or other.restart_pool


def carried_over(run: Run, nodes_of_file: Callable[[str], list[str]], unfinished: list[str]) -> Selection:
    """What a cancelled run hands to the next one: its unfinished nodes, and every whole file it was
    asked to run whose tests did not all finish (a run cancelled before it collected a file knows
    no node of it yet: without the file, that file's tests would never run)."""
    carried = Selection()
    for node_id in unfinished:
        carried.add_node(node_id, "interrupted by a newer change")
    for path in run.selection.files:
        nodes = nodes_of_file(path)
        if path not in run.finished and (not nodes or any(n not in run.finished for n in nodes)):
            carried.add_file(path, "interrupted by a newer change")
    return carried


class Blocked:
    """Tests skipped because an earlier test of their file hung ("not run: … hung past the
    timeout"). They never ran, so nothing records what they depend on: they run again whenever the
    test that blocked them does."""

    def __init__(self) -> None:
        self.by: dict[str, str] = {}  # blocked node → the node that hung

    def finished(self, event: dict[str, Any]) -> None:
        node_id, blocker = event["nodeId"], event.get("blockedBy")
        if blocker:
            self.by[node_id] = blocker
        else:
            self.by.pop(node_id, None)

    def forget(self, node_ids: Iterable[str]) -> None:
        for node_id in node_ids:
            self.by.pop(node_id, None)

    def expand(self, selection: Selection) -> None:
        """Add to ``selection`` the nodes blocked by a node it runs (alone or with its file)."""
        for node_id, blocker in list(self.by.items()):
            if node_id in selection.nodes or node_id.split("::")[0] in selection.files:
                continue
            if blocker in selection.nodes or blocker.split("::")[0] in selection.files:
                selection.add_node(node_id, f"not run last time: {blocker.split('::', 1)[-1]} hung")


def passed_nodes_and_files(run: Run) -> list[str]:
    """The nodes that passed (or skipped) in the run, and the test files all of whose nodes did
    (a file that later fails to collect is compared with the versions it last passed with). A test
    left unrun behind a hung one did not pass: it is neither, nor is its file."""

    def ok(node_id: str, outcome: str) -> bool:
        return outcome in ("passed", "skipped") and node_id not in run.blocked

    passed = [n for n, outcome in run.finished.items() if ok(n, outcome)]
    by_file: dict[str, bool] = {}
    for node_id, outcome in run.finished.items():
        if "::" in node_id:
            file = node_id.split("::")[0]
            by_file[file] = by_file.get(file, True) and ok(node_id, outcome)
    return passed + [file for file, ok_ in by_file.items() if ok_]
