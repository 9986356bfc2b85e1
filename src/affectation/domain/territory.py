"""Territories and groups of pupils: each pupil's school, home EPCI, département, rurality and
priority, from the nearest commune of the bundled geography; the groups the fairness audit,
the indicators and the max-min rules compare."""

from __future__ import annotations

import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.geo import nearest_communes
from affectation.geodata import load_communes, load_lycees

RURAL_POPULATION = 2000
OUTSIDE_KM = 20.0
OUTSIDE_GROUP = "hors Normandie"
OUTSIDE_DEPARTMENT = "autre"
PRIORITY_GROUPS = ("prioritaire", "non prioritaire")
RURALITY_GROUPS = ("rural", "urbain", OUTSIDE_GROUP)
GROUP_TYPES = ("priority", "school", "epci", "department", "rurality")
DEPARTMENTS = {"14": "Calvados", "27": "Eure", "50": "Manche", "61": "Orne",
               "76": "Seine-Maritime"}


def pupil_groups(instance: Instance, communes: pd.DataFrame | None = None
                 ) -> dict[str, np.ndarray]:
    """Each pupil's group for every group type (object arrays of labels)."""
    st = instance.students
    communes = load_communes() if communes is None else communes
    row, km = nearest_communes(st.lat, st.lon, communes)
    inside = km <= OUTSIDE_KM

    def column(name: str, outside: str) -> np.ndarray:
        return np.where(inside, communes[name].to_numpy(dtype=object)[row], outside)

    population = communes["population"].to_numpy()[row]
    rurality = np.where(population < RURAL_POPULATION, "rural", "urbain").astype(object)
    rurality[~inside] = OUTSIDE_GROUP
    return {
        "priority": np.where(st.priority, *PRIORITY_GROUPS).astype(object),
        "school": st.school.astype(object),
        "epci": column("epci_siren", OUTSIDE_GROUP),
        "department": column("department", OUTSIDE_DEPARTMENT),
        "rurality": rurality,
        "commune": column("insee", ""),
    }


def group_labels(communes: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Readable names of groups: lycée names, EPCI names, département names."""
    lycees = load_lycees()
    return {
        "school": dict(zip(lycees["uai"], lycees["name"], strict=True)),
        "epci": dict(zip(communes["epci_siren"], communes["epci_name"], strict=True)),
        "department": DEPARTMENTS,
        "rurality": {"rural": f"commune de moins de {RURAL_POPULATION} habitants",
                     "urbain": f"commune de {RURAL_POPULATION} habitants ou plus"},
    }


def split_groups(labels: np.ndarray, members: np.ndarray, group_type: str
                 ) -> dict[str, np.ndarray]:
    """Group label -> sorted pupil indices among `members`, in the order of `fairness.csv`."""
    if not len(members):
        return {}
    present, code = np.unique(labels[members].astype(str), return_inverse=True)
    by_group = np.split(members[np.argsort(code, kind="stable")],
                        np.cumsum(np.bincount(code, minlength=len(present)))[:-1])
    pupils_of = dict(zip(present.tolist(), by_group, strict=True))
    fixed_order = {"priority": PRIORITY_GROUPS, "rurality": RURALITY_GROUPS}.get(group_type)
    if fixed_order is not None:
        order = [g for g in fixed_order if g in pupils_of]
    else:
        outside = (OUTSIDE_GROUP, OUTSIDE_DEPARTMENT)
        order = sorted(pupils_of, key=lambda g: (g in outside, g))
    return {g: pupils_of[g] for g in order}
