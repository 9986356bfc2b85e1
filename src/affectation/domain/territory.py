"""Territories and groups of pupils: each pupil's school, home EPCI, département, rurality and
priority, from the nearest commune of the bundled geography; the groups the fairness audit,
the indicators and the max-min rules compare.

The geography is Normandy's (`geodata.load_communes`) unless more than half of the pupils live
farther than `OUTSIDE_KM` from every Normandy commune: then France's
(`geodata.load_france_communes`; an académie of a national run, `affectation.national`).
Homes beyond `OUTSIDE_KM` of every commune of the geography are `OUTSIDE_GROUP` (`hors
Normandie`) or `OUTSIDE_FRANCE`, département `autre`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.geo import nearest_communes
from affectation.geodata import (
    load_academies,
    load_communes,
    load_france_communes,
    load_france_lycees,
    load_lycees,
)

RURAL_POPULATION = 2000
OUTSIDE_KM = 20.0
OUTSIDE_GROUP = "hors Normandie"
OUTSIDE_FRANCE = "hors France"
OUTSIDE_DEPARTMENT = "autre"
PRIORITY_GROUPS = ("prioritaire", "non prioritaire")
RURALITY_GROUPS = ("rural", "urbain", OUTSIDE_GROUP, OUTSIDE_FRANCE)
GROUP_TYPES = ("priority", "school", "epci", "department", "rurality")
DEPARTMENTS = {"14": "Calvados", "27": "Eure", "50": "Manche", "61": "Orne",
               "76": "Seine-Maritime"}
FRANCE = "france"  # `DataFrame.attrs["scope"]` of the France-wide communes


def territory_communes(instance: Instance) -> pd.DataFrame:
    """The communes of the scenario's geography (see the module docstring), computed once
    per instance; France's carry `attrs["scope"] == FRANCE` and are cut to the pupils' area
    (a home's nearest commune within `OUTSIDE_KM` is always in it)."""
    cached = instance.__dict__.get("_territory_communes")
    if cached is None:
        cached = _territory_communes(instance)
        instance.__dict__["_territory_communes"] = cached
    communes: pd.DataFrame = cached
    return communes


def _territory_communes(instance: Instance) -> pd.DataFrame:
    st = instance.students
    normandy = load_communes()
    if st.n == 0:
        return normandy
    _, km = nearest_communes(st.lat, st.lon, normandy)
    if 2 * int((km > OUTSIDE_KM).sum()) <= st.n:
        return normandy
    france = load_france_communes()
    margin = 0.5  # degrees: more than OUTSIDE_KM at any French latitude
    keep = ((france.lat >= st.lat.min() - margin) & (france.lat <= st.lat.max() + margin)
            & (france.lon >= st.lon.min() - margin / 0.3)
            & (france.lon <= st.lon.max() + margin / 0.3))
    france = france[keep].reset_index(drop=True)
    france["population"] = france["population"].fillna(0).astype("int64")
    france.attrs["scope"] = FRANCE
    return france


def pupil_groups(instance: Instance, communes: pd.DataFrame | None = None
                 ) -> dict[str, np.ndarray]:
    """Each pupil's group for every group type (object arrays of labels)."""
    st = instance.students
    communes = territory_communes(instance) if communes is None else communes
    outside_group = OUTSIDE_FRANCE if communes.attrs.get("scope") == FRANCE else OUTSIDE_GROUP
    if not len(communes):
        row, km = np.zeros(st.n, dtype=np.int64), np.full(st.n, np.inf)
    else:
        row, km = nearest_communes(st.lat, st.lon, communes)
    inside = km <= OUTSIDE_KM

    def column(name: str, outside: str) -> np.ndarray:
        return np.where(inside, communes[name].to_numpy(dtype=object)[row], outside)

    population = communes["population"].to_numpy()[row] if len(communes) else np.zeros(st.n)
    rurality = np.where(population < RURAL_POPULATION, "rural", "urbain").astype(object)
    rurality[~inside] = outside_group
    return {
        "priority": np.where(st.priority, *PRIORITY_GROUPS).astype(object),
        "school": st.school.astype(object),
        "epci": column("epci_siren", outside_group),
        "department": column("department", OUTSIDE_DEPARTMENT),
        "rurality": rurality,
        "commune": column("insee", ""),
    }


def group_labels(communes: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Readable names of groups: lycée names, EPCI names, département names (of Normandy, or
    of France for France's communes)."""
    france = communes.attrs.get("scope") == FRANCE
    lycees = load_france_lycees() if france else load_lycees()
    if france:
        table = load_academies()
        departments = dict(zip(table["department"], table["department_name"], strict=True))
    else:
        departments = DEPARTMENTS
    return {
        "school": dict(zip(lycees["uai"], lycees["name"], strict=True)),
        "epci": dict(zip(communes["epci_siren"], communes["epci_name"], strict=True)),
        "department": departments,
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
        outside = (OUTSIDE_GROUP, OUTSIDE_FRANCE, OUTSIDE_DEPARTMENT)
        order = sorted(pupils_of, key=lambda g: (g in outside, g))
    return {g: pupils_of[g] for g in order}
