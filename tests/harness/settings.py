"""How a test class runs: mode, paths, credentials and table options.

Resolved once per test class, at collection, so a wrong setting is one clear
error instead of the same error on every node.

Modes (``CONNECTOR_TEST_MODE``) for a class with ``simulator_source``:

- unset or ``simulate``: the spec and corpus of ``simulator/specs/<source>/``.
- ``replay``: the class's cassette (``cassettes/<TestClass>.json``).
- ``hybrid``: the spec where it covers a request, the cassette elsewhere.
- ``record`` or ``live`` (the same mode): the live API; writes the cassette and,
  with the spec, the validation and coverage reports.

Credentials, first match wins: ``CONNECTOR_TEST_CONFIG_JSON``,
``CONNECTOR_TEST_CONFIG_PATH``, the class's ``config``, ``_replay_config()`` /
``replay_config``, then ``configs/replay_config.json`` beside the test file.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector_watch.simulator import Mode, Simulator
from connector_watch.simulator.layout import Layout
from connector_watch.simulator.locations import LocatedSyntaxError, parse_json
from connector_watch.simulator.scrub import secret_values
from connector_watch.tests.harness.failures import HarnessConfigError

ENV_MODE = "CONNECTOR_TEST_MODE"
ENV_CONFIG_JSON = "CONNECTOR_TEST_CONFIG_JSON"
ENV_CONFIG_PATH = "CONNECTOR_TEST_CONFIG_PATH"
# "1": replay serves only what was recorded (no answers derived through the spec); the daemon's
# differential rerun sets it, since it compares recorded traffic with the spec.
ENV_REPLAY_STRICT = "CONNECTOR_TEST_REPLAY_STRICT"


@dataclass
class Settings:
    mode: Mode
    layout: Layout
    test_dir: Path
    test_class: str
    source: str | None
    spec_path: Path | None
    corpus_dir: Path | None
    cassette_path: Path | None
    config: dict[str, Any]
    config_origin: str
    table_configs: dict[str, dict[str, str]] = field(default_factory=dict)
    ignore_query_params: tuple[str, ...] = ()
    sample_size: int = 5
    synthesize_count: int = 0

    @property
    def simulated(self) -> bool:
        """Whether responses come from the spec + corpus (so ground truth is known)."""
        return self.mode in (Mode.SIMULATE, Mode.HYBRID)

    @property
    def live(self) -> bool:
        return self.mode is Mode.LIVE

    def table_options(self, table: str) -> dict[str, str]:
        return dict(self.table_configs.get(table, {}))

    def simulator(self, *, record: bool = True) -> Simulator:
        return Simulator(
            mode=self.mode,
            cassette_path=self.cassette_path,
            source=self.source,
            allow_missing_cassette=self.mode is Mode.HYBRID,
            ignore_query_params=list(self.ignore_query_params),
            sample_size=self.sample_size,
            synthesize_count=self.synthesize_count,
            record=record,
            spec_path=self.spec_path if (self.spec_path and self.spec_path.is_file()) else None,
            corpus_dir=self.corpus_dir,
            secrets=secret_values(self.config),  # record mode: never written to cassettes or reports
            derive_replay_misses=os.environ.get(ENV_REPLAY_STRICT, "").strip() not in ("1", "true", "yes"),
        )


def test_file_of(test_class: type) -> Path:
    module = sys.modules.get(test_class.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        raise HarnessConfigError(f"{test_class.__name__}: cannot find the file that defines it")
    return Path(file).resolve()


def _mode(has_source: bool) -> Mode:
    raw = os.environ.get(ENV_MODE, "").strip()
    if not raw:
        return Mode.SIMULATE if has_source else Mode.LIVE
    try:
        return Mode.parse(raw, origin=ENV_MODE)
    except ValueError as exc:
        raise HarnessConfigError(
            str(exc), hint=f"unset {ENV_MODE} or set it to simulate, replay, hybrid or record"
        )


def _load_json_file(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessConfigError(f"cannot read {what} {path}: {exc.strerror or exc}")
    try:
        return parse_json(text, str(path))
    except LocatedSyntaxError as exc:
        raise HarnessConfigError(f"{what} is not valid JSON: {exc}")


def resolve_config(test_class: type, test_dir: Path) -> tuple[dict[str, Any], str]:
    inline = os.environ.get(ENV_CONFIG_JSON)
    if inline:
        try:
            value = json.loads(inline)
        except ValueError as exc:
            raise HarnessConfigError(f"{ENV_CONFIG_JSON} is not valid JSON: {exc}")
        origin = ENV_CONFIG_JSON
    elif os.environ.get(ENV_CONFIG_PATH):
        path = Path(os.path.expanduser(os.environ[ENV_CONFIG_PATH]))
        if not path.is_file():
            raise HarnessConfigError(f"{ENV_CONFIG_PATH}={path} does not exist")
        value = _load_json_file(path, ENV_CONFIG_PATH)
        origin = str(path)
    elif getattr(test_class, "config", None):
        value, origin = test_class.config, f"{test_class.__name__}.config"
    else:
        replay = test_class._replay_config() if hasattr(test_class, "_replay_config") else None
        if replay:
            value, origin = replay, f"{test_class.__name__}.replay_config"
        elif (test_dir / "configs" / "replay_config.json").is_file():
            path = test_dir / "configs" / "replay_config.json"
            value, origin = _load_json_file(path, "replay_config.json"), str(path)
        else:
            raise HarnessConfigError(
                "No credentials provided.",
                hint=f"set replay_config on {test_class.__name__} (stand-in values are fine for simulate mode), "
                f"or {ENV_CONFIG_JSON} / {ENV_CONFIG_PATH} for live runs",
            )
    if not isinstance(value, dict):
        raise HarnessConfigError(
            f"connector config from {origin} must be a JSON object, got {type(value).__name__}"
        )
    return dict(value), origin


def resolve_table_configs(test_class: type, test_dir: Path) -> dict[str, dict[str, str]]:
    explicit = getattr(test_class, "table_configs", None)
    path = test_dir / "configs" / "dev_table_config.json"
    if explicit:
        data, origin = explicit, f"{test_class.__name__}.table_configs"
    elif path.is_file():
        data, origin = _load_json_file(path, "dev_table_config.json"), str(path)
    else:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise HarnessConfigError(
            f"table options in {origin} must map each table to an object of options, e.g. "
            '{"orders": {"max_records_per_batch": "5"}}'
        )
    return {
        str(t): {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in opts.items()}
        for t, opts in data.items()
    }


def resolve(test_class: type) -> Settings:
    """The settings of ``test_class`` (raises :class:`HarnessConfigError`)."""
    if getattr(test_class, "connector_class", None) is None:
        raise HarnessConfigError(f"Set connector_class on {test_class.__name__}.")
    test_file = test_file_of(test_class)
    test_dir = test_file.parent
    layout = Layout.discover(test_dir)
    source = getattr(test_class, "simulator_source", None)
    mode = _mode(bool(source))
    spec_path = layout.spec_file(source) if source else None
    corpus_dir = layout.corpus_dir(source) if source else None
    if source and mode in (Mode.SIMULATE, Mode.HYBRID) and not spec_path.is_file():  # type: ignore[union-attr]
        raise HarnessConfigError(
            f"simulator_source = {source!r}, but there is no spec at {layout.relative(spec_path)}",  # type: ignore[arg-type]
            hint="write the spec (see simulator/SPEC.md) or fix simulator_source",
        )
    if mode in (Mode.SIMULATE, Mode.HYBRID) and not source:
        raise HarnessConfigError(
            f"'{mode.value}' mode requires spec_path and corpus_dir: set simulator_source on {test_class.__name__}"
        )
    cassette = test_dir / "cassettes" / f"{test_class.__name__}.json"
    if mode is Mode.REPLAY and not cassette.is_file():
        raise HarnessConfigError(
            f"Cassette not found: {layout.relative(cassette)}",
            hint="run with CONNECTOR_TEST_MODE=record first to create it",
        )
    config, origin = resolve_config(test_class, test_dir)
    return Settings(
        mode=mode,
        layout=layout,
        test_dir=test_dir,
        test_class=test_class.__name__,
        source=source,
        spec_path=spec_path,
        corpus_dir=corpus_dir,
        cassette_path=cassette,
        config=config,
        config_origin=origin,
        table_configs=resolve_table_configs(test_class, test_dir),
        ignore_query_params=tuple(getattr(test_class, "record_replay_ignore_query_params", None) or ()),
        sample_size=int(getattr(test_class, "record_replay_sample_size", 5)),
        synthesize_count=int(getattr(test_class, "record_replay_synthesize_count", 0)),
    )
