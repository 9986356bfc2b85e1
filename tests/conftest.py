"""Shared helpers: small hand-built scenarios in `tmp_path`, solving them through the CLI and
checking the result, and an independent brute force over tiny instances.

Everything here re-derives the rules from the spec (docs: formats.md), never from the
solver's code, so that a solver bug cannot hide itself in the tests.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import settings
from pyproj import Geod

from affectation.analysis.check import Violation, check_allocation, check_files
from affectation.cli import main
from affectation.domain.allocation import classify
from affectation.domain.instance import Instance
from affectation.travel.reach import exact_minutes

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"  # one folder per malformed input, and good and sample files
REPO = TESTS.parent
# The steering repository's shared data (real feeds, reference geography): present in CI,
# absent on a bare clone, where the tests that read it skip (`shared_file`).
SHARED = REPO.parent / "shared" / "data"
# Continuous integration (`.ci/run` exports CI=true): ../shared must be there.
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# Hypothesis. Every run draws new examples from a seed, and a failure is replayable:
# - `bash scripts/test.sh` (and so CI) passes `--hypothesis-seed`: $HYPOTHESIS_SEED when set,
#   else a number derived from the commit being tested. A rerun of one commit replays the
#   same examples (a red CI stays red until fixed); each new commit explores new ones. The
#   seed is printed in the session header ("hypothesis seed: N"); replay a failure with
#   `HYPOTHESIS_SEED=N bash scripts/test.sh` or `pytest --hypothesis-seed=N tests/...`.
# - A plain `pytest` draws a fresh seed each run; hypothesis prints the seed to replay
#   with, and the `@reproduce_failure` blob (`print_blob`), on a failure.
# - A failure found this way is to be added as an `@example` of its test, so that it is
#   checked on every run whatever the seed.
# - No example database: none is committed (it would change as tests run) and none is kept
#   locally, so a local run never silently replays old failures that CI would not see.
# This profile replaces hypothesis' own "ci" profile, which derandomises when CI is set: CI
# would replay the same few examples forever.
settings.register_profile("affectation", database=None, derandomize=False, print_blob=True)
settings.load_profile("affectation")


def pytest_report_header(config: pytest.Config) -> list[str]:
    seed = config.getoption("hypothesis_seed", default=None)
    shown = seed if seed is not None else "random (shown on a failure)"
    return [f"hypothesis seed: {shown}; CI: {IN_CI}; shared data: "
            f"{SHARED if SHARED.is_dir() else 'absent'}"]


def shared_file(*parts: str) -> Path:
    """The file `parts` of ../shared/data, which a test reads: skip where it is absent, but
    fail in CI (CI=true), where ../shared is present and a silent skip would hide a test that
    no longer runs. Call it for every file a test reads there."""
    path = SHARED.joinpath(*parts)
    if not path.is_file():
        message = f"shared data absent: {path} (../shared/data, never copied into the repository)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: the shared data must be present", pytrace=False)
        pytest.skip(message)
    return path

GEOD = Geod(ellps="WGS84")
CAEN = (49.18, -0.37)
SCHOOL = "0140052F"

# Explicit travel parameters for the hand-built scenarios. With `public` the radius is
# (30 - 5) * 20 / (60 * 1.25) = 6.67 km: offsets of 0.01-0.05 degrees around Caen are within
# reach, an offset of 0.1 degree of latitude (11 km) is not.
PUBLIC = {"speed_kmh": 20.0, "detour": 1.25, "access_minutes": 5.0, "max_minutes": 30.0}
CAR = {"speed_kmh": 50.0, "detour": 1.3, "access_minutes": 5.0, "max_minutes": 30.0}
MODES = {"public": PUBLIC, "car": CAR}

STUDENT_COLUMNS = ("student_id", "school_id", "lat", "lon", "mode", "max_minutes", "priority",
                   "sectors", "status", "needs_accessible")
OFFER_COLUMNS = ("offer_id", "employer_id", "employer_name", "lat", "lon", "capacity", "period",
                 "sector", "reserved", "pair_id", "min_group", "accessible")
CONVENTION_COLUMNS = ("student_id", "offer_id", "week")


def near(dlat: float = 0.0, dlon: float = 0.0) -> dict[str, float]:
    """Coordinates `dlat`, `dlon` degrees away from central Caen."""
    return {"lat": round(CAEN[0] + dlat, 6), "lon": round(CAEN[1] + dlon, 6)}


def radius_km(minutes: float, mode: dict[str, float]) -> float:
    """Geodesic km giving exactly `minutes` one way with the crowfly `mode` (spec formula)."""
    return (minutes - mode["access_minutes"]) * mode["speed_kmh"] / (60.0 * mode["detour"])


def point_at(lat: float, lon: float, km: float, azimuth: float = 90.0) -> dict[str, float]:
    """The point `km` along the WGS84 geodesic from (lat, lon) at `azimuth` degrees."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, km * 1000.0)
    return {"lat": float(lat2), "lon": float(lon2)}


