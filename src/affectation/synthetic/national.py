"""Synthetic but realistic scenarios for France as a whole: the 30 académies at once.

``generate_national`` writes a national scenario: a folder of v1 inputs (``scenario.toml``,
``students.csv``, ``offers.csv``, ``conventions.csv``) whose pupils and offers carry one
documented extension column, ``academy`` (the code of ``geodata.load_academies``: the
académie of the pupil's lycée, and of the commune an offer is in). ``affectation national``
solves it académie by académie (``affectation.national``); ``affectation solve`` ignores the
column (unknown columns are ignored by the v1 readers).

Built from the bundled national geography (``geodata.load_france_communes``,
``load_france_lycees``, ``load_academies``) with the pieces of the Normandy generator
(``synthetic.scenario``: ``pupils_table``, ``offers_table``, ``conventions_table``), so that a
pupil, an offer and a convention are drawn the same way in both:

- Pupils per lycée: by default, ``NATIONAL_PUPILS_2022 * scale`` pupils shared among the
  lycées teaching seconde GT by the Normandy generator's gravity model (each commune's
  population split among the lycées within 25 km with the kernel ``exp(-d / 5 km)``, private
  lycées weighing 0.4). With ``lycees_csv`` (the ministry's 2022 head-counts per lycée, a file
  the user gives (the benchmarks pass the copy of the project's shared data); columns ``uai``,
  ``seconde_gt_2022``, ``ips_gt``, ``sector``, ``lat``, ``lon``, ``commune``), each lycée
  gets its real count times ``scale``
  (largest remainder: the national total is exact), at its real position, and its share of
  priority pupils follows its social index ``ips_gt`` (``priority_rate``).
- Homes: for each lycée, communes within 25 km drawn with weight population x the commune's
  share going to that lycée (the gravity model, whoever sets the counts), then a jitter
  around the centroid (wider in big cities: Paris, Lyon and Marseille are one commune each
  in the geography).
- Offers, per académie: ``OFFERS_AT_SCALE_1 / PUPILS_AT_SCALE_1`` offers per pupil of the
  académie (Normandy's ratio), in its communes with weight population^1.15, capacities tuned
  so that two-week-equivalent seats are 95 % of the académie's pupils to place; then pairs,
  periods, reserved offers, sectors and employers as in Normandy.
- Conventions: 3 % of each académie's pupils to place, at valid offers of their académie.

Determinism: each académie draws from its own random streams (``SeedSequence([seed, k])``,
``k`` its rank in ``load_academies``'s list), so an académie's pupils, offers and ids are the
same whether it is generated alone (``academies=[...]``) or with the others; identifiers are
prefixed by the académie's code (``normandie-E000123``, ``normandie-O01234``,
``normandie-P0012``). The same arguments give byte-identical files.

Mayotte's communes have no population in the source: its 17 communes share
``MAYOTTE_POPULATION`` equally (INSEE, 2017 census), so that the default model gives
Mayotte pupils and offers too. The Pacific territories and Saint-Pierre-et-Miquelon are
not in the académie table and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.geodata import load_academies, load_france_communes, load_france_lycees
from affectation.synthetic.scenario import (
    CATCHMENT_KM,
    HOME_MAX_KM,
    MODES,
    OFFERS_AT_SCALE_1,
    PRIVATE_WEIGHT,
    PUPILS_AT_SCALE_1,
    WEEKS,
    conventions_table,
    csv_text,
    is_private,
    largest_remainder,
    offers_table,
    pupils_table,
    sector_weights,
)

__all__ = [
    "ACADEMY_COLUMN",
    "MAYOTTE_POPULATION",
    "NATIONAL_PUPILS_2022",
    "NationalScenario",
    "build_national",
    "generate_national",
    "lycee_department",
    "national_files",
    "national_scenario_toml",
    "priority_rate",
]

ACADEMY_COLUMN = "academy"
NATIONAL_PUPILS_2022 = 560_124  # seconde GT, France, rentrée 2022 (DEPP)
MAYOTTE_POPULATION = 256_518  # INSEE, 2017 census (the source has none for Mayotte)
OFFERS_PER_PUPIL = OFFERS_AT_SCALE_1 / PUPILS_AT_SCALE_1
# Jitter around commune centroids (see scenario._jitter): as in Normandy, but big cities
# spread wider (Paris, 2.1 M inhabitants: ~4.6 km before the cap).
NATIONAL_HOME_JITTER = (0.6, 0.0045, 0.7, 5.0)
NATIONAL_OFFER_JITTER = (0.3, 0.003, 0.4, 4.0)
# Priority share of a lycée from its social index (mean 115, sd 15 over lycées GT).
IPS_MEAN = 115.0
IPS_SLOPE = 0.012
PRIORITY_AT_MEAN = 0.20
PRIORITY_RANGE = (0.03, 0.65)
_CHUNK = 64  # lycées whose distances to every commune are held at once


@dataclass
class NationalScenario:
    """The tables of a generated national scenario, before writing."""

    name: str
    students: pd.DataFrame
    offers: pd.DataFrame
    conventions: pd.DataFrame

    def counts(self) -> dict[str, int]:
        s, o = self.students, self.offers
        return {
            "students": len(s),
            "students_to_place": int((s.status == "").sum()),
            "offers": len(o),
            "conventions": len(self.conventions),
            "academies": int(s[ACADEMY_COLUMN].nunique()),
        }


def lycee_department(uai: pd.Series) -> pd.Series:
    """The département of a lycée from its UAI: ``0DD`` -> ``DD``, ``620`` -> ``2A``,
    ``720`` -> ``2B``, ``97x`` -> ``97x`` (the rule of ``load_france_lycees``)."""
    head = uai.str[:3]
    dept = np.where(head.str.startswith("97"), head, head.str[1:])
    dept = np.where(head == "620", "2A", np.where(head == "720", "2B", dept))
    return pd.Series(dept, index=uai.index)


def priority_rate(ips: np.ndarray) -> np.ndarray:
    """Share of priority pupils of a lycée from its social index ``ips_gt`` (lower: more
    disadvantaged intake): 20 % at the national mean (115), 1.2 points more per point of index
    below it, within 3 %-65 %; 20 % where the index is unknown (nan)."""
    rate = PRIORITY_AT_MEAN - IPS_SLOPE * (np.asarray(ips, dtype=float) - IPS_MEAN)
    rate = np.where(np.isnan(rate), PRIORITY_AT_MEAN, rate)
    return np.clip(rate, *PRIORITY_RANGE)


def generate_national(out_dir: Path, scale: float = 1.0, seed: int = 0, *,
                      academies: Sequence[str] | None = None,
                      lycees_csv: Path | None = None) -> dict[str, int]:
    """Write a national scenario into ``out_dir`` (see the module docstring); its counts."""
    texts, counts = national_files(scale, seed, academies=academies, lycees_csv=lycees_csv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    return counts


def national_files(scale: float = 1.0, seed: int = 0, *,
                   academies: Sequence[str] | None = None, lycees_csv: Path | None = None
                   ) -> tuple[dict[str, str], dict[str, int]]:
    """The texts of the national scenario's files (name -> text) and its counts, for a
    caller that writes them itself (the command line, atomically)."""
    scen = build_national(scale, seed, academies=academies, lycees_csv=lycees_csv)
    texts = {"students.csv": csv_text(scen.students), "offers.csv": csv_text(scen.offers),
             "conventions.csv": csv_text(scen.conventions),
             "scenario.toml": national_scenario_toml(scen.name)}
    return texts, scen.counts()


def national_scenario_toml(name: str, seed: int = 0) -> str:
    """The national ``scenario.toml``: v1 keys only, the Normandy generator's modes."""
    lines = ["[scenario]", f'name = "{name}"',
             "weeks = [" + ", ".join(f'"{w}"' for w in WEEKS) + "]", "format = 1", "",
             "[inputs]", 'students = "students.csv"', 'offers = "offers.csv"',
             'conventions = "conventions.csv"', "", "[travel]", 'model = "crowfly"',
             'default_mode = "public"']
    for mode, p in MODES.items():
        lines += ["", f"[travel.modes.{mode}]", f"speed_kmh = {p.speed_kmh:.1f}",
                  f"detour = {p.detour:.2f}", f"access_minutes = {p.access_minutes:.1f}",
                  f"max_minutes = {p.max_minutes:.1f}"]
    lines += ["", "[rules]", "split_two_week_offers = false", "", "[solver]",
              "time_limit_s = 600", f"seed = {seed}", ""]
    return "\n".join(lines)


