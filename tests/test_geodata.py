"""The bundled national geography: counts, columns and consistency of the loaders.

The Normandy loaders are tested in test_generate.py; the comparison with the
Éducation nationale's lists is printed by scripts/build_national_geodata.py
(it needs ../shared, these tests do not).
"""

from __future__ import annotations

import pandas as pd

from affectation.geodata import (
    load_academies,
    load_communes,
    load_france_communes,
    load_france_lycees,
    load_lycees,
)

DEPARTMENTS = {f"{d:02d}" for d in range(1, 96) if d != 20} | {
    "2A", "2B", "971", "972", "973", "974", "976"}


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
