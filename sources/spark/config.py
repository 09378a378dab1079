"""Options for reading a workspace's source through Spark, found the way the harness finds them.

A source's tests already hold what a simulated read needs: the test class's
``replay_config`` (stand-in connection options such as ``owner`` or a fake token)
and ``configs/dev_table_config.json`` (table options such as a small
``max_records_per_batch``). This module reads both **without importing the test
module** (its literal ``replay_config`` is read from the source text), so a
long-lived process never holds stale user code.

Connection options, first match wins: ``$CONNECTOR_TEST_CONFIG_JSON``,
``$CONNECTOR_TEST_CONFIG_PATH`` (as in the harness), the test class's literal
``config`` / ``replay_config`` (the class whose ``simulator_source`` names the
source), then ``configs/replay_config.json`` beside the tests.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.simulator.layout import Layout

ENV_CONFIG_JSON = "CONNECTOR_TEST_CONFIG_JSON"
ENV_CONFIG_PATH = "CONNECTOR_TEST_CONFIG_PATH"


class SourceConfigError(ValueError):
    """A source whose read options cannot be found or parsed."""


@dataclass
class SourceConfig:
    source: str
    connection: dict[str, str]
    origin: str
    table_configs: dict[str, dict[str, str]] = field(default_factory=dict)
    test_class: str | None = None

    def table_options(self, table: str) -> dict[str, str]:
        return dict(self.table_configs.get(table, {}))

    def options(self, table: str) -> dict[str, str]:
        """Connection options plus ``table``'s table options (the table's win)."""
        return {**self.connection, **self.table_options(table)}


def _stringify(values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        out[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return out


def _literal_class_configs(path: Path, source: str) -> tuple[str, dict[str, Any]] | None:
    """``(class name, config)`` from a test file's class that serves ``source``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        values: dict[str, Any] = {}
        for statement in node.body:
            targets: list[ast.expr] = []
            if isinstance(statement, ast.Assign):
                targets = list(statement.targets)
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                targets = [statement.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in (
                    "simulator_source",
                    "replay_config",
                    "config",
                ):
                    try:
                        values[target.id] = ast.literal_eval(statement.value)  # type: ignore[arg-type]
                    except ValueError:
                        continue
        if values.get("simulator_source") != source:
            continue
        for key in ("config", "replay_config"):
            if isinstance(values.get(key), dict):
                return node.name, values[key]
        return node.name, {}
    return None


def load_source_config(layout: Layout | str | Path, source: str) -> SourceConfig:
    """The connection and table options of ``source`` in the workspace (see the module docstring)."""
    if not isinstance(layout, Layout):
        layout = Layout.load(layout)
    test_dir = layout.test_dir(source)
    table_configs: dict[str, dict[str, str]] = {}
    table_file = layout.table_config(source)
    if table_file.is_file():
        try:
            raw = json.loads(table_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SourceConfigError(f"{layout.relative(table_file)} is not valid JSON: {exc}")
        if not isinstance(raw, dict):
            raise SourceConfigError(f"{layout.relative(table_file)} must hold an object of table options")
        table_configs = {str(t): _stringify(v) for t, v in raw.items() if isinstance(v, dict)}

    test_class = None
    inline = os.environ.get(ENV_CONFIG_JSON)
    if inline:
        try:
            connection, origin = json.loads(inline), ENV_CONFIG_JSON
        except ValueError as exc:
            raise SourceConfigError(f"{ENV_CONFIG_JSON} is not valid JSON: {exc}")
    elif os.environ.get(ENV_CONFIG_PATH):
        path = Path(os.path.expanduser(os.environ[ENV_CONFIG_PATH]))
        try:
            connection, origin = json.loads(path.read_text(encoding="utf-8")), str(path)
        except (OSError, ValueError) as exc:
            raise SourceConfigError(f"{ENV_CONFIG_PATH}={path}: {exc}")
    else:
        connection, origin = None, ""
        for test_file in sorted(test_dir.glob("test_*.py")) if test_dir.is_dir() else []:
            found = _literal_class_configs(test_file, source)
            if found is not None and found[1]:
                test_class, connection = found
                origin = f"{layout.relative(test_file)}::{test_class}.replay_config"
                break
        if connection is None:
            replay = test_dir / "configs" / "replay_config.json"
            if replay.is_file():
                try:
                    connection, origin = (
                        json.loads(replay.read_text(encoding="utf-8")),
                        layout.relative(replay),
                    )
                except ValueError as exc:
                    raise SourceConfigError(f"{layout.relative(replay)} is not valid JSON: {exc}")
            else:
                connection, origin = {}, "none"
    if not isinstance(connection, dict):
        raise SourceConfigError(f"connection options from {origin} must be a JSON object")
    return SourceConfig(source, _stringify(connection), origin, table_configs, test_class)


__all__ = ["SourceConfig", "SourceConfigError", "load_source_config"]
