"""One v1 folder per académie: its own scenario and inputs, and its results.

`OUT/ACADEMIE/` holds `scenario.toml`, `students.csv` (its pupils, every column the engine
knows plus `academy`), `offers.csv` (the offers in its pupils' rows and those they hold, each
with the académie's *share* of its seats as `capacity`), `conventions.csv` and
`exclusions.csv` (its pupils' rows, when the national scenario has them), and `results/`
(`assignments.csv`, `summary.json`, `fairness.csv`, `indicators.csv`), so that `check`,
`explain`, `suggest`, `repair` and `report` work on it as on Normandy.

Shares: an offer used by pupils of several académies is split so that the folders together
never exceed its capacity: each académie gets the seats its pupils hold (the more taken of
the two weeks) and the free seats go to one académie: the offer's own when it lists the offer,
else the one with the most pupils having it in their rows (ties: code order); a mutualised
pair's free seats go to the académie whose pupils use it, else as above. Where one-week
placements of two académies fall in different weeks of the same offer (signed one-week
conventions at a two-week offer), the seats held can exceed the capacity when counted per
académie: each folder then keeps the seats its pupils hold, and the national summary counts
those offers (`offers_shared_beyond_capacity`); the national union stays valid (`check` on
the national `assignments.csv`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectation.domain.instance import Instance
from affectation.domain.params import Scenario
from affectation.engine.bound import full_placement_bound
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.engine.solve import Solution
from affectation.io.atomic import write_files, write_result_folder
from affectation.national.data import (
    ACADEMY_COLUMN,
    National,
    instance_digest,
    local_reach,
    sub_instance,
)
from affectation.national.tasks import limit_threads
from affectation.national.work import (
    NationalSettings,
    load_arrays,
    load_json,
    load_national,
    load_rows,
    marker_matches,
    save_json,
    write_marker,
)
from affectation.pipeline.run import result_run
from affectation.travel.loading import load_instance
from affectation.travel.reach import pupil_travel, sorted_unique

RESULTS = "results"


# --------------------------------------------------------------------------
# Shares
# --------------------------------------------------------------------------

def folder_shares(nat: National, listed: dict[str, np.ndarray], allocation: np.ndarray
                  ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Per académie (code): the offers of its folder and their capacity there; and the
    number of offers whose shares exceed their capacity (see the module docstring).
    `listed[a]`: offers in the rows of académie `a`'s pupils, with how many pupils (2 x n)."""
    inst = nat.instance
    of, pairs = inst.offers, inst.pairs
    codes = sorted(listed)
    index = {a: k for k, a in enumerate(codes)}
    n_a, n_o = len(codes), of.n
    acad_of_pupil = np.array([index.get(a, -1) for a in nat.student_academy], dtype=np.int64)
    used = np.zeros((n_a, n_o, 2), dtype=np.int64)
    for w in (0, 1):
        o = allocation[:, w]
        keep = (o >= 0) & (acad_of_pupil >= 0)
        np.add.at(used[:, :, w], (acad_of_pupil[keep], o[keep]), 1)
    held = used.max(axis=2)
    reach_count = np.zeros((n_a, n_o), dtype=np.int64)
    for a, pairs_count in listed.items():
        reach_count[index[a], pairs_count[0]] = pairs_count[1]
    lists = (reach_count > 0) | (held > 0)
    # Signed offers and both offers of a pair are listed together.
    conv = inst.conventions
    ca = acad_of_pupil[conv.student]
    lists[ca[ca >= 0], conv.offer[ca >= 0]] = True
    if pairs.n:
        a_off, b_off = pairs.offers[:, 0], pairs.offers[:, 1]
        either = lists[:, a_off] | lists[:, b_off]
        lists[:, a_off] = either
        lists[:, b_off] = either
    home = np.array([index.get(a, -1) for a in nat.offer_academy], dtype=np.int64)
    free = of.capacity - held.sum(axis=0)
    # Who gets the free seats of each offer.
    order_key = np.where(lists, reach_count, -1)
    best = np.argmax(order_key, axis=0)  # first (code order) of the most reaching
    receiver = np.where((home >= 0) & lists[np.maximum(home, 0), np.arange(n_o)], home, best)
    receiver = np.where(lists.any(axis=0), receiver, -1)
    if pairs.n:
        users = held[:, pairs.offers[:, 0]] + held[:, pairs.offers[:, 1]]
        in_use = users.sum(axis=0) > 0
        user = np.argmax(users, axis=0)
        first = receiver[pairs.offers[:, 0]]
        chosen = np.where(in_use, user, first)
        receiver[pairs.offers[:, 0]] = chosen
        receiver[pairs.offers[:, 1]] = chosen
    share = held.copy()
    give = (free > 0) & (receiver >= 0)
    share[receiver[give], np.flatnonzero(give)] += free[give]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for a, k in index.items():
        mine = np.flatnonzero(lists[k] & (share[k] > 0))
        if pairs.n:
            k_pair = of.pair[mine]
            partners = pairs.offers[k_pair[k_pair >= 0]].ravel()
            mine = sorted_unique(np.r_[mine, partners].astype(np.int64))
        out[a] = (mine, share[k, mine])
    return out, int((free < 0).sum())


