"""A scratch copy of the public connectors repository, installed as its users install it.

Shared by the upstream integration suite (``tests/upstream``) and its benchmark
(``bench/upstream.py``): find the pinned snapshot, copy it (the snapshot itself is read-only and
never edited), and make a virtualenv that sees connector-watch's own environment through a
``.pth`` file (``site.addsitedir``) with the copy installed by ``pip install --no-deps -e``, plus the
repository's own small dependencies when the package index answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV_SNAPSHOT = "CONNECTOR_WATCH_UPSTREAM_REPO"
PACKAGE = "src/databricks/labs/community_connector"
TESTS = "tests/unit/sources"


def snapshot() -> Path | None:
    """``$CONNECTOR_WATCH_UPSTREAM_REPO``, else ``shared/upstream-repo`` beside the repository (CI)
    or beside one of its ancestors (a git worktree)."""
    for candidate in (os.environ.get(ENV_SNAPSHOT), *(p / "shared" / "upstream-repo" for p in REPO.parents)):
        if candidate and (Path(candidate) / TESTS / "test_suite.py").is_file():
            return Path(candidate)
    return None


def copy_snapshot(source: Path, destination: Path, keep_sources: Iterable[str] | None = None) -> tuple[str, ...]:
    """Copy the snapshot, writable; ``keep_sources`` limits the sources whose tests are kept.
    Returns the sources whose tests the copy has."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", ".connector-watch", ".pytest_cache"))
    for path in [destination, *destination.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    tests = destination / TESTS
    sources = tuple(sorted(p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith("_")))
    if keep_sources is None:
        return sources
    keep = set(keep_sources)
    for name in sources:
        if name not in keep:
            shutil.rmtree(tests / name)
    return tuple(s for s in sources if s in keep)


def virtualenv(venv: Path, project: Path) -> Path:
    """A virtualenv that sees connector-watch's environment and has ``project`` installed editable;
    returns its python. Raises when the copy's imports would not resolve to the copy."""
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


def clean_env() -> dict[str, str]:
    """The environment for processes on the copy: none of the test session's pytest, harness or
    daemon variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CONNECTOR_TEST_", "CONNECTOR_WATCH_"))}
    env.pop("PYTHONPATH", None)
    return env
