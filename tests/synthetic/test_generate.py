"""Tests of the synthetic scenario generator and of the bundled geography."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file
from pyproj import Geod

from affectation.geodata import load_communes, load_lycees
from affectation.synthetic.scenario import (
    FILES,
    MODES,
    NORMANDY_BBOX,
    PUPILS_AT_SCALE_1,
    build_scenario,
    count_reachable_pairs,
    generate_scenario,
    largest_remainder,
)

SCALE = 0.02


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small")
    counts = generate_scenario(out, scale=SCALE, seed=3)
    return out, counts


@pytest.fixture(scope="module")
def tables(small: tuple[Path, dict]) -> dict[str, pd.DataFrame]:
    out, _ = small
    return {name: _read(out / f"{name}.csv") for name in ("students", "offers", "conventions")}


@pytest.fixture(scope="module")
def full():
    return build_scenario(1.0, 0)


# -- determinism ------------------------------------------------------------

def test_same_seed_gives_identical_bytes(tmp_path: Path, small: tuple[Path, dict]) -> None:
    out, _ = small
    generate_scenario(tmp_path, scale=SCALE, seed=3)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_other_seed_gives_other_files(tmp_path: Path, small: tuple[Path, dict]) -> None:
    out, _ = small
    generate_scenario(tmp_path, scale=SCALE, seed=4)
    assert (tmp_path / "students.csv").read_bytes() != (out / "students.csv").read_bytes()
    assert (tmp_path / "offers.csv").read_bytes() != (out / "offers.csv").read_bytes()


def test_files_option_writes_only_what_is_asked(tmp_path: Path) -> None:
    generate_scenario(tmp_path, scale=0.005, seed=0,
                      files=("scenario.toml", "students.csv", "offers.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "offers.csv", "scenario.toml", "students.csv"]
    toml = tomllib.loads((tmp_path / "scenario.toml").read_text("utf-8"))
    assert "conventions" not in toml["inputs"]
    with pytest.raises(ValueError):
        generate_scenario(tmp_path, scale=0.005, files=("students.xlsx",))


# -- scenario.toml ------------------------------------------------------------

def test_scenario_toml_has_exactly_the_v1_keys(small: tuple[Path, dict]) -> None:
    out, _ = small
    doc = tomllib.loads((out / "scenario.toml").read_text("utf-8"))
    assert set(doc) == {"scenario", "inputs", "travel", "rules", "solver"}
    assert doc["scenario"] == {"name": "normandie-2026-scale-0.02",
                               "weeks": ["2026-W25", "2026-W26"], "format": 1}
    assert doc["inputs"] == {"students": "students.csv", "offers": "offers.csv",
                             "conventions": "conventions.csv"}
    assert doc["travel"]["model"] == "crowfly"
    assert doc["travel"]["default_mode"] == "public"
    assert set(doc["travel"]["modes"]) == {"public", "car", "bike", "walk"}
    for params in doc["travel"]["modes"].values():
        assert set(params) == {"speed_kmh", "detour", "access_minutes", "max_minutes"}
    assert doc["rules"] == {"split_two_week_offers": False}
    assert doc["solver"] == {"time_limit_s": 600, "seed": 0}


# -- students -----------------------------------------------------------------

def test_totals_per_lycee(tables: dict[str, pd.DataFrame], full) -> None:
    students = tables["students"]
    assert len(students) == round(PUPILS_AT_SCALE_1 * SCALE)
    gt = set(load_lycees().query("teaches_gt == 1").uai)
    assert set(students.school_id) <= gt
    # Scale 1 is the académie exactly, spread over (nearly) every GT lycée.
    per_school = full.students.school_id.value_counts()
    assert per_school.sum() == PUPILS_AT_SCALE_1
    assert len(per_school) == len(gt)
    assert per_school.min() >= 20


def test_largest_remainder_is_exact_and_proportional() -> None:
    w = np.array([3.0, 1.0, 1.0, 0.0, 2.5])
    for total in (0, 1, 7, 100, 25_556):
        got = largest_remainder(w, total)
        assert got.sum() == total
        assert np.all(np.abs(got - w / w.sum() * total) < 1)
    assert list(largest_remainder(np.array([1.0, 1.0, 1.0]), 2)) == [1, 1, 0]


def test_ids_unique_and_pseudonymous(tables: dict[str, pd.DataFrame]) -> None:
    s, o = tables["students"], tables["offers"]
    assert s.student_id.is_unique and o.offer_id.is_unique
    assert s.student_id.str.fullmatch(r"E\d{6}").all()
    assert o.offer_id.str.fullmatch(r"O\d{5}").all()
    # Ids are numbered in file order, and file order does not follow the school.
    assert list(s.student_id) == sorted(s.student_id)
    assert not s.school_id.is_monotonic_increasing


def test_coordinates_in_normandy(tables: dict[str, pd.DataFrame]) -> None:
    lon_min, lat_min, lon_max, lat_max = NORMANDY_BBOX
    for name in ("students", "offers"):
        df = tables[name]
        assert df.lat.str.fullmatch(r"\d+\.\d{5}").all(), name
        assert df.lon.str.fullmatch(r"-?\d+\.\d{5}").all(), name
        lat, lon = df.lat.astype(float), df.lon.astype(float)
        assert lat.between(lat_min, lat_max).all() and lon.between(lon_min, lon_max).all()


def test_student_columns_and_values(full) -> None:
    s = full.students
    assert list(s.columns) == ["student_id", "school_id", "lat", "lon", "mode",
                               "max_minutes", "priority", "sectors", "status"]
    share = s["mode"].value_counts(normalize=True)
    assert share["public"] == pytest.approx(0.55, abs=0.03)
    assert share["car"] == pytest.approx(0.30, abs=0.03)
    assert share["bike"] == pytest.approx(0.10, abs=0.02)
    assert share["walk"] == pytest.approx(0.05, abs=0.02)
    assert (s.status == "").mean() == pytest.approx(0.96, abs=0.01)
    assert set(s.status) == {"", "self_placed", "exempt"}
    assert (s.max_minutes != "").mean() == pytest.approx(0.05, abs=0.01)
    assert s.priority.mean() == pytest.approx(0.20, abs=0.05)
    codes = s.sectors[s.sectors != ""].str.split("|")
    assert codes.map(len).max() == 3
    assert codes.map(lambda c: len(set(c)) == len(c)).all()
    assert codes.explode().str.fullmatch(r"s([1-9]|[1-4]\d|5[01])").all()


def _nearest_commune(lon: np.ndarray, lat: np.ndarray, communes: pd.DataFrame) -> np.ndarray:
    """Index of the nearest commune centroid (flat-earth), a proxy of the commune."""
    k = np.cos(np.radians(49))
    cx, cy = communes.lon.to_numpy() * k, communes.lat.to_numpy()
    out = []
    for i in range(0, len(lon), 2000):
        d2 = (lon[i:i + 2000, None] * k - cx) ** 2 + (lat[i:i + 2000, None] - cy) ** 2
        out.append(np.argmin(d2, axis=1))
    return np.concatenate(out)


def test_rural_pupils_drive_more(full) -> None:
    communes = load_communes()
    s = full.students
    nearest = _nearest_commune(s.lon.to_numpy(), s.lat.to_numpy(), communes)
    pop = communes.population.to_numpy()[nearest]
    car = s["mode"].to_numpy() == "car"
    assert car[pop < 2000].mean() > car[pop > 20000].mean() + 0.1


# -- offers -------------------------------------------------------------------

def test_offers_mix(full) -> None:
    o = full.offers
    assert len(o) == 13_000
    counts = full.counts()
    ratio = counts["seats_two_weeks"] / counts["students_to_place"]
    assert 0.92 <= ratio <= 0.97
    assert o.period.value_counts(normalize=True)[0] == pytest.approx(0.80, abs=0.02)
    assert o.reserved.mean() == pytest.approx(0.07, abs=0.01)
    assert (o.pair_id != "").mean() == pytest.approx(0.03, abs=0.005)
    assert o.capacity.between(0, 6).all()
    assert o.capacity.isin([1, 2]).mean() > 0.75
    assert o.capacity.isin([3, 4, 5, 6]).mean() > 0.05
    assert o.sector.str.fullmatch(r"s\d+").all() and o.sector.nunique() > 40
    assert o.employer_id.str.fullmatch(r"\d{14}").all()
    # Towns have more offers, and more seats, per inhabitant than the countryside.
    communes = load_communes()
    nearest = _nearest_commune(o.lon.to_numpy(), o.lat.to_numpy(), communes)
    pop = communes.population.to_numpy()
    town = pop >= 30_000
    rural = pop < 2_000
    offers_per_capita = [np.isin(nearest, np.flatnonzero(m)).sum() / pop[m].sum()
                         for m in (town, rural)]
    assert offers_per_capita[0] > 1.3 * offers_per_capita[1]
    cap = o.capacity.to_numpy()
    assert cap[np.isin(nearest, np.flatnonzero(town))].mean() > cap[
        np.isin(nearest, np.flatnonzero(rural))].mean()


def test_siret_are_luhn_valid(tables: dict[str, pd.DataFrame]) -> None:
    for siret in tables["offers"].employer_id:
        digits = [int(c) for c in siret][::-1]
        total = sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d)
                    for i, d in enumerate(digits))
        assert total % 10 == 0, siret


def test_pairs_come_in_twos(full) -> None:
    o = full.offers
    paired = o[o.pair_id != ""]
    sizes = paired.pair_id.value_counts()
    assert len(sizes) > 100 and (sizes == 2).all()
    assert paired.pair_id.str.fullmatch(r"P\d{5}").all()
    assert (o.min_group[o.pair_id == ""] == "").all()
    assert set(paired.min_group) == {"", "2", "3"}
    assert (paired.capacity > 0).all()
    for _, pair in paired.groupby("pair_id"):
        periods = sorted(pair.period)
        assert periods in ([0, 0], [1, 2]), periods
        lat = pair.lat.to_numpy()
        lon = pair.lon.to_numpy()
        assert abs(lat[0] - lat[1]) < 0.2 and abs(lon[0] - lon[1]) < 0.3


def test_reachable_pairs_calibrated(full) -> None:
    rng = np.random.default_rng(0)
    sample = full.students.iloc[np.sort(rng.choice(len(full.students), 5000, replace=False))]
    per_pupil = count_reachable_pairs(sample, full.offers) / (sample.status == "").sum()
    pairs = per_pupil * (full.students.status == "").sum()
    assert 15e6 <= pairs <= 25e6


# -- conventions --------------------------------------------------------------

def _minutes(students: pd.DataFrame, offers: pd.DataFrame) -> np.ndarray:
    geod = Geod(ellps="WGS84")
    _, _, dist_m = geod.inv(students.lon.astype(float).to_numpy(),
                            students.lat.astype(float).to_numpy(),
                            offers.lon.astype(float).to_numpy(),
                            offers.lat.astype(float).to_numpy())
    p = np.array([[MODES[m].speed_kmh, MODES[m].detour, MODES[m].access_minutes]
                  for m in students["mode"]])
    return p[:, 2] + p[:, 1] * dist_m / 1000 / p[:, 0] * 60


@pytest.mark.parametrize("which", ["small", "full"])
def test_conventions_are_valid(which: str, tables: dict[str, pd.DataFrame], full) -> None:
    if which == "small":
        s, o, c = tables["students"], tables["offers"], tables["conventions"]
        o = o.assign(lat=o.lat.astype(float), lon=o.lon.astype(float),
                     capacity=o.capacity.astype(int), period=o.period.astype(int),
                     reserved=o.reserved.astype(int))
        s = s.assign(lat=s.lat.astype(float), lon=s.lon.astype(float),
                     priority=s.priority.astype(int))
    else:
        s, o, c = full.students, full.offers, full.conventions
    to_place = (s.status == "").sum()
    assert len(c) == round(0.03 * to_place) and len(c) > 0
    assert c.student_id.is_unique
    ss = s.set_index("student_id").loc[c.student_id].reset_index()
    oo = o.set_index("offer_id").loc[c.offer_id].reset_index()
    assert (ss.status == "").all()
    assert (oo.pair_id == "").all() and (oo.capacity > 0).all()
    assert ((oo.reserved == 0) | (ss.priority == 1)).all()
    expected_week = oo.period.map({0: "", 1: "1", 2: "2"})
    assert (c.week.to_numpy() == expected_week.to_numpy()).all()
    # Capacity per offer and week.
    for allocation in ("1", "2"):
        uses = c.week.isin(["", allocation]).to_numpy()
        used = pd.Series(c.offer_id.to_numpy()[uses]).value_counts()
        cap = o.set_index("offer_id").capacity
        assert (used <= cap.loc[used.index]).all()
    # Within each pupil's limit with the spec's crowfly formula (rounded coordinates
    # in the files may move a borderline pair by a few metres).
    limit = np.array([min(MODES[m].max_minutes, float(x) if x != "" else np.inf)
                      for m, x in zip(ss["mode"], ss.max_minutes, strict=True)])
    assert (_minutes(ss, oo) <= limit + 0.01).all()


# -- bundled geography --------------------------------------------------------

def test_geodata_communes() -> None:
    c = load_communes()
    assert len(c) == 2644 and c.insee.is_unique
    assert c.population.sum() == 3_330_478
    assert c.epci_siren.nunique() == 71
    assert c.insee.str.fullmatch(r"(14|27|50|61|76)\d{3}").all()
    assert (c.department == c.insee.str[:2]).all()
    assert c.epci_siren.str.fullmatch(r"\d{9}").all()
    assert c.lat.between(48.1, 50.1).all() and c.lon.between(-2.0, 1.9).all()
    assert c.set_index("insee").loc["14118", "name"] == "Caen"


def test_geodata_lycees() -> None:
    ly = load_lycees()
    communes = set(load_communes().insee)
    assert ly.uai.is_unique and ly.uai.str.fullmatch(r"0(14|27|50|61|76)\d{4}[A-Z]").all()
    assert set(ly.insee) <= communes
    assert set(ly.teaches_gt) == {0, 1}
    assert 120 <= ly.teaches_gt.sum() <= 150
    named = ly.set_index("uai")
    assert named.loc["0140013N", "teaches_gt"] == 1  # Lycée Malherbe, Caen
    assert named.loc["0140018U", "teaches_gt"] == 0  # lycée professionnel
    assert not ly.name.str.contains("RECTORAT").any()


def test_geodata_matches_reference() -> None:
    communes = shared_file("normandie", "communes.csv")
    lycees = shared_file("normandie", "lycees.csv")
    ref = pd.read_csv(communes, dtype={"insee": str, "epci_siren": str})
    m = load_communes().merge(ref, on="insee", suffixes=("", "_ref"))
    assert len(m) == 2644
    assert (m.population == m.population_ref).all()
    assert (m.epci_siren == m.epci_siren_ref).all()
    far = np.hypot(m.lat - m.lat_ref, (m.lon - m.lon_ref) * 0.65) * 111 > 0.5
    assert set(m.insee[far]) <= {"14581"}  # Aurseulles: no polygon in the source
    ref_ly = pd.read_csv(lycees, dtype={"uai": str, "insee": str})
    both = load_lycees().merge(ref_ly, on="uai", suffixes=("", "_ref"))
    assert (both.insee == both.insee_ref).all()
    flagged = both[both.teaches_gt == 1].secondes_gt_2022.sum()
    assert flagged >= 0.99 * ref_ly.secondes_gt_2022.sum()


def test_scale_changes_size_and_name() -> None:
    scen = build_scenario(0.005, 1)
    assert len(scen.students) == round(PUPILS_AT_SCALE_1 * 0.005)
    assert len(scen.offers) == round(13_000 * 0.005)
    assert re.fullmatch(r"normandie-2026-scale-0\.005", scen.name)
    with pytest.raises(ValueError):
        build_scenario(0.0)
