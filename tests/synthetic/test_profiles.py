"""Instance profiles of the generator: each profile's statistics are what it promises, the
bundled profile is the calibrated generator byte for byte, bad options are refused in
French with exit status 2."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from affectation.cli import main
from affectation.synthetic import scenario as gen
from affectation.synthetic.profiles import (
    BUNDLED,
    PROFILES,
    ModeParams,
    profile_problems,
)
from affectation.synthetic.scenario import build_scenario, generate_scenario

SCALE = 0.05


@pytest.fixture(scope="module")
def built() -> dict[str, gen.GeneratedScenario]:
    return {name: build_scenario(SCALE, 2, profile) for name, profile in PROFILES.items()}


def _stats(scen: gen.GeneratedScenario) -> dict[str, float]:
    counts = scen.counts()
    o, s = scen.offers, scen.students
    cap = o.capacity[o.capacity > 0]
    return {
        "seats_per_pupil": counts["seats_two_weeks"] / counts["students_to_place"],
        "small_share": float(cap.isin([1, 2]).mean()),
        "seven_plus": float((cap >= 7).mean()),
        "max_capacity": int(cap.max()),
        "one_week": float((o.period > 0).mean()),
        "reserved": float(o.reserved.mean()),
        "car": float((s["mode"] == "car").mean()),
        "public": float((s["mode"] == "public").mean()),
        "priority": float(s.priority.mean()),
    }


def test_bundled_constants_are_the_generator_constants() -> None:
    assert BUNDLED.seats_per_pupil == gen.SEATS_PER_PUPIL
    assert BUNDLED.reserved_share == gen.RESERVED_SHARE
    assert BUNDLED.priority_share == gen.PRIORITY_MEAN
    assert BUNDLED.clustering == gen.OFFER_TOWN_EXPONENT
    assert BUNDLED.mode_shares == gen.MODE_SHARES
    assert (1 - BUNDLED.one_week_share, BUNDLED.one_week_share / 2,
            BUNDLED.one_week_share / 2) == gen.PERIOD_PROBS
    assert gen.modes_of(BUNDLED) == gen.MODES


def test_bundled_profile_is_the_bundled_generator(tmp_path: Path) -> None:
    """The bundled scenario is the generator's output at scale 1, seed 0: with the bundled
    profile given explicitly, and without a profile, the same bytes."""
    generate_scenario(tmp_path / "p", 1.0, 0, profile=PROFILES["bundled"])
    for name in gen.FILES:
        assert ((tmp_path / "p" / name).read_bytes()
                == (REPO / "scenarios" / "normandie" / name).read_bytes()), name


def test_each_profile_keeps_its_promises(built: dict[str, gen.GeneratedScenario]) -> None:
    stats = {name: _stats(scen) for name, scen in built.items()}
    base = stats["bundled"]
    for name, figures in stats.items():
        assert figures["seats_per_pupil"] == pytest.approx(PROFILES[name].seats_per_pupil,
                                                      abs=0.01), name
    # Capacity distributions.
    assert base["max_capacity"] <= 6 and base["small_share"] > 0.75
    assert stats["scarce"]["max_capacity"] <= 4 and stats["scarce"]["small_share"] > 0.85
    for name in ("dense-seats", "dense-rural"):
        assert stats[name]["max_capacity"] <= 10 and stats[name]["seven_plus"] > 0.03, name
        assert stats[name]["seats_per_pupil"] > 1.09
    assert stats["scarce"]["seats_per_pupil"] < 0.81
    # Modes: rural-transit drives more and takes the coach less.
    assert base["car"] == pytest.approx(0.30, abs=0.04)
    assert stats["rural-transit"]["car"] == pytest.approx(0.42, abs=0.04)
    assert stats["rural-transit"]["public"] < base["public"] - 0.05
    # Constrained: one-week offers, reserved offers and priority pupils.
    assert base["one_week"] == pytest.approx(0.20, abs=0.04)
    assert stats["constrained"]["one_week"] == pytest.approx(0.35, abs=0.05)
    assert stats["constrained"]["reserved"] == pytest.approx(0.15, abs=0.04)
    assert stats["constrained"]["priority"] > base["priority"] + 0.05


def test_counts_at_scale_1_are_scaled(built: dict[str, gen.GeneratedScenario]) -> None:
    for name, scen in built.items():
        counts = scen.counts()
        profile = PROFILES[name]
        if profile.conventions is not None:
            assert counts["conventions"] == round(profile.conventions * SCALE), name
        else:
            assert counts["conventions"] == round(0.03 * counts["students_to_place"]), name
        if profile.pairs is not None:
            assert counts["pairs"] == round(profile.pairs * SCALE), name
    assert built["few-conventions"].counts()["pairs"] == 0
    assert built["constrained"].counts()["pairs"] == 20


def test_profile_modes_reach_the_scenario_and_the_conventions(
        built: dict[str, gen.GeneratedScenario], tmp_path: Path) -> None:
    texts, _ = gen.scenario_files(SCALE, 2, profile=PROFILES["rural-transit"])
    first = texts["scenario.toml"].splitlines()[0]
    assert first.startswith("# Profil d'instance : rural-transit (")
    doc = tomllib.loads(texts["scenario.toml"])
    assert doc["scenario"]["name"] == "normandie-2026-rural-transit-scale-0.05"
    assert doc["travel"]["modes"]["public"]["speed_kmh"] == 24.0
    assert doc["travel"]["modes"]["car"]["max_minutes"] == 35.0
    # Every convention lies within the profile's (tighter) limit.
    scen = built["rural-transit"]
    modes = gen.modes_of(scen.profile)
    c = scen.conventions
    s = scen.students.set_index("student_id").loc[c.student_id]
    o = scen.offers.set_index("offer_id").loc[c.offer_id]
    limit = pd.Series([modes[m].max_minutes for m in s["mode"]])
    km = pd.Series(gen._pairwise_km(s.lon.to_numpy(), s.lat.to_numpy(), o.lon.to_numpy(),
                                    o.lat.to_numpy()).diagonal())
    minutes = [modes[m].access_minutes + modes[m].detour * d / modes[m].speed_kmh * 60
               for m, d in zip(s["mode"], km, strict=True)]
    assert (pd.Series(minutes) <= limit + 0.5).all()


def test_profile_is_deterministic() -> None:
    a, _ = gen.scenario_files(0.02, 5, profile=PROFILES["dense-seats"])
    b, _ = gen.scenario_files(0.02, 5, profile=PROFILES["dense-seats"])
    c, _ = gen.scenario_files(0.02, 5)
    assert a == b and a["offers.csv"] != c["offers.csv"]


def test_profile_problems_name_the_bad_fields() -> None:
    assert profile_problems(BUNDLED) == []
    for profile in PROFILES.values():
        assert profile_problems(profile) == [], profile.name
    bad = replace(BUNDLED, seats_per_pupil=1.3, pairs=-1, conventions=2001,
                  mode_shares={"public": 0.5, "car": 0.3, "bike": 0.1, "walk": 0.2},
                  modes={**BUNDLED.modes, "car": ModeParams(200.0, 45.0)})
    assert {p[0] for p in profile_problems(bad)} == {
        "seats_per_pupil", "pairs", "conventions", "mode_shares", "modes"}
    with pytest.raises(ValueError):
        build_scenario(0.01, 0, bad)


def test_cli_profile_and_overrides(tmp_path: Path) -> None:
    out = tmp_path / "s"
    res = CliRunner().invoke(main, ["generate", "--out", str(out), "--scale", "0.02",
                                    "--profile", "scarce", "--conventions", "100",
                                    "--speeds", "public=20", "--max-minutes", "car=30"])
    assert res.exit_code == 0, res.output
    doc = tomllib.loads((out / "scenario.toml").read_text("utf-8"))
    assert doc["travel"]["modes"]["public"]["speed_kmh"] == 20.0
    assert doc["travel"]["modes"]["car"]["max_minutes"] == 30.0
    conventions = pd.read_csv(out / "conventions.csv")
    assert len(conventions) == 2  # 100 at scale 1, times 0.02
    offers = pd.read_csv(out / "offers.csv")
    assert offers.capacity.max() <= 4


@pytest.mark.parametrize(("args", "message"), [
    (["--seats-per-pupil", "0.5"], "--seats-per-pupil : valeur « 0.5 » : un nombre entre 0,8"),
    (["--pairs", "401"], "--pairs : valeur « 401 »"),
    (["--conventions", "-3"], "--conventions : valeur « -3 »"),
    (["--one-week-share", "0.9"], "--one-week-share : valeur « 0.9 »"),
    (["--mode-shares", "public=0.5,car=0.6"], "--mode-shares : valeur"),
    (["--mode-shares", "bus=1"], "--mode-shares : valeur « bus=1 »"),
    (["--speeds", "car=fast"], "--speeds : valeur « car=fast »"),
    (["--max-minutes", "walk=500"], "--speeds/--max-minutes : valeur"),
    (["--clustering", "nan"], "--clustering : valeur « nan »"),
])
def test_cli_bad_profile_values(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "s"
    res = CliRunner().invoke(main, ["generate", "--out", str(out), "--scale", "0.01", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


@settings(max_examples=8, deadline=None)
@given(seats=st.floats(0.8, 1.15), kind=st.sampled_from(["standard", "small", "heavy-tail"]),
       one_week=st.floats(0.0, 0.6), pairs=st.integers(0, 400),
       conventions=st.integers(0, 2000), seed=st.integers(0, 1000))
def test_any_valid_profile_keeps_its_promises(seats: float, kind: str, one_week: float,
                                              pairs: int, conventions: int,
                                              seed: int) -> None:
    """Whatever the knobs within their ranges: the seats, the capacity bound, the pairs and
    the conventions asked for (conventions only fewer when no valid seat is left)."""
    scale = 0.02
    profile = replace(BUNDLED, name="any", seats_per_pupil=seats, capacities=kind,
                      one_week_share=one_week, pairs=pairs, conventions=conventions)
    scen = build_scenario(scale, seed, profile)
    counts = scen.counts()
    assert counts["seats_two_weeks"] / counts["students_to_place"] == pytest.approx(
        seats, abs=0.01)
    assert scen.offers.capacity.max() <= {"standard": 6, "small": 4, "heavy-tail": 10}[kind]
    assert counts["pairs"] == round(pairs * scale)
    assert counts["conventions"] <= round(conventions * scale)
    assert counts["conventions"] >= min(round(conventions * scale), 5)