def build_national(scale: float = 1.0, seed: int = 0, *,
                   academies: Sequence[str] | None = None,
                   lycees_csv: Path | None = None) -> NationalScenario:
    """Build the national scenario's tables in memory (what ``generate_national`` writes)."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    table = load_academies()
    codes = sorted(table.academie.unique())
    wanted = codes if academies is None else list(academies)
    unknown = sorted(set(wanted) - set(codes))
    if unknown:
        raise ValueError(f"unknown académies {unknown}; expected some of {codes}")
    academy_of_dept = dict(zip(table.department, table.academie, strict=True))
    communes = _communes()
    commune_academy = communes.department.map(academy_of_dept).fillna("").to_numpy()
    lycees = _lycees(lycees_csv, communes, academy_of_dept)
    share = _Catchment(communes, lycees)
    per_lycee = _pupils_per_lycee(lycees, share, scale, counted=lycees_csv is not None)
    pop = communes.population.to_numpy(float)
    inhabited = pop > 0
    mean_log_pop = float((pop[inhabited] * np.log10(pop[inhabited])).sum()
                         / pop[inhabited].sum())
    sector_w = sector_weights()
    uai = lycees.uai.to_numpy()
    rates = priority_rate(lycees.ips.to_numpy(float)) if lycees_csv is not None else None

    students, offers, conventions = [], [], []
    for code in sorted(set(wanted)):
        rank = codes.index(code)
        streams = [np.random.default_rng(s)
                   for s in np.random.SeedSequence([seed, rank]).spawn(4)]
        rng_students, rng_offers, rng_conventions, rng_employers = streams
        mine = np.flatnonzero((lycees.academie.to_numpy() == code) & (per_lycee > 0))
        home_c, school = share.draw_homes(mine, per_lycee, rng_students)
        pupils = pupils_table(communes, home_c, school, uai, sector_w, rng_students,
                              school_rate=rates,
                              home_jitter=NATIONAL_HOME_JITTER, id_prefix=f"{code}-E",
                              mean_log_pop=mean_log_pop) if len(school) else _no_pupils()
        pupils[ACADEMY_COLUMN] = code
        n_to_place = int((pupils.status == "").sum())
        where = np.flatnonzero((commune_academy == code) & inhabited)
        n_offers = max(2, round(OFFERS_PER_PUPIL * len(pupils)))
        local = communes.iloc[where].reset_index(drop=True)
        offer_table = offers_table(local, n_offers, max(n_to_place, 1), sector_w, rng_offers,
                                   rng_employers, jitter=NATIONAL_OFFER_JITTER,
                                   id_prefix=f"{code}-O", pair_prefix=f"{code}-P")
        offer_table[ACADEMY_COLUMN] = code
        students.append(pupils)
        offers.append(offer_table)
        if len(pupils):
            conventions.append(conventions_table(pupils, offer_table, rng_conventions))
    name = "france-2026" if scale == 1 else f"france-2026-scale-{scale:g}"
    if academies is not None:
        name += "-" + "-".join(sorted(set(wanted)))
    return NationalScenario(
        name,
        pd.concat(students, ignore_index=True),
        pd.concat(offers, ignore_index=True),
        pd.concat(conventions, ignore_index=True) if conventions
        else pd.DataFrame({"student_id": [], "offer_id": [], "week": []}),
    )


def _no_pupils() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in (
        "student_id", "school_id", "lat", "lon", "mode", "max_minutes", "priority", "sectors",
        "status")})


def _communes() -> pd.DataFrame:
    """France's communes with a population everywhere (Mayotte's shared out, others 0)."""
    communes = load_france_communes()
    pop = communes.population.astype("float64").to_numpy().copy()
    mayotte = (communes.department == "976").to_numpy()
    pop[mayotte & np.isnan(pop)] = MAYOTTE_POPULATION / int(mayotte.sum())
    pop[np.isnan(pop)] = 0.0
    communes = communes.copy()
    communes["population"] = pop
    return communes


def _lycees(path: Path | None, communes: pd.DataFrame,
            academy_of_dept: dict[str, str]) -> pd.DataFrame:
    """The lycées of seconde GT: ``uai``, ``name``, ``lat``, ``lon``, ``academie``,
    ``private`` (bool), ``count`` (pupils in 2022, from the CSV; else 0) and ``ips`` (nan
    when unknown), sorted by UAI; those outside the académie table are left out."""
    if path is None:
        ly = load_france_lycees()
        ly = ly[ly.teaches_gt == 1].reset_index(drop=True)
        out = pd.DataFrame({"uai": ly.uai, "name": ly.name, "lat": ly.lat, "lon": ly.lon,
                            "department": ly.department, "private": is_private(ly.name),
                            "count": 0, "ips": np.nan})
    else:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        lat = pd.to_numeric(raw.lat, errors="coerce")
        lon = pd.to_numeric(raw.lon, errors="coerce")
        # Lycées without coordinates: their commune's centroid (arrondissements of Paris,
        # Lyon and Marseille are one commune in the geography).
        code = raw.commune.str.replace(r"^751\d\d$", "75056", regex=True)
        code = code.str.replace(r"^6938\d$", "69123", regex=True)
        code = code.str.replace(r"^132\d\d$", "13055", regex=True)
        centroid = communes.set_index("insee")[["lat", "lon"]]
        fill = code.map(centroid.lat), code.map(centroid.lon)
        out = pd.DataFrame({
            "uai": raw.uai.str.strip().str.upper(), "name": raw.name,
            "lat": lat.fillna(fill[0]), "lon": lon.fillna(fill[1]),
            "department": lycee_department(raw.uai.str.strip().str.upper()),
            "private": raw.sector.str.upper().str.startswith("PRIV").to_numpy(),
            "count": pd.to_numeric(raw.seconde_gt_2022, errors="coerce").fillna(0).astype(int),
            "ips": pd.to_numeric(raw.ips_gt, errors="coerce"),
        })
        out = out[out.lat.notna() & out.lon.notna()]
    out["academie"] = out.department.map(academy_of_dept)
    out = out[out.academie.notna()].sort_values("uai", kind="stable").reset_index(drop=True)
    return out


def _pupils_per_lycee(lycees: pd.DataFrame, catchment: _Catchment, scale: float,
                      counted: bool) -> np.ndarray:
    """Pupils of each lycée: the real counts times ``scale`` (largest remainder), or the
    national total shared by the population each lycée gathers."""
    if counted:
        counts = lycees["count"].to_numpy(float)
        return largest_remainder(counts, max(1, round(float(counts.sum()) * scale)))
    gathered = catchment.gathered()
    return largest_remainder(gathered, max(1, round(NATIONAL_PUPILS_2022 * scale)))


class _Catchment:
    """The gravity model, sparse: each commune's population shared among the lycées within
    ``HOME_MAX_KM`` with the kernel ``exp(-d / CATCHMENT_KM)`` (private lycées weigh
    ``PRIVATE_WEIGHT``), as ``scenario._catchment`` does densely for Normandy."""

    def __init__(self, communes: pd.DataFrame, lycees: pd.DataFrame) -> None:
        self.pop = communes.population.to_numpy(float)
        clat, clon = communes.lat.to_numpy(float), communes.lon.to_numpy(float)
        llat, llon = lycees.lat.to_numpy(float), lycees.lon.to_numpy(float)
        attract = np.where(lycees.private.to_numpy(bool), PRIVATE_WEIGHT, 1.0)
        lyc, com, ker = [], [], []
        for lo in range(0, len(llat), _CHUNK):
            hi = min(lo + _CHUNK, len(llat))
            d = _local_km(llat[lo:hi, None], llon[lo:hi, None], clat[None, :], clon[None, :])
            j, c = np.nonzero(d <= HOME_MAX_KM)
            lyc.append(j + lo)
            com.append(c)
            ker.append(np.exp(-d[j, c] / CATCHMENT_KM) * attract[j + lo])
        self.lycee = np.concatenate(lyc)
        self.commune = np.concatenate(com)
        kernel = np.concatenate(ker)
        total = np.zeros(len(self.pop))
        np.add.at(total, self.commune, kernel)
        self.share = kernel / total[self.commune]
        self.n_lycees = len(llat)
        self.start = np.searchsorted(self.lycee, np.arange(self.n_lycees + 1))
        self.nearest = np.array([
            int(np.argmin(_local_km(llat[j], llon[j], clat, clon))) for j in range(len(llat))
        ]) if len(llat) else np.zeros(0, dtype=np.int64)

    def gathered(self) -> np.ndarray:
        """Population each lycée gathers."""
        out = np.zeros(self.n_lycees)
        np.add.at(out, self.lycee, self.share * self.pop[self.commune])
        return out

    def draw_homes(self, lycees: np.ndarray, per_lycee: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Home communes and school of the pupils of ``lycees`` (in this order)."""
        homes, school = [], []
        for j in lycees:
            n = int(per_lycee[j])
            lo, hi = self.start[j], self.start[j + 1]
            cand = self.commune[lo:hi]
            w = self.pop[cand] * self.share[lo:hi]
            if w.sum() > 0:
                homes.append(cand[rng.choice(len(cand), size=n, p=w / w.sum())])
            else:  # nobody lives within reach in the geography: the lycée's own commune
                homes.append(np.full(n, self.nearest[j], dtype=np.int64))
            school.append(np.full(n, j, dtype=np.int64))
        if not homes:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(homes), np.concatenate(school)


def _local_km(lat1: np.ndarray | float, lon1: np.ndarray | float, lat2: np.ndarray,
              lon2: np.ndarray) -> np.ndarray:
    """Equirectangular km at the first point's latitude (good to ~1 % within 25 km)."""
    kx = 111.32 * np.cos(np.radians(lat1))
    return np.hypot((np.asarray(lon2) - lon1) * kx, (np.asarray(lat2) - lat1) * 110.574)
