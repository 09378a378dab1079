"""Causality before merits: revise a node's diagnostics with what the counterfactual reruns found.

The merits rules (the other modules of this package) judge a failure by its shape. The
counterfactual reruns (:mod:`connector_watch.daemon.counterfactual`) say which change triggered it:
the node passes with that change reverted. The trigger is not always the culprit:

- a connector, spec or test change that triggers a failure is that file's fault, located at the
  changed lines (the hunk);
- a corpus change is the corpus's fault at the changed records, unless it only added valid
  records and the merits say the connector lost or mishandled them: then the edit revealed a
  connector bug, and the connector is blamed where it handles the data, the edit named as trigger;
- a spec change that makes a request unknown is the spec's, unless a recording of the live API
  (a cassette) agrees with the new spec: then the connector calls the wrong URL;
- a failure that stays with every change reverted was not caused by the changes: the clock, the
  environment or test order (``environment``), unless the merits found something decisive.

Without history (a first run, a fresh clone with no base) the merits stand, saying that they are
a judgement without causal evidence (lower confidence).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from connector_watch.daemon.diagnostics import Diagnostic, Location, Range, Related

#: Blame each kind of trigger file implies, before merits are weighed.
TRIGGER_BLAME = {
    "connector": "connector",
    "connector_data": "connector",
    "spec": "spec",
    "spec_support": "spec",
    "corpus": "corpus",
    "test": "test",
    "test_support": "test",
    "table_config": "test",
}


def trigger_blame(trigger: TriggerEvidence) -> str | None:
    """**Pure**: whose fault a proven trigger is. Shared code (the public repository's ``libs/``,
    its simulator, its harness files) is the connectors' code, or the tests' when it lives among
    them: a change there that breaks tests is the culprit, at its line, not the harness line that
    noticed. Toolkit files and anything else outside the workspace's parts: None (keep the merits)."""
    if trigger.kind == "shared" and trigger.path.endswith(".py"):
        return "test" if "/tests/" in "/" + trigger.path else "connector"
    return TRIGGER_BLAME.get(trigger.kind)


#: Blames the merits may reach that a revealing corpus edit hands to the connector.
REVEALED = ("connector",)
#: Merits codes that are decisive whatever the changes (a crash, a missing dependency, data that
#: breaks with the clock: a corpus edit may date a record in the future, the clock is what breaks it).
DECISIVE_CODES = (
    "worker.crashed",
    "environment.missing_dependency",
    "python.syntax",
    "ground_truth.clock",
    "read.terminates.clock",
)


@dataclass(frozen=True)
class TriggerEvidence:
    """A change the counterfactual reruns found failure-inducing: a hunk (or the whole file)."""

    path: str
    kind: str
    first_line: int  # zero-based lines of the current file the change covers
    last_line: int
    whole_file: bool
    before: str | None  # the file's text at the baseline (None: absent or not text)
    after: str | None
    #: The hunk exactly: lines ``old_span`` of the baseline became ``new_span`` of the current
    #: text (zero-based, end exclusive; an insertion has an empty old span, a deletion a new one).
    old_span: tuple[int, int] = (0, 0)
    new_span: tuple[int, int] = (0, 0)

    def describe(self) -> str:
        if self.whole_file:
            return self.path if self.before is not None else f"{self.path} (new file)"
        lines = (
            f"line {self.first_line + 1}"
            if self.first_line == self.last_line
            else f"lines {self.first_line + 1}–{self.last_line + 1}"
        )
        return f"{self.path} {lines}"

    def location(self) -> Location:
        return Location(self.path, Range.lines(self.first_line, 0, self.last_line, 1000))

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location().to_dict(), "kind": self.kind, "wholeFile": self.whole_file}


