"""The stage path depends on work budgets, never on the clock: a machine a million times
slower writes the same allocation; only the safety-net deadline, when it fires, changes the
path, and then the result says it depends on the machine's speed."""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario, near

from affectation.analysis.result import make_result
from affectation.engine.budget import Deadline, never
from affectation.engine.solve import SolveSettings, solve
from affectation.travel.loading import load_instance


def _instance(tmp_path: Path):
    # 40 pupils around Caen, 14 offers of 1-3 seats: the neighbourhood search has work.
    rng = np.random.default_rng(3)
    students = [{"student_id": f"S{i}", **near(*rng.uniform(-0.05, 0.05, 2).round(4)),
                 "priority": bool(i % 7 == 0)} for i in range(40)]
    offers = [{"offer_id": f"O{j}", **near(*rng.uniform(-0.05, 0.05, 2).round(4)),
               "capacity": int(rng.integers(1, 4))} for j in range(14)]
    return load_instance(make_scenario(tmp_path, students=students, offers=offers))


def _settings(instance, time_limit_s: float) -> SolveSettings:
    s = SolveSettings.from_scenario(instance.scenario.solver, time_limit_s)
    # Neighbourhoods of 10 pupils (not the whole model): many deadline checks.
    return dataclasses.replace(s, search=dataclasses.replace(
        s.search, mip_pupils=0, whole_model_pupils=0, window=10, max_neighbourhoods=6))


def _slow_clock(monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    """Every reading of the clock is `step` seconds after the previous one."""
    ticks = itertools.count()
    start = time.perf_counter()
    monkeypatch.setattr(time, "perf_counter", lambda: start + step * next(ticks))


def test_a_very_slow_clock_takes_the_same_path(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    instance = _instance(tmp_path)
    settings = _settings(instance, 1e12)
    first = solve(instance, settings)
    assert int(first.search["neighbourhoods"]) >= 2  # the search did run, under budget
    _slow_clock(monkeypatch, 3600.0)  # an hour per reading of the clock
    slow = solve(instance, settings)
    assert np.array_equal(first.allocation, slow.allocation)
    assert first.search == slow.search and first.status == slow.status
    assert slow.stopped_by_time_limit == ()
    summary = make_result(instance, slow, 0, 1.0).summary
    assert summary["depends_on_machine_speed"] is False
    assert "time_limit_reached_in" not in summary


def test_a_deadline_that_fires_is_recorded(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    instance = _instance(tmp_path)
    settings = _settings(instance, 60.0)
    _slow_clock(monkeypatch, 3600.0)
    cut = solve(instance, settings)
    assert cut.stopped_by_time_limit == ("search",)
    assert cut.search["neighbourhoods"] == 0 and cut.search["stopped_by_time_limit"] == 1
    summary = make_result(instance, cut, 0, 1.0).summary
    assert summary["depends_on_machine_speed"] is True
    assert summary["time_limit_reached_in"] == ["search"]
    assert summary["status_text"].endswith("le résultat dépend de la vitesse de la machine")


def test_deadline() -> None:
    d = Deadline(time.perf_counter() + 1000)
    assert not d.passed("x") and not d.fired and d.left() > 999
    d.fire("search")
    d.fire("search")
    assert d.fired and d.stages == ["search"] and d.passed()
    past = Deadline(time.perf_counter() - 1)
    assert past.passed("moves") and past.stages == ["moves"] and past.left() == 0.05
    assert not never().passed()
