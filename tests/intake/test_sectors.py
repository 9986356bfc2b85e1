"""Sector names to the platform's codes (sectors.py)."""

from __future__ import annotations

from affectation.intake.sectors import SECTOR_NAMES, sector_code


def test_every_sector_name_maps_to_its_code_whatever_accents_and_case():
    for code, name in SECTOR_NAMES.items():
        assert sector_code(name) == code
        assert sector_code(name.upper()) == code
    assert sector_code("HOTELLERIE, restauration") == "s26"
    assert sector_code("Bâtiment et travaux publics") == "s10"
    assert sector_code("s34") == "s34"
    assert sector_code("Astronautique") is None
    assert sector_code("s52") is None
