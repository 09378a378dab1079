"""Running a source's connector suite as a user does: a ``pytest`` subprocess in a workspace copy,
with the mode and credentials in the environment, read back from its JUnit report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUITE_TIMEOUT = 180


@dataclass
class SuiteRun:
    source: str
    mode: str
    returncode: int
    outcomes: dict[str, str]  # node id -> passed | failed | error | skipped
    output: str
    seconds: float
    messages: dict[str, str] = field(default_factory=dict)

    def by_outcome(self, outcome: str) -> list[str]:
        return sorted(n for n, o in self.outcomes.items() if o == outcome)

    def node(self, fragment: str) -> list[tuple[str, str]]:
        return [(n, o) for n, o in self.outcomes.items() if fragment in n]


def run_suite(
    workspace: Path,
    source: str,
    *,
    mode: str,
    config: dict[str, Any] | None = None,
    config_path: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = SUITE_TIMEOUT,
) -> SuiteRun:
    """Run ``tests/unit/sources/<source>`` of ``workspace`` in a pytest subprocess.

    The connector config goes in ``CONNECTOR_TEST_CONFIG_JSON`` (``config``) or, with
    ``config_path``, is written there (mode 0600) and named by ``CONNECTOR_TEST_CONFIG_PATH``.
    """
    report = workspace / f".junit-{source}-{mode}-{time.monotonic_ns()}.xml"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_TEST_", "PYTEST_"))}
    environment["CONNECTOR_TEST_MODE"] = mode
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the suites need no plugin; startup is faster
    if config is not None and config_path is not None:
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.touch(mode=0o600)
        config_path.write_text(json.dumps(config), encoding="utf-8")
        environment["CONNECTOR_TEST_CONFIG_PATH"] = str(config_path)
    elif config is not None:
        environment["CONNECTOR_TEST_CONFIG_JSON"] = json.dumps(config)
    environment.update(env or {})
    started = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--junitxml={report}",
            f"tests/unit/sources/{source}",
        ],
        cwd=workspace,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    if report.is_file():
        for case in ET.parse(report).getroot().iter("testcase"):
            node = f"{case.get('classname')}::{case.get('name')}"
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed"}.get(child.tag, child.tag)
                    messages[node] = (child.get("message") or "") + "\n" + (child.text or "")
            outcomes[node] = outcome
        report.unlink()
    return SuiteRun(
        source,
        mode,
        completed.returncode,
        outcomes,
        completed.stdout + completed.stderr,
        time.monotonic() - started,
        messages,
    )
