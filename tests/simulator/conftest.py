"""Helpers for the simulator tests: small specs and corpora written into ``tmp_path``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from connector_watch.simulator import Simulator

BASE = "https://api.example.com"

#: The public specs and corpora (github, remberg, mailchimp, ...), kept beside the clone.
UPSTREAM_SPECS = Path(__file__).resolve().parents[3] / "shared" / "upstream-specs"


def write_spec(
    directory: Path,
    text: str,
    corpus: dict[str, Any] | None = None,
    *,
    raw_corpus: dict[str, str] | None = None,
    name: str = "endpoints.yaml",
) -> Path:
    """Write ``text`` (dedented) as a spec in ``directory`` and each corpus table as JSON."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / name
    spec.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    corpus_dir = directory / "corpus"
    corpus_dir.mkdir(exist_ok=True)
    for table, records in (corpus or {}).items():
        (corpus_dir / f"{table}.json").write_text(json.dumps(records, indent=2), encoding="utf-8")
    for table, content in (raw_corpus or {}).items():
        (corpus_dir / f"{table}.json").write_text(content, encoding="utf-8")
    return spec


@pytest.fixture
def simulate(tmp_path: Path) -> Callable[..., Any]:
    """``with simulate(spec_text, corpus) as sim:``: a simulate-mode Simulator over a fresh spec."""

    @contextmanager
    def run(text: str, corpus: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[Simulator]:
        spec = write_spec(tmp_path / "spec", text, corpus, raw_corpus=kwargs.pop("raw_corpus", None))
        with Simulator(mode="simulate", spec_path=spec, corpus_dir=spec.parent / "corpus", **kwargs) as sim:
            yield sim

    return run


def ids(records: list[dict[str, Any]], key: str = "id") -> list[Any]:
    return [r[key] for r in records]