def crowfly_minutes(lat1: float, lon1: float, lat2: float, lon2: float,
                    mode: dict[str, float]) -> float:
    """The spec's crowfly minutes, computed here with pyproj directly."""
    _, _, metres = GEOD.inv(lon1, lat1, lon2, lat2)
    km = metres / 1000.0
    return mode["access_minutes"] + mode["detour"] * km / mode["speed_kmh"] * 60.0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return "|".join(value)
    return str(value)


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str],
              required: Sequence[str] = ()) -> None:
    """Write `rows` with the known `columns` that any row uses, and the `required` ones."""
    used = [c for c in columns if c in required or any(c in r for r in rows)]
    extra = sorted({k for r in rows for k in r} - set(columns))
    if extra:
        raise ValueError(f"unknown columns {extra}")
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(used)
        for r in rows:
            writer.writerow([_cell(r.get(c)) for c in used])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def _toml_table(name: str, table: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def make_scenario(
    tmp_path: Path,
    students: Sequence[dict[str, Any]],
    offers: Sequence[dict[str, Any]],
    conventions: Sequence[dict[str, Any]] | None = None,
    rules: dict[str, Any] | None = None,
    modes: dict[str, dict[str, float]] | None = None,
    default_mode: str = "public",
    output: dict[str, Any] | None = None,
    solver: dict[str, Any] | None = None,
    equity: dict[str, Any] | None = None,
    name: str = "test",
    folder: str = "scenario",
    exclusions: Sequence[dict[str, Any]] | None = None,
) -> Path:
    """Write students.csv, offers.csv, (conventions.csv) and scenario.toml; return the toml path.

    Student rows default to school 0140052F at central Caen; offer rows to central Caen.
    Travel parameters are explicit: `modes` (default `MODES`) and `default_mode`.
    """
    base = tmp_path / folder
    base.mkdir(parents=True, exist_ok=True)
    student_rows = [{"school_id": SCHOOL, **near(), **s} for s in students]
    offer_rows = [{**near(), **o} for o in offers]
    write_csv(base / "students.csv", student_rows, STUDENT_COLUMNS)
    write_csv(base / "offers.csv", offer_rows, OFFER_COLUMNS)
    inputs = {"students": "students.csv", "offers": "offers.csv"}
    if conventions is not None:
        write_csv(base / "conventions.csv", list(conventions), CONVENTION_COLUMNS,
                  required=("student_id", "offer_id"))
        inputs["conventions"] = "conventions.csv"
    if exclusions is not None:
        write_csv(base / "exclusions.csv", list(exclusions), ("student_id", "offer_id"),
                  required=("student_id", "offer_id"))
        inputs["exclusions"] = "exclusions.csv"
    text = _toml_table("scenario", {"name": name, "weeks": ["2026-W25", "2026-W26"]})
    text += "\n" + _toml_table("inputs", inputs)
    text += "\n" + _toml_table("travel", {"model": "crowfly", "default_mode": default_mode})
    for mode, params in (modes or MODES).items():
        text += "\n" + _toml_table(f"travel.modes.{mode}", params)
    if rules:
        text += "\n" + _toml_table("rules", rules)
    if equity:
        text += "\n" + _toml_table("equity", equity)
    text += "\n" + _toml_table("solver", {"time_limit_s": 5.0, "seed": 0, **(solver or {})})
    if output:
        text += "\n" + _toml_table("output", output)
    path = base / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Outcome:
    """What `affectation solve` wrote, read back: rows per pupil (input order) and summary."""

    out: Path
    rows: dict[str, dict[str, str]]
    order: list[str]
    summary: dict[str, Any]
    violations: list[Violation]

    def weeks(self, sid: str) -> tuple[str, str]:
        r = self.rows[sid]
        return r["week1_offer_id"], r["week2_offer_id"]

    def kind(self, sid: str) -> str:
        return self.rows[sid]["kind"]

    def reason(self, sid: str) -> str:
        return self.rows[sid]["reason"]


def read_assignments(path: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {r["student_id"]: r for r in rows}, [r["student_id"] for r in rows]


def solve_cli(scenario: Path, out: Path | None = None, time_limit: float = 5.0, seed: int = 0,
              check: bool = True) -> Outcome:
    """Run `affectation solve` in-process, read the results, and run the independent checker.

    With `check`, the test fails on any violation of the hard rules.
    """
    out = out if out is not None else scenario.parent / "out"
    result = CliRunner().invoke(main, ["solve", str(scenario), "--out", str(out),
                                       "--time-limit", str(time_limit), "--seed", str(seed)])
    assert result.exit_code == 0, (result.output, result.exception)
    rows, order = read_assignments(out / "assignments.csv")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    violations = check_files(scenario, out / "assignments.csv")
    if check:
        assert violations == [], "\n".join(map(str, violations))
    return Outcome(out=out, rows=rows, order=order, summary=summary, violations=violations)


def table_from_week(instance: Instance, allocation: np.ndarray) -> pd.DataFrame:
    """An assignments table (as the checker reads it) for an allocation array."""
    st, of = instance.students, instance.offers
    kind = classify(instance, allocation)
    cols: dict[str, list[str]] = {c: [] for c in (
        "student_id", "school_id", "week1_offer_id", "week2_offer_id",
        "week1_minutes", "week2_minutes", "kind", "reason")}
    for i in range(st.n):
        cols["student_id"].append(str(st.ids[i]))
        cols["school_id"].append(str(st.school[i]))
        for w in (0, 1):
            o = int(allocation[i, w])
            cols[f"week{w + 1}_offer_id"].append(str(of.ids[o]) if o >= 0 else "")
            m = exact_minutes(instance, np.array([i]), np.array([o]))[0] if o >= 0 else None
            cols[f"week{w + 1}_minutes"].append(f"{m:.1f}" if m is not None else "")
        cols["kind"].append(str(kind[i]))
        cols["reason"].append("raison" if kind[i] in ("partial", "unplaced") else "")
    return pd.DataFrame(cols)


def check_week(instance: Instance, allocation: np.ndarray) -> list[Violation]:
    """The independent checker's verdict on an allocation array."""
    return check_allocation(instance, table_from_week(instance, allocation))


# -- Independent brute force over tiny instances ---------------------------------------------


def independent_usable(instance: Instance) -> np.ndarray:
    """(students, offers) bool: within the pupil's travel limit (pyproj, spec formula), offer
    not withdrawn, a reserved offer only for a priority pupil, and an offer not marked
    accessible only for a pupil who does not need accessibility."""
    st, of = instance.students, instance.offers
    modes = instance.scenario.travel.modes
    names = instance.scenario.travel.mode_names
    out = np.zeros((st.n, of.n), dtype=bool)
    for s in range(st.n):
        mode = modes[names[st.mode[s]]]
        params = {"speed_kmh": mode.speed_kmh, "detour": mode.detour,
                  "access_minutes": mode.access_minutes}
        limit = min(mode.max_minutes, float(st.max_minutes[s]))
        for o in range(of.n):
            minutes = crowfly_minutes(st.lat[s], st.lon[s], of.lat[o], of.lon[o], params)
            out[s, o] = (minutes <= limit and of.capacity[o] > 0
                         and (not of.reserved[o] or bool(st.priority[s]))
                         and (of.accessible[o] or not st.needs_accessible[s]))
    return out


def _open(instance: Instance) -> np.ndarray:
    of = instance.offers
    running = of.capacity > 0
    return np.stack([running & (of.period != 2), running & (of.period != 1)], axis=1)


def pupil_options(instance: Instance, usable: np.ndarray, s: int) -> list[tuple[int, int]]:
    """Every (week-1 offer, week-2 offer) that pupil `s` may have, capacities aside."""
    st, of = instance.students, instance.offers
    if st.status[s] != "":
        return [(-1, -1)]
    fixed = instance.fixed[s]
    open_w = _open(instance)
    partner = np.full(of.n, -1)
    for a, b in instance.pairs.offers:
        partner[a], partner[b] = b, a
    split_rule = instance.scenario.rules.split_two_week_offers
    two_week = open_w.all(axis=1) & (of.pair < 0)

    def week_ok(o: int, other: int, w: int) -> bool:
        """Offer `o` in week w+1 (`other` the other week's offer) for pupil `s`."""
        if o < 0:
            return True
        signed = fixed[w] == o
        if not open_w[o, w] or not (signed or usable[s, o]):
            return False  # closed that week, out of reach or reserved (unless signed)
        if of.pair[o] >= 0:
            return other == partner[o]  # the pair's partner the other week
        # A two-week offer hosts a one-week stay only when signed or when the rule allows it.
        return split_rule or not two_week[o] or other == o or signed

    out = []
    choices = [-1, *range(of.n)]
    for o1 in choices:
        for o2 in choices:
            allocation = (o1, o2)
            if any(fixed[w] >= 0 and allocation[w] != fixed[w] for w in (0, 1)):
                continue
            if all(week_ok(allocation[w], allocation[1 - w], w) for w in (0, 1)):
                out.append(allocation)
    return out


def option_score(instance: Instance, s: int, weeks: tuple[int, int]) -> tuple[int, int, int, int]:
    """Levels 1-4 of the objective for one pupil: (priority full, full, partial, -split)."""
    of = instance.offers
    a, b = weeks
    full = a >= 0 and b >= 0
    partial = (a >= 0) != (b >= 0)
    split = full and a != b and not (of.pair[a] >= 0 and of.pair[a] == of.pair[b])
    prio = bool(instance.students.priority[s])
    return (int(full and prio), int(full), int(partial), -int(split))


def score_of(instance: Instance, allocation: np.ndarray) -> tuple[int, ...]:
    total = np.zeros(4, dtype=np.int64)
    for s in range(instance.students.n):
        total += option_score(instance, s, (int(allocation[s, 0]), int(allocation[s, 1])))
    return tuple(int(x) for x in total)


def brute_force(instance: Instance, key: Iterable[int] = (0, 1, 2, 3)
                ) -> tuple[tuple[int, ...], np.ndarray]:
    """The best valid allocation for the score levels `key` (a lexicographic order), exactly.

    Depth-first over every pupil's options with capacities, `min_group` checked at the leaves;
    branches that cannot beat the best found (sum of each pupil's best option) are cut.
    """
    key = tuple(key)
    st, of = instance.students, instance.offers
    usable = independent_usable(instance)
    cap = of.capacity[:, None] * _open(instance)
    pupils = list(range(st.n))
    options = []
    for s in pupils:
        opts = pupil_options(instance, usable, s)
        scored = [(tuple(option_score(instance, s, o)[k] for k in key), o) for o in opts]
        scored.sort(key=lambda t: t[0], reverse=True)
        options.append(scored)
    zero = tuple(0 for _ in key)

    def add(x: tuple[int, ...], y: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(a + b for a, b in zip(x, y, strict=True))

    # rest[i]: the best the pupils from i on can add.
    rest = [zero] * (st.n + 1)
    for i in range(st.n - 1, -1, -1):
        rest[i] = add(rest[i + 1], options[i][0][0]) if options[i] else rest[i + 1]
    used = np.zeros_like(cap)
    current = np.full((st.n, 2), -1, dtype=np.int64)
    best: list[Any] = [None, None]
    min_group = instance.pairs.min_group

    def leaf_ok() -> bool:
        if instance.pairs.n == 0:
            return True
        pair = np.where(current[:, 0] >= 0, of.pair[np.maximum(current[:, 0], 0)], -1)
        count = np.bincount(pair[pair >= 0], minlength=instance.pairs.n)
        return bool(np.all((count == 0) | (count >= min_group)))

    def dfs(i: int, score: tuple[int, ...]) -> None:
        if best[0] is not None and add(score, rest[i]) <= best[0]:
            return
        if i == st.n:
            if leaf_ok():
                best[0], best[1] = score, current.copy()
            return
        for value, (a, b) in options[i]:
            if (a >= 0 and used[a, 0] >= cap[a, 0]) or (b >= 0 and used[b, 1] >= cap[b, 1]):
                continue
            if a >= 0:
                used[a, 0] += 1
            if b >= 0:
                used[b, 1] += 1
            current[i] = (a, b)
            dfs(i + 1, add(score, value))
            current[i] = (-1, -1)
            if a >= 0:
                used[a, 0] -= 1
            if b >= 0:
                used[b, 1] -= 1

    dfs(0, zero)
    assert best[0] is not None, "no valid allocation at all (conventions should give one)"
    return best[0], best[1]


# -- Random small scenarios (hypothesis) -----------------------------------------------------


def aim_at_contention(inst: Instance, best: tuple[int, ...], best_week: np.ndarray) -> None:
    """Steer hypothesis towards cases where the optimum is a real choice: pupils who could be
    placed for both weeks alone but are not (contention), and optima using splits, partial
    placements and mutualised pairs."""
    from hypothesis import target

    usable = independent_usable(inst)
    alone = sum(any(a >= 0 and b >= 0 for a, b in pupil_options(inst, usable, s))
                for s in range(inst.students.n))
    target(float(alone - best[1]), label="pupils left out by contention")
    of = inst.offers
    first = best_week[:, 0]
    paired = int(((first >= 0) & (of.pair[np.maximum(first, 0)] >= 0)).sum())
    target(float(best[2] - best[3] + paired), label="partials, splits and pairs in the optimum")


def random_case(draw: Any, n_students: tuple[int, int] = (3, 15),
                n_offers: tuple[int, int] = (2, 8), pairs: bool = True,
                conventions: bool = True) -> dict[str, Any]:
    """Keyword arguments of `make_scenario` for a random, valid small scenario that bites.

    `draw` is hypothesis' draw function (use inside `st.composite`). The draws favour
    contention, where a wrong rule or a weak search shows: pupils and four offers in five lie
    within 0.03 degree of Caen (at most 8 km apart, mostly within a public-transport pupil's
    6.7 km), the fifth within 0.08 degree (often out of reach); capacities are mostly 1 or 2
    (seats are often fewer than pupils); a third of the offers run one week only (splits and
    partial placements); with `pairs`, half the cases have a mutualised pair, half of those
    with a minimum group of 2 or 3; a third of the pupils are priority pupils. Conventions are
    built valid (open week, capacity, reserved, accessible, one offer per week, pairs' implied
    week). Shrinking goes towards Caen, capacity 1, two-week offers, no pair.
    """
    from hypothesis import strategies as st

    def coord(spread: float) -> Any:
        return st.floats(-spread, spread, allow_nan=False).map(lambda x: round(x, 4))

    near_caen, wide = coord(0.03), coord(0.08)
    n_s = draw(st.integers(*n_students))
    n_o = draw(st.integers(*n_offers))
    students = []
    for i in range(n_s):
        row: dict[str, Any] = {"student_id": f"S{i}", **near(draw(near_caen), draw(near_caen))}
        row["mode"] = draw(st.sampled_from(["public", "public", "car"]))
        if draw(st.integers(0, 4)) == 0:
            row["max_minutes"] = draw(st.integers(8, 40))
        row["priority"] = draw(st.integers(0, 2)) == 2
        row["needs_accessible"] = draw(st.integers(0, 5)) == 5
        row["status"] = draw(st.sampled_from(["", "", "", "", "", "", "", "self_placed",
                                              "exempt"]))
        students.append(row)
    if all(s["status"] for s in students):
        students[0]["status"] = ""  # no pupil to place is an input error (issue 18)
    offers = []
    for j in range(n_o):
        spread = wide if draw(st.integers(0, 4)) == 4 else near_caen
        offers.append({"offer_id": f"O{j}", **near(draw(spread), draw(spread)),
                       "capacity": draw(st.sampled_from([1, 1, 2, 1, 3, 0])),
                       "period": draw(st.sampled_from([0, 1, 2, 0, 2, 1])),
                       "reserved": draw(st.integers(0, 5)) == 5,
                       "accessible": draw(st.integers(0, 3)) != 3})
    if pairs and n_o >= 3 and draw(st.booleans()):
        a, b = offers[-2], offers[-1]
        a["pair_id"] = b["pair_id"] = "M"
        if draw(st.booleans()):
            a["min_group"] = draw(st.integers(2, 3))
        # Periods must allow a direction (the input layer refuses incompatible ones).
        ok = {(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (1, 2), (2, 1)}
        if (a["period"], b["period"]) not in ok:
            b["period"] = 0
        a["capacity"] = max(a["capacity"], 1)
        b["capacity"] = max(b["capacity"], 1)
    rows: list[dict[str, Any]] = []
    if conventions:
        rows = _random_conventions(draw, students, offers)
    rules = {"split_two_week_offers": draw(st.booleans())}
    return {"students": students, "offers": offers, "conventions": rows, "rules": rules}


def _random_conventions(draw: Any, students: list[dict[str, Any]],
                        offers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from hypothesis import strategies as st

    used: dict[tuple[int, int], int] = {}
    partner = {}
    paired = [j for j, o in enumerate(offers) if o.get("pair_id")]
    if len(paired) == 2:
        partner = {paired[0]: paired[1], paired[1]: paired[0]}
    min_group = max(int(offers[j].get("min_group", 0)) for j in paired) if paired else 0

    def open_in(j: int, w: int) -> bool:
        o = offers[j]
        return o["capacity"] > 0 and o["period"] != (2 if w == 1 else 1)

    rows = []
    for s in students:
        if s["status"] or draw(st.integers(0, 3)) != 0:
            continue
        j = draw(st.integers(0, len(offers) - 1))
        o = offers[j]
        if o["capacity"] == 0 or (o["reserved"] and not s["priority"]):
            continue
        if s["needs_accessible"] and not o["accessible"]:
            continue
        allocation = draw(st.sampled_from(["", "1", "2"]))
        if j in partner:
            if not allocation or min_group > 1:  # a paired convention names its week
                continue
            w = int(allocation)
            k = partner[j]
            if offers[k]["reserved"] and not s["priority"]:
                continue
            if s["needs_accessible"] and not offers[k]["accessible"]:
                continue
            fixes = [(j, w), (k, 3 - w)]
        elif allocation:
            fixes = [(j, int(allocation))]
        else:
            fixes = [(j, w) for w in (1, 2) if open_in(j, w)]
        if not fixes or not all(open_in(jj, w) for jj, w in fixes):
            continue
        if any(used.get(f, 0) >= offers[f[0]]["capacity"] for f in fixes):
            continue
        for f in fixes:
            used[f] = used.get(f, 0) + 1
        rows.append({"student_id": s["student_id"], "offer_id": o["offer_id"], "week": allocation})
    return rows


def tiny_case(draw: Any, pair: bool | None = None) -> dict[str, Any]:
    """A scenario small enough to enumerate (1-5 pupils, 1-4 offers), for brute-force checks.

    `pair`: True always turns the last two offers into a mutualised pair (with 3-4 offers),
    None does so at random when there are at least three offers, False never.
    """
    from hypothesis import strategies as st

    case = random_case(draw, n_students=(2, 5), n_offers=(3, 4) if pair else (1, 4),
                       pairs=False)
    if pair is False or len(case["offers"]) < 3:
        return case
    if pair is None and not draw(st.booleans()):
        return case
    a, b = case["offers"][-2:]
    a["pair_id"] = b["pair_id"] = "M"
    a["capacity"], b["capacity"] = max(a["capacity"], 1), max(b["capacity"], 1)
    if (a["period"], b["period"]) in {(1, 1), (2, 2)}:
        b["period"] = 0
    if draw(st.booleans()):
        a["min_group"] = draw(st.integers(2, 3))
    # Conventions were drawn before the pair existed: keep those off its offers.
    case["conventions"] = [c for c in case["conventions"]
                           if c["offer_id"] not in (a["offer_id"], b["offer_id"])]
    return case
