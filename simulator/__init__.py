"""The source simulator: serve a connector's HTTP calls from a spec + corpus, a cassette, or the live API.

```python
from connector_watch.simulator import Simulator, Mode
```
See ``simulator/README.md`` for how the pieces fit and ``simulator/SPEC.md`` for ``endpoints.yaml``.
"""

from connector_watch.simulator.errors import (
    CorpusError,
    Issue,
    NoMatchingInteraction,
    SimulatorConfigError,
    SpecError,
    UnknownEndpoint,
)
from connector_watch.simulator.modes import (
    MODE_HYBRID,
    MODE_LIVE,
    MODE_RECORD,
    MODE_REPLAY,
    MODE_SIMULATE,
    Mode,
    mode_from_env,
)
from connector_watch.simulator.simulator import Simulator
from connector_watch.simulator.spec import Endpoint, Spec, check_spec, load_spec

__all__ = [
    "MODE_HYBRID",
    "MODE_LIVE",
    "MODE_RECORD",
    "MODE_REPLAY",
    "MODE_SIMULATE",
    "CorpusError",
    "Endpoint",
    "Issue",
    "Mode",
    "NoMatchingInteraction",
    "Simulator",
    "SimulatorConfigError",
    "Spec",
    "SpecError",
    "UnknownEndpoint",
    "check_spec",
    "load_spec",
    "mode_from_env",
]
