"""Blame: who is at fault for a failed node, with evidence, a place to underline, and a fix.

Pure functions. The inputs are the structured failure the pytest plugin sent (exception chain with
frames and typed details, the request trace, the harness check and its evidence), the node's
record, the static findings of the moment, which files changed since the node last passed, and —
once the counterfactual reruns have run — which change triggered the failure. The output is a list
of :class:`~connector_watch.daemon.diagnostics.Diagnostic`.

The categories: ``connector``, ``spec``, ``corpus``, ``test`` (harness, config, test file),
``environment`` (missing dependency, crashed worker, clock-dependent data) and ``drift`` (record
mode). One module per family of evidence, around a small core (:mod:`.core`) that combines them.
"""

from connector_watch.daemon.blame.context import FailureInput
from connector_watch.daemon.blame.core import blame
from connector_watch.daemon.blame.recordings import differential_verdict, replace_confidence

__all__ = ["FailureInput", "blame", "differential_verdict", "replace_confidence"]
