"""Counterfactual reruns: which change made these tests fail?

Given the files that changed since some failing nodes last passed (each with its content then and
now), find the smallest set of changes whose presence makes the nodes fail: first "do they pass
with every change reverted?", then delta debugging (Zeller's ddmin) over files, then over the
hunks of the files that remain. The trials themselves run elsewhere (an overlay copy of the
workspace with warm workers, :mod:`connector_watch.daemon.overlay`): this module decides what to
try and reads the answers, so it can be tested with any ``trial`` function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from connector_watch.daemon.blame.causality import CausalEvidence, TriggerEvidence
from connector_watch.daemon.hunks import Hunk, apply, hunks, split_lines

Outcome = Literal["fail", "pass", "unresolved"]

#: At most this many trials per investigation; past it the trigger found so far is reported.
TRIAL_BUDGET = 16


@dataclass(frozen=True)
class FileChange:
    """One file as the failing nodes last passed with it (``before``) and as it is now (``after``);
    None stands for an absent file."""

    path: str
    kind: str
    before: bytes | None
    after: bytes | None

    def texts(self) -> tuple[str, str] | None:
        """Both sides as text, when both decode (hunks need text); None otherwise."""
        try:
            return (
                "" if self.before is None else self.before.decode("utf-8"),
                "" if self.after is None else self.after.decode("utf-8"),
            )
        except UnicodeDecodeError:
            return None

    def hunks(self) -> list[Hunk]:
        texts = self.texts()
        if texts is None or self.before is None or self.after is None:
            return []
        return hunks(self.path, *texts)


@dataclass(frozen=True)
class Unit:
    """A revertible unit: a whole file's change, or one hunk of it."""

    path: str
    hunk: Hunk | None = None


def contents_for(changes: Sequence[FileChange], applied: Iterable[Unit]) -> dict[str, bytes | None]:
    """Every changed file as a trial sees it: the baseline, with only the ``applied`` units on top."""
    by_path: dict[str, list[Unit]] = {}
    for unit in applied:
        by_path.setdefault(unit.path, []).append(unit)
    contents: dict[str, bytes | None] = {}
    for change in changes:
        units = by_path.get(change.path, [])
        if not units:
            contents[change.path] = change.before
        elif any(u.hunk is None for u in units):
            contents[change.path] = change.after
        else:
            texts = change.texts()
            assert texts is not None
            contents[change.path] = apply(texts[0], texts[1], [u.hunk for u in units if u.hunk]).encode(
                "utf-8"
            )
    return contents


#: One trial: every target node's outcome with these file contents swapped in.
Trial = Callable[[dict[str, bytes | None]], Awaitable[dict[str, Outcome]]]


@dataclass
class Investigation:
    """The trials of one search, shared by every node it concerns: each trial runs them all, so
    the nodes' searches (which differ when their failures have different causes) reuse each
    other's trials whenever they try the same files."""

    changes: list[FileChange]
    trial: Trial
    budget: int = TRIAL_BUDGET
    trials: int = 0
    _seen: dict[tuple[tuple[str, bytes | None], ...], dict[str, Outcome]] = field(default_factory=dict)

    async def outcomes(self, applied: Iterable[Unit]) -> dict[str, Outcome] | None:
        """Every node's outcome with ``applied`` on the baseline (None once the budget is spent)."""
        contents = contents_for(self.changes, applied)
        fingerprint = tuple(sorted(contents.items()))
        if fingerprint not in self._seen:
            if self.trials >= self.budget:
                return None
            self.trials += 1
            self._seen[fingerprint] = await self.trial(contents)
        return self._seen[fingerprint]

    def tester(self, node: str) -> Callable[[Iterable[Unit]], Awaitable[Outcome]]:
        async def test(applied: Iterable[Unit]) -> Outcome:
            found = await self.outcomes(list(applied))
            return "unresolved" if found is None else found.get(node, "unresolved")

        return test


async def ddmin(units: list[Unit], test: Callable[[list[Unit]], Awaitable[Outcome]]) -> list[Unit]:
    """A 1-minimal subset of ``units`` whose application still fails (``test(units)`` fails).

    Zeller and Hildebrandt's ddmin: try halves, then complements, doubling the granularity; an
    ``unresolved`` trial counts as "not this one".
    """
    current = list(units)
    n = 2
    while len(current) >= 2:
        chunks = _split(current, n)
        reduced = False
        for chunk in chunks:
            if await test(chunk) == "fail":
                current, n, reduced = chunk, 2, True
                break
        if not reduced:
            for chunk in chunks:
                complement = [u for u in current if u not in chunk]
                if await test(complement) == "fail":
                    current, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(current):
                break
            n = min(len(current), 2 * n)
    return current


