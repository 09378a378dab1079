"""The public connectors repository as a user has it: a scratch copy of the pinned snapshot,
installed editable in its own virtualenv beside connector-watch.

The snapshot is found where ``CONNECTOR_WATCH_UPSTREAM_REPO`` says, or at ``../shared/upstream-repo``
from the repository root (or from an ancestor folder); without it the suite is skipped, saying why. The copy is
made once per session (``UPSTREAM_SOURCES`` keeps the tests of a representative subset of the
sources, for CI time; ``CONNECTOR_WATCH_UPSTREAM_ALL=1`` keeps them all). Its virtualenv sees
connector-watch's own environment through a ``.pth`` file (``site.addsitedir``) and gets the copy
installed with ``pip install --no-deps -e``, plus the repository's own small dependencies when the
package index answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV_SNAPSHOT = "CONNECTOR_WATCH_UPSTREAM_REPO"
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
PACKAGE = "src/databricks/labs/community_connector"
TESTS = "tests/unit/sources"


def snapshot() -> Path | None:
    """``$CONNECTOR_WATCH_UPSTREAM_REPO``, else ``shared/upstream-repo`` beside the repository (CI)
    or beside one of its ancestors (a git worktree)."""
    for candidate in (os.environ.get(ENV_SNAPSHOT), *(p / "shared" / "upstream-repo" for p in REPO.parents)):
        if candidate and (Path(candidate) / TESTS / "test_suite.py").is_file():
            return Path(candidate)
    return None


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
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=timeout, env=_env())

    def cli_json(self, *args: str, timeout: float = 600.0) -> tuple[int, Any]:
        result = self.cli(*args, timeout=timeout)
        try:
            return result.returncode, json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"not JSON (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def pytest(self, *args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
        """Plain ``pytest`` on the copy, as its users run it."""
        command = [str(self.python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:testmon", *args]
        return subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=timeout, env=_env())

    def path(self, relative: str) -> Path:
        return self.root / relative


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CONNECTOR_TEST_", "CONNECTOR_WATCH_"))}
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Upstream:
    source = snapshot()
    if source is None:
        pytest.skip(SKIP_REASON)
    base = tmp_path_factory.mktemp("upstream")
    root = base / "lakeflow-community-connectors"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__", ".connector-watch", ".pytest_cache"))
    for path in [root, *root.rglob("*")]:  # the snapshot is read-only
        path.chmod(path.stat().st_mode | 0o200)
    keep_all = os.environ.get("CONNECTOR_WATCH_UPSTREAM_ALL") == "1"
    sources = tuple(sorted(p.name for p in (root / TESTS).iterdir() if p.is_dir() and not p.name.startswith("_")))
    if not keep_all:
        for name in sources:
            if name not in UPSTREAM_SOURCES:
                shutil.rmtree(root / TESTS / name)
        sources = tuple(s for s in sources if s in UPSTREAM_SOURCES)
    python = _virtualenv(base / "venv", root)
    return Upstream(root, python, sources)


def _virtualenv(venv: Path, project: Path) -> Path:
    """A virtualenv that sees connector-watch's environment and has ``project`` installed editable."""
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "zz_connector_watch.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    installed = subprocess.run([*pip, "--no-deps", "-e", str(project)], capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        raise RuntimeError(f"pip install -e {project} failed:\n{installed.stdout}\n{installed.stderr}")
    # The repository's own small dependencies (its dev extra also names pyspark and pytest, which
    # connector-watch's environment has). Without an index they stay missing, for plain pytest
    # and connector-watch alike.
    subprocess.run([*pip, "pydantic>=2,<3", "pyjwt[crypto]>=2.4,<3"], capture_output=True, text=True, timeout=300)
    where = subprocess.run(
        [str(python), "-c", "import databricks.labs.community_connector as c, tests; print(c.__file__, tests.__file__)"],
        cwd=project, capture_output=True, text=True,
    )
    expected = (str(project / PACKAGE / "__init__.py"), str(project / "tests" / "__init__.py"))
    if where.returncode != 0 or tuple(where.stdout.split()) != expected:
        raise RuntimeError(f"the copy's imports do not resolve to the copy: {where.stdout} {where.stderr}")
    return python
