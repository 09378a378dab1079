"""Engine options from a command line (``watch``, ``run``, ``serve``, ``lsp``) and the workspace's settings."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class EngineOptions:
    jobs: int = max(1, min(os.cpu_count() or 1, 8))
    node_timeout: float = 30.0
    #: How long past ``node_timeout`` a worker that the per-test timer could not stop (a C call
    #: holding the interpreter) may stay silent before the watchdog kills it.
    kill_after: float = 15.0
    debounce: float = 0.02
    mode: str = "simulate"
    log_dir: str | None = None
    #: Read every table of a source through Spark after its unit tests pass (``--spark``, or
    #: ``spark = true`` under ``[tool.connector-watch]`` in pyproject.toml).
    spark: bool = False
    spark_master: str | None = None
    #: After the first run, learn the schemas it did not report by importing each connector in a
    #: sandboxed child (:mod:`connector_watch.daemon.schema_probe`), for corpus lint.
    learn_schemas: bool = True
    #: Counterfactual reruns of failing nodes (causal blame).
    causal: bool = True
    #: The git revision a node without a pass in this session is compared with (``run --base``).
    base: str = "HEAD"
    #: Compare only these files with the git base (``run --changed`` without ``--base``).
    base_paths: list[str] | None = None
    #: Keep the last pass of every node in memory (the daemon); one-shot runs use git alone.
    history: bool = True


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """The engine's options from a command line and the workspace's ``[tool.connector-watch]``."""
    settings = workspace_settings(Path(args.workspace))
    return EngineOptions(
        jobs=args.jobs or EngineOptions().jobs,
        node_timeout=args.timeout,
        kill_after=getattr(args, "kill_after", 15.0),
        mode=args.mode,
        spark=bool(getattr(args, "spark", False) or settings.get("spark", False)),
        spark_master=getattr(args, "spark_master", None) or settings.get("spark_master"),
    )


def workspace_settings(root: Path) -> dict[str, Any]:
    """``[tool.connector-watch]`` of the workspace's pyproject.toml (empty when there is none)."""
    from connector_watch.simulator.layout import tomllib

    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    section = data.get("tool", {}).get("connector-watch", {})
    return section if isinstance(section, dict) else {}
