"""'Placer ici' at the level of web.placement: two placements planned on the same snapshot
(two users who loaded their pages at the same moment) for the last seat of an offer: the
first is written, the second refused as a conflict, with nothing written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from web_helpers import SCHOOL_A, SCHOOL_B, agreements, db_url, site

from affectation.store import db, queries
from affectation.web import placement
from affectation.web.authz import Actor
from affectation.web.state import CampaignState

__all__ = ["db_url", "site"]  # fixtures


def _state(url: str) -> tuple[object, CampaignState]:
    engine = db.connect(url)
    with db.reading(engine) as conn:
        scenario = Path(queries.get_campaign(conn).scenario_path)
    return engine, CampaignState(engine, scenario)


def test_two_plans_on_one_snapshot_for_the_last_seat(site: str) -> None:
    engine, state = _state(site)
    with db.reading(engine) as conn:
        snap = state.current(conn)
    a = Actor(1, "lycee-a", "school", SCHOOL_A, "t")
    b = Actor(2, "lycee-b", "school", SCHOOL_B, "t")
    plans = {}
    for actor, pupil in ((b, "S7"), (a, "S5")):
        s = snap.index(pupil)
        x = next(x for x in placement.suggestions(snap, s) if snap.offer_id(x.offer) == "C")
        plans[pupil] = placement.plan_of(snap, s, x)
        placement.check_plan(snap, actor, plans[pupil])  # each alone is valid
    assert placement.apply_plan(engine, snap, b, plans["S7"]) == 1
    before = agreements(site)
    with pytest.raises(placement.Refused) as refused:
        placement.apply_plan(engine, snap, a, plans["S5"])
    assert refused.value.conflict and "Conflit" in refused.value.message
    assert "une place visée a été prise" in refused.value.message
    assert agreements(site) == before
    # On the new snapshot, the seat is gone: the checker refuses the same placement.
    with db.reading(engine) as conn:
        fresh = state.current(conn)
    assert fresh.revision > snap.revision
    s5 = fresh.index("S5")
    again = placement.plan_of(fresh, s5, plans["S5"].suggestion)
    with pytest.raises(placement.Refused):
        placement.check_plan(fresh, a, again)
    engine.dispose()  # type: ignore[attr-defined]


def test_a_school_cannot_apply_a_suggestion_that_moves_another_schools_pupil(
        site: str) -> None:
    engine, state = _state(site)
    with db.reading(engine) as conn:
        snap = state.current(conn)
    a = Actor(1, "lycee-a", "school", SCHOOL_A, "t")
    s = snap.index("S5")
    base = next(x for x in placement.suggestions(snap, s) if not x.current)
    s6 = snap.index("S6")  # a pupil of school B
    forged = dataclasses.replace(base, moves=1, moved=((s6, base.offer),))
    with pytest.raises(placement.Refused) as refused:
        placement.check_plan(snap, a, placement.plan_of(snap, s, forged))
    assert "autre établissement" in refused.value.message
    engine.dispose()  # type: ignore[attr-defined]
