"""Time as the security core sees it: injected, so tests move it instead of sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch, as a float."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock; the only clock production uses."""

    def now(self) -> float:
        return time.time()


SYSTEM_CLOCK = SystemClock()
