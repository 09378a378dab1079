"""Baselines: the versions of the changed files a failing node is compared against.

Causal blame reverts a node's changes to a baseline and reruns it. The daemon knows each node's
last pass (:class:`~connector_watch.daemon.file_history.FileHistory`): the files as they were
then. A one-shot ``run`` (and the daemon for a node that has not passed since it started) uses
git: the files as they are at a revision (``--base REF``, default ``HEAD``), where the node may or
may not have passed. With neither there is no history, and blame says so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connector_watch.daemon.file_history import ABSENT, FileHistory


@dataclass(frozen=True)
class Baseline:
    label: str  # how blame names it: "last pass", "git HEAD"
    passed: bool  # the node is known to have passed on these files
    before: dict[str, bytes | None]  # each changed file's content at the base (None: absent)
    #: Files that changed since the base whose content then was too large to keep: reverting them
    #: is impossible, so "fails with everything reverted" proves nothing.
    unkept: tuple[str, ...] = ()

    def key(self) -> tuple[str, tuple[tuple[str, int], ...]]:
        """Nodes with equal keys can be investigated together."""
        return (self.label, tuple(sorted((p, hash(b)) for p, b in self.before.items())))


class GitBase:
    """The workspace's files at a git revision, for the files that differ from it now."""

    def __init__(self, root: Path, ref: str = "HEAD", only: list[str] | None = None) -> None:
        self.root = root
        self.ref = ref
        self.only = set(only) if only is not None else None
        self.label = f"git {ref}"
        self.reason = ""
        self._changes: dict[str, bytes | None] | None = None
        self.available = self._check()

    def _git(self, *args: str, text: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=text, timeout=60, check=False
        )

    def _check(self) -> bool:
        try:
            inside = self._git("rev-parse", "--is-inside-work-tree")
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.reason = f"git is not available ({exc})"
            return False
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            self.reason = "the workspace is not a git checkout"
            return False
        verified = self._git("rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}")
        if verified.returncode != 0:
            self.reason = f"git has no revision {self.ref} (a repository with no commits yet?)"
            return False
        return True

    def forget(self) -> None:
        """Files changed: compare them with the base again when next asked (a daemon's workspace
        moves on; what differed from the base at the first failure is not what differs now)."""
        self._changes = None

    def changes(self, tracked: Callable[[str], bool]) -> dict[str, bytes | None]:
        """``{path: content at the base}`` for the workspace files that differ from it now."""
        if self._changes is not None:
            return self._changes
        self._changes = {}
        if not self.available:
            return self._changes
        diff = self._git("diff", "--name-only", "--relative", "-z", self.ref, "--")
        untracked = self._git("ls-files", "--others", "--exclude-standard", "-z")
        paths = {p for p in (diff.stdout + untracked.stdout).split("\0") if p}
        for path in sorted(paths):
            if (self.only is not None and path not in self.only) or not tracked(path):
                continue
            shown = self._git("show", f"{self.ref}:./{path}", text=False)
            self._changes[path] = shown.stdout if shown.returncode == 0 else None
        return self._changes


class Baselines:
    """Each node's baseline: its last pass in this session, else the git base, else none."""

    def __init__(self, history: FileHistory | None, git: GitBase | None) -> None:
        self.history = history
        self.git = git

    def for_node(self, node_id: str, tracked: Callable[[str], bool]) -> Baseline | None:
        if self.history is not None:
            digests = self.history.baseline(node_id)
            if digests is not None:
                before = {
                    path: self.history.content(digest) if digest != ABSENT else None
                    for path, digest in digests.items()
                    if self.history.known(digest)
                }
                unkept = tuple(sorted(path for path, digest in digests.items() if not self.history.known(digest)))
                return Baseline("last pass", True, before, unkept)
        if self.git is not None and self.git.available:
            return Baseline(self.git.label, False, self.git.changes(tracked))
        return None

    def unavailable_reason(self) -> str:
        if self.git is not None and not self.git.available:
            return self.git.reason
        return "no earlier pass and no git base"
