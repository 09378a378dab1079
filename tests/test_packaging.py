"""The installed distribution exposes one top-level import package, ``connector_watch``.

Installing connector-watch beside a user's checkout (the public connectors repository has its own
``tests`` package) must never shadow the user's ``tests`` or ``sources``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _env() -> dict[str, str]:
    """The installed distribution alone: not a ``PYTHONPATH`` another test of this process left
    behind (the Spark session puts the workspace on it)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_only_connector_watch_is_importable_outside_the_checkout(tmp_path) -> None:
    probe = (
        "import importlib.util, json\n"
        "names = ['tests', 'sources', 'simulator', 'daemon', 'connector_watch.daemon.cli',"
        " 'connector_watch.tests.unit.sources.test_suite', 'connector_watch.simulator.spec']\n"
        "print(json.dumps({n: importlib.util.find_spec(n) is not None for n in names}))\n"
    )
    found = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True, env=_env()
        ).stdout
    )
    assert found == {
        "tests": False,
        "sources": False,
        "simulator": False,
        "daemon": False,
        "connector_watch.daemon.cli": True,
        "connector_watch.tests.unit.sources.test_suite": True,
        "connector_watch.simulator.spec": True,
    }


def test_a_users_own_tests_package_wins(tmp_path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("OWNER = 'the user'\n")
    out = subprocess.run(
        [sys.executable, "-c", "import tests, connector_watch.tests as ours; print(tests.OWNER, ours.__name__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["the", "user", "connector_watch.tests"]