# --------------------------------------------------------------------------
# Writing the inputs
# --------------------------------------------------------------------------

def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _num(x: float) -> str:
    return repr(float(x))


def students_csv(inst: Instance, academy: str) -> str:
    st = inst.students
    modes = inst.scenario.travel.mode_names
    header = ["student_id", "school_id", "lat", "lon", "mode", "max_minutes", "priority",
              "sectors", "status"]
    accessible = bool(st.needs_accessible.any())
    if accessible:
        header.append("needs_accessible")
    if st.zone is not None:
        header.append("zone")
    header.append(ACADEMY_COLUMN)
    rows = []
    for i in range(st.n):
        m = st.max_minutes[i]
        row = [st.ids[i], st.school[i], _num(st.lat[i]), _num(st.lon[i]), modes[st.mode[i]],
               "" if math.isinf(m) else _num(m), "1" if st.priority[i] else "0",
               "|".join(st.sectors[i]), st.status[i]]
        if accessible:
            row.append("1" if st.needs_accessible[i] else "0")
        if st.zone is not None:
            row.append(st.zone[i])
        row.append(academy)
        rows.append(row)
    return _csv(header, rows)


def offers_csv(inst: Instance, academy_of_offer: np.ndarray) -> str:
    of, pairs = inst.offers, inst.pairs
    header = ["offer_id", "employer_id", "employer_name", "lat", "lon", "capacity", "period",
              "sector", "reserved", "pair_id", "min_group"]
    accessible = bool(of.accessible.any())
    if accessible:
        header.append("accessible")
    if of.zone is not None:
        header.append("zone")
    header.append(ACADEMY_COLUMN)
    rows = []
    for o in range(of.n):
        k = of.pair[o]
        row = [of.ids[o], of.employer_id[o], of.employer_name[o], _num(of.lat[o]),
               _num(of.lon[o]), str(int(of.capacity[o])), str(int(of.period[o])), of.sector[o],
               "1" if of.reserved[o] else "0", pairs.ids[k] if k >= 0 else "",
               str(int(pairs.min_group[k])) if k >= 0 and pairs.min_group[k] > 0 else ""]
        if accessible:
            row.append("1" if of.accessible[o] else "0")
        if of.zone is not None:
            row.append(of.zone[o])
        row.append(academy_of_offer[o])
        rows.append(row)
    return _csv(header, rows)


def conventions_csv(inst: Instance, pending: bool = False) -> str | None:
    """The signed rows (implied pair weeks left out), in their national order; with
    `pending`, the rows of the agreements sent but not yet signed (`[inputs] pending`)."""
    conv, of = inst.conventions, inst.offers
    from_pending = (np.zeros(conv.n, dtype=bool) if conv.pending is None
                    else conv.pending.astype(bool))
    explicit = np.flatnonzero((conv.line > 0) & (from_pending == pending))
    if not len(explicit):
        return None
    order = explicit[np.lexsort((conv.week[explicit], conv.line[explicit]))]
    rows: list[list[str]] = []
    seen: dict[int, int] = {}
    for i in order:
        line = int(conv.line[i])
        if line in seen:  # both weeks of one row: the offer's every week
            rows[seen[line]][2] = ""
            continue
        seen[line] = len(rows)
        week = str(int(conv.week[i]))
        if of.pair[conv.offer[i]] < 0 and not (of.open_week[conv.offer[i]].all()):
            week = ""  # a one-week offer: its only week
        rows.append([inst.students.ids[conv.student[i]], of.ids[conv.offer[i]], week])
    return _csv(["student_id", "offer_id", "week"], rows)


