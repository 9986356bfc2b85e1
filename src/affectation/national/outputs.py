"""The national tables of a national run, at the root of its output folder.

- `assignments.csv`: the union of the académies' `results/assignments.csv`, in the national
  pupils' input order (`affectation check NATIONAL_SCENARIO OUT/assignments.csv` checks every
  border at once);
- `summary.json`: the v1 keys for the whole country (`placed_full`, `upper_bound_full`,
  `gap`...), then a block per académie (`academies`) and per block (`blocks`), the
  coordination, the windows and the bounds;
- `indicators.csv`: pupils placed by territory (`territory_type` `france`,
  `region_academique`, `academie`, `department`: the académie and région académique of the
  pupil's lycée, the département of its home commune);
- `flux_academies.csv`: pupils of one académie placed at offers of another (`academy` of
  the pupil, `host_academy` of the offer, `pupils` with at least one week there, `weeks`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectation.analysis.result import status_text
from affectation.domain.allocation import FULL_KINDS, KINDS, classify
from affectation.geo import nearest_communes
from affectation.geodata import load_france_communes
from affectation.io.output import ASSIGNMENT_COLUMNS, engine_version, input_hashes
from affectation.national.data import National

INDICATOR_COLUMNS = ("territory_type", "territory", "label", "students", "placed_full",
                     "placed_partial", "unplaced", "rate_full", "priority_students",
                     "priority_placed_full", "priority_unplaced", "median_minutes")
FLUX_COLUMNS = ("academy", "host_academy", "pupils", "weeks")


def union_assignments(nat: National, folders: dict[str, Path]) -> str:
    """The académies' assignments in the national pupils' order (one header)."""
    rows: dict[str, list[str]] = {}
    for folder in folders.values():
        with open(folder / "results" / "assignments.csv", encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            assert tuple(header) == ASSIGNMENT_COLUMNS, header
            for row in reader:
                rows[row[0]] = row
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ASSIGNMENT_COLUMNS)
    for sid in nat.instance.students.ids:
        writer.writerow(rows[sid])
    return out.getvalue()


def read_minutes(text: str, n: int) -> np.ndarray:
    """(pupils, 2) minutes of an assignments.csv text (nan where none)."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    out = np.full((n, 2), np.nan)
    for w, col in enumerate(("week1_minutes", "week2_minutes")):
        values = frame[col].to_numpy()
        has = values != ""
        out[has, w] = values[has].astype(float)
    return out


def home_departments(nat: National) -> np.ndarray:
    """Département of each pupil's home commune (nearest commune centroid, per académie)."""
    communes = load_france_communes()
    st = nat.instance.students
    out = np.full(st.n, "autre", dtype=object)
    for a in sorted(set(nat.student_academy.tolist())):
        pupils = np.flatnonzero(nat.student_academy == a)
        lat, lon = st.lat[pupils], st.lon[pupils]
        near = communes[(communes.lat >= lat.min() - 0.5) & (communes.lat <= lat.max() + 0.5)
                        & (communes.lon >= lon.min() - 1.7) & (communes.lon <= lon.max() + 1.7)]
        if not len(near):
            continue
        row, km = nearest_communes(lat, lon, near.reset_index(drop=True))
        dept = near.department.to_numpy(dtype=object)[row]
        out[pupils] = np.where(km <= 20.0, dept, "autre")
    return out


def indicators_table(nat: National, allocation: np.ndarray, minutes: np.ndarray
                     ) -> pd.DataFrame:
    """The rows of the national `indicators.csv` (see the module docstring)."""
    inst = nat.instance
    st = inst.students
    kind = classify(inst, allocation)
    full = np.isin(kind, FULL_KINDS)
    table = nat.academies
    region_of = dict(zip(table.academie, table.region_academique, strict=False))
    region_name = dict(zip(table.region_academique, table.region_academique_name,
                           strict=False))
    dept_name = dict(zip(table.department, table.department_name, strict=False))
    labels = {
        "france": np.full(st.n, "france", dtype=object),
        "region_academique": np.array([region_of.get(a, "") for a in nat.student_academy],
                                      dtype=object),
        "academie": nat.student_academy.astype(object),
        "department": home_departments(nat),
    }
    names = {"france": {"france": "France"}, "region_academique": region_name,
             "academie": nat.academy_names, "department": dept_name}
    rows = []
    members = st.to_place
    for kind_name, values in labels.items():
        for territory in sorted(set(values[members].tolist()),
                                key=lambda t: (t == "autre", t)):
            pupils = np.flatnonzero(members & (values == territory))
            priority = pupils[st.priority[pupils]]
            trips = minutes[pupils][~np.isnan(minutes[pupils])]
            rows.append({
                "territory_type": kind_name, "territory": territory,
                "label": names[kind_name].get(territory, ""),
                "students": len(pupils), "placed_full": int(full[pupils].sum()),
                "placed_partial": int((kind[pupils] == "partial").sum()),
                "unplaced": int((kind[pupils] == "unplaced").sum()),
                "rate_full": round(float(full[pupils].mean()), 4) if len(pupils) else None,
                "priority_students": len(priority),
                "priority_placed_full": int(full[priority].sum()),
                "priority_unplaced": int((kind[priority] == "unplaced").sum()),
                "median_minutes": round(float(np.median(trips)), 1) if len(trips) else None,
            })
    frame = pd.DataFrame(rows, columns=list(INDICATOR_COLUMNS))
    frame["median_minutes"] = frame["median_minutes"].astype("Float64")
    frame["rate_full"] = frame["rate_full"].astype("Float64")
    return frame


