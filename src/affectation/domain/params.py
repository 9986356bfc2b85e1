"""Scenario parameters: every setting, its default, read table by table from scenario.toml.

Each TOML table maps to one frozen dataclass. A key the engine does not know is an error, so
that a typo never passes silently (spec: scenario.toml).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from affectation.errors import Problem

ISO_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")

# Ranges of the values read from files and options: beyond them a value is a typo or a unit
# error, and integers beyond them would wrap when cast (1e20 seats becoming negative).
MAX_SEED = 2**31 - 1  # CP-SAT's random seed is a 32-bit integer
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0  # a week
MAX_CAPACITY = 100_000  # seats of one offer in one week
MAX_MINUTES = 24 * 60.0  # a travel time or limit, one way
MAX_SPEED_KMH = 1000.0
MAX_DETOUR = 10.0
MAX_WORKERS = 256


@dataclass(frozen=True)
class ScenarioInfo:
    """`[scenario]`: the campaign's name and its two consecutive ISO weeks."""

    name: str
    weeks: tuple[str, str]
    format: int = 1


@dataclass(frozen=True)
class InputsParams:
    """`[inputs]`: input files, resolved against the scenario file's folder."""

    students: Path
    offers: Path
    conventions: Path | None = None
    # Beyond the v1 spec: pairings (student_id, offer_id) never to be proposed again.
    exclusions: Path | None = None
    # Beyond the v1 spec: agreements sent but not yet signed (conventions format, written by
    # `campaign conventions`); kept like signed ones unless `[repair] free_pending`.
    pending: Path | None = None


@dataclass(frozen=True)
class ModeParams:
    """`[travel.modes.NAME]`: the crowfly model's four parameters for one travel mode."""

    speed_kmh: float
    detour: float
    access_minutes: float
    max_minutes: float


@dataclass(frozen=True)
class FeedParams:
    """One GTFS feed of `[travel.gtfs] feeds`: a zip or folder, and a whole number of weeks
    its dates move by (an old feed reused for a later campaign; weekdays are kept)."""

    path: Path
    shift_weeks: int = 0


@dataclass(frozen=True)
class AddedLine:
    """`[[travel.gtfs.added_lines]]`: a "what if" line on top of the feeds: its stops are
    commune centroids (INSEE codes, in order), `departures` the times it leaves the first
    stop ("HH:MM"), `minutes` the running time between consecutive stops; it runs every
    weekday, in both directions when `both_directions`."""

    name: str
    communes: tuple[str, ...]
    departures: tuple[int, ...]  # seconds after midnight
    minutes: tuple[float, ...]
    both_directions: bool = True


@dataclass(frozen=True)
class GtfsParams:
    """`[travel.gtfs]`: public-transport timetables for the modes in `modes` (see transit.py).

    `arrive_by`/`leave_after` are seconds after midnight; a pupil walks `walk_kmh` in a
    straight line, at most `max_walk_m` to or from a stop (and may walk the whole way when
    the site is that close); at most `max_transfers` changes of vehicle, each taking at least
    `min_transfer_minutes`; the whole morning journey lies within `window_minutes` before
    `arrive_by`, the evening one within `window_minutes` after `leave_after`; homes are
    grouped into square cells of `zone_m` metres (walks start from the cell's centre).
    """

    feeds: tuple[FeedParams, ...]
    modes: tuple[str, ...]
    arrive_by: int = 9 * 3600
    leave_after: int = 16 * 3600 + 30 * 60
    walk_kmh: float = 4.5
    max_walk_m: float = 1000.0
    max_transfers: int = 2
    min_transfer_minutes: float = 2.0
    window_minutes: float = 120.0
    zone_m: float = 200.0
    added_lines: tuple[AddedLine, ...] = ()


@dataclass(frozen=True)
class MatrixParams:
    """`[travel.matrix]`: a CSV of zone-to-zone minutes (`origin,destination,minutes`) for
    the modes in `modes` (default: every mode); zones are INSEE commune codes, or the
    optional `zone` column of students and offers."""

    file: Path
    modes: tuple[str, ...]


@dataclass(frozen=True)
class TravelParams:
    """`[travel]`: which model computes travel minutes, and the modes pupils may use."""

    model: str
    default_mode: str
    modes: dict[str, ModeParams]
    gtfs: GtfsParams | None = None
    matrix: MatrixParams | None = None

    @property
    def mode_names(self) -> tuple[str, ...]:
        return tuple(self.modes)


@dataclass(frozen=True)
class RulesParams:
    """`[rules]`: optional placement rules.

    `split_two_week_offers`: when false (default), an offer open for both weeks hosts each
    of its pupils for both weeks; only one-week offers (period 1 or 2) take one-week stays
    (in a split or a partial placement). When true, a two-week offer may also host a pupil
    for one week only.
    """

    split_two_week_offers: bool = False