def exclusions_csv(inst: Instance) -> str | None:
    ex = inst.exclusions
    if ex.n == 0:
        return None
    rows = [[inst.students.ids[s], inst.offers.ids[o]] for s, o in zip(ex.student, ex.offer,
                                                                        strict=True)]
    return _csv(["student_id", "offer_id"], rows)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def scenario_toml(scenario: Scenario, name: str, files: dict[str, str]) -> str:
    """The text of a scenario file with `scenario`'s parameters, named `name`, reading the
    input files `files` (key -> path relative to the new file). Timetables and matrices are
    named by absolute paths."""
    s = scenario
    lines = ["[scenario]", f"name = {_toml_string(name)}",
             "weeks = [" + ", ".join(_toml_string(w) for w in s.scenario.weeks) + "]",
             "format = 1", "", "[inputs]"]
    lines += [f"{key} = {_toml_string(path)}" for key, path in files.items()]
    t = s.travel
    lines += ["", "[travel]", f"model = {_toml_string(t.model)}",
              f"default_mode = {_toml_string(t.default_mode)}"]
    for mode, p in t.modes.items():
        lines += ["", f"[travel.modes.{mode}]", f"speed_kmh = {p.speed_kmh!r}",
                  f"detour = {p.detour!r}", f"access_minutes = {p.access_minutes!r}",
                  f"max_minutes = {p.max_minutes!r}"]
    if t.matrix is not None:
        lines += ["", "[travel.matrix]", f"file = {_toml_string(str(t.matrix.file.resolve()))}",
                  "modes = [" + ", ".join(_toml_string(m) for m in t.matrix.modes) + "]"]
    if t.gtfs is not None:
        g = t.gtfs
        feeds = ", ".join("{ path = " + _toml_string(str(f.path.resolve()))
                          + f", shift_weeks = {f.shift_weeks} }}" for f in g.feeds)
        lines += ["", "[travel.gtfs]", f"feeds = [{feeds}]",
                  "modes = [" + ", ".join(_toml_string(m) for m in g.modes) + "]",
                  f"arrive_by = {_toml_string(_clock(g.arrive_by))}",
                  f"leave_after = {_toml_string(_clock(g.leave_after))}",
                  f"walk_kmh = {g.walk_kmh!r}", f"max_walk_m = {g.max_walk_m!r}",
                  f"max_transfers = {g.max_transfers}",
                  f"min_transfer_minutes = {g.min_transfer_minutes!r}",
                  f"window_minutes = {g.window_minutes!r}", f"zone_m = {g.zone_m!r}"]
        for line in g.added_lines:
            lines += ["", "[[travel.gtfs.added_lines]]", f"name = {_toml_string(line.name)}",
                      "communes = [" + ", ".join(map(_toml_string, line.communes)) + "]",
                      "departures = [" + ", ".join(_toml_string(_clock(d))
                                                   for d in line.departures) + "]",
                      "minutes = [" + ", ".join(repr(m) for m in line.minutes) + "]",
                      f"both_directions = {str(line.both_directions).lower()}"]
    for table in ("rules", "equity", "solver", "output", "repair"):
        params = getattr(s, table)
        lines += ["", f"[{table}]"]
        lines += [f"{f.name} = {_toml_value(getattr(params, f.name))}"
                  for f in dataclasses.fields(params)]
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    """A scalar parameter as TOML (every key of these tables is a bool, number or string)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    return _toml_string(str(value))


# --------------------------------------------------------------------------
# The task
# --------------------------------------------------------------------------

def _constant(value: str | bytes) -> Callable[[], str | bytes]:
    return lambda: value


@dataclass(frozen=True)
class FolderSpec:
    """An académie's folder: the work folder, the académie, its block, where to write."""

    work: str
    academy: str
    block: str
    out: str
    settings: NationalSettings
    resume: bool = False


def _bound(instance: Any, reach: Any, allowed: np.ndarray, roles: Any, mask: np.ndarray,
           allocation: np.ndarray) -> int:
    """The proven bound on the masked pupils placed for both weeks: their number when the
    allocation places them all (nothing places more; at scale 1 nearly every académie's
    priority pupils), else the flows'."""
    if ((allocation >= 0).all(axis=1) | ~mask).all():
        return int(mask.sum())
    return int(full_placement_bound(instance, reach, allowed, roles, mask)[0].value)


