"""Sweeps: one scenario solved over a grid of parameter values, in parallel processes.

`--vary KEY=V1,V2,...` names a dotted scenario key (`travel.modes.public.max_minutes`,
`rules.split_two_week_offers`, `solver.time_limit_s`...) and its values, each read as a TOML
literal (`45`, `true`, `"fr"`; a bare word that is not one is taken as a string); values are
split on commas. Several `--vary` make a grid (every combination, the first key varying
slowest). Every grid point is validated as a whole scenario before anything runs: an unknown
key or a bad value is an input error.

Outputs (one folder, written atomically):
- `sweep.csv`: one row per run and territory: `run`, the varied keys' values, then the
  indicators' territory columns (`indicators.py`: region, départements, EPCIs, schools) and a
  `priority` territory type (`prioritaire`, `non prioritaire`), with `students`,
  `placed_full`, `placed_partial`, `unplaced`, `rate_full`, `priority_students`,
  `priority_placed_full`, `priority_rate_full`. Nothing in it depends on timing, so two sweeps
  of the same inputs give the same bytes (unless a run stops on its time limit).
- `sweep_timings.csv`: one row per run: wall seconds, solver status, bound.
- `taux_<key>_departements.png`, `taux_<key>_priorite.png`: the placement rate for both weeks
  against each varied key, by département and by priority group.
- `runs/<run>/`: each run's `assignments.csv`, `summary.json` and `indicators.csv`.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectation.domain.params import Scenario
from affectation.errors import InputError, Problem
from affectation.io.scenario import load_scenario, parse_scenario

TERRITORY_COLUMNS = ("territory_type", "territory", "label", "students", "placed_full",
                     "placed_partial", "unplaced", "rate_full", "priority_students",
                     "priority_placed_full", "priority_rate_full")
TIMING_COLUMNS = ("run", "wall_seconds", "solver_status", "placed_full", "upper_bound_full")
PLOTTED_TYPES = ("region", "department")


@dataclass(frozen=True)
class Vary:
    """One varied key: its dotted name, its values, and their texts as given."""

    key: str
    values: tuple[Any, ...]
    texts: tuple[str, ...]


def _literal(text: str) -> Any:
    """A TOML literal (`45`, `true`, `"fr"`, `[1, 2]`); a bare word otherwise."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_vary(text: str) -> Vary:
    """`KEY=V1,V2,...` as a `Vary`; an `InputError` when malformed."""
    key, sep, values = text.partition("=")
    key = key.strip()
    texts = tuple(v.strip() for v in values.split(",")) if sep else ()
    if not sep or not key or not all(texts) or any(not part for part in key.split(".")):
        raise InputError([Problem("--vary", "CLE=V1,V2,... (clé du scénario en notation "
                                  "pointée, ex. travel.modes.public.max_minutes=30,45,60)",
                                  value=text)])
    return Vary(key=key, values=tuple(_literal(t) for t in texts), texts=texts)


