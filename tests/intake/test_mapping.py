"""Column mappings (mapping.py): a sheet of another layout read as a v1 table."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from affectation.errors import InputError
from affectation.intake.mapping import apply_mapping, load_mapping
from affectation.intake.sources import OFFER_TARGETS
from affectation.io.tables import read_table

IMPORT = FIXTURES / "import"


def test_mapping_renames_translates_and_adds_constants(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[columns]\nemployer_name = "Raison sociale"\nperiod = "Période"\n'
                    '[values.period]\n"deux SEMAINES" = "0"\n"Semaine 2" = "2"\n'
                    '[constants]\nsector = "s8"\n', encoding="utf-8")
    mapping = load_mapping(path, OFFER_TARGETS)
    table = apply_mapping(read_table(IMPORT / "federation.csv", ()), mapping)
    assert list(table.frame.columns) == ["employer_name", "period", "sector"]
    assert list(table.column("period")) == ["0", "2", "0"]
    assert list(table.column("sector")) == ["s8", "s8", "s8"]
    assert list(table.lines) == [2, 3, 4]


def test_mapping_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\noffer_id = "Ref"\ncolour = "Couleur"\ncity = "Ref"\n'
                   '[constants]\noffer_id = "x"\n[extra]\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_mapping(bad, OFFER_TARGETS)
    text = info.value.message()
    assert "table inconnue" in text
    assert "columns.colour" in text
    assert "déjà lue pour offer_id" in text
    assert "pas les deux" in text
    syntax = tmp_path / "syntax.toml"
    syntax.write_text("[columns\n", encoding="utf-8")
    with pytest.raises(InputError, match="TOML valide"):
        load_mapping(syntax, OFFER_TARGETS)


def test_mapped_column_missing_from_the_sheet_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[columns]\nemployer_name = "Nom"\n', encoding="utf-8")
    with pytest.raises(InputError, match="Raison sociale"):
        apply_mapping(read_table(IMPORT / "federation.csv", ()),
                      load_mapping(path, OFFER_TARGETS))
