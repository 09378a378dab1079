"""The ``Simulator`` context manager: patch HTTP, answer by mode, keep a trace.

```python
from connector_watch.simulator import Simulator, Mode

with Simulator(mode=Mode.SIMULATE, spec_path="simulator/specs/github/endpoints.yaml",
               corpus_dir="simulator/specs/github/corpus") as sim:
    connector.read_table("issues", {}, {})
print(sim.trace.entries[0].endpoint)
```

The constructor keeps the public simulator's keyword arguments, so existing
scripts keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests
from connector_watch.simulator import interception
from connector_watch.simulator import trace as trace_module
from connector_watch.simulator.cassette import Cassette, ReplayResponder
from connector_watch.simulator.corpus import CorpusStore
from connector_watch.simulator.derived import DerivedResponder
from connector_watch.simulator.errors import SimulatorConfigError, SpecError
from connector_watch.simulator.live import LiveResponder
from connector_watch.simulator.locations import display_path
from connector_watch.simulator.modes import Mode
from connector_watch.simulator.request import SimRequest
from connector_watch.simulator.simulate import SimulateResponder
from connector_watch.simulator.spec import Spec, load_spec
from connector_watch.simulator.trace import Trace


class Simulator:
    """Answers a connector's HTTP requests from a spec + corpus, a cassette, or the live API.

    Modes (see :class:`~simulator.modes.Mode`): ``simulate`` needs ``spec_path``
    (and ``corpus_dir``, default ``<spec dir>/corpus``); ``replay`` needs
    ``cassette_path`` (given ``spec_path`` too, a miss on an endpoint the cassette recorded is
    answered from its records through the spec, unless ``derive_replay_misses=False``); ``live``/``record`` passes through and writes
    ``cassette_path`` at exit (plus reports when a spec is given); ``hybrid``
    needs a spec and a cassette (``fallback_cassette`` or ``cassette_path``).
    """

    def __init__(
        self,
        mode: str | Mode = Mode.SIMULATE,
        cassette_path: str | Path | None = None,
        source: str | None = None,
        allow_missing_cassette: bool = False,
        ignore_query_params: list[str] | tuple[str, ...] | None = None,
        sample_size: int = 5,
        synthesize_count: int = 0,
        record: bool = True,
        spec_path: str | Path | None = None,
        corpus_dir: str | Path | None = None,
        *,
        fallback_cassette: str | Path | None = None,
        synthesize_future_records: bool = True,
        validate: bool = True,
        secrets: Iterable[str] = (),
        live_timeout: float | None = None,
        derive_replay_misses: bool = True,
    ) -> None:
        self.mode = Mode.parse(mode)
        self.source = source or ""
        self.cassette_path = (
            Path(cassette_path or fallback_cassette) if (cassette_path or fallback_cassette) else None
        )
        self.allow_missing_cassette = allow_missing_cassette
        self.ignore_query_params = frozenset(ignore_query_params or ())
        self.sample_size = sample_size
        self.synthesize_count = synthesize_count
        self.record = record
        self.spec_path = Path(spec_path) if spec_path else None
        self.corpus_dir = (
            Path(corpus_dir) if corpus_dir else (self.spec_path.parent / "corpus" if self.spec_path else None)
        )
        self.synthesize_future_records = synthesize_future_records
        self.validate = validate
        self.secrets = tuple(str(s) for s in secrets)  # record mode redacts these wherever they appear
        self.live_timeout = live_timeout
        self.derive_replay_misses = derive_replay_misses
        self.recording: Any = None  # record mode: the RecordingResult of the last exit
        self.trace = Trace()
        self.spec: Spec | None = None
        self.corpus: CorpusStore | None = None
        self._simulate: SimulateResponder | None = None
        self._replay: ReplayResponder | None = None
        self._derived_responder: DerivedResponder | None = None
        self._live: LiveResponder | None = None
        self._entered = False
        self._check_arguments()

    def _check_arguments(self) -> None:
        if self.mode in (Mode.SIMULATE, Mode.HYBRID) and self.spec_path is None:
            raise SimulatorConfigError(f"'{self.mode.value}' mode requires spec_path (and corpus_dir)")
        needs_cassette = self.mode in (Mode.REPLAY, Mode.HYBRID) or (self.mode is Mode.LIVE and self.record)
        if needs_cassette and self.cassette_path is None:
            raise SimulatorConfigError(f"'{self.mode.value}' mode requires cassette_path")

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Simulator:
        if self.spec_path is not None and self.mode in (Mode.SIMULATE, Mode.HYBRID, Mode.LIVE):
            self.spec = load_spec(self.spec_path, self.corpus_dir)
            self.corpus = CorpusStore(
                self.corpus_dir or self.spec.corpus_dir, display=display_path(self.corpus_dir)
            )
            self._simulate = SimulateResponder(
                self.spec,
                self.corpus,
                synthesize_future=self.synthesize_future_records and self.mode is not Mode.LIVE,
            )
        if self.mode in (Mode.REPLAY, Mode.HYBRID):
            assert self.cassette_path is not None
            if self.cassette_path.is_file():
                self._replay = ReplayResponder(
                    Cassette.load(self.cassette_path),
                    self.cassette_path,
                    self.ignore_query_params,
                    derive=self._derived if self.mode is Mode.REPLAY and self.derive_replay_misses else None,
                    synthesize_count=self.synthesize_count,
                )
            elif self.mode is Mode.REPLAY and not self.allow_missing_cassette:
                raise FileNotFoundError(
                    f"Cassette not found: {self.cassette_path}\n"
                    "  Fix: run with CONNECTOR_TEST_MODE=record first to create it."
                )
            else:
                self._replay = ReplayResponder(
                    Cassette(self.source), self.cassette_path, self.ignore_query_params
                )
        if self.mode is Mode.LIVE:
            self._live = LiveResponder(timeout_cap=self.live_timeout)
        interception.push(self)
        self._entered = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        interception.pop(self)
        if (
            self._entered
            and self.mode is Mode.LIVE
            and self.record
            and self._live
            and self._live.interactions
        ):
            from connector_watch.simulator import recording

            assert self.cassette_path is not None
            self.recording = recording.finish(
                recording.RecordingSession(
                    source=self.source,
                    cassette_path=self.cassette_path,
                    live=self._live,
                    spec=self.spec,
                    corpus=self.corpus,
                    simulate_request=self.simulate_request,
                    sample_size=self.sample_size,
                    ignore_query_params=self.ignore_query_params,
                    secrets=self.secrets,
                    validate=self.validate,
                )
            )
        self._entered = False

    # the public simulator exposed these names
    start = __enter__

    def stop(self) -> None:
        self.__exit__(None, None, None)

    # ------------------------------------------------------------------ dispatch
    def dispatch(
        self, request: SimRequest, prepared: Any, send_original: Callable[[], requests.Response]
    ) -> requests.Response:
        with _collect(self.trace):
            if self.mode is Mode.SIMULATE:
                assert self._simulate is not None
                return self._simulate.respond(request, prepared)
            if self.mode is Mode.REPLAY:
                assert self._replay is not None
                return self._replay.respond(request, prepared)
            if self.mode is Mode.HYBRID:
                assert self._simulate is not None and self._replay is not None
                if self._simulate.covers(request):
                    return self._simulate.respond(request, prepared)
                return self._replay.respond(request, prepared)
            assert self._live is not None
            return self._live.respond(request, prepared, send_original)

    # ------------------------------------------------------------------ helpers
    def _derived(self) -> DerivedResponder | None:
        """Replay's answers from the cassette's records through the spec (None without a loadable spec)."""
        if self._derived_responder is None and self._replay is not None and self.spec_path is not None:
            try:
                spec = load_spec(self.spec_path, self.corpus_dir, check_files=False)
            except (SpecError, OSError):
                return None  # the miss stays a miss; simulate mode reports the spec's errors
            self._derived_responder = DerivedResponder(
                spec, self._replay.cassette, display_path(self.cassette_path)
            )
        return self._derived_responder

    def simulate_request(self, request: SimRequest) -> requests.Response:
        """What simulate mode would answer (used by the live validator)."""
        if self._simulate is None:
            raise SimulatorConfigError("no spec loaded: pass spec_path to compare with the spec")
        return self._simulate.respond(request, None)

    @property
    def interactions(self) -> list[Any]:
        return self._live.interactions if self._live else []

    @property
    def future_indices(self) -> dict[str, set[int]]:
        return self._simulate.future_indices if self._simulate else {}


class _collect:
    """Adds this simulator's own trace to the active sinks while it answers one request."""

    def __init__(self, sink: Trace) -> None:
        self.sink = sink

    def __enter__(self) -> None:
        trace_module._sinks.append(self.sink)

    def __exit__(self, *exc: object) -> None:
        trace_module._sinks.remove(self.sink)
