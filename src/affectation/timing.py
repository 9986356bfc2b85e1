"""Stage timings, as `summary.json` reports them, and the progress a long command shows.

`Laps` closes each stage of a run: its wall seconds (`timings`), its process CPU seconds
(`cpu_seconds`: a steadier measure than wall time on a machine shared with other work) and,
through a `Progress`, an event the command line prints on stderr as the stage ends. The
library never prints: it reports to a `Progress`, and the command line renders (or silences)
what it is told. Every figure a stage reports is a plain number (the renderer words it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping


class Progress:
    """Receives what a run is doing; this base class ignores everything (a quiet run).

    `stage(name, seconds, figures)`: stage `name` has just ended after `seconds` (wall),
    with its figures so far (e.g. {"upper_bound_full": 22961}). `step(name, done, total)`:
    within stage `name`, `done` units of work out of `total` (a progress bar's position).
    `note(name, figures)`: something the user should know (e.g. the wall-clock limit fired).
    """

    def stage(self, name: str, seconds: float, figures: Mapping[str, float | int | str]) -> None:
        """A stage ended."""

    def step(self, name: str, done: int, total: int) -> None:
        """Work done within a long stage."""

    def note(self, name: str, figures: Mapping[str, float | int | str]) -> None:
        """An event worth telling (see the class docstring)."""


QUIET = Progress()


class Laps:
    """Seconds spent in each stage: `lap(name)` closes the stage that ends now, reports it to
    `progress` with its figures, and records its wall and CPU seconds."""

    def __init__(self, progress: Progress | None = None, clock: float | None = None) -> None:
        self.start = time.perf_counter() if clock is None else clock
        self._last = time.perf_counter()
        self._last_cpu = time.process_time()
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.progress = QUIET if progress is None else progress

    def lap(self, name: str, **figures: float | int | str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self._last, 3)
        self.cpu[name] = round(self.cpu.get(name, 0.0) + cpu - self._last_cpu, 3)
        self.progress.stage(name, now - self._last, figures)
        self._last, self._last_cpu = now, cpu