EQUITY_TERRITORIES = ("epci", "department")
EQUITY_LEVELS = ("after_total", "before_total")


@dataclass(frozen=True)
class EquityParams:
    """`[equity]`: optional equal-opportunity rules (priority pupils first is always on).

    `max_min_schools`: maximise the lowest placement rate (pupils placed for both weeks over
    pupils to place) among schools, then the next lowest, and so on (leximin).
    `max_min_territories`: the same among the territories of the pupils' homes, `"epci"` or
    `"department"` (empty: off). One grouping at a time: schools or territories.
    `max_min_level`: where that level sits in the objective: `"after_total"` (default: among
    allocations placing the most pupils) or `"before_total"` (the lowest rate may cost total
    placements). Always below level 1 (priority pupils placed).
    `short_trips_for_priority`: weight of a priority pupil's travel minutes in the travel
    level of the objective (1 = like everyone; 2 = each of their minutes counts double).
    """

    max_min_schools: bool = False
    max_min_territories: str = ""
    max_min_level: str = "after_total"
    short_trips_for_priority: float = 1.0

    @property
    def max_min_groups(self) -> str:
        """The grouping levelled by the max-min rule: "school", a territory, or ""."""
        return "school" if self.max_min_schools else self.max_min_territories


@dataclass(frozen=True)
class SolverParams:
    """`[solver]`: the time budget of the whole solve step, the seed and CP-SAT workers.

    One worker (default) keeps results byte-identical for a seed; more workers let CP-SAT
    search in parallel, and runs with the same seed may then differ (never in validity).
    """

    time_limit_s: float = 600.0
    seed: int = 0
    workers: int = 1


REPAIR_MOVE_LEVELS = ("after_priority", "after_total", "after_partial")


@dataclass(frozen=True)
class RepairParams:
    """`[repair]`: how `affectation repair` weighs moving pupils already placed.

    `move_level`: the objective level right after which the number of moved pupils is
    minimised. `after_total` (default): moving placed pupils is worth it only to place one more
    pupil for both weeks (priority pupils first); `after_priority`: only to place one more
    priority pupil; `after_partial`: also to give a pupil one more week. `freeze_placed`: no
    placed pupil ever moves (only free seats are used). `free_pending`: the agreements of
    `[inputs] pending` (sent, not yet signed) are ordinary placements that a run may move;
    by default (false) every run keeps them like signed conventions. `priority_may_displace`:
    a priority pupil may take the two-week seat of an unsigned, non-priority pupil who cannot
    be moved elsewhere, who then loses it (default false: a repair never unplaces a placed
    pupil).
    """

    move_level: str = "after_total"
    freeze_placed: bool = False
    free_pending: bool = False
    priority_may_displace: bool = False


@dataclass(frozen=True)
class OutputParams:
    """`[output]`: the language of what users read (reasons, explanations)."""

    language: str = "fr"


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file, its tables as parameter objects."""

    path: Path
    scenario: ScenarioInfo
    inputs: InputsParams
    travel: TravelParams
    rules: RulesParams = field(default_factory=RulesParams)
    equity: EquityParams = field(default_factory=EquityParams)
    solver: SolverParams = field(default_factory=SolverParams)
    output: OutputParams = field(default_factory=OutputParams)
    repair: RepairParams = field(default_factory=RepairParams)

    @property
    def name(self) -> str:
        return self.scenario.name


def valid_weeks(weeks: Any) -> bool:
    """Two consecutive ISO weeks ("2026-W25", "2026-W26"), as [scenario] weeks must be."""
    if not isinstance(weeks, list) or len(weeks) != 2:
        return False
    if not all(isinstance(w, str) and ISO_WEEK.match(w) for w in weeks):
        return False
    (y1, w1), (y2, w2) = ((int(w[:4]), int(w[6:])) for w in weeks)
    try:
        first = date.fromisocalendar(y1, w1, 1)
        second = date.fromisocalendar(y2, w2, 1)
    except ValueError:
        return False
    return second - first == timedelta(days=7)


TRAVEL_MODELS = ("crowfly", "gtfs", "matrix")


def option_problems(time_limit: float | None = None, seed: int | None = None) -> list[Problem]:
    """The command-line options `--time-limit` and `--seed` out of range, as problems."""
    problems: list[Problem] = []
    if time_limit is not None and not (math.isfinite(time_limit)
                                       and 0 < time_limit <= MAX_TIME_LIMIT_S):
        problems.append(Problem("--time-limit", f"un nombre de secondes > 0 et <= "
                                f"{MAX_TIME_LIMIT_S:.0f} (une semaine)", value=str(time_limit)))
    if seed is not None and not 0 <= seed <= MAX_SEED:
        problems.append(Problem("--seed", f"un entier entre 0 et {MAX_SEED}", value=str(seed)))
    return problems
