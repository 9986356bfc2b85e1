"""Border windows: the pupils near a border between two blocks re-solved together, everything
else fixed (POPMUSIC-style reconciliation of the blocks' allocations).

A block solved alone cannot give a neighbour the border seats it left free, nor move one of
its pupils to a free seat of its own so that a neighbour's pupil takes the border seat. For
each pair of blocks sharing border offers, the *window* is the pupils of both blocks whose
rows hold one of those offers; it is re-solved by the repair machinery (`engine.repair`:
every placement kept, free seats given to pupils missing a week, then chains of moves of
placed pupils that place more, `[repair] move_level`), over the offers in its pupils' rows,
each with the seats the pupils outside the window leave. Windows sharing no block run at
once (a round: the edges of the block graph coloured greedily, in code order); an offer in
several windows of a round is given to the first for its free seats, the others keep what
their pupils hold. A window's result is kept only when it places at least as many priority
pupils, then pupils for both weeks, then for one week. Each step keeps the union valid; the
result never depends on the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectation.domain.allocation import PreviousResult, classify, lexicographic_score
from affectation.engine.repair import RepairSettings, repair
from affectation.national.data import Block, National, local_reach, sub_instance
from affectation.national.dispatch import Task, run_tasks
from affectation.national.tasks import limit_threads, pair_exclusions
from affectation.national.work import (
    NationalSettings,
    load_arrays,
    load_national,
    load_shares,
    rows_path,
    save_arrays,
)
from affectation.travel.reach import Reach, is_member, sorted_unique


@dataclass(frozen=True)
class WindowSpec:
    """A window of a round: its blocks and its file (pupils, offers, capacities)."""

    work: str
    name: str
    blocks: tuple[str, ...]
    file: str
    settings: NationalSettings


def run_windows(client: Any, work: Path, nat: National, blocks: list[Block],
                allocation: np.ndarray, settings: NationalSettings, resume: bool,
                say: Any, busy: Sequence[Any] = ()) -> tuple[np.ndarray, dict[str, Any]]:
    """Re-solve every border window (see the module docstring; tasks beside the futures of
    `busy`); the new allocation."""
    inst = nat.instance
    windows = _windows(work, nat, blocks, allocation)
    rounds = _rounds(list(windows))
    before = lexicographic_score(inst, allocation)
    solved = 0
    for r, edges in enumerate(rounds, start=1):
        save_arrays(work / "windows" / "current.npz", allocation=allocation)
        specs = _round_files(work, nat, r, edges, windows, allocation, settings)
        # The largest window first: it is the round's longest task (Île-de-France's), and
        # the small ones fill the other workers meanwhile.
        size = {spec.name: len(windows[edge]) for edge, spec in zip(edges, specs, strict=True)}
        tasks = [Task(f"window-{r}-{spec.name}", solve_window, spec, size[spec.name])
                 for spec in sorted(specs, key=lambda sp: (-size[sp.name], sp.name))]
        results: dict[str, dict[str, Any]] = {}
        for task, future in run_tasks(client, tasks, busy):
            results[task.spec.name] = future.result()
        for spec in specs:  # in window order, never completion order
            data = load_arrays(Path(spec.file).with_suffix(".out.npz"))
            allocation[data["pupils"]] = data["allocation"]
            solved += 1
        gained = sum(r_["gained"] for r_ in results.values())
        say(f"fenêtres frontalières, tour {r}/{len(rounds)} : {len(specs)} fenêtre(s), "
            f"{gained:+d} élève(s) placé(s) deux semaines")
    after = lexicographic_score(inst, allocation)
    return allocation, {"rounds": len(rounds), "windows": solved,
                        "pupils_placed_more": after[1] - before[1],
                        "priority_placed_more": after[0] - before[0]}


def _windows(work: Path, nat: National, blocks: list[Block], allocation: np.ndarray
             ) -> dict[tuple[str, str], np.ndarray]:
    """Pupils (national indices, sorted) of each window worth solving, by pair of blocks."""
    inst = nat.instance
    st = inst.students
    n_o = inst.offers.n
    reaching = np.zeros((len(blocks), n_o), dtype=bool)
    for k, b in enumerate(blocks):
        reaching[k, load_arrays(work / "survey" / b.code / "summary.npz")["reached"]] = True
    missing = st.to_place & (allocation < 0).any(axis=1)
    parts: dict[tuple[str, str], list[np.ndarray]] = {}
    for k, b in enumerate(blocks):
        data = load_arrays(work / "survey" / b.code / "rows.npz")
        owner = np.repeat(data["pupils"], data["lengths"])
        offer = data["offer"].astype(np.int64)
        for j, c in enumerate(blocks):
            if j == k:
                continue
            border = reaching[k] & reaching[j]
            if not border.any():
                continue
            near = sorted_unique(owner[border[offer]])
            key = (b.code, c.code) if b.code < c.code else (c.code, b.code)
            parts.setdefault(key, []).append(near)
    out = {}
    for key in sorted(parts):
        pupils = sorted_unique(np.concatenate(parts[key]))
        if missing[pupils].any():
            out[key] = pupils
    return out


def _rounds(edges: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Edges in rounds where no two share a block (greedy, in the given order)."""
    rounds: list[list[tuple[str, str]]] = []
    busy: list[set[str]] = []
    for edge in edges:
        for r, used in enumerate(busy):
            if edge[0] not in used and edge[1] not in used:
                rounds[r].append(edge)
                used.update(edge)
                break
        else:
            rounds.append([edge])
            busy.append(set(edge))
    return rounds


