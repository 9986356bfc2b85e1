"""The summary's split of the gap between the bounds' slack and the allocation's share."""

from __future__ import annotations

from affectation.analysis.result import bounds_split


def test_the_lp_bound_below_the_flow_bound_takes_its_share_of_the_gap() -> None:
    out = bounds_split({"flow_upper_bound_full": 100, "lp_upper_bound_full": 97}, 95)
    assert out["bound_slack_full"] == 3
    assert out["engine_gap_full"] == 2


def test_an_lp_bound_above_the_flow_bound_leaves_the_gap_to_the_allocation() -> None:
    out = bounds_split({"flow_upper_bound_full": 100, "lp_upper_bound_full": 104}, 95)
    assert out["bound_slack_full"] == 0
    assert out["engine_gap_full"] == 5


def test_no_split_without_both_bounds_for_every_pupil() -> None:
    only_priority = {"flow_upper_bound_priority_full": 10, "lp_upper_bound_priority_full": 9}
    assert bounds_split(dict(only_priority), 5) == only_priority
