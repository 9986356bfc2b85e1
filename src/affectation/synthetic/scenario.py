"""Synthetic but realistic scenarios for the académie de Normandie.

``generate_scenario`` writes a complete v1 scenario (``scenario.toml``,
``students.csv``, ``offers.csv``, ``conventions.csv``) built only from the
bundled geography (``affectation.geodata``: communes and lycées). It serves
demos, tests and benchmarks: scale 1 is the size of the real académie
(25,556 pupils of seconde GT in 2022, about 13,000 offers), and the travel
parameters are calibrated so that a pupil reaches about 800 offers on average
(about 20 million reachable pupil-offer pairs at scale 1).

The output depends only on ``scale`` and ``seed`` (numpy ``default_rng``, one
independent stream per step, stable sorts, fixed float formatting): the same
arguments give byte-identical files. Everything is synthetic, including home
locations (personal data in a real scenario).

Model, in short (constants below):

- Pupils per lycée: every commune's population is shared among the lycées
  teaching seconde GT with a gravity kernel ``exp(-d / 5 km)`` (private-looking
  lycées weigh 0.4: they are smaller); a lycée's pupils are proportional to the
  population it gathers (largest-remainder rounding, exact total).
- Homes: for each lycée, a home commune within 25 km drawn with the same kernel
  (population x distance decay), then a gaussian jitter around the commune's
  centroid whose spread grows with sqrt(population) (0.7-2 km).
- Offers: communes drawn with weight population^1.15 (towns weigh more; this
  matches how employers with staff concentrate in Normandy), a tighter jitter
  (0.4-1.5 km); capacities 1-2 mostly, 3-6 more often in towns, tuned so that
  two-week-equivalent seats are 95 % of the pupils to place.
- Travel modes (``MODES``): car 60 km/h, public 32 km/h, bike 16, walk 5, all
  with a 1.3 detour; car is more frequent in small communes.

Instance profiles (``synthetic.profiles``) turn the knobs above: seats per pupil, the
capacity distribution, one-week offers, reserved offers, pairs, conventions, mode shares,
speeds and limits, priority pupils, how clustered offers are. With the bundled profile (the
default) the draws are exactly those of the calibrated generator.

Length: one generator (pupils, offers, employers, conventions) sharing its random stream in a
fixed order, so that a seed gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Geod

from affectation.geodata import load_communes, load_lycees
from affectation.synthetic.profiles import BUNDLED, CAPACITY_MAX, Profile, profile_problems

__all__ = [
    "FILES",
    "MODES",
    "NORMANDY_BBOX",
    "OFFERS_AT_SCALE_1",
    "PUPILS_AT_SCALE_1",
    "WEEKS",
    "GeneratedScenario",
    "Mode",
    "build_scenario",
    "conventions_table",
    "count_reachable_pairs",
    "modes_of",
    "generate_scenario",
    "csv_text",
    "is_private",
    "scenario_files",
    "largest_remainder",
    "offers_table",
    "pupils_table",
    "scenario_toml",
    "sector_weights",
]

WEEKS = ("2026-W25", "2026-W26")
FILES = ("scenario.toml", "students.csv", "offers.csv", "conventions.csv")

PUPILS_AT_SCALE_1 = 25_556  # seconde GT, académie de Normandie, 2022
OFFERS_AT_SCALE_1 = 13_000
SEATS_PER_PUPIL = 0.95  # two-week-equivalent seats / pupils to place

# Pupils: catchment kernel, home draws and jitter.
CATCHMENT_KM = 5.0  # e-folding distance of the lycée gravity kernel
HOME_MAX_KM = 25.0  # home communes farther than this from the lycée are not drawn
PRIVATE_WEIGHT = 0.4  # private lycées have about 0.45x the pupils of public ones
STATUS_SHARES = {"self_placed": 0.035, "exempt": 0.005}
PRIORITY_MEAN = 0.20  # per-school rate ~ Beta(3, 12): mean 0.2, sd 0.1
MAX_MINUTES_SHARE = 0.05
MAX_MINUTES_VALUES = (20, 25, 30)
MAX_MINUTES_PROBS = (0.2, 0.3, 0.5)
PREFERENCE_COUNT_PROBS = (0.30, 0.25, 0.25, 0.20)  # 0, 1, 2 or 3 preferred sectors
# Modes: overall shares; car is more likely in small communes (see _draw_modes).
MODE_SHARES = {"public": 0.55, "car": 0.30, "bike": 0.10, "walk": 0.05}
CAR_SLOPE = 0.12  # car share change per factor 10 of the home commune's population

# Offers.
OFFER_TOWN_EXPONENT = 1.15
PAIRED_SHARE = 0.03  # share of offers in mutualised pairs
PAIR_SAME_COMMUNE = 0.5
PAIR_NEARBY_KM = 10.0
RESERVED_SHARE = 0.07
WITHDRAWN_SHARE = 0.005  # capacity 0
PERIOD_PROBS = (0.80, 0.10, 0.10)
SHARED_EMPLOYER_SHARE = 0.08  # offers reusing another offer's employer in the same commune
N_SECTORS = 51
CONVENTION_SHARE = 0.03  # of the pupils to place

NORMANDY_BBOX = (-2.1, 48.1, 1.95, 50.15)  # lon_min, lat_min, lon_max, lat_max


@dataclass(frozen=True)
class Mode:
    """Parameters of one travel mode of the ``crowfly`` model."""

    speed_kmh: float
    detour: float
    access_minutes: float
    max_minutes: float

    def reach_km(self, limit: float | None = None) -> float:
        """Largest geodesic distance allowed within ``limit`` minutes (default: the mode's)."""
        limit = self.max_minutes if limit is None else min(limit, self.max_minutes)
        return max(0.0, (limit - self.access_minutes) * self.speed_kmh / (60.0 * self.detour))


# Calibrated so that a pupil reaches ~800 offers on average at scale 1 (about
# 20 million reachable pairs), with plausible speeds:
# - car 60 km/h x 1.3 detour + 10 min fits the OSRM door-to-door fit
#   ``15.65 + 1.02 x km`` within ~2 min between 10 and 30 km (reach 27 km);
# - public transport (coach, town bus) 32 km/h on the road, i.e. ~25 km/h
#   straight-line, plus 10 min to reach the stop and wait (reach 14 km);
# - bike 16 km/h (reach 7 km in 35 min), walk 5 km/h (reach 1.9 km in 30 min).
MODES: dict[str, Mode] = {
    "public": Mode(speed_kmh=32.0, detour=1.3, access_minutes=10.0, max_minutes=45.0),
    "car": Mode(speed_kmh=60.0, detour=1.3, access_minutes=10.0, max_minutes=45.0),
    "bike": Mode(speed_kmh=16.0, detour=1.3, access_minutes=2.0, max_minutes=35.0),
    "walk": Mode(speed_kmh=5.0, detour=1.3, access_minutes=0.0, max_minutes=30.0),
}


def modes_of(profile: Profile) -> dict[str, Mode]:
    """The crowfly modes of a profile: its speeds and limits, the bundled detours and
    access times."""
    return {name: Mode(speed_kmh=profile.modes[name].speed_kmh, detour=base.detour,
                       access_minutes=base.access_minutes,
                       max_minutes=profile.modes[name].max_minutes)
            for name, base in MODES.items()}


@dataclass
class GeneratedScenario:
    """The tables of a generated scenario, before writing."""

    name: str
    students: pd.DataFrame
    offers: pd.DataFrame
    conventions: pd.DataFrame
    profile: Profile = BUNDLED

    def counts(self) -> dict[str, int | float]:
        """Small summary: rows, pupils to place, seats, pairs, conventions."""
        s, o = self.students, self.offers
        weeks = np.where(o.period.to_numpy() == 0, 2, 1)
        seats = float((o.capacity.to_numpy() * weeks).sum() / 2)
        return {
            "students": len(s),
            "students_to_place": int((s.status == "").sum()),
            "priority_students": int((s.priority == 1).sum()),
            "offers": len(o),
            "capacity": int(o.capacity.sum()),
            "seats_two_weeks": seats,
            "reserved_offers": int((o.reserved == 1).sum()),
            "pairs": int((o.pair_id != "").sum() // 2),
            "conventions": len(self.conventions),
        }


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def generate_scenario(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 0,
    *,
    files: Collection[str] | None = None,
    profile: Profile | None = None,
) -> dict[str, int | float]:
    """Write a synthetic Normandy scenario into ``out_dir`` and return its counts.

    ``scale`` multiplies pupils and offers (1 = the real académie); the same
    ``scale`` and ``seed`` give byte-identical files. ``files`` restricts the
    files written (names from ``FILES``; default: all four); when
    ``conventions.csv`` is not written, ``scenario.toml`` does not name it. ``profile``: the
    instance profile (default: the bundled one).
    """
    texts, counts = scenario_files(scale, seed, files=files, profile=profile)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in texts.items():
        (out / fname).write_text(text, encoding="utf-8", newline="\n")
    return counts


def scenario_files(scale: float = 1.0, seed: int = 0, *, files: Collection[str] | None = None,
                   profile: Profile | None = None
                   ) -> tuple[dict[str, str], dict[str, int | float]]:
    """The texts of the scenario's files (name -> text, see ``generate_scenario``) and its
    counts, for a caller that writes them itself (the command line, atomically)."""
    wanted = set(FILES if files is None else files)
    unknown = wanted - set(FILES)
    if unknown:
        raise ValueError(f"unknown files {sorted(unknown)}; expected some of {FILES}")
    scen = build_scenario(scale, seed, profile)
    tables = {"students.csv": scen.students, "offers.csv": scen.offers,
              "conventions.csv": scen.conventions}
    texts = {fname: csv_text(table) for fname, table in tables.items() if fname in wanted}
    if "scenario.toml" in wanted:
        texts["scenario.toml"] = scenario_toml(scen.name, conventions="conventions.csv" in wanted,
                                               seed=0, profile=scen.profile)
    return texts, scen.counts()


def build_scenario(scale: float = 1.0, seed: int = 0,
                   profile: Profile | None = None) -> GeneratedScenario:
    """Build the scenario's tables in memory (what ``generate_scenario`` writes)."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    profile = BUNDLED if profile is None else profile
    bad = profile_problems(profile)
    if bad:
        raise ValueError(f"invalid profile {profile.name!r}: {bad}")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    rng_students, rng_offers, rng_conventions, rng_employers = streams
    communes = load_communes()
    lycees = load_lycees()
    lycees = lycees[lycees.teaches_gt == 1].reset_index(drop=True)
    sector_w = sector_weights()

    students = _make_students(communes, lycees, scale, sector_w, rng_students, profile)
    offers = _make_offers(communes, scale, len(students[students.status == ""]),
                          sector_w, rng_offers, rng_employers, profile)
    conventions = _make_conventions(students, offers, rng_conventions, profile, scale)
    name = "normandie-2026" if profile == BUNDLED else f"normandie-2026-{profile.name}"
    if scale != 1:
        name += f"-scale-{scale:g}"
    return GeneratedScenario(name, students, offers, conventions, profile)


def scenario_toml(name: str, conventions: bool = True, seed: int = 0,
                  profile: Profile | None = None) -> str:
    """The ``scenario.toml`` text (v1 keys only) with the profile's modes (default: the
    calibrated ones); a profile other than the bundled one is named in a comment."""
    profile = BUNDLED if profile is None else profile
    lines = [] if profile == BUNDLED else [
        f"# Profil d'instance : {profile.name} ({profile.describe()})"]
    lines += [
        "[scenario]",
        f'name = "{name}"',
        "weeks = [" + ", ".join(f'"{w}"' for w in WEEKS) + "]",
        "format = 1",
        "",
        "[inputs]",
        'students = "students.csv"',
        'offers = "offers.csv"',
    ]
    if conventions:
        lines.append('conventions = "conventions.csv"')
    lines += ["", "[travel]", 'model = "crowfly"', 'default_mode = "public"']
    for mode, p in modes_of(profile).items():
        lines += [
            "",
            f"[travel.modes.{mode}]",
            f"speed_kmh = {p.speed_kmh:.1f}",
            f"detour = {p.detour:.2f}",
            f"access_minutes = {p.access_minutes:.1f}",
            f"max_minutes = {p.max_minutes:.1f}",
        ]
    lines += ["", "[rules]", "split_two_week_offers = false",
              "", "[solver]", "time_limit_s = 600", f"seed = {seed}", ""]
    return "\n".join(lines)


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` summing exactly to ``total``.

    Hamilton's method; ties broken by index (stable), so the result is deterministic.
    """
    w = np.asarray(weights, dtype=float)
    if total < 0 or w.size == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError("need non-negative weights with a positive sum and total >= 0")
    quota = w / w.sum() * total
    base = np.floor(quota).astype(np.int64)
    missing = int(total - base.sum())
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:missing]] += 1
    return base


