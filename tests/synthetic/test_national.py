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
    generate_national,
    priority_rate,
)
from affectation.travel.loading import load_instance

LYCEES = SHARED / "national" / "lycees.csv"


def test_same_bytes_and_subset_consistent(tmp_path: Path) -> None:
    generate_national(tmp_path / "a", scale=0.003, seed=4)
    generate_national(tmp_path / "b", scale=0.003, seed=4)
    for name in ("students.csv", "offers.csv", "conventions.csv", "scenario.toml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    whole = build_national(0.003, seed=4)
    part = build_national(0.003, seed=4, academies=["corse", "normandie"])
    for table in ("students", "offers"):
        a = getattr(whole, table)
        b = getattr(part, table)
        mine = a[a.academy.isin(["corse", "normandie"])].reset_index(drop=True)
        assert mine.equals(b)
    assert len(whole.students) == round(NATIONAL_PUPILS_2022 * 0.003)
    assert whole.students.academy.nunique() == 30
    instance = load_instance(tmp_path / "a" / "scenario.toml")
    assert instance.students.n == len(whole.students)


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
