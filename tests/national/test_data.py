"""A national scenario's inputs: every académie's errors reported together before anything
runs (exit 2, nothing written), grouped by académie; sub-instances keep their pupils, offers,
pairs and conventions consistent."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from affectation.cli import main
from affectation.national.data import NationalInputError, read_national, sub_instance
from affectation.synthetic.national import generate_national

ACADEMIES = ["normandie", "rennes"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("national-data")
    generate_national(folder, scale=0.005, seed=2, academies=ACADEMIES)
    return folder / "scenario.toml"


def _edit(path: Path, change: dict[str, tuple[str, str]]) -> None:
    """Set, in the first row of each académie named in `change`, column -> value."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    done: set[str] = set()
    for row in rows:
        academy = row["academy"]
        if academy in change and academy not in done:
            column, value = change[academy]
            row[column] = value
            done.add(academy)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_errors_of_two_academies_reported_together(scenario: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in scenario.parent.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    _edit(bad / "students.csv", {"normandie": ("lat", "quarante-neuf")})
    _edit(bad / "offers.csv", {"rennes": ("capacity", "-2"), "normandie": ("academy", "caen")})
    with pytest.raises(NationalInputError) as err:
        read_national(bad / "scenario.toml")
    groups = err.value.groups
    assert set(groups) == {"normandie", "rennes", "caen"}
    message = err.value.message()
    assert "Académie Normandie (normandie) : 1 problème(s)" in message
    assert "Académie Rennes (rennes) : 1 problème(s)" in message
    assert "quarante-neuf" in message and "« -2 »" in message and "« caen »" in message
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["national", str(bad / "scenario.toml"), "--out", str(out)])
    assert result.exit_code == 2
    assert "Académie Rennes" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_academy_column_is_required(scenario: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in scenario.parent.iterdir():
        text = f.read_text(encoding="utf-8")
        if f.name == "offers.csv":
            text = text.replace(",academy\n", ",region\n", 1)
        (bad / f.name).write_text(text, encoding="utf-8")
    with pytest.raises(NationalInputError) as err:
        read_national(bad / "scenario.toml")
    assert "colonne obligatoire d'un scénario national" in err.value.message()


def test_sub_instance_keeps_pairs_and_conventions(scenario: Path) -> None:
    nat = read_national(scenario)
    inst = nat.instance
    pupils = np.flatnonzero(nat.student_academy == "rennes")
    offers = np.flatnonzero(nat.offer_academy == "rennes")[:5]
    sub = sub_instance(inst, pupils, offers)
    s = sub.instance
    assert s.students.ids.tolist() == inst.students.ids[pupils].tolist()
    # Signed offers and pair partners come along; every pair has both of its offers.
    signed = inst.conventions.offer[np.isin(inst.conventions.student, pupils)]
    assert set(inst.offers.ids[signed]) <= set(s.offers.ids)
    for a, b in s.pairs.offers:
        assert s.offers.pair[a] == s.offers.pair[b] >= 0
    assert s.conventions.n == int(np.isin(inst.conventions.student, pupils).sum())
    fixed = s.fixed
    for local, national in enumerate(pupils):
        for w in (0, 1):
            o = inst.fixed[national, w]
            assert (fixed[local, w] < 0) == (o < 0)
            if o >= 0:
                assert s.offers.ids[fixed[local, w]] == inst.offers.ids[o]