def count_reachable_pairs(
    students: pd.DataFrame,
    offers: pd.DataFrame,
    modes: dict[str, Mode] | None = None,
    chunk: int = 1024,
) -> int:
    """Pupils to place x open offers within their travel limit (crowfly model).

    Uses a local flat-earth distance (error well under 0.5 % at Normandy's
    scale): it is meant for calibration and benchmarks, not for decisions.
    """
    modes = MODES if modes is None else modes
    s = students[students.status.fillna("") == ""]
    o = offers[offers.capacity > 0]
    own = pd.to_numeric(s["max_minutes"], errors="coerce").to_numpy(float)
    limit = np.array([
        modes[m].reach_km(None if math.isnan(x) else x)
        for m, x in zip(s["mode"], own, strict=True)
    ])
    sx, sy = _to_km(s.lon.to_numpy(float), s.lat.to_numpy(float))
    ox, oy = _to_km(o.lon.to_numpy(float), o.lat.to_numpy(float))
    total = 0
    for i in range(0, len(s), chunk):
        dx = sx[i:i + chunk, None] - ox[None, :]
        dy = sy[i:i + chunk, None] - oy[None, :]
        total += int((dx * dx + dy * dy <= (limit[i:i + chunk, None]) ** 2).sum())
    return total


# --------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------