def academy_folder(spec: FolderSpec) -> dict[str, Any]:
    """Write the académie's folder (see the module docstring); its summary."""
    started = time.perf_counter()
    limit_threads(spec.settings.cores_per_block)
    work = Path(spec.work)
    folder = Path(spec.out)
    nat = load_national(work)
    inst = nat.instance
    st, of = inst.students, inst.offers
    shares = load_arrays(work / "folders" / "shares.npz")
    offers, capacity_share = shares[f"offers:{spec.academy}"], shares[f"capacity:{spec.academy}"]
    final = load_arrays(work / "allocation.npz")["allocation"]
    pupils = np.flatnonzero(nat.student_academy == spec.academy)
    capacity = np.zeros(of.n, dtype=of.capacity.dtype)
    capacity[offers] = capacity_share
    name = f"{inst.scenario.name}-{spec.academy}"
    sub = sub_instance(inst, pupils, offers, capacity=capacity, name=name)
    allocation = final[pupils]
    local_alloc = np.where(allocation >= 0, sub.local_offer[np.maximum(allocation, 0)], -1)
    digest = instance_digest(sub.instance, "folder", local_alloc, spec.settings)
    marker = work / "folders" / spec.academy
    if spec.resume and marker_matches(marker, digest) and (folder / RESULTS).is_dir():
        summary: dict[str, Any] = load_json(marker / "summary.json")
        return summary
    files: dict[Path, str | bytes] = {}
    inputs = {"students": "students.csv", "offers": "offers.csv"}
    files[folder / "students.csv"] = students_csv(sub.instance, spec.academy)
    files[folder / "offers.csv"] = offers_csv(sub.instance, nat.offer_academy[sub.offers])
    conventions = conventions_csv(sub.instance)
    if conventions is not None:
        inputs["conventions"] = "conventions.csv"
        files[folder / "conventions.csv"] = conventions
    pending = conventions_csv(sub.instance, pending=True)
    if pending is not None:
        inputs["pending"] = "pending.csv"
        files[folder / "pending.csv"] = pending
    exclusions = exclusions_csv(sub.instance)
    if exclusions is not None:
        inputs["exclusions"] = "exclusions.csv"
        files[folder / "exclusions.csv"] = exclusions
    files[folder / "scenario.toml"] = scenario_toml(inst.scenario, name, inputs)
    for stale in ("conventions.csv", "exclusions.csv", "pending.csv"):
        if folder / stale not in files:
            (folder / stale).unlink(missing_ok=True)
    write_files(files)
    # Read back as any user would: the folder is a valid v1 scenario.
    instance = load_instance(folder / "scenario.toml")
    rows = load_rows(work, spec.block, st.n)
    reach = local_reach(rows, pupils, sub.local_offer, capacity)
    roles = offer_roles(instance)
    ist = instance.students
    outcome = load_json(work / "blocks" / spec.block / "outcome.json")
    if len(outcome["academies"]) == 1 and outcome["upper_bound_kind"] == "alone":
        # The block's bound alone (every offer it reaches at full capacity) bounds the
        # folder, whose offers hold a share of those seats at most.
        bound_value = int(outcome["upper_bound_full"])
        priority_value = int(outcome["upper_bound_priority_full"])
        bound_kind = "block alone"
    else:
        allowed = allowed_pairs(instance, reach)
        bound_value = _bound(instance, reach, allowed, roles, ist.to_place, local_alloc)
        priority_value = _bound(instance, reach, allowed, roles, ist.to_place & ist.priority,
                                local_alloc)
        bound_kind = "folder"
    full = ist.to_place & (local_alloc >= 0).all(axis=1)
    at_bounds = (int(full.sum()) == bound_value
                 and int((full & ist.priority).sum()) == priority_value)
    solution = Solution(
        allocation=local_alloc, status="OPTIMAL" if at_bounds else "FEASIBLE",
        upper_bound_full=int(bound_value), upper_bound_priority_full=int(priority_value),
        reach=reach, travel=pupil_travel(instance), roles=roles,
        timings={"folder": round(time.perf_counter() - started, 3)},
        search={"national_block": spec.block, "reach": "nearest offers per pupil (rows)",
                "capped_pupils": int(np.asarray(reach.capped).sum()),
                "upper_bound_kind": bound_kind})
    run = result_run(instance, solution, inst.scenario.solver.seed,
                     time.perf_counter() - started)
    write_result_folder(folder / RESULTS, {k: _constant(v) for k, v in run.files.items()})
    summary = {k: run.summary[k] for k in (
        "students", "students_to_place", "placed_full", "placed_partial", "unplaced",
        "priority_students", "priority_placed_full", "upper_bound_full",
        "upper_bound_priority_full", "gap", "solver_status", "by_kind")}
    summary["academy"] = spec.academy
    summary["block"] = spec.block
    summary["offers"] = int(instance.offers.n)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    save_json(marker / "summary.json", summary)
    write_marker(marker, digest)
    return summary