@dataclass(frozen=True)
class CausalEvidence:
    """What the counterfactual reruns found for a group of failing nodes.

    ``status``: ``pending`` (reruns scheduled), ``trigger`` (a change makes them fail),
    ``not-caused`` (they fail with every change since their last pass reverted), ``pre-existing``
    (they fail at the git base too, where they may never have passed), ``inconclusive``,
    ``no-history``.
    """

    status: str
    base: str  # what "reverted" means: "last pass" or "git HEAD" (or another ref)
    triggers: tuple[TriggerEvidence, ...] = ()
    trials: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "base": self.base,
            "triggers": [t.to_dict() for t in self.triggers],
            "trials": self.trials,
            "note": self.note,
        }


def revise(
    merits: list[Diagnostic],
    causal: CausalEvidence | None,
    *,
    connector_location: Location | None = None,
    static: dict[str, list[Diagnostic]] | None = None,
    recording_agrees_with_spec: bool = False,
) -> list[Diagnostic]:
    """The node's diagnostics once causality is known (pure).

    ``connector_location`` is where the connector handles the data (used when a revealing corpus
    edit hands blame to a connector the merits did not locate); ``static`` the static findings of
    the moment (a corpus edit with errors in its lines is not innocent).
    """
    if causal is None or not merits:
        return merits
    primary, rest = merits[0], merits[1:]
    if primary.code in DECISIVE_CODES:
        note = f"trigger: {causal.note}" if causal.status == "trigger" else None
        return [_annotate(primary, causal, note=note), *rest]
    if causal.status == "pending":
        return [_annotate(primary, causal), *rest]
    if causal.status in ("no-history", "inconclusive", "pre-existing"):
        note = {
            "no-history": "judged on the failure alone: no history to rerun against (no earlier pass, no git base)",
            "inconclusive": f"judged on the failure alone: the counterfactual reruns were inconclusive ({causal.note})",
            "pre-existing": f"judged on the failure alone: it {causal.note}, so the changes did not cause it",
        }[causal.status]
        revised = _annotate(primary, causal, note=note, confidence=min(primary.confidence, 0.6))
        return [revised, *rest]
    if causal.status == "not-caused":
        if primary.blame == "environment":
            return [_annotate(primary, causal, note=causal.note, boost=0.1), *rest]
        revised = Diagnostic(
            blame="environment",
            message=f"{primary.message} — it also fails with every change since the {causal.base} "
            "reverted, so the changes did not cause it: the clock, the environment, test order or "
            "a flaky dependency did",
            location=primary.location,
            confidence=0.7,
            related=[Related(primary.location, f"judged on the failure alone: {primary.blame}"), *primary.related],
            evidence=[causal.note, *primary.evidence],
            fix="rerun it; compare the date, installed packages and test order with the last passing run",
            node_ids=list(primary.node_ids),
            code=f"causal.not_caused.{primary.code or 'failure'}",
            diff=primary.diff,
            causal=causal.to_dict(),
        )
        return [revised, primary, *rest]
    return _with_trigger(primary, rest, causal, connector_location, static or {}, recording_agrees_with_spec)


