"""The bundled national geography: counts, columns and consistency of the loaders.

The Normandy loaders are tested in test_generate.py; the comparison with the
Éducation nationale's lists is printed by scripts/build_national_geodata.py
(it needs ../shared, these tests do not).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from affectation.geodata import (
    load_academies,
    load_communes,
    load_department_shapes,
    load_epci_shapes,
    load_france_communes,
    load_france_lycees,
    load_lycees,
)

DEPARTMENTS = {f"{d:02d}" for d in range(1, 96) if d != 20} | {
    "2A", "2B", "971", "972", "973", "974", "976"}

# lon min, lon max, lat min, lat max of each part of France.
BOXES = {
    "metro": (-5.2, 9.6, 41.3, 51.1),
    "971": (-61.9, -60.9, 15.8, 16.6),
    "972": (-61.3, -60.7, 14.3, 14.9),
    "973": (-54.7, -51.5, 2.0, 5.8),
    "974": (55.1, 55.9, -21.4, -20.8),
    "976": (44.9, 45.4, -13.1, -12.6),
}


def test_academies_table() -> None:
    a = load_academies()
    assert list(a.columns) == ["department", "department_name", "academie", "academie_name",
                               "region_academique", "region_academique_name"]
    assert len(a) == 101 and set(a.department) == DEPARTMENTS
    assert a.academie.nunique() == 30 and a.academie_name.nunique() == 30
    assert a.region_academique.nunique() == 18
    assert (a.groupby("academie").region_academique.nunique() == 1).all()
    assert a.academie.str.fullmatch(r"[a-z]+(-[a-z]+)*").all()
    assert a.region_academique.str.fullmatch(r"[a-z]+(-[a-z]+)*").all()
    by_dep = a.set_index("department")
    assert set(a[a.academie == "normandie"].department) == {"14", "27", "50", "61", "76"}
    assert set(a[a.region_academique == "ile-de-france"].academie) == {
        "paris", "creteil", "versailles"}
    assert by_dep.loc["2A", "academie_name"] == "Corse"
    assert by_dep.loc["974", "academie_name"] == "La Réunion"
    assert by_dep.loc["93", "academie_name"] == "Créteil"
    assert by_dep.loc["90", "academie"] == "besancon"


def test_france_communes() -> None:
    c = load_france_communes()
    assert list(c.columns) == ["insee", "name", "department", "population", "epci_siren",
                               "epci_name", "lon", "lat"]
    assert len(c) == 34_875 and c.insee.is_unique and c.insee.is_monotonic_increasing
    assert set(c.department) == DEPARTMENTS
    assert all(i.startswith(d) for i, d in zip(c.insee, c.department, strict=True))
    assert str(c.population.dtype) == "Int64"
    missing = c[c.population.isna()]
    assert len(missing) == 18 and set(missing.department) <= {"976", "60"}
    assert c.population.sum() == 66_526_267
    assert (c.epci_siren == "").sum() == 4
    assert c.epci_siren[c.epci_siren != ""].str.fullmatch(r"\d{9}").all()
    assert c.epci_siren[c.epci_siren != ""].nunique() == 1253
    # Every commune's département has an académie.
    assert set(c.department) <= set(load_academies().department)
    metro = c[c.department.str.len() == 2]
    assert metro.lon.between(-5.2, 9.6).all() and metro.lat.between(41.3, 51.1).all()
    assert c.set_index("insee").loc["75056", "name"] == "Paris"


def test_france_communes_agree_with_normandy() -> None:
    c = load_france_communes()
    normandy = c[c.department.isin(["14", "27", "50", "61", "76"])].reset_index(drop=True)
    expected = load_communes()
    assert len(normandy) == len(expected) == 2644
    for col in ("insee", "name", "epci_siren", "lon", "lat"):
        assert (normandy[col] == expected[col]).all(), col
    assert (normandy.population.astype("int64") == expected.population).all()


def test_france_lycees() -> None:
    ly = load_france_lycees()
    communes = load_france_communes().set_index("insee")
    assert list(ly.columns) == ["uai", "name", "insee", "department", "lat", "lon",
                                "teaches_gt"]
    assert 4900 <= len(ly) <= 5100 and ly.uai.is_unique
    assert ly.uai.str.fullmatch(r"(0\d\d|620|720|97[1-46])\d{4}[A-Z]").all()
    # Every lycée's département is known and has an académie.
    assert set(ly.department) <= set(load_academies().department)
    assert set(ly.insee) <= set(communes.index)
    prefix = ly.uai.str[:3].map(lambda p: {"620": "2A", "720": "2B"}.get(p, p))
    expected = prefix.where(prefix.str.startswith("97") | prefix.isin(["2A", "2B"]),
                            prefix.str[1:])
    assert (ly.department == expected).all()
    # The commune is in the UAI's département, but for two schools sited across a border.
    across = ly[ly.department != communes.loc[ly.insee, "department"].to_numpy()]
    assert set(across.uai) == {"0820725T", "0942438P"}
    located = communes.loc[ly.insee]
    assert (ly.lat.to_numpy() == located.lat.to_numpy()).all()
    assert set(ly.teaches_gt) == {0, 1} and 2500 <= ly.teaches_gt.sum() <= 2900
    assert not ly.name.str.contains("RECTORAT").any()
    named = ly.set_index("uai")
    assert named.loc["0750655E", "insee"] == "75056"  # Louis-le-Grand, Paris
    assert named.loc["6200001G", "department"] == "2A"  # Fesch, Ajaccio
    assert named.loc["7200009X", "department"] == "2B"  # Giocante de Casabianca, Bastia


def test_france_lycees_agree_with_normandy() -> None:
    ly = load_france_lycees()
    normandy = ly[ly.department.isin(["14", "27", "50", "61", "76"])]
    expected = load_lycees()
    pd.testing.assert_frame_equal(normandy.drop(columns="department").reset_index(drop=True),
                                  expected)


# -- polygons ---------------------------------------------------------------

def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float((x[:-1] * y[1:] - x[1:] * y[:-1]).sum() / 2)


def _inside(points: np.ndarray, rings: list[np.ndarray]) -> np.ndarray:
    """Even-odd rule: which points fall inside the shape made of these rings."""
    inside = np.zeros(len(points), dtype=bool)
    px, py = points[:, 0][:, None], points[:, 1][:, None]
    for ring in rings:
        x0, y0, x1, y1 = ring[:-1, 0], ring[:-1, 1], ring[1:, 0], ring[1:, 1]
        crosses = (y0 > py) != (y1 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        inside ^= (crosses & (px < x_at)).sum(axis=1) % 2 == 1
    return inside


def _check_rings(items: list[dict[str, Any]], box_of: dict[str, str]) -> None:
    for item in items:
        assert item["rings"], item["name"]
        lon_min, lon_max, lat_min, lat_max = BOXES[box_of[item["name"]]]
        for ring in item["rings"]:
            assert ring.dtype == np.float64 and ring.ndim == 2 and ring.shape[1] == 2
            assert len(ring) >= 4 and (ring[0] == ring[-1]).all(), item["name"]
            assert ring[:, 0].min() >= lon_min and ring[:, 0].max() <= lon_max, item["name"]
            assert ring[:, 1].min() >= lat_min and ring[:, 1].max() <= lat_max, item["name"]
        areas = [_signed_area(r) for r in item["rings"]]
        assert areas[0] > 0 and sum(areas) > 0, item["name"]  # exterior first, CCW


def _box(departments: list[str]) -> str:
    overseas = {d for d in departments if d.startswith("97")}
    assert not overseas or set(departments) == overseas  # no EPCI straddles the sea
    return overseas.pop() if overseas else "metro"


@pytest.mark.parametrize("scope,count", [("normandie", 71), ("france", 1253)])
def test_epci_shapes(scope: str, count: int) -> None:
    shapes = load_epci_shapes(scope)  # type: ignore[arg-type]
    assert len(shapes) == count
    sirens = [s["epci_siren"] for s in shapes]
    assert sirens == sorted(sirens) and len(set(sirens)) == count
    communes = load_communes() if scope == "normandie" else load_france_communes()
    assert set(sirens) == set(communes.epci_siren) - {""}
    names = communes.drop_duplicates("epci_siren").set_index("epci_siren").epci_name
    assert all(names[s["epci_siren"]] == s["name"] for s in shapes)
    _check_rings(shapes, {s["name"]: _box(s["departments"]) for s in shapes})
    if scope == "normandie":
        straddling = [s for s in shapes if not set(s["departments"]) <= {
            "14", "27", "50", "61", "76"}]
        # Dreux, Sud Eure (28), Aumale-Blangy, Villes Sœurs (80), Maine Saosnois, Alençon (72).
        assert len(straddling) == 6


@pytest.mark.parametrize("scope", ["normandie", "france"])
def test_epci_shapes_hold_their_communes(scope: str) -> None:
    """Each commune's centroid lies in its EPCI's shape (but a few small ones on the edge)."""
    communes = load_communes() if scope == "normandie" else load_france_communes()
    missed = 0
    for shape in load_epci_shapes(scope):  # type: ignore[arg-type]
        own = communes[communes.epci_siren == shape["epci_siren"]]
        missed += int((~_inside(own[["lon", "lat"]].to_numpy(), shape["rings"])).sum())
    assert missed <= 0.002 * len(communes)


def test_department_shapes() -> None:
    shapes = load_department_shapes()
    assert [s["department"] for s in shapes] == sorted(DEPARTMENTS)
    academies = load_academies().set_index("department")
    assert all(academies.loc[s["department"], "department_name"] == s["name"]
               for s in shapes)
    _check_rings(shapes, {s["name"]: _box([s["department"]]) for s in shapes})
    communes = load_france_communes()
    missed = 0
    for shape in shapes:
        own = communes[communes.department == shape["department"]]
        missed += int((~_inside(own[["lon", "lat"]].to_numpy(), shape["rings"])).sum())
    assert missed <= 0.002 * len(communes)


def test_epci_scope_is_checked() -> None:
    with pytest.raises(ValueError, match="scope"):
        load_epci_shapes("bretagne")  # type: ignore[arg-type]
