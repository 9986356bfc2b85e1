"""Stage timings, as `summary.json` reports them (`timings`: seconds per stage)."""

from __future__ import annotations

import time


class Laps:
    """Seconds spent in each stage: `lap(name)` closes the stage that ends now."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self._last = self.start
        self.timings: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._last, 3)
        self._last = now
