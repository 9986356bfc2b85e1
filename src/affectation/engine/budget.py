"""Work budgets, and the wall-clock safety net.

Every stage of a solve is bounded by work, never by the clock: flows run to their optimum,
CP-SAT stops at a deterministic time (its own measure of work, the same on any machine),
HiGHS at a number of branch-and-bound nodes and simplex iterations, the neighbourhood search
after a number of neighbourhoods, the chains of moves after a number of passes. Which stages
run, and with what budget, follows from the instance's size and the time limit alone. So the
same inputs, seed and time limit give the same allocation on any machine, however loaded.

The time limit stays as a safety net: a `Deadline` is checked between units of work (and
given to CP-SAT and HiGHS as their wall-clock limit). When it fires, the stage stops early,
`fired` is set, and the summary and the console say that the result depends on the machine's
speed. On this project's reference machine (2 cores, `speed-index` 5.0) the default budgets
keep a Normandy-scale instance well within the default limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Deadline:
    """The wall-clock safety net: `at` is a `time.perf_counter()` instant."""

    at: float
    fired: bool = False
    stages: list[str] = field(default_factory=list)

    def passed(self, stage: str = "") -> bool:
        """Whether the deadline has passed (then remembered as fired, with the stage)."""
        if time.perf_counter() >= self.at:
            self.fire(stage)
        return self.fired

    def fire(self, stage: str = "") -> None:
        """Record that the safety net stopped `stage` (a solver hit its wall-clock limit)."""
        self.fired = True
        if stage and stage not in self.stages:
            self.stages.append(stage)

    def left(self) -> float:
        """Seconds left (never below a small positive floor, for solvers' limits)."""
        return max(0.05, self.at - time.perf_counter())


def never() -> Deadline:
    """A deadline that does not fire (tests, and callers without a time limit)."""
    return Deadline(float("inf"))
