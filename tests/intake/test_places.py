"""Placing a record by its postcode and city (places.py) and the bundled postcodes table."""

from __future__ import annotations

import pytest

from affectation.geodata import load_communes, load_postcodes
from affectation.intake.places import Places

PLACES = Places()


def test_postcodes_table_links_normandy_postcodes_to_bundled_communes():
    postcodes = load_postcodes()
    communes = set(load_communes().insee)
    assert set(postcodes.insee) <= communes
    assert postcodes.postcode.str.fullmatch(r"\d{5}").all()
    assert postcodes.postcode.str[:2].isin(["14", "27", "50", "61", "76"]).all()
    assert len(set(postcodes.insee)) == len(communes) - 1  # Les Trois Lacs has none


@pytest.mark.parametrize(("postcode", "city", "insee", "note"), [
    ("14000", "Caen", "14118", ""),
    ("14000", "CAEN CEDEX 4", "14118", ""),
    ("14500", "Vire", "14762", ""),  # a delegated commune of Vire Normandie
    ("50000", "St-Lô", "50502", ""),
    ("76600", "Havre", "76351", ""),
    ("14400", "Bayeu", "14047", "rapprochée"),
    ("", "Bayeux", "14047", "sans code postal"),
    ("14000", "", "14118", "seule commune du code postal 14000 (Caen)"),
])
def test_places_locate(postcode, city, insee, note):
    found = PLACES.locate(postcode, city)
    assert found.failure == "" and found.insee == insee and note in found.note
    lat, lon = load_communes().set_index("insee").loc[insee, ["lat", "lon"]]
    assert (found.lat, found.lon) == (lat, lon)


@pytest.mark.parametrize(("postcode", "city", "failure"), [
    ("99999", "Nulle-Part", "« 99999 » inconnu"),
    ("14000", "Atlantide", "« Atlantide » introuvable"),
    ("14400", "", "(commune non précisée ; communes : Agy, Arganchy, Barbeville, Bayeux, Blay, …)"),
    ("", "", "des coordonnées"),
])
def test_places_unknown(postcode, city, failure):
    assert failure in PLACES.locate(postcode, city).failure
