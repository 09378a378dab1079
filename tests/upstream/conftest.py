"""The public connectors repository as a user has it: a scratch copy of the pinned snapshot,
installed editable in its own virtualenv beside connector-watch (``tests/support/upstream.py``).

The snapshot is found where ``CONNECTOR_WATCH_UPSTREAM_REPO`` says, or at ``../shared/upstream-repo``
from the repository root (or from an ancestor folder); without it the suite is skipped, saying why.
The copy is made once per session and keeps the tests of a representative subset of the sources
(``UPSTREAM_SOURCES``), for CI time; ``CONNECTOR_WATCH_UPSTREAM_ALL=1`` keeps them all.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from connector_watch.tests.support.upstream import (
    ENV_SNAPSHOT,
    PACKAGE,
    REPO,
    TESTS,
    clean_env,
    copy_snapshot,
    snapshot,
    virtualenv,
)

__all__ = ["PACKAGE", "TESTS", "Upstream"]

#: Sources whose tests the CI copy keeps: the plain harness, a spec naming absent corpora
#: (github), a clock-dependent failure (actitime), stand-in modules another file installs
#: (google_analytics → hl7_v2), files that cannot collect without ``responses`` (odata), stub
#: endpoints and urllib (dicomweb), corpora only a handler reads (fhir, adme).
UPSTREAM_SOURCES = (
    "actitime",
    "adme",
    "dicomweb",
    "fhir",
    "github",
    "google_analytics_aggregated",
    "hl7_v2",
    "odata",
    "zendesk",
)
SKIP_REASON = (
    f"the public connectors repository snapshot is not at {REPO.parent / 'shared' / 'upstream-repo'} "
    f"(nor in ${ENV_SNAPSHOT}): the upstream integration suite needs it"
)


def pytest_report_header(config: pytest.Config) -> str | None:
    return None if snapshot() is not None else f"upstream suite skipped: {SKIP_REASON}"


@dataclass
class Upstream:
    """A scratch copy of the public repository and the python that has it installed."""

    root: Path
    python: Path
    sources: tuple[str, ...]

    def cli(self, *args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
        """``connector-watch ARGS --workspace <copy>`` as a real process in the copy's virtualenv."""
        command = [str(self.python), "-m", "connector_watch.daemon", *args[:1], "--workspace", str(self.root), *args[1:]]
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=timeout, env=clean_env())

    def cli_json(self, *args: str, timeout: float = 600.0) -> tuple[int, Any]:
        result = self.cli(*args, timeout=timeout)
        try:
            return result.returncode, json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"not JSON (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def pytest(self, *args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
        """Plain ``pytest`` on the copy, as its users run it."""
        command = [str(self.python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:testmon", *args]
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=timeout, env=clean_env())

    def path(self, relative: str) -> Path:
        return self.root / relative


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Upstream:
    source = snapshot()
    if source is None:
        pytest.skip(SKIP_REASON)
    base = tmp_path_factory.mktemp("upstream")
    root = base / "lakeflow-community-connectors"
    keep = None if os.environ.get("CONNECTOR_WATCH_UPSTREAM_ALL") == "1" else UPSTREAM_SOURCES
    sources = copy_snapshot(source, root, keep)
    return Upstream(root, virtualenv(base / "venv", root), sources)
