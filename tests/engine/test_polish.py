"""The polish step: fewer splits, then sectors and travel, never a lower placement level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import check_week, make_scenario, near

from affectation.domain.allocation import classify, lexicographic_score
from affectation.domain.instance import Instance
from affectation.engine.candidates import NO_PRUNING, allowed_pairs, build_candidates, offer_roles
from affectation.engine.polish import polish
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable


def _instance(tmp_path: Path, offers: list[dict], students: list[dict],
              split: bool = False) -> Instance:
    path = make_scenario(tmp_path, students=students, offers=offers,
                         rules={"split_two_week_offers": split})
    return load_instance(path)


def _polish(inst: Instance, allocation: list[list[int]]) -> np.ndarray:
    reach = reachable(inst)
    roles = offer_roles(inst)
    cands = build_candidates(inst, reach, allowed_pairs(inst, reach), roles,
                             NO_PRUNING)
    before = np.array(allocation, dtype=np.int64)
    after = polish(inst, roles, cands, reach, before)
    assert check_week(inst, after) == []
    # Levels 1-3 never move; level 4 (minus splits) never gets worse.
    assert lexicographic_score(inst, after)[:3] == lexicographic_score(inst, before)[:3]
    assert lexicographic_score(inst, after)[3] >= lexicographic_score(inst, before)[3]
    return after


def _pupil(sid: str, dlat: float = 0.0, **extra: object) -> dict:
    return {"student_id": sid, **near(dlat, 0.0), **extra}


def _offer(oid: str, capacity: int = 1, period: int = 0, dlat: float = 0.0,
           **extra: object) -> dict:
    return {"offer_id": oid, "capacity": capacity, "period": period, **near(dlat, 0.005),
            **extra}


def test_crossed_splits_become_singles_when_two_week_offers_may_be_split(tmp_path: Path) -> None:
    inst = _instance(tmp_path, [_offer("A"), _offer("B", dlat=0.01)],
                     [_pupil("S1"), _pupil("S2", 0.005)], split=True)
    after = _polish(inst, [[0, 1], [1, 0]])
    assert list(classify(inst, after)) == ["single", "single"]


def test_split_moves_to_a_free_two_week_seat(tmp_path: Path) -> None:
    inst = _instance(tmp_path, [_offer("W1", period=1), _offer("W2", period=2),
                                _offer("B", dlat=0.01)], [_pupil("S1")])
    after = _polish(inst, [[0, 1]])
    assert after.tolist() == [[2, 2]]


def test_singles_reassigned_to_preferred_sectors_then_nearer(tmp_path: Path) -> None:
    inst = _instance(
        tmp_path,
        [_offer("FAR", dlat=0.03, sector="s5"), _offer("NEAR", dlat=0.001, sector="s9"),
         _offer("MID", dlat=0.01, sector="s9")],
        [_pupil("S1", sectors="s5"), _pupil("S2")])
    # S1 wants s5 (FAR); S2 has no preference and should get the nearest free one.
    after = _polish(inst, [[1, 1], [0, 0]])
    assert after.tolist() == [[0, 0], [1, 1]]
