"""The national generator: deterministic, an académie's rows the same alone or with the
others, the real head-counts and social index when given, valid v1 inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from affectation.synthetic.national import (
    NATIONAL_PUPILS_2022,
    build_national,
    national_files,
    priority_rate,
)
from affectation.travel.loading import load_instance

LYCEES = SHARED / "national" / "lycees.csv"


def test_same_rows_alone_or_with_the_others(tmp_path: Path) -> None:
    """Two builds (the whole country, two académies): the two académies' rows are the same
    bytes, so a build is deterministic and an académie does not depend on the others."""
    whole, counts = national_files(0.003, seed=4)
    part, _ = national_files(0.003, seed=4, academies=["corse", "normandie"])
    for name in ("students.csv", "offers.csv"):
        mine = [line for line in whole[name].splitlines()[1:]
                if line.endswith((",corse", ",normandie"))]
        assert mine == part[name].splitlines()[1:]
        assert whole[name].splitlines()[0] == part[name].splitlines()[0]
    assert counts["students"] == round(NATIONAL_PUPILS_2022 * 0.003)
    assert counts["academies"] == 30
    folder = tmp_path / "france"
    folder.mkdir()
    for name, text in whole.items():
        (folder / name).write_text(text, encoding="utf-8")
    assert load_instance(folder / "scenario.toml").students.n == counts["students"]


def test_unknown_academy_refused() -> None:
    with pytest.raises(ValueError, match="unknown académies"):
        build_national(0.001, academies=["atlantide"])


def test_priority_rate_follows_the_social_index() -> None:
    rates = priority_rate(np.array([80.0, 115.0, 150.0, np.nan]))
    assert rates[0] > rates[1] > rates[2]
    assert rates[1] == pytest.approx(0.20)
    assert rates[3] == pytest.approx(0.20)


@pytest.mark.skipif(not LYCEES.is_file(), reason="../shared/data/national absent")
def test_real_counts_per_lycee() -> None:
    scen = build_national(0.01, seed=0, lycees_csv=LYCEES, academies=["normandie"])
    counts = scen.students.groupby("school_id").size()
    # Normandy's 2022 head-count (25,637) at 1 %: the national largest remainder.
    assert abs(int(counts.sum()) - 256) <= 2
    assert (scen.students.academy == "normandie").all()