_LAT0 = 49.0  # reference latitude of the flat-earth projection


def _to_km(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular projection centred on Normandy (km)."""
    return (np.asarray(lon) * 111.32 * math.cos(math.radians(_LAT0)),
            np.asarray(lat) * 110.574)


# Jitter around commune centroids: sigma = clip(base + slope * sqrt(population), lo, hi)
# km. Homes spread over the commune (0.7-2 km); offers cluster in centres and
# business zones (0.4-1.5 km), so that towns keep their weight.
HOME_JITTER = (0.6, 0.0045, 0.7, 2.0)
OFFER_JITTER = (0.3, 0.003, 0.4, 1.5)


def _jitter(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray,
            population: np.ndarray,
            params: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian offset around commune centroids, wider for bigger communes.

    Each component is truncated at 2.5 sigma so that points stay near their commune.
    """
    base, slope, lo, hi = params
    sigma = np.clip(base + slope * np.sqrt(population), lo, hi)
    z = np.clip(rng.standard_normal((2, len(lon))), -2.5, 2.5) * sigma
    new_lat = lat + z[1] / 110.574
    new_lon = lon + z[0] / (111.32 * np.cos(np.radians(lat)))
    return new_lon, new_lat


def _pairwise_km(lon1: np.ndarray, lat1: np.ndarray,
                 lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    x1, y1 = _to_km(lon1, lat1)
    x2, y2 = _to_km(lon2, lat2)
    return np.hypot(x1[:, None] - x2[None, :], y1[:, None] - y2[None, :])


def sector_weights() -> np.ndarray:
    """Fixed popularity of sectors s1..s51 among offers (Zipf-like, scrambled order)."""
    rank = (np.arange(N_SECTORS) * 23) % N_SECTORS  # a fixed permutation of 0..50
    return 1.0 / (1.0 + rank) ** 0.8


# --------------------------------------------------------------------------
# Students
# --------------------------------------------------------------------------

def is_private(names: pd.Series) -> np.ndarray:
    """Private lycées, guessed from their names (PRIVÉ, institution, saints...)."""
    folded = (names.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
              .str.upper().str.replace(r"[^A-Z]+", " ", regex=True))
    pattern = (r"PRIVE|INSTITUT|\bCOURS\b|^LYCEE (?:SAINT|SAINTE|NOTRE DAME|JEANNE D ARC|SACRE)"
               r"|^(?:SAINT|SAINTE|NOTRE DAME)")
    return folded.str.contains(pattern, regex=True).to_numpy()


def _catchment(communes: pd.DataFrame, lycees: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(share of each commune's population going to each lycée, distances in km)."""
    d = _pairwise_km(communes.lon.to_numpy(), communes.lat.to_numpy(),
                     lycees.lon.to_numpy(), lycees.lat.to_numpy())
    attract = np.where(is_private(lycees.name), PRIVATE_WEIGHT, 1.0)
    kernel = np.exp(-d / CATCHMENT_KM) * attract[None, :]
    kernel[d > HOME_MAX_KM] = 0.0
    total = kernel.sum(axis=1, keepdims=True)
    share = np.divide(kernel, total, out=np.zeros_like(kernel), where=total > 0)
    return share, d


def _draw_modes(rng: np.random.Generator, home_pop: np.ndarray,
                mean_log_pop: float, shares: dict[str, float] | None = None) -> np.ndarray:
    """Travel modes: car more likely in small communes, others in fixed proportions.

    The car share's clip (0.08-0.60 bundled) follows a profile's car share."""
    shares = MODE_SHARES if shares is None else shares
    car = shares["car"]
    lo, hi = (0.08, 0.60) if car == MODE_SHARES["car"] else (max(0.0, car - 0.22),
                                                               min(0.95, car + 0.30))
    p_car = np.clip(car + CAR_SLOPE * (mean_log_pop - np.log10(home_pop)), lo, hi)
    rest = 1.0 - car
    p_public = (1 - p_car) * shares["public"] / rest
    p_bike = (1 - p_car) * shares["bike"] / rest
    u = rng.random(len(home_pop))
    return np.where(u < p_car, "car",
                    np.where(u < p_car + p_public, "public",
                             np.where(u < p_car + p_public + p_bike, "bike", "walk")))


def _school_rates(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    """Each lycée's share of priority pupils ~ Beta(3, 3 (1 - mean) / mean)."""
    if mean <= 0:
        return np.zeros(n)
    return rng.beta(3.0, 3.0 * (1 - mean) / mean, size=n)


def _make_students(communes: pd.DataFrame, lycees: pd.DataFrame, scale: float,
                   sector_w: np.ndarray, rng: np.random.Generator,
                   profile: Profile = BUNDLED) -> pd.DataFrame:
    pop = communes.population.to_numpy(float)
    share, _ = _catchment(communes, lycees)
    gathered = (share * pop[:, None]).sum(axis=0)  # population per lycée
    n_total = max(1, round(PUPILS_AT_SCALE_1 * scale))
    per_lycee = largest_remainder(gathered, n_total)

    home_c = np.empty(n_total, dtype=np.int64)
    school = np.empty(n_total, dtype=np.int64)
    start = 0
    for j, n in enumerate(per_lycee):
        if n == 0:
            continue
        w = pop * share[:, j]
        home_c[start:start + n] = rng.choice(len(pop), size=n, p=w / w.sum())
        school[start:start + n] = j
        start += n
    return pupils_table(communes, home_c, school, lycees.uai.to_numpy(), sector_w, rng,
                        profile=profile)


def pupils_table(communes: pd.DataFrame, home_c: np.ndarray, school: np.ndarray,
                 uai: np.ndarray, sector_w: np.ndarray, rng: np.random.Generator, *,
                 school_rate: np.ndarray | None = None,
                 home_jitter: tuple[float, float, float, float] | None = None,
                 id_prefix: str = "E", mean_log_pop: float | None = None,
                 profile: Profile = BUNDLED) -> pd.DataFrame:
    """The pupils' table from their home communes and schools (indices into ``uai``).

    Draws, in this order from ``rng``: homes around the communes' centroids, travel modes,
    own travel limits, the schools' priority rates (``Beta(3, 12)`` unless ``school_rate``
    gives them), priority, preferred sectors and status; then shuffles the rows so that ids do
    not reveal the school. ``mean_log_pop``: the population-weighted mean of log10 population
    the car share is centred on (default: over ``communes``). ``profile``: the mode shares and
    the priority share (default: the bundled ones).
    """
    pop = communes.population.to_numpy(float)
    n_total = len(home_c)
    lon, lat = _jitter(rng, communes.lon.to_numpy()[home_c],
                       communes.lat.to_numpy()[home_c], pop[home_c],
                       HOME_JITTER if home_jitter is None else home_jitter)

    if mean_log_pop is None:
        mean_log_pop = float((pop * np.log10(pop)).sum() / pop.sum())
    mode = _draw_modes(rng, pop[home_c], mean_log_pop, profile.mode_shares)

    has_max = rng.random(n_total) < MAX_MINUTES_SHARE
    max_val = rng.choice(MAX_MINUTES_VALUES, size=n_total, p=MAX_MINUTES_PROBS)
    max_minutes = np.where(has_max, max_val.astype(str), "")

    if school_rate is None:
        school_rate = _school_rates(rng, profile.priority_share, len(uai))
    priority = (rng.random(n_total) < school_rate[school]).astype(np.int64)

    pref_p = sector_w ** 0.5 / (sector_w ** 0.5).sum()  # pupils' tastes are flatter
    n_pref = rng.choice(len(PREFERENCE_COUNT_PROBS), size=n_total, p=PREFERENCE_COUNT_PROBS)
    # 3 distinct sectors per pupil (Gumbel top-k), then keep the first n_pref.
    keys = np.log(pref_p)[None, :] + rng.gumbel(size=(n_total, N_SECTORS))
    top3 = np.argsort(-keys, axis=1, kind="stable")[:, :3] + 1
    sectors = np.array(["|".join(f"s{k}" for k in row[:n]) for row, n in zip(top3, n_pref,
                                                                               strict=True)])

    u = rng.random(n_total)
    status = np.where(u < STATUS_SHARES["self_placed"], "self_placed",
                      np.where(u < STATUS_SHARES["self_placed"] + STATUS_SHARES["exempt"],
                               "exempt", ""))

    order = rng.permutation(n_total)  # ids must not reveal the school
    width = max(6, len(str(n_total)))
    df = pd.DataFrame({
        "school_id": uai[school],
        "lat": lat, "lon": lon, "mode": mode, "max_minutes": max_minutes,
        "priority": priority, "sectors": sectors, "status": status,
    }).iloc[order].reset_index(drop=True)
    df.insert(0, "student_id", [f"{id_prefix}{i:0{width}d}" for i in range(1, n_total + 1)])
    return df


# --------------------------------------------------------------------------
# Offers
# --------------------------------------------------------------------------

_SURNAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "Andre", "Lefevre",
    "Mercier", "Dupont", "Lambert", "Bonnet", "Francois", "Martinez", "Legrand", "Garnier",
    "Faure", "Rousseau", "Blanc", "Guerin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clement", "Gauthier", "Dumont", "Lopez", "Fontaine",
    "Chevalier", "Robin", "Masson", "Sanchez", "Gerard", "Nguyen", "Boyer", "Denis",
    "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noel", "Meyer",
    "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour", "Blanchard", "Marie",
    "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez",
    "Pierre", "Renard", "Arnaud", "Rolland", "Caron", "Aubert", "Giraud", "Leclerc",
    "Vidal", "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard", "Philippe", "Leclercq",
    "Lacroix", "Fabre", "Dupuis", "Olivier", "Rodriguez", "Da Silva", "Hubert", "Louis",
    "Charles", "Guillot", "Riviere", "Le Gall", "Guillaume", "Adam", "Rey", "Moulin",
    "Gonzalez", "Berger", "Lecomte", "Menard", "Fleury", "Deschamps", "Carpentier",
    "Julien", "Benoit", "Paris", "Maillard", "Marchal", "Aubry", "Vasseur", "Le Roux",
    "Renault", "Jacquet", "Collet", "Prevost", "Poirier", "Charpentier", "Royer", "Huet",
    "Baron", "Dupuy", "Pons", "Paul", "Laine", "Carre", "Breton", "Remy", "Schneider",
    "Perrot", "Guyot", "Barre", "Marty", "Cousin", "Lebrun", "Hamon", "Lecoq", "Lemarchand",
    "Levasseur", "Lepetit",
)
_SMALL_EMPLOYERS = (
    "Boulangerie {s}", "Garage {s}", "Pharmacie {s}", "Cabinet {s}", "Atelier {s}",
    "SARL {s}", "SAS {s} et Fils", "EURL {s}", "Menuiserie {s}", "Fleuriste {s}",
    "Cabinet vétérinaire {s}", "Agence {s} Immobilier", "Restaurant Chez {s}",
    "Salon de coiffure {s}", "Ferme {s}", "Librairie {s}", "Électricité {s}",
    "Plomberie {s}", "Étude notariale {s}", "Architecte {s}", "Transports {s}",
    "Opticien {s}", "Cabinet comptable {s}", "Informatique {s}",
)
_LARGE_EMPLOYERS = (
    "Mairie {de}", "Centre hospitalier {de}", "Médiathèque {de}", "EHPAD {de}",
    "Centre aquatique {de}", "Groupe {s} Industrie", "Clinique {s}", "Supermarché {s}",
    "Caserne de pompiers {de}", "Laboratoire {s}", "Imprimerie {s}", "Centre social {de}",
)


def _of_commune(name: str) -> str:
    """'de Caen', 'du Havre', 'des Andelys', 'de la Ferté-Macé', "de l'Aigle"."""
    for article, prep in (("Le ", "du "), ("Les ", "des "), ("La ", "de la "), ("L'", "de l'")):
        if name.startswith(article):
            return prep + name[len(article):]
    return ("d'" if name[:1] in "AEIOUYÉÈÊ" else "de ") + name


def _luhn_complete(digits: np.ndarray) -> np.ndarray:
    """Append the check digit making each row of digits pass the Luhn test."""
    n = digits.shape[1] + 1
    # Positions counted from the right of the final number; the check digit is 1.
    doubled = (n - np.arange(n - 1)) % 2 == 0
    d = np.where(doubled[None, :], digits * 2, digits)
    d = np.where(d > 9, d - 9, d)
    check = (10 - d.sum(axis=1) % 10) % 10
    return np.concatenate([digits, check[:, None]], axis=1)


def _sirets(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fake but Luhn-valid SIRETs: SIREN (9 digits) + NIC (5 digits, like 00012)."""
    head = np.concatenate([rng.integers(1, 10, size=(n, 1)), rng.integers(0, 10, size=(n, 7))],
                          axis=1)
    siren = _luhn_complete(head)
    nic = np.concatenate([np.zeros((n, 3), dtype=np.int64), rng.integers(1, 10, size=(n, 1))],
                         axis=1)
    full = _luhn_complete(np.concatenate([siren, nic], axis=1))
    return np.array(["".join(map(str, row)) for row in full])


def _pick_nearby(rng: np.random.Generator, anchors: np.ndarray, communes: pd.DataFrame,
                 weight: np.ndarray) -> np.ndarray:
    """Partner commune of each pair anchor: the same one, or a weighted one within 10 km."""
    d = _pairwise_km(communes.lon.to_numpy()[anchors], communes.lat.to_numpy()[anchors],
                     communes.lon.to_numpy(), communes.lat.to_numpy())
    w = np.where(d <= PAIR_NEARBY_KM, weight[None, :] * np.exp(-d / 4.0), 0.0)
    w[np.arange(len(anchors)), anchors] = 0.0
    cum = np.cumsum(w, axis=1)
    u = rng.random(len(anchors)) * cum[:, -1]
    other = np.minimum((cum < u[:, None]).sum(axis=1), len(communes) - 1)
    same = (rng.random(len(anchors)) < PAIR_SAME_COMMUNE) | (cum[:, -1] <= 0)
    return np.where(same, anchors, other)


def _make_offers(communes: pd.DataFrame, scale: float, n_to_place: int,
                 sector_w: np.ndarray, rng: np.random.Generator,
                 rng_emp: np.random.Generator, profile: Profile = BUNDLED) -> pd.DataFrame:
    n = max(2, round(OFFERS_AT_SCALE_1 * scale))
    n_pairs = None if profile.pairs is None else min(round(profile.pairs * scale), n // 4)
    return offers_table(communes, n, n_to_place, sector_w, rng, rng_emp, profile=profile,
                        n_pairs=n_pairs)


def offers_table(communes: pd.DataFrame, n: int, n_to_place: int, sector_w: np.ndarray,
                 rng: np.random.Generator, rng_emp: np.random.Generator, *,
                 jitter: tuple[float, float, float, float] | None = None,
                 id_prefix: str = "O", pair_prefix: str = "P", profile: Profile = BUNDLED,
                 n_pairs: int | None = None) -> pd.DataFrame:
    """``n`` offers in ``communes`` (drawn with weight population^clustering), their capacities
    tuned so that two-week-equivalent seats are ``profile.seats_per_pupil * n_to_place``;
    pairs (``n_pairs``, default the bundled share), periods, reserved offers, sectors,
    withdrawn offers and employers as described in the module docstring. ``jitter``: the
    spread around the communes' centroids (default ``OFFER_JITTER``)."""
    pop = communes.population.to_numpy(float)
    town_w = pop ** profile.clustering
    town_p = town_w / town_w.sum()
    if n_pairs is None:
        n_pairs = round(PAIRED_SHARE * n / 2)
    n_single = n - 2 * n_pairs

    single_c = rng.choice(len(pop), size=n_single, p=town_p)
    anchors = rng.choice(len(pop), size=n_pairs, p=town_p)
    partners = _pick_nearby(rng, anchors, communes, town_w)
    commune = np.concatenate([single_c, np.column_stack([anchors, partners]).ravel()])
    paired = np.arange(n) >= n_single
    lon, lat = _jitter(rng, communes.lon.to_numpy()[commune],
                       communes.lat.to_numpy()[commune], pop[commune],
                       OFFER_JITTER if jitter is None else jitter)

    capacity = _draw_capacity(rng, np.log10(pop[commune]), profile.capacities)
    capacity[paired] = np.minimum(capacity[paired], 3)
    withdrawn = (rng.random(n) < WITHDRAWN_SHARE) & ~paired
    capacity[withdrawn] = 0

    one_week = profile.one_week_share
    period = rng.choice(3, size=n, p=(1.0 - one_week, one_week / 2, one_week / 2))
    pair_idx = np.flatnonzero(paired).reshape(-1, 2)
    split = rng.random(n_pairs) < 0.15  # complementary weeks: one offer each week
    first_week = rng.integers(1, 3, size=n_pairs)
    period[pair_idx[:, 0]] = np.where(split, first_week, 0)
    period[pair_idx[:, 1]] = np.where(split, 3 - first_week, 0)

    capacity = _tune_capacity(rng, capacity, period, paired, withdrawn,
                              profile.seats_per_pupil * n_to_place,
                              CAPACITY_MAX[profile.capacities])

    reserved = (rng.random(n) < profile.reserved_share).astype(np.int64)
    sector_p = sector_w / sector_w.sum()
    sector = np.array([f"s{k}" for k in rng.choice(N_SECTORS, size=n, p=sector_p) + 1])
    # min_group on ~30 % of pairs: 2 or 3 on one offer, maybe another value on the other.
    min_group = np.full(n, "", dtype=object)
    has_min = rng.random(n_pairs) < 0.3
    main_val = rng.choice(["2", "3"], size=n_pairs, p=[0.6, 0.4])
    other_val = rng.choice(["", "2", "3"], size=n_pairs, p=[0.3, 0.4, 0.3])
    swap = rng.random(n_pairs) < 0.5
    min_group[pair_idx[:, 0]] = np.where(has_min, np.where(swap, other_val, main_val), "")
    min_group[pair_idx[:, 1]] = np.where(has_min, np.where(swap, main_val, other_val), "")
    # Pair ids in order of appearance after the final shuffle (below).
    pair_of = np.full(n, -1)
    pair_of[pair_idx[:, 0]] = np.arange(n_pairs)
    pair_of[pair_idx[:, 1]] = np.arange(n_pairs)

    employer_id, employer_name = _employers(rng_emp, communes, commune, capacity)

    order = rng.permutation(n)
    pair_of = pair_of[order]
    seen = pd.unique(pair_of[pair_of >= 0])
    pair_rank = np.full(max(n_pairs, 1), -1)
    pair_rank[seen] = np.arange(len(seen))
    width = max(5, len(str(n)))
    pwidth = max(5, len(str(max(n_pairs, 1))))
    df = pd.DataFrame({
        "employer_id": employer_id[order], "employer_name": employer_name[order],
        "lat": lat[order], "lon": lon[order], "capacity": capacity[order],
        "period": period[order], "sector": sector[order], "reserved": reserved[order],
        "pair_id": [f"{pair_prefix}{pair_rank[p] + 1:0{pwidth}d}" if p >= 0 else ""
                    for p in pair_of],
        "min_group": min_group[order].astype(str),
    })
    df.insert(0, "offer_id", [f"{id_prefix}{i:0{width}d}" for i in range(1, n + 1)])
    return df


def _draw_capacity(rng: np.random.Generator, log_pop: np.ndarray, kind: str) -> np.ndarray:
    """Capacities before tuning, by kind (``profiles.CAPACITY_KINDS``); big offers (public
    services, big firms) are more likely in towns (``log_pop``: log10 of the commune's
    population)."""
    n = len(log_pop)
    if kind == "small":
        big = rng.random(n) < np.clip(0.02 + 0.01 * (log_pop - 2.5), 0.01, 0.06)
        return np.where(big, rng.choice([3, 4], size=n, p=[0.75, 0.25]),
                        rng.choice([1, 2], size=n, p=[0.55, 0.45]))
    if kind == "heavy-tail":
        big = rng.random(n) < np.clip(0.18 + 0.06 * (log_pop - 2.5), 0.10, 0.50)
        sizes = np.arange(3, 11)
        p = sizes ** -1.6
        return np.where(big, rng.choice(sizes, size=n, p=p / p.sum()),
                        rng.choice([1, 2], size=n, p=[0.45, 0.55]))
    # "standard" (bundled): 1-2 mostly; 3-6 more likely in towns.
    p_big = np.clip(0.07 + 0.045 * (log_pop - 2.5), 0.04, 0.30)
    big = rng.random(n) < p_big
    return np.where(big, rng.choice([3, 4, 5, 6], size=n, p=[0.40, 0.25, 0.15, 0.20]),
                    rng.choice([1, 2], size=n, p=[0.47, 0.53]))


def _tune_capacity(rng: np.random.Generator, capacity: np.ndarray, period: np.ndarray,
                   paired: np.ndarray, withdrawn: np.ndarray, target: float,
                   max_capacity: int = 6) -> np.ndarray:
    """Raise or lower capacities one unit at a time until seats reach ``target``.

    Seats count two-week equivalents: capacity for period 0, half for one week.
    """
    capacity = capacity.copy()
    value = np.where(period == 0, 1.0, 0.5)
    seats = float((capacity * value).sum())
    order = rng.permutation(len(capacity))
    i = 0
    while seats < target - 0.5 and i < 4 * len(order):
        k = order[i % len(order)]
        if not withdrawn[k] and capacity[k] < (3 if paired[k] else max_capacity):
            capacity[k] += 1
            seats += value[k]
        i += 1
    while seats > target + 0.5 and i < 8 * len(order):
        k = order[i % len(order)]
        if capacity[k] > 1:
            capacity[k] -= 1
            seats -= value[k]
        i += 1
    return capacity


def _employers(rng: np.random.Generator, communes: pd.DataFrame, commune: np.ndarray,
               capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fake employers: SIRET and name; a few offers share an employer of their commune."""
    n = len(commune)
    siret = _sirets(rng, n)
    surname = rng.choice(_SURNAMES, size=n)
    small = rng.choice(_SMALL_EMPLOYERS, size=n)
    large = rng.choice(_LARGE_EMPLOYERS, size=n)
    use_large = (capacity >= 3) & (rng.random(n) < 0.6)
    names = communes.name.to_numpy()[commune]
    name = np.array([
        (lg if big else sm).format(s=s, de=_of_commune(c))
        for sm, lg, big, s, c in zip(small, large, use_large, surname, names, strict=True)
    ])
    # Some offers reuse the employer of an earlier offer in the same commune.
    reuse = rng.random(n) < SHARED_EMPLOYER_SHARE
    first = pd.Series(np.arange(n)).groupby(commune).transform("first").to_numpy()
    take = reuse & (first < np.arange(n))
    siret[take] = siret[first[take]]
    name[take] = name[first[take]]
    return siret, name


# --------------------------------------------------------------------------
# Conventions
# --------------------------------------------------------------------------

def _make_conventions(students: pd.DataFrame, offers: pd.DataFrame,
                      rng: np.random.Generator, profile: Profile = BUNDLED,
                      scale: float = 1.0) -> pd.DataFrame:
    return conventions_table(students, offers, rng, profile=profile, scale=scale)


def conventions_table(students: pd.DataFrame, offers: pd.DataFrame,
                      rng: np.random.Generator, *, profile: Profile = BUNDLED,
                      scale: float = 1.0) -> pd.DataFrame:
    """Signed conventions for ~3 % of the pupils to place (or the profile's count at scale
    1, times ``scale``), all valid.

    Each is an open, non-paired offer within the pupil's travel limit (exact
    geodesic crowfly minutes), reserved only for priority pupils, and within
    capacity in every week it uses.
    """
    geod = Geod(ellps="WGS84")
    to_place = np.flatnonzero(students.status.to_numpy() == "")
    if profile.conventions is None:
        target = round(CONVENTION_SHARE * len(to_place))
    else:
        target = min(round(profile.conventions * scale), len(to_place))
    modes = modes_of(profile)
    cand = rng.permutation(to_place)
    cap = offers.capacity.to_numpy()
    period = offers.period.to_numpy()
    used = np.zeros((len(offers), 2), dtype=np.int64)  # per offer and week
    open_ok = (cap > 0) & (offers.pair_id.to_numpy() == "")
    reserved = offers.reserved.to_numpy() == 1
    olon, olat = offers.lon.to_numpy(float), offers.lat.to_numpy(float)
    ox, oy = _to_km(olon, olat)
    weeks_of = np.array([[True, True], [True, False], [False, True]])[period]

    s_lon = students.lon.to_numpy(float)
    s_lat = students.lat.to_numpy(float)
    s_mode = students["mode"].to_numpy()
    s_max = students.max_minutes.to_numpy()
    s_prio = students.priority.to_numpy() == 1
    rows: list[tuple[int, int]] = []
    for i in cand:
        if len(rows) >= target:
            break
        mode = modes[s_mode[i]]
        limit = min(mode.max_minutes, float(s_max[i])) if s_max[i] != "" else mode.max_minutes
        reach = mode.reach_km(limit)
        sx, sy = _to_km(s_lon[i], s_lat[i])
        free = (used < cap[:, None]) | ~weeks_of
        ok = open_ok & free.all(axis=1) & (s_prio[i] | ~reserved)
        ok &= np.hypot(ox - sx, oy - sy) <= reach * 1.02 + 0.2
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            continue
        _, _, dist_m = geod.inv(np.full(idx.size, s_lon[i]), np.full(idx.size, s_lat[i]),
                                olon[idx], olat[idx])
        minutes = mode.access_minutes + mode.detour * (dist_m / 1000) / mode.speed_kmh * 60
        idx = idx[minutes <= limit]
        if idx.size == 0:
            continue
        k = int(idx[rng.integers(idx.size)])
        used[k] += weeks_of[k]
        rows.append((int(i), k))
    rows.sort()
    s_idx = np.array([r[0] for r in rows], dtype=np.int64)
    o_idx = np.array([r[1] for r in rows], dtype=np.int64)
    week = np.array(["", "1", "2"])[period[o_idx]] if rows else np.array([], dtype=str)
    return pd.DataFrame({
        "student_id": students.student_id.to_numpy()[s_idx],
        "offer_id": offers.offer_id.to_numpy()[o_idx],
        "week": week,
    })


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def csv_text(df: pd.DataFrame) -> str:
    """',' separated, LF line ends, 5-decimal coordinates (written as UTF-8)."""
    out = df.copy()
    for col in ("lat", "lon"):
        if col in out:
            out[col] = [f"{v:.5f}" for v in out[col].to_numpy(float)]
    return str(out.to_csv(index=False, lineterminator="\n"))
