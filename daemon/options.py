"""Engine options from a command line (``watch``, ``run``, ``serve``, ``lsp``) and the workspace's settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from connector_watch.daemon.engine import EngineOptions


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """The engine's options from a command line and the workspace's ``[tool.connector-watch]``."""
    settings = workspace_settings(Path(args.workspace))
    return EngineOptions(
        jobs=args.jobs or EngineOptions().jobs,
        node_timeout=args.timeout,
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
