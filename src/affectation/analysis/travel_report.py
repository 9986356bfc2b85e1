"""`affectation travel`: what each travel model lets pupils reach, and who reaches nothing.

For every model available in the scenario (crowfly always; `gtfs` and `matrix` when their
table is present, whichever `[travel] model` is chosen), the offers within each pupil's limit
(offers with capacity > 0; a pupil's own mode and limit as in a solve; pupils whose mode a
table model does not cover keep crowfly minutes under it). Two CSV files:

- `reach_by_pupil.csv`: `student_id`, `school_id`, `mode`, `commune` (INSEE code of the home
  commune, nearest centroid as in `fairness.csv`), `epci`, then `offers_<model>` per model;
- `no_reach_by_territory.csv`: per home commune and per EPCI (`territory` = `commune` or
  `epci`, `code`, `name`), the pupils to place (`students`) and, per model, how many reach no
  offer at all (`no_offer_<model>`); sorted by territory then code.
"""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.travel.reach import reachable


def available_models(instance: Instance) -> list[str]:
    travel = instance.scenario.travel
    return ["crowfly"] + [m for m in ("gtfs", "matrix") if getattr(travel, m) is not None]


def with_model(instance: Instance, model: str) -> Instance:
    """The same instance under another travel model (its own cached minutes)."""
    travel = dataclasses.replace(instance.scenario.travel, model=model)
    scenario = dataclasses.replace(instance.scenario, travel=travel)
    return dataclasses.replace(instance, scenario=scenario)


def reach_counts(instance: Instance) -> dict[str, np.ndarray]:
    """Per model, the number of offers each pupil reaches (every pupil, statuses included)."""
    out = {}
    everyone = np.ones(instance.students.n, dtype=bool)
    for model in available_models(instance):
        reach = reachable(with_model(instance, model), student_mask=everyone)
        out[model] = np.diff(reach.indptr)
    return out


def travel_tables(instance: Instance) -> dict[str, str]:
    """The two CSV files as text, by file name."""
    from affectation.domain.territory import pupil_groups
    from affectation.geodata import load_communes

    st = instance.students
    counts = reach_counts(instance)
    groups = pupil_groups(instance)
    names = instance.scenario.travel.mode_names
    pupils = pd.DataFrame({
        "student_id": st.ids, "school_id": st.school,
        "mode": [names[m] for m in st.mode],
        "commune": groups["commune"], "epci": groups["epci"],
        **{f"offers_{m}": c for m, c in counts.items()},
    })
    communes = load_communes()
    labels = {"commune": dict(zip(communes["insee"], communes["name"], strict=True)),
              "epci": dict(zip(communes["epci_siren"], communes["epci_name"], strict=True))}
    rows = []
    to_place = st.to_place
    for territory in ("commune", "epci"):
        codes = np.asarray(groups[territory], dtype=object)[to_place].astype(str)
        frame = pd.DataFrame({"code": codes, **{m: c[to_place] == 0 for m, c in counts.items()}})
        grouped = frame.groupby("code", sort=True)
        table = grouped.size().rename("students").to_frame()
        for m in counts:
            table[f"no_offer_{m}"] = grouped[m].sum().astype(np.int64)
        table = table.reset_index()
        table.insert(0, "territory", territory)
        table.insert(2, "name", [labels[territory].get(c, "hors Normandie")
                                 for c in table["code"]])
        rows.append(table)
    territories = pd.concat(rows, ignore_index=True)
    return {"reach_by_pupil.csv": _csv(pupils), "no_reach_by_territory.csv": _csv(territories)}


def _csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return out.getvalue()