def _round_files(work: Path, nat: National, r: int, edges: list[tuple[str, str]],
                 windows: dict[tuple[str, str], np.ndarray], allocation: np.ndarray,
                 settings: NationalSettings) -> list[WindowSpec]:
    """Each window's offers and capacities for this round (see the module docstring)."""
    inst = nat.instance
    st, of = inst.students, inst.offers
    n_o = of.n
    in_window = np.zeros(st.n, dtype=bool)
    offers_of: list[np.ndarray] = []
    held_of: list[np.ndarray] = []
    pupils_of: list[np.ndarray] = []
    k_pair = np.where(allocation[:, 0] >= 0, of.pair[np.maximum(allocation[:, 0], 0)], -1)
    for edge in edges:
        pupils = windows[edge]
        # Every pupil of a mutualised pair one of the window's pupils is in: a pair's
        # minimum group then counts all its pupils (they are of one académie: one block).
        pairs_in = np.unique(k_pair[pupils][k_pair[pupils] >= 0])
        if len(pairs_in):
            pupils = np.union1d(pupils, np.flatnonzero(np.isin(k_pair, pairs_in)))
        pupils_of.append(pupils)
        in_window[pupils] = True
        mask = np.zeros(st.n, dtype=bool)
        mask[pupils] = True
        offers_of.append(_window_offers(work, nat, edge, pupils, allocation))
        held_of.append(_usage(allocation, n_o, mask))
    outside = _usage(allocation, n_o, ~in_window).max(axis=1)
    first = np.full(n_o, -1, dtype=np.int64)
    held_max = [h.max(axis=1) for h in held_of]
    claimed = np.zeros(n_o, dtype=np.int64)  # seats held by the windows that don't own
    for k, offers in enumerate(offers_of):
        fresh = offers[first[offers] < 0]
        first[fresh] = k
    for k, offers in enumerate(offers_of):
        others = offers[first[offers] != k]
        claimed[others] += held_max[k][others]
    specs = []
    folder = work / "windows" / f"round-{r}"
    for k, edge in enumerate(edges):
        offers = offers_of[k]
        own = first[offers] == k
        capacity = np.where(own, np.maximum(of.capacity[offers] - outside[offers]
                                            - claimed[offers], 0), held_max[k][offers])
        name = f"{edge[0]}--{edge[1]}"
        file = folder / f"{name}.npz"
        save_arrays(file, pupils=pupils_of[k], offers=offers, capacity=capacity)
        specs.append(WindowSpec(str(work), name, edge, str(file), settings))
    return specs


def _usage(allocation: np.ndarray, n_offers: int, mask: np.ndarray) -> np.ndarray:
    used = np.zeros((n_offers, 2), dtype=np.int64)
    for w in (0, 1):
        o = allocation[:, w]
        keep = (o >= 0) & mask
        np.add.at(used[:, w], o[keep], 1)
    return used


def _window_offers(work: Path, nat: National, edge: tuple[str, str], pupils: np.ndarray,
                   allocation: np.ndarray) -> np.ndarray:
    """Offers of the window: in its pupils' rows, or held by them."""
    parts = [allocation[pupils].ravel()]
    for code in edge:
        data = load_arrays(work / "survey" / code / "rows.npz")
        lengths = data["lengths"]
        keep = is_member(data["pupils"], pupils)  # by pupil, not by pair: 350 times fewer
        length = lengths[keep]
        start = (np.cumsum(lengths) - lengths)[keep]
        within = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        parts.append(data["offer"][np.repeat(start, length) + within].astype(np.int64))
    offers = sorted_unique(np.concatenate(parts))
    return offers[offers >= 0]