def _split(units: list[Unit], n: int) -> list[list[Unit]]:
    size, extra = divmod(len(units), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        if end > start:
            chunks.append(units[start:end])
        start = end
    return chunks


async def find_triggers(
    changes: list[FileChange],
    trial: Trial,
    nodes: list[str],
    *,
    base: str,
    base_passed: bool,
    budget: int = TRIAL_BUDGET,
) -> dict[str, CausalEvidence]:
    """Each node's trigger; the answers are evidence for blame
    (:mod:`connector_watch.daemon.blame.causality`).

    ``base_passed``: the nodes are known to have passed on the base (their last pass), rather
    than the base being a git revision they may have failed on too.
    """
    status = "not-caused" if base_passed else "pre-existing"
    if not changes:
        note = f"fails with no workspace file changed since the {base}"
        return {node: CausalEvidence(status, base, (), 0, note=note) for node in nodes}
    investigation = Investigation(changes, trial, budget)
    found = {}
    for node in nodes:
        found[node] = await _search(investigation, node, changes, base, status, budget)
    return found


async def find_trigger(
    changes: list[FileChange],
    trial: Callable[[dict[str, bytes | None]], Awaitable[Outcome]],
    *,
    base: str,
    base_passed: bool,
    budget: int = TRIAL_BUDGET,
) -> CausalEvidence:
    """:func:`find_triggers` for one target whose trial answers with a single outcome."""

    async def per_node(contents: dict[str, bytes | None]) -> dict[str, Outcome]:
        return {"node": await trial(contents)}

    found = await find_triggers(changes, per_node, ["node"], base=base, base_passed=base_passed, budget=budget)
    return found["node"]


async def _search(
    investigation: Investigation, node: str, changes: list[FileChange], base: str, status: str, budget: int
) -> CausalEvidence:
    test = investigation.tester(node)
    reverted = await test([])
    if reverted == "fail":
        return CausalEvidence(
            status, base, (), investigation.trials, note=f"fails with every change since the {base} reverted"
        )
    if reverted == "unresolved":
        return CausalEvidence(
            "inconclusive",
            base,
            (),
            investigation.trials,
            note=f"with every change since the {base} reverted the outcome differs in another way",
        )
    everything = [Unit(c.path) for c in changes]
    files = await ddmin(everything, test) if len(everything) > 1 else everything
    chosen_files = {u.path for u in files}
    hunk_units = [Unit(c.path, h) for c in changes if c.path in chosen_files for h in c.hunks()]
    whole = [Unit(c.path) for c in changes if c.path in chosen_files and not c.hunks()]
    if len(hunk_units) > 1:

        async def test_hunks(units: Iterable[Unit]) -> Outcome:
            return await test([*units, *whole])

        if await test_hunks(hunk_units) == "fail":
            minimal = await ddmin(hunk_units, test_hunks)
        else:  # the search could not narrow it down (budget, unresolved trials): every hunk of these files
            minimal = hunk_units
    else:
        minimal = hunk_units
    minimal = [*minimal, *whole]
    by_path = {c.path: c for c in changes}
    triggers = tuple(_trigger_evidence(by_path[u.path], u.hunk) for u in minimal)
    budget_note = (
        " (trial budget spent: the change found may not be minimal)" if investigation.trials >= budget else ""
    )
    return CausalEvidence(
        "trigger",
        base,
        triggers,
        investigation.trials,
        note=f"passes with {_describe(triggers)} reverted to the {base}{budget_note}",
    )


def _trigger_evidence(change: FileChange, hunk: Hunk | None) -> TriggerEvidence:
    texts = change.texts()
    before, after = texts if texts else (None, None)
    if change.before is None:
        before = None
    if hunk is not None:
        first, last = hunk.new_lines()
        return TriggerEvidence(
            change.path,
            change.kind,
            first,
            last,
            False,
            before,
            after,
            (hunk.old_start, hunk.old_end),
            (hunk.new_start, hunk.new_end),
        )
    text = after or ""
    last_line = max(len(split_lines(text)) - 1, 0)  # the file's last line, with or without a final break
    return TriggerEvidence(change.path, change.kind, 0, last_line, True, before, after)


def _describe(triggers: Sequence[TriggerEvidence]) -> str:
    return ", ".join(t.describe() for t in triggers) or "the changes"


def signature(event: dict[str, Any] | None) -> tuple[str, str]:
    """What kind of failure a node's ``test_finished`` event reports: its outcome and the harness
    check or exception type that made it fail (a trial "fails the same way" when these match)."""
    if event is None:
        return ("missing", "")
    outcome = event.get("outcome", "failed")
    chain = (event.get("failure") or {}).get("chain") or []
    for exc in chain:
        harness = exc.get("harness")
        if harness and harness.get("check"):
            return (outcome, str(harness["check"]))
    return (outcome, str(chain[-1].get("type", "")) if chain else "")


def trial_outcomes(
    expected: dict[str, tuple[str, str]], finished: dict[str, dict[str, Any]]
) -> dict[str, Outcome]:
    """Each node's outcome in a trial: ``fail`` when it fails as it did, ``pass`` when it passes
    (or skips), ``unresolved`` otherwise (another failure, no result)."""
    outcomes: dict[str, Outcome] = {}
    for node_id, wanted in expected.items():
        event = finished.get(node_id)
        if (event or {}).get("outcome") in ("passed", "skipped"):
            outcomes[node_id] = "pass"
        elif signature(event) == wanted:
            outcomes[node_id] = "fail"
        else:
            outcomes[node_id] = "unresolved"
    return outcomes