def _with_trigger(
    primary: Diagnostic,
    rest: list[Diagnostic],
    causal: CausalEvidence,
    connector_location: Location | None,
    static: dict[str, list[Diagnostic]],
    recording_agrees_with_spec: bool,
) -> list[Diagnostic]:
    triggers = causal.triggers
    by_blame = {trigger_blame(t): t for t in reversed(triggers) if trigger_blame(t)}
    if not by_blame:  # a toolkit file, something outside the workspace's parts: keep the merits
        return [_annotate(primary, causal, note=causal.note, boost=0.05), *rest]
    # Several kinds of files changed together: the merits choose among the triggers.
    trigger = by_blame.get(primary.blame) or next(
        by_blame[b] for b in ("connector", "spec", "test", "corpus") if b in by_blame
    )
    blame = trigger_blame(trigger) or primary.blame
    evidence = [f"trigger: {causal.note} ({causal.trials} trial run(s))"]
    if blame == "corpus" and primary.blame in REVEALED and _only_adds_valid_records(trigger, static):
        location = primary.location if primary.blame == "connector" else (connector_location or primary.location)
        return [
            _replace(
                primary,
                blame="connector",
                message=f"{primary.message} — revealed by valid records added at {trigger.describe()}: "
                "the corpus edit is innocent, the connector mishandles data it should read",
                location=location,
                confidence=0.85,
                evidence=[*evidence, *primary.evidence],
                related=[Related(trigger.location(), "the corpus edit that revealed it"), *primary.related],
                causal=causal,
            ),
            *rest,
        ]
    if blame == "spec" and recording_agrees_with_spec:
        location = primary.location if primary.blame == "connector" else (connector_location or primary.location)
        return [
            _replace(
                primary,
                blame="connector",
                message=f"{primary.message} — the spec change at {trigger.describe()} matches the recorded "
                "live API, so the connector's request is what is wrong",
                location=location,
                confidence=0.8,
                evidence=[*evidence, "the cassette's recorded requests agree with the new spec", *primary.evidence],
                related=[Related(trigger.location(), "the spec change, confirmed by the recording"), *primary.related],
                causal=causal,
            ),
            *rest,
        ]
    what = "shared code change" if trigger.kind == "shared" else {
        "connector": "connector change",
        "spec": "spec change",
        "corpus": "corpus edit",
        "test": "test setting change",
    }[blame]
    related = [] if primary.location == trigger.location() else [Related(primary.location, "where the failure surfaced")]
    return [
        _replace(
            primary,
            blame=blame,
            message=f"{primary.message} — caused by the {what} at {trigger.describe()} "
            "(the test passes with it reverted)",
            location=trigger.location(),
            confidence=0.9,
            evidence=[*evidence, *primary.evidence],
            related=[*related, *primary.related],
            fix=primary.fix if primary.blame == blame else _fix_for(blame, trigger),
            causal=causal,
        ),
        *rest,
    ]


def _fix_for(blame: str, trigger: TriggerEvidence) -> str:
    return {
        "connector": f"fix or revert the connector change at {trigger.describe()}",
        "spec": f"fix or revert the spec change at {trigger.describe()} so it models what the connector sends",
        "corpus": f"fix or revert the corpus edit at {trigger.describe()}",
        "test": f"fix or revert the test setting at {trigger.describe()}",
    }[blame]


def _only_adds_valid_records(trigger: TriggerEvidence, static: dict[str, list[Diagnostic]]) -> bool:
    """The corpus edit keeps every record it had, adds some, and no static check objects to its lines."""
    try:
        before = json.loads(trigger.before or "null")
        after = json.loads(trigger.after or "null")
    except ValueError:
        return False
    if not isinstance(before, list) or not isinstance(after, list) or len(after) <= len(before):
        return False
    kept = Counter(json.dumps(r, sort_keys=True) for r in after)
    for record in before:
        key = json.dumps(record, sort_keys=True)
        if kept[key] <= 0:
            return False
        kept[key] -= 1
    for finding in static.get(trigger.path, []):
        if finding.severity == "error" or finding.code == "corpus.duplicate_key":
            return False
    return True


def _annotate(
    diagnostic: Diagnostic,
    causal: CausalEvidence,
    *,
    note: str | None = None,
    boost: float = 0.0,
    confidence: float | None = None,
) -> Diagnostic:
    revised = replace(
        diagnostic,
        evidence=[note, *diagnostic.evidence] if note else list(diagnostic.evidence),
        related=list(diagnostic.related),
        node_ids=list(diagnostic.node_ids),
        causal=causal.to_dict(),
    )
    revised.confidence = (
        confidence if confidence is not None else max(0.05, min(0.99, diagnostic.confidence + boost))
    )
    return revised


def _replace(diagnostic: Diagnostic, *, causal: CausalEvidence, **changes: Any) -> Diagnostic:
    return replace(
        diagnostic,
        node_ids=list(diagnostic.node_ids),
        causal=causal.to_dict(),
        code=diagnostic.code,
        **changes,
    )