def _window_rows(work: Path, codes: tuple[str, ...], pupils: np.ndarray, n: int) -> Reach:
    """The rows of `pupils` (sorted national indices) in the rows of the blocks `codes`
    (disjoint pupils), as a national reach whose other rows are empty: a window uses its own
    pupils' rows only, and building every row of Île-de-France's block for each of its
    windows cost a second."""
    counts = np.zeros(n, dtype=np.int64)
    capped = np.zeros(n, dtype=bool)
    parts = []
    for code in codes:
        data = load_arrays(rows_path(work, code))
        lengths = data["lengths"]
        keep = is_member(data["pupils"], pupils)
        starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
        mine, length, start = data["pupils"][keep], lengths[keep], starts[keep]
        counts[mine] = length
        capped[mine] = data["capped"][keep]
        parts.append((mine, length, start, data["offer"], data["deciminutes"]))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    offer = np.zeros(int(indptr[-1]), dtype=np.int32)
    deci = np.zeros(int(indptr[-1]), dtype=np.uint16)
    for mine, length, start, block_offer, block_deci in parts:
        total = int(length.sum())
        within = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
        dest = np.repeat(indptr[mine], length) + within
        src = np.repeat(start, length) + within
        offer[dest] = block_offer[src]
        deci[dest] = block_deci[src]
    return Reach(indptr=indptr, offer=offer, deciminutes=deci, capped=capped)


def solve_window(spec: WindowSpec) -> dict[str, Any]:
    """Re-solve one window (see the module docstring); writes `FILE.out.npz`."""
    started = time.perf_counter()
    limit_threads(spec.settings.cores_per_block)
    work = Path(spec.work)
    nat = load_national(work)
    inst = nat.instance
    st, of = inst.students, inst.offers
    data = load_arrays(Path(spec.file))
    pupils, offers = data["pupils"], data["offers"]
    capacity = np.zeros(of.n, dtype=of.capacity.dtype)
    capacity[offers] = data["capacity"]
    final = load_arrays(work / "windows" / "current.npz")["allocation"]
    rows = _window_rows(work, spec.blocks, pupils, st.n)
    shares = load_shares(work)
    extra = pair_exclusions(nat, rows, pupils, _pair_owners(nat, final, shares.pair_academy))
    sub = sub_instance(inst, pupils, offers, capacity=capacity, extra_exclusions=extra)
    reach = local_reach(rows, pupils, sub.local_offer, capacity)
    before = final[pupils]
    local = np.where(before >= 0, sub.local_offer[np.maximum(before, 0)], -1)
    n = len(pupils)
    previous = PreviousResult(
        allocation=local, offer_text=np.where(before >= 0, of.ids[np.maximum(before, 0)], ""),
        kind=classify(sub.instance, local), reason=np.full(n, "", dtype=object),
        listed=np.ones(n, dtype=bool))
    repaired = repair(sub.instance, previous,
                      RepairSettings(max_move_passes=spec.settings.window_passes,
                                     freeze_placed=False), reach=reach)
    new = repaired.solution.allocation
    old_score = lexicographic_score(sub.instance, local)[:3]
    new_score = lexicographic_score(sub.instance, new)[:3]
    keep_new = new_score >= old_score
    chosen = new if keep_new else local
    result = np.where(chosen >= 0, sub.offers[np.maximum(chosen, 0)], -1)
    save_arrays(Path(spec.file).with_suffix(".out.npz"), pupils=pupils, allocation=result)
    return {"window": spec.name, "pupils": n, "kept": bool(keep_new),
            "gained": int(new_score[1] - old_score[1]) if keep_new else 0,
            "seconds": round(time.perf_counter() - started, 3)}


def _pair_owners(nat: National, allocation: np.ndarray, holder: np.ndarray) -> np.ndarray:
    """Per pair: the académie whose pupils use it (its only one), else `holder`'s."""
    of = nat.instance.offers
    out = holder.copy()
    w1 = allocation[:, 0]
    k = np.where(w1 >= 0, of.pair[np.maximum(w1, 0)], -1)
    pupils = np.flatnonzero(k >= 0)
    for q in np.unique(k[pupils]):
        who = set(nat.student_academy[pupils[k[pupils] == q]].tolist())
        out[q] = who.pop() if len(who) == 1 else ""
    return out