def with_value(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A deep copy of the TOML mapping `data` with the dotted `key` set to `value`."""
    out = copy.deepcopy(data)
    table = out
    parts = key.split(".")
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise InputError([Problem("--vary", "une clé dans une table du scénario",
                                      column=key)])
    table[parts[-1]] = value
    return out


def _known(data: dict[str, Any], key: str) -> bool:
    """Is every table on the way to `key` present (a new mode or table is not a value)?"""
    table: Any = data
    for part in key.split(".")[:-1]:
        if not isinstance(table, dict) or part not in table:
            return part in ("rules", "solver", "output") and table is data
        table = table[part]
    return isinstance(table, dict)


def plan(scenario_path: Path, varies: list[Vary]) -> list[tuple[dict[str, Any], Scenario]]:
    """Every grid point's TOML mapping and validated scenario, in grid order.

    Raises `InputError` listing every problem (unknown key, bad value) before anything runs.
    """
    scenario_path = Path(scenario_path)
    load_scenario(scenario_path)  # the base file itself, with its own error messages
    raw = scenario_path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    data = tomllib.loads(raw.decode("utf-8"))
    problems: list[Problem] = []
    keys = [v.key for v in varies]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(Problem("--vary", "chaque clé une seule fois", column=key))
    for v in varies:
        if not _known(data, v.key):
            problems.append(Problem("--vary", "une clé d'une table existante du scénario",
                                    column=v.key))
    if problems:
        raise InputError(problems)
    points = []
    for values in itertools.product(*(v.values for v in varies)):
        point = data
        for v, value in zip(varies, values, strict=True):
            point = with_value(point, v.key, value)
        try:
            points.append((point, parse_scenario(point, scenario_path)))
        except InputError as exc:
            for p in exc.problems:
                if p not in problems:
                    problems.append(p)
    if problems:
        raise InputError(problems)
    return points


def run_one(scenario: Scenario) -> dict[str, Any]:
    """Solve one grid point: its territory rows, timing row and result files (texts)."""
    from affectation.analysis.groups import placement_row
    from affectation.domain.allocation import FULL_KINDS
    from affectation.domain.territory import PRIORITY_GROUPS
    from affectation.engine.solve import SolveSettings
    from affectation.io.inputs import read_instance
    from affectation.pipeline.run import solve_instance

    started = time.perf_counter()
    instance = read_instance(scenario)
    run = solve_instance(instance, SolveSettings.from_scenario(scenario.solver), started,
                         audit=False)
    result, table = run.result, run.indicators
    st = instance.students
    full = np.isin(result.kind, FULL_KINDS)
    rows = table.drop(columns=["priority_unplaced", "seats_within_reach", "seats_missing",
                               "median_minutes"]).to_dict("records")
    for label, mask in zip(PRIORITY_GROUPS, (st.priority, ~st.priority), strict=True):
        pupils = np.flatnonzero(st.to_place & mask)
        if len(pupils):
            rows.append({
                "territory_type": "priority", "territory": label, "label": "",
                **placement_row(pupils, result.kind, full),
                "priority_students": int(st.priority[pupils].sum()),
                "priority_placed_full": int((full & st.priority)[pupils].sum()),
            })
    for row in rows:
        row["priority_rate_full"] = (round(row["priority_placed_full"] / row["priority_students"],
                                           4) if row["priority_students"] else None)
    s = result.summary
    return {
        "rows": rows,
        "timing": {"wall_seconds": round(time.perf_counter() - started, 3),
                   "solver_status": s["solver_status"], "placed_full": s["placed_full"],
                   "upper_bound_full": s["upper_bound_full"]},
        "files": run.files,
    }


def run_id(k: int, runs: int) -> str:
    """The name of grid point `k` (0-based) of `runs`: run-001, run-002..."""
    return f"run-{k + 1:0{max(3, len(str(runs)))}d}"


def run_sweep(scenario_path: Path, varies: list[Vary], jobs: int = 1,
              on_done: Callable[[int, dict[str, Any]], None] | None = None
              ) -> dict[str, str | bytes]:
    """Run the grid (validated first) in `jobs` processes; the output folder's files.
    `on_done(k, timing)` is called as each grid point `k` (0-based) ends, with its timing
    row (wall seconds, status, placed, bound), in the order the runs end."""
    points = plan(scenario_path, varies)
    outcomes: dict[int, dict[str, Any]] = {}
    if jobs <= 1:
        for k, (_, scenario) in enumerate(points):
            outcomes[k] = run_one(scenario)
            if on_done is not None:
                on_done(k, outcomes[k]["timing"])
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(run_one, scenario): k for k, (_, scenario) in enumerate(points)}
            for future in as_completed(futures):
                k = futures[future]
                outcomes[k] = future.result()
                if on_done is not None:
                    on_done(k, outcomes[k]["timing"])
    ids = [run_id(k, len(points)) for k in range(len(points))]
    combos = list(itertools.product(*(v.texts for v in varies)))
    keys = [v.key for v in varies]
    rows, timings = [], []
    files: dict[str, str | bytes] = {}
    for k, run in enumerate(ids):
        values = dict(zip(keys, combos[k], strict=True))
        for row in outcomes[k]["rows"]:
            rows.append({"run": run, **values, **{c: row.get(c) for c in TERRITORY_COLUMNS}})
        timings.append({"run": run, **values, **outcomes[k]["timing"]})
        for name, text in outcomes[k]["files"].items():
            files[f"runs/{run}/{name}"] = text
    table = pd.DataFrame(rows, columns=["run", *keys, *TERRITORY_COLUMNS])
    table["priority_rate_full"] = table["priority_rate_full"].astype("Float64")
    files["sweep.csv"] = _csv(table)
    files["sweep_timings.csv"] = _csv(pd.DataFrame(timings, columns=["run", *keys,
                                                                     *TIMING_COLUMNS[1:]]))
    for v in varies:
        files.update(plots(table, v, keys))
    return files


def _csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.to_csv(out, index=False, lineterminator="\n", na_rep="", quoting=csv.QUOTE_MINIMAL)
    return out.getvalue()


def plots(table: pd.DataFrame, vary: Vary, keys: list[str]) -> dict[str, bytes]:
    """PNG plots of the placement rate against `vary.key`: by département and by priority."""
    others = [k for k in keys if k != vary.key]
    slug = vary.key.replace(".", "_")
    out = {}
    for name, types, title in (
        ("departements", PLOTTED_TYPES, "par département"),
        ("priorite", ("region", "priority"), "par priorité"),
    ):
        part = table[table["territory_type"].isin(types)]
        lines: dict[str, list[tuple[int, float]]] = {}
        for record in part.to_dict("records"):
            name_of = record["label"] or record["territory"]
            if record["territory_type"] == "region":
                name_of = "ensemble"
            if others:
                name_of += " (" + ", ".join(f"{k}={record[k]}" for k in others) + ")"
            x = vary.texts.index(str(record[vary.key]))
            lines.setdefault(name_of, []).append((x, float(record["rate_full"])))
        out[f"taux_{slug}_{name}.png"] = _line_plot(
            lines, list(vary.texts), vary.key,
            f"Taux de placement deux semaines {title}")
    return out


def _line_plot(lines: dict[str, list[tuple[int, float]]], ticks: list[str], xlabel: str,
               title: str) -> bytes:
    """One line chart as PNG bytes (no pyplot state, no timestamp in the file)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.5), dpi=100)
    axes = figure.add_subplot()
    for label, points in lines.items():
        points = sorted(points)
        axes.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o",
                  label=label)
    axes.set_xticks(range(len(ticks)), ticks)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("placés deux semaines (%)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    raw = io.BytesIO()
    figure.savefig(raw, format="png", metadata={"Software": None})
    return raw.getvalue()