def flux_table(nat: National, allocation: np.ndarray) -> pd.DataFrame:
    """Pupils of one académie placed at offers of another (see the module docstring)."""
    origin = nat.student_academy
    rows: dict[tuple[str, str], list[int]] = {}
    for w in (0, 1):
        o = allocation[:, w]
        pupils = np.flatnonzero(o >= 0)
        host = nat.offer_academy[o[pupils]]
        away = host != origin[pupils]
        for p, h in zip(pupils[away], host[away], strict=True):
            entry = rows.setdefault((str(origin[p]), str(h)), [0, 0])
            entry[1] += 1
    for (a, h), entry in rows.items():
        mine = origin == a
        at = np.zeros(len(origin), dtype=bool)
        for w in (0, 1):
            o = allocation[:, w]
            ok = (o >= 0) & mine
            at[ok] |= nat.offer_academy[o[ok]] == h
        entry[0] = int(at.sum())
    table = [{"academy": a, "host_academy": h, "pupils": e[0], "weeks": e[1]}
             for (a, h), e in sorted(rows.items())]
    return pd.DataFrame(table, columns=list(FLUX_COLUMNS))


def national_summary(nat: National, allocation: np.ndarray, academies: dict[str, Any],
                     blocks: list[dict[str, Any]], bound: dict[str, Any],
                     extra: dict[str, Any], timings: dict[str, Any]) -> dict[str, Any]:
    """The national `summary.json` (v1 keys first)."""
    inst = nat.instance
    st = inst.students
    kind = classify(inst, allocation)
    full = np.isin(kind, FULL_KINDS)
    placed = int(full.sum())
    prio_placed = int((full & st.priority).sum())
    ub, ub_prio = int(bound["upper_bound_full"]), int(bound["upper_bound_priority_full"])
    bounds = {"national_flow": {"upper_bound_full": ub, "upper_bound_priority_full": ub_prio}}
    if blocks and all(b["upper_bound_kind"] == "alone" for b in blocks):
        # Each block with every offer it reaches at full capacity: their sum bounds too.
        sum_blocks = int(sum(b["upper_bound_full"] for b in blocks))
        sum_blocks_prio = int(sum(b["upper_bound_priority_full"] for b in blocks))
        bounds["sum_of_blocks_alone"] = {"upper_bound_full": sum_blocks,
                                         "upper_bound_priority_full": sum_blocks_prio}
        ub, ub_prio = min(ub, sum_blocks), min(ub_prio, sum_blocks_prio)
    status = "OPTIMAL" if (placed, prio_placed) == (ub, ub_prio) else "FEASIBLE"
    gap = round(1 - placed / ub, 6) if ub else 0.0
    # A block's stage cut by its safety-net time limit makes the result machine-dependent.
    cut = sorted({f"{b['block']}:{stage}" for b in blocks
                  for stage in b.get("time_limit_reached_in", [])})
    summary: dict[str, Any] = {
        "scenario": inst.scenario.name,
        "students": int(st.n),
        "students_to_place": int(st.to_place.sum()),
        "placed_full": placed,
        "placed_partial": int((kind == "partial").sum()),
        "unplaced": int((kind == "unplaced").sum()),
        "priority_students": int((st.priority & st.to_place).sum()),
        "priority_placed_full": prio_placed,
        "by_kind": {k: int((kind == k).sum()) for k in KINDS},
        "upper_bound_full": ub,
        "gap": gap,
        "upper_bound_priority_full": ub_prio,
        "priority_gap": round(1 - prio_placed / ub_prio, 6) if ub_prio else 0.0,
        "solver_status": status,
        "status_text": status_text(status, gap, bool(cut), inst.scenario.output.language),
        "depends_on_machine_speed": bool(cut),
        **({"time_limit_reached_in": cut} if cut else {}),
        "bounds": bounds,
        "academies": academies,
        "blocks": {b["block"]: {k: b[k] for k in (
            "name", "academies", "students_to_place", "placed_full", "priority_placed_full",
            "upper_bound_full", "upper_bound_priority_full", "upper_bound_kind",
            "upper_bound_full_shares", "solver_status", "pairs", "capped", "offers",
            "time_limit_s")} for b in blocks},
        **extra,
        "wall_seconds": timings.get("total", 0.0),
        "timings": timings,
        "seed": inst.scenario.solver.seed,
        "engine_version": engine_version(),
        "inputs": input_hashes(inst),
    }
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=2) + "\n"


def csv_text(frame: pd.DataFrame) -> str:
    text: str = frame.to_csv(index=False, lineterminator="\n", na_rep="")
    return text
