"""Sharing the border seats: the quotas of an offer never exceed its capacity nor fall below
a block's signed seats there; a mutualised pair is held by one block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from affectation.national.coordination import _split


@settings(deadline=None, database=None, max_examples=200)
@given(data=st.data())
def test_split_sums_to_capacity_and_keeps_signed_seats(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 5))
    capacity = data.draw(st.integers(0, 12))
    signed = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    # Signed seats always fit the capacity (conventions are checked on reading).
    while signed.sum() > capacity:
        signed[int(np.argmax(signed))] -= 1
    desire = np.array(data.draw(st.lists(st.floats(0, 10), min_size=n, max_size=n)))
    unmet = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    reach = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    seats = _split(capacity, desire, signed, unmet, reach)
    assert seats.sum() == capacity
    assert (seats >= signed).all()
    assert (seats >= 0).all()


def test_reshare_keeps_every_block_within_its_shares(tmp_path: Path) -> None:
    """After the blocks are solved, the redistributed shares never exceed an offer's
    capacity, never fall below what a block's pupils use, and give every free seat of an
    offer some block still needs to the blocks that need it."""
    from affectation.national.coordination import reshare
    from affectation.national.data import read_national
    from affectation.national.runner import Cluster, missing_by_offer, run_national
    from affectation.national.work import NationalSettings, load_arrays, load_shares
    from affectation.synthetic.national import generate_national

    generate_national(tmp_path / "in", scale=0.02, seed=3,
                      academies=["amiens", "lille", "normandie", "reims"])
    scenario = tmp_path / "in" / "scenario.toml"
    run_national(scenario, tmp_path / "out", Cluster(workers=1),
                 NationalSettings(windows=False, reshare_rounds=0))
    work = tmp_path / "out" / ".work"
    nat = read_national(scenario)
    of = nat.instance.offers
    blocks = nat.blocks()
    allocation = np.full((nat.instance.students.n, 2), -1, dtype=np.int64)
    for b in blocks:
        data = load_arrays(work / "blocks" / b.code / "allocation.npz")
        allocation[data["pupils"]] = data["allocation"]
    before = load_shares(work)
    need = missing_by_offer(work, nat, blocks, allocation)
    after, grew = reshare(nat, blocks, before, allocation, need)
    total = np.zeros(of.n, dtype=np.int64)
    listed = np.zeros((len(blocks), of.n), dtype=bool)
    used = np.zeros((len(blocks), of.n), dtype=np.int64)
    quota = np.zeros((len(blocks), of.n), dtype=np.int64)
    for k, b in enumerate(blocks):
        offers = after.offers[b.code]
        assert np.array_equal(offers, before.offers[b.code])
        total[offers] += after.quotas[b.code]
        listed[k, offers] = True
        quota[k, offers] = after.quotas[b.code]
        mine = allocation[nat.block_pupils(b)]
        weeks = np.zeros((of.n, 2), dtype=np.int64)
        for w in (0, 1):
            np.add.at(weeks[:, w], mine[:, w][mine[:, w] >= 0], 1)
        used[k] = weeks.max(axis=1)
        assert (after.quotas[b.code] >= used[k, offers]).all()
    assert (total <= of.capacity).all()
    # Every free seat of a shared offer some block needs went to the blocks that need it.
    free = of.capacity - used.sum(axis=0)
    wanted = (need * listed).sum(axis=0) > 0
    todo = np.flatnonzero((listed.sum(axis=0) >= 2) & (of.pair < 0) & (free > 0) & wanted)
    assert len(todo) and len(grew) and after.stats["reshared_seats"] == free[todo].sum()
    for o in todo:
        needy = listed[:, o] & (need[:, o] > 0)
        assert (quota[needy, o] - used[needy, o]).sum() == free[o]
        assert (quota[~needy & listed[:, o], o] == used[~needy & listed[:, o], o]).all()
    # Only the takers may receive seats (the others keep what they use, or their shares).
    taker = grew[0]
    limited, grew_limited = reshare(nat, blocks, before, allocation, need, [taker])
    assert grew_limited == [taker]
    for b in blocks:
        if b.code != taker:
            assert (limited.quotas[b.code] <= before.quotas[b.code]).all()
