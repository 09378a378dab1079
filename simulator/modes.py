"""Simulator modes and how ``CONNECTOR_TEST_MODE`` selects one."""

from __future__ import annotations

import os
from enum import Enum

from connector_watch.simulator.errors import SimulatorConfigError

ENV_VAR = "CONNECTOR_TEST_MODE"


class Mode(str, Enum):
    """How the simulator answers requests.

    ``SIMULATE``: from the spec and corpus. ``REPLAY``: from a cassette.
    ``LIVE``: pass through to the real API, recording a cassette (``RECORD`` is
    the same mode under its other name). ``HYBRID``: the spec where it covers a
    request, the cassette elsewhere.
    """

    SIMULATE = "simulate"
    REPLAY = "replay"
    LIVE = "live"
    HYBRID = "hybrid"
    RECORD = "live"  # an alias: Mode.RECORD is Mode.LIVE

    @classmethod
    def _missing_(cls, value: object) -> Mode | None:
        if isinstance(value, str):
            text = value.strip().lower()
            if text == "record":
                return cls.LIVE
            for member in cls:
                if member.value == text:
                    return member
        return None

    @classmethod
    def parse(cls, value: str | Mode, *, origin: str = "mode") -> Mode:
        try:
            return cls(value)
        except ValueError:
            names = ["simulate", "replay", "record", "live", "hybrid"]
            raise SimulatorConfigError(f"Invalid {origin}={value!r}. Expected one of: {names}")


MODE_SIMULATE = Mode.SIMULATE.value
MODE_REPLAY = Mode.REPLAY.value
MODE_LIVE = Mode.LIVE.value
MODE_RECORD = "record"
MODE_HYBRID = Mode.HYBRID.value


def mode_from_env(default: Mode | None = None) -> Mode | None:
    """The mode ``CONNECTOR_TEST_MODE`` asks for, or ``default`` when it is unset or empty."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return default
    return Mode.parse(raw, origin=ENV_VAR)
