"""Sharing the border seats: one coordination flow, then a quota per block and border offer.

A border offer is one in the rows (each pupil's nearest reachable offers, `survey`) of pupils
of two blocks or more. Each block is later solved alone, so each must get a share of every
border offer such that the shares never exceed the offer's capacity: then the union of the
blocks' allocations is valid by construction, whatever each block does with its share.

The shares come from one national min-cost flow on a relaxation of the problem, in seat-weeks:
source -> pupil (capacity: the pupil's unsigned weeks; profit 2 a unit for a priority pupil, 1
otherwise) -> offer (each pupil's `coordination_arcs` nearest usable offers; 2 units for a
two-week offer the pupil may hold both weeks, 1 for a one-week stay or a pair's offer; cost:
minutes, far below a unit's profit) -> sink (the offer's seat-weeks left by the conventions).
It places as many weeks as it can, priority pupils first, near their homes. A block's quota of
a border offer is what its pupils' flow uses there (seat-weeks over the weeks the offer runs),
never below its pupils' signed conventions there, plus a share of what is left: to the blocks
with pupils the flow could not place who have the offer among their nearest, else to those
whose pupils reach it, in proportion (largest remainder, ties to the first block in code
order). A mutualised pair is never shared: the block whose pupils use it most (signed weeks
first) holds all its seats, others keep only their signed weeks; and only the pupils of one
académie may join it (inside Île-de-France too, and in the border windows), so that each
académie's folder stays valid on its own (a pair's minimum group counts its académie's pupils).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from affectation.engine.candidates import usable
from affectation.national.data import Block, National
from affectation.synthetic.scenario import largest_remainder

UNIT_PROFIT = 1000  # per seat-week placed; twice for a priority pupil
MINUTE_COST = 1  # per minute of travel (one way), per unit


@dataclass(frozen=True, eq=False)
class Rows:
    """Rows of some pupils (national indices, sorted): `offer[indptr[i]:indptr[i+1]]` with
    their deciminutes, nearest first."""

    pupils: np.ndarray
    indptr: np.ndarray
    offer: np.ndarray
    deciminutes: np.ndarray

    def owner(self) -> np.ndarray:
        return np.repeat(self.pupils, np.diff(self.indptr))


@dataclass(frozen=True, eq=False)
class Shares:
    """The outcome of the coordination: per block (code), the border offers it shares and its
    quota of each (national offer indices, seats per week); per pair, the académie whose pupils
    alone may join it inside a block of several académies ('' when any may); counts."""

    offers: dict[str, np.ndarray]
    quotas: dict[str, np.ndarray]
    pair_academy: np.ndarray
    stats: dict[str, int]

    def capacity(self, block: str, national_capacity: np.ndarray) -> np.ndarray:
        """The capacity of every national offer as the block sees it."""
        cap = np.asarray(national_capacity).copy()
        cap[self.offers[block]] = self.quotas[block]
        return cap


def coordinate(nat: National, blocks: list[Block], nearest: dict[str, Rows],
               reached: dict[str, tuple[np.ndarray, np.ndarray]]) -> Shares:
    """The shares (see the module docstring). `nearest[block]`: each pupil's nearest offers
    (the flow's arcs); `reached[block]`: (offers in the rows of the block's pupils, how many
    of its pupils have each)."""
    inst = nat.instance
    st, of = inst.students, inst.offers
    n_o = of.n
    codes = [b.code for b in blocks]
    block_of_pupil = np.full(st.n, -1, dtype=np.int64)
    for k, b in enumerate(blocks):
        block_of_pupil[nat.block_pupils(b)] = k

    # Which blocks reach each offer (in their rows), and how many of their pupils.
    reach_count = np.zeros((len(blocks), n_o), dtype=np.int64)
    for k, b in enumerate(blocks):
        offers, count = reached.get(b.code, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        reach_count[k, offers] = count
    reaching = reach_count > 0
    border = reaching.sum(axis=0) >= 2

    flow_by_block, flow_by_academy, unmet_arcs = _flow(nat, blocks, nearest)
    conv_by_block = _signed_seats(nat, block_of_pupil, len(blocks))
    unmet = np.zeros((len(blocks), n_o), dtype=np.int64)
    if len(unmet_arcs[0]):
        np.add.at(unmet, (block_of_pupil[unmet_arcs[0]], unmet_arcs[1]), 1)

    quota = np.zeros((len(blocks), n_o), dtype=np.int64)
    weeks = np.maximum(of.open_week.sum(axis=1), 1)
    pairs = inst.pairs
    paired = of.pair >= 0
    for o in np.flatnonzero(border & ~paired):
        who = np.flatnonzero(reaching[:, o])
        quota[who, o] = _split(int(of.capacity[o]), flow_by_block[who, o] / weeks[o],
                               conv_by_block[who, o], unmet[who, o], reach_count[who, o])
    # Pairs: one block holds them (its conventions first, then its flow, then its reach).
    border_pair = np.zeros(pairs.n, dtype=bool)
    if pairs.n:
        border_pair = border[pairs.offers[:, 0]] | border[pairs.offers[:, 1]]
    holder = np.full(pairs.n, -1, dtype=np.int64)
    for q in np.flatnonzero(border_pair):
        x_off, y_off = (int(v) for v in pairs.offers[q])
        who = np.flatnonzero(reaching[:, x_off] | reaching[:, y_off])
        conv = conv_by_block[who][:, [x_off, y_off]].sum(axis=1)
        flow = flow_by_block[who][:, [x_off, y_off]].sum(axis=1)
        count = reach_count[who, x_off] + reach_count[who, y_off]
        best = who[np.lexsort((np.arange(len(who)), -count, -flow, -conv))[0]]
        holder[q] = best
        for x in (x_off, y_off):
            others = conv_by_block[who, x] * (who != best)
            quota[who, x] = others
            quota[best, x] = max(int(of.capacity[x]) - int(others.sum()), 0)
    offers_of: dict[str, np.ndarray] = {}
    quotas_of: dict[str, np.ndarray] = {}
    for k, code in enumerate(codes):
        mine = np.flatnonzero(border & reaching[k]) if len(blocks) else np.zeros(0, np.int64)
        offers_of[code] = mine
        quotas_of[code] = quota[k, mine]
    pair_academy = _pair_academies(nat, blocks, reaching, flow_by_academy, holder)
    stats = {"border_offers": int(border.sum()),
             "border_pairs": int(border_pair.sum()),
             "flow_arcs": int(sum(len(r.offer) for r in nearest.values()))}
    return Shares(offers_of, quotas_of, pair_academy, stats)


def _split(capacity: int, desire: np.ndarray, signed: np.ndarray, unmet: np.ndarray,
           reach: np.ndarray) -> np.ndarray:
    """Integer seats per block summing to `capacity` (see the module docstring)."""
    desire = np.maximum(desire.astype(float), signed)
    total = desire.sum()
    if total > capacity:
        spare = desire - signed
        room = max(capacity - float(signed.sum()), 0.0)
        desire = signed + (spare * room / spare.sum() if spare.sum() > 0 else 0.0)
    left = capacity - float(desire.sum())
    weight = unmet.astype(float) if unmet.sum() > 0 else reach.astype(float)
    if weight.sum() <= 0:
        weight = np.ones(len(desire))
    target = desire + max(left, 0.0) * weight / weight.sum()
    if capacity <= 0:
        return np.zeros(len(desire), dtype=np.int64)
    seats = largest_remainder(np.maximum(target, 1e-12), capacity)
    # Never below the signed seats (the rounding of the others gives way).
    short = signed - seats
    while (short > 0).any():
        i = int(np.flatnonzero(short > 0)[0])
        j = int(np.argmax(seats - signed))
        seats[i] += 1
        seats[j] -= 1
        short = signed - seats
    return seats.astype(np.int64)


def _signed_seats(nat: National, block_of_pupil: np.ndarray, n_blocks: int) -> np.ndarray:
    """(blocks, offers): seats each block's signed conventions hold at each offer (the more
    taken of the two weeks)."""
    inst = nat.instance
    conv = inst.conventions
    per_week = np.zeros((n_blocks, inst.offers.n, 2), dtype=np.int64)
    b = block_of_pupil[conv.student]
    keep = b >= 0
    np.add.at(per_week, (b[keep], conv.offer[keep], conv.week[keep] - 1), 1)
    out: np.ndarray = per_week.max(axis=2)
    return out


def _flow(nat: National, blocks: list[Block], nearest: dict[str, Rows]
          ) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The coordination flow: seat-weeks per (block, offer) and per (académie, offer) of
    the académies of blocks with several, and the arcs (pupil, offer) of pupils it left
    with weeks unplaced."""
    inst = nat.instance
    st, of = inst.students, inst.offers
    n_o = of.n
    fixed = inst.fixed
    parts = [nearest[b.code] for b in blocks if b.code in nearest]
    if parts:
        s = np.concatenate([r.owner() for r in parts]).astype(np.int64)
        o = np.concatenate([r.offer for r in parts]).astype(np.int64)
        d = np.concatenate([r.deciminutes for r in parts]).astype(np.int64)
    else:
        s = o = d = np.zeros(0, dtype=np.int64)
    demand = np.where(st.to_place, (fixed < 0).sum(axis=1), 0)
    ok = usable(inst, s, o) & (demand[s] > 0)
    s, o, d = s[ok], o[ok], d[ok]
    cap = _arc_capacity(nat, s, o, demand)
    keep = cap > 0
    s, o, d, cap = s[keep], o[keep], d[keep], cap[keep]
    seats = np.maximum(inst.seats_left_by_conventions(), 0).sum(axis=1)
    pupils = np.flatnonzero(demand > 0)
    node = np.full(st.n, -1, dtype=np.int64)
    node[pupils] = 2 + n_o + np.arange(len(pupils))
    total = int(demand[pupils].sum())
    profit = np.where(st.priority[pupils], 2 * UNIT_PROFIT, UNIT_PROFIT)
    tails = np.r_[np.zeros(len(pupils), np.int64), node[s], 2 + np.arange(n_o), 0]
    heads = np.r_[node[pupils], 2 + o, np.ones(n_o, np.int64), 1]
    caps = np.r_[demand[pupils], cap, seats, total]
    costs = np.r_[-profit, MINUTE_COST * (d // 10), np.zeros(n_o, np.int64), 0]
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int64), heads.astype(np.int64),
                                              caps.astype(np.int64), costs.astype(np.int64))
    supplies = np.zeros(2 + n_o + len(pupils), dtype=np.int64)
    supplies[0], supplies[1] = total, -total
    flow.set_nodes_supplies(np.arange(len(supplies), dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"coordination flow failed with status {status}")
    f = np.asarray(flow.flows(np.arange(len(pupils), len(pupils) + len(s), dtype=np.int64)))
    block_of_pupil = np.full(st.n, -1, dtype=np.int64)
    for k, b in enumerate(blocks):
        block_of_pupil[nat.block_pupils(b)] = k
    by_block = np.zeros((len(blocks), n_o), dtype=np.int64)
    np.add.at(by_block, (block_of_pupil[s], o), f)
    by_academy: dict[str, np.ndarray] = {}
    for b in blocks:
        if len(b.academies) > 1:
            for a in b.academies:
                mine = nat.student_academy[s] == a
                dense = np.zeros(n_o, dtype=np.int64)
                np.add.at(dense, o[mine], f[mine])
                by_academy[a] = dense
    placed = np.zeros(st.n, dtype=np.int64)
    np.add.at(placed, s, f)
    short = (demand - placed) > 0
    return by_block, by_academy, (s[short[s]], o[short[s]])


def _arc_capacity(nat: National, s: np.ndarray, o: np.ndarray, demand: np.ndarray
                  ) -> np.ndarray:
    """Seat-weeks pupil `s` may take at offer `o` in the relaxation."""
    inst = nat.instance
    of = inst.offers
    fixed = inst.fixed
    open_w = of.open_week
    split_all = inst.scenario.rules.split_two_week_offers
    paired = of.pair[o] >= 0
    two_week = open_w[o, 0] & open_w[o, 1]
    free = fixed[s] < 0
    weeks_free = (open_w[o] & free).sum(axis=1)
    single_ok = two_week & (demand[s] == 2)
    extension = two_week & (demand[s] == 1) & ((fixed[s, 0] == o) | (fixed[s, 1] == o))
    one_week = ~two_week & (weeks_free > 0)
    cap = np.where(paired, (demand[s] == 2).astype(np.int64),
                   np.where(single_ok, 2, np.where(extension | one_week, 1, 0)))
    if split_all:
        cap = np.where(paired, cap, np.minimum(weeks_free, demand[s]))
    return cap.astype(np.int64)


def _pair_academies(nat: National, blocks: list[Block], reaching: np.ndarray,
                    flow_by_academy: dict[str, np.ndarray], holder: np.ndarray) -> np.ndarray:
    """Per pair, the académie whose pupils alone may join it ('' when any may, or nobody
    reaches it): the académie of the block holding it (`holder`: the block index, -1 when
    none; a pair in one block's rows only is that block's); inside a block of several
    académies, the one with the most signed weeks there, then flow, then the offer's own.
    A pair signed by pupils of two académies stays open to both."""
    inst = nat.instance
    pairs = inst.pairs
    out = np.full(pairs.n, "", dtype=object)
    if not pairs.n:
        return out
    conv = inst.conventions
    a_off, b_off = pairs.offers[:, 0], pairs.offers[:, 1]
    seen = reaching[:, a_off] | reaching[:, b_off]
    alone = seen.sum(axis=0) == 1
    owner = np.where(holder >= 0, holder, np.where(alone, np.argmax(seen, axis=0), -1))
    for q in np.flatnonzero(owner >= 0):
        b = blocks[int(owner[q])]
        if len(b.academies) == 1:
            out[q] = b.academies[0]
            continue
        x, y = pairs.offers[q]
        at = np.isin(conv.offer, (x, y))
        signed = [int((nat.student_academy[conv.student[at]] == a).sum())
                  for a in b.academies]
        if sum(1 for v in signed if v > 0) > 1:
            continue
        flow = [int(flow_by_academy[a][x] + flow_by_academy[a][y]) for a in b.academies]
        home = [int(nat.offer_academy[x] == a) for a in b.academies]
        order = sorted(range(len(b.academies)), key=lambda i: (-signed[i], -flow[i], -home[i], i))
        out[q] = b.academies[order[0]]
    return out


def reshare(nat: National, blocks: list[Block], shares: Shares, allocation: np.ndarray,
            need: np.ndarray, takers: list[str] | None = None) -> tuple[Shares, list[str]]:
    """New shares after the blocks were solved, and the blocks whose shares grew.

    Each block keeps, of every border offer outside a mutualised pair, the seats its pupils
    use (the more taken week); the seats no block uses go to the blocks with pupils not
    placed for both weeks who have the offer in their rows, in proportion to those pupils
    (largest remainder, ties to the first block in code order). An offer nobody still needs
    keeps its shares. Every block's allocation stays within its new shares, so only the
    blocks whose shares grew need solving again; `takers`, when given, are the only blocks
    that may receive seats. `need[k, o]`: pupils of block k not placed
    for both weeks with offer o in their rows (`missing_by_offer`)."""
    inst = nat.instance
    of = inst.offers
    n_o = of.n
    index = {b.code: k for k, b in enumerate(blocks)}
    quota = np.zeros((len(blocks), n_o), dtype=np.int64)
    listed = np.zeros((len(blocks), n_o), dtype=bool)
    for code, k in index.items():
        quota[k, shares.offers[code]] = shares.quotas[code]
        listed[k, shares.offers[code]] = True
    used = np.zeros((len(blocks), n_o), dtype=np.int64)
    for k, b in enumerate(blocks):
        mine = allocation[nat.block_pupils(b)]
        weeks = np.zeros((n_o, 2), dtype=np.int64)
        for w in (0, 1):
            o = mine[:, w]
            np.add.at(weeks[:, w], o[o >= 0], 1)
        used[k] = weeks.max(axis=1)
    need = np.where(listed, need, 0)
    if takers is not None:  # only these blocks may receive seats (and be solved again)
        need[[index[c] for c in index if c not in set(takers)]] = 0
    free = of.capacity.astype(np.int64) - used.sum(axis=0)
    shared = listed.sum(axis=0) >= 2
    todo = np.flatnonzero(shared & (of.pair < 0) & (free > 0) & (need.sum(axis=0) > 0))
    new = quota.copy()
    for o in todo:
        who = np.flatnonzero(listed[:, o])
        base = used[who, o]
        extra = largest_remainder(need[who, o].astype(float), int(free[o]))
        new[who, o] = base + extra
    grew = sorted(b.code for k, b in enumerate(blocks) if (new[k] > quota[k]).any())
    quotas = {code: new[k, shares.offers[code]] for code, k in index.items()}
    stats = {**shares.stats, "reshared_offers": int(len(todo)),
             "reshared_seats": int(free[todo].sum()) if len(todo) else 0}
    return Shares(dict(shares.offers), quotas, shares.pair_academy, stats), grew
