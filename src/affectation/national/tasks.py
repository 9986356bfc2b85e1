"""The tasks of a national run, one function each, run on the workers (`runner`).

Each takes the work folder's path and a small spec, loads what it needs from files, writes its
result there and returns a small dict; none holds a solver object across the boundary. Each
sets its own thread counts first (compiled kernels: `cores_per_block`; CP-SAT workers are the
scenario's; HiGHS runs on one thread), so that a worker process on a large node never
oversubscribes its cores, and no result depends on which worker ran it.

- `survey_block`: each pupil's nearest reachable offers (`travel.reach.nearest_reach`), the
  rows every later phase uses.
- `solve_block`: the block alone with its shares of the border offers (`engine.solve` on its
  rows: its bound is the engine's, with those shares); with `block_bounds_alone`, also its
  proven bound counting every border offer it reaches whole (valid nationally: the sum over
  blocks bounds the country).
- `national_bound`: one proven bound for the whole country (the flows of `engine.bound` on
  every pupil at once, their cuts checked against every reachable pair): it is what pricing
  the border seats (a Lagrangian relaxation of their capacities) would converge to.
- `solve_window`: a border window re-solved with everything else fixed (`windows`).
- `academy_folder`: an académie's v1 folder (`folders`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from affectation.domain.allocation import lexicographic_score
from affectation.engine.bound import full_placement_bound
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.engine.solve import SolveSettings, solve
from affectation.national.data import Block, instance_digest, local_reach, sub_instance
from affectation.national.work import (
    NationalSettings,
    blocks_dir,
    load_arrays,
    load_json,
    load_national,
    load_rows,
    load_shares,
    marker_matches,
    nearest_rows,
    rows_path,
    save_arrays,
    save_json,
    write_marker,
)
from affectation.travel.reach import Reach, is_member, nearest_reach, sorted_unique


def limit_threads(cores: int) -> None:
    """Threads of the compiled kernels (numba) for the calling thread."""
    import numba

    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(int(cores), most)))


@dataclass(frozen=True)
class BlockSpec:
    """What a block task needs: the work folder, the block, the settings, `resume`."""

    work: str
    block: Block
    settings: NationalSettings
    resume: bool = False
    round: int = 0


# --------------------------------------------------------------------------
# Survey
# --------------------------------------------------------------------------

def survey_block(spec: BlockSpec) -> dict[str, Any]:
    """Each pupil's nearest offers (see `NationalSettings`); writes `survey/BLOCK/`."""
    started = time.perf_counter()
    limit_threads(spec.settings.cores_per_block)
    work = Path(spec.work)
    nat = load_national(work)
    inst = nat.instance
    pupils = nat.block_pupils(spec.block)
    mask = np.zeros(inst.students.n, dtype=bool)
    mask[pupils] = True
    mask &= inst.students.to_place
    k = spec.settings.candidates(int(mask.sum()))
    everything = np.arange(inst.offers.n, dtype=np.int64)
    digest = instance_digest(sub_instance(inst, pupils, everything).instance, "survey", k,
                             spec.settings.coordination_arcs)
    folder = work / "survey" / spec.block.code
    if spec.resume and marker_matches(folder, digest):
        info: dict[str, Any] = load_json(folder / "info.json")
        return {**info, "reused": True}
    reach = nearest_reach(inst, k, student_mask=mask)
    members = np.flatnonzero(mask)
    lengths = reach.indptr[members + 1] - reach.indptr[members]
    assert reach.capped is not None
    save_arrays(rows_path(work, spec.block.code), pupils=members, lengths=lengths,
                offer=reach.offer, deciminutes=reach.deciminutes,
                capped=reach.capped[members])
    near = nearest_rows(reach, members, spec.settings.coordination_arcs)
    offers, counts = np.unique(reach.offer, return_counts=True)
    per_academy: dict[str, np.ndarray] = {}
    owner = np.repeat(members, lengths)
    for a in spec.block.academies:
        mine = nat.student_academy[owner] == a
        o_a, c_a = np.unique(reach.offer[mine], return_counts=True)
        per_academy[f"reached:{a}"] = np.stack([o_a.astype(np.int64), c_a.astype(np.int64)])
    save_arrays(folder / "summary.npz", pupils=near.pupils, indptr=near.indptr,
                offer=near.offer, deciminutes=near.deciminutes, reached=offers.astype(np.int64),
                reached_count=counts.astype(np.int64), **per_academy)
    info = {"block": spec.block.code, "pupils_to_place": int(mask.sum()), "candidates": k,
            "pairs": int(reach.n_pairs), "capped": int(reach.capped[members].sum()),
            "offers_reached": int(len(offers)),
            "seconds": round(time.perf_counter() - started, 3)}
    save_json(folder / "info.json", info)
    write_marker(folder, digest)
    return {**info, "reused": False}


# --------------------------------------------------------------------------
# Block solve
# --------------------------------------------------------------------------

def solve_block(spec: BlockSpec) -> dict[str, Any]:
    """Solve the block with its shares; writes `blocks/BLOCK/` (allocation, outcome)."""
    started = time.perf_counter()
    limit_threads(spec.settings.cores_per_block)
    work = Path(spec.work)
    nat = load_national(work)
    inst = nat.instance
    st, of = inst.students, inst.offers
    block = spec.block
    rows = load_rows(work, block.code, st.n)
    shares = load_shares(work, spec.round)
    pupils = nat.block_pupils(block)
    capacity = shares.capacity(block.code, of.capacity)
    in_rows = sorted_unique(rows.offer.astype(np.int64))
    in_rows = in_rows[capacity[in_rows] > 0]
    extra = pair_exclusions(nat, rows, pupils, shares.pair_academy)
    sub = sub_instance(inst, pupils, in_rows, capacity=capacity,
                       name=f"{inst.scenario.name}-{block.code}", extra_exclusions=extra)
    reach = local_reach(rows, pupils, sub.local_offer, capacity)
    scenario_solver = inst.scenario.solver
    time_limit = max(scenario_solver.time_limit_s, spec.settings.min_block_time_limit_s,
                     spec.settings.seconds_per_pair * reach.n_pairs)
    settings = SolveSettings(time_limit_s=round(time_limit, 3), seed=scenario_solver.seed,
                             workers=scenario_solver.workers)
    settings = block_settings(settings, spec.settings, int(sub.instance.students.to_place.sum()),
                              int(reach.n_pairs))
    survey_digest = load_json(work / "survey" / block.code / "marker.json")["digest"]
    digest = instance_digest(sub.instance, "solve", survey_digest, settings, spec.settings)
    folder = blocks_dir(work, spec.round) / block.code
    if spec.resume and marker_matches(folder, digest):
        outcome: dict[str, Any] = load_json(folder / "outcome.json")
        return {**outcome, "reused": True}
    solution = solve(sub.instance, settings, reach=reach)
    if settings.exact_max_pupils and not solution.search.get("exact_optimal", 0) \
            and settings.search.max_neighbourhoods == 0:
        # HiGHS did not prove levels 1-2 within its work budget: the engine's default path
        # (neighbourhoods) instead; a function of the instance only, never of the clock.
        settings = block_settings(settings, replace(spec.settings, exact_levels=False),
                                  int(sub.instance.students.to_place.sum()),
                                  int(reach.n_pairs))
        solution = solve(sub.instance, settings, reach=reach)
    solved = time.perf_counter()
    allocation = np.where(solution.allocation >= 0, sub.offers[np.maximum(
        solution.allocation, 0)], -1)
    if not spec.settings.block_bounds_alone:
        bound_kind = "shares"
        bound = int(solution.upper_bound_full)
        bound_priority = int(solution.upper_bound_priority_full)
    elif spec.round == 0:
        bound_kind = "alone"
        bound, bound_priority = _alone_bound(nat, rows, pupils)
    else:  # the same pupils and offers at full capacity: round 0's
        bound_kind = "alone"
        first = load_json(blocks_dir(work) / block.code / "outcome.json")
        bound, bound_priority = first["upper_bound_full"], first["upper_bound_priority_full"]
    sub_st = sub.instance.students
    score = lexicographic_score(sub.instance, solution.allocation)
    full = (solution.allocation >= 0).all(axis=1) & sub_st.to_place
    outcome = {
        "block": block.code, "name": block.name, "academies": list(block.academies),
        "students": int(sub_st.n), "students_to_place": int(sub_st.to_place.sum()),
        "priority_students": int((sub_st.to_place & sub_st.priority).sum()),
        "placed_full": int(full.sum()), "priority_placed_full": score[0],
        "placed_partial": score[2],
        "upper_bound_full": bound, "upper_bound_priority_full": bound_priority,
        "upper_bound_kind": bound_kind,
        "upper_bound_full_shares": int(solution.upper_bound_full),
        "solver_status": solution.status, "time_limit_s": settings.time_limit_s,
        "pairs": int(reach.n_pairs), "capped": int(np.asarray(reach.capped).sum()),
        "offers": int(sub.instance.offers.n),
        "seconds": round(time.perf_counter() - started, 3),
        "solve_seconds": round(solved - started, 3),
        "bound_alone_seconds": round(time.perf_counter() - solved, 3),
        "timings": solution.timings, "search": solution.search,
        "time_limit_reached_in": list(solution.stopped_by_time_limit),
    }
    save_arrays(folder / "allocation.npz", pupils=pupils, allocation=allocation)
    save_json(folder / "outcome.json", outcome)
    write_marker(folder, digest)
    return {**outcome, "reused": False}


def block_settings(settings: SolveSettings, national: NationalSettings, to_place: int,
                   pairs: int) -> SolveSettings:
    """The engine's settings for a block of `to_place` pupils and `pairs` pairs.

    - `exact_levels` and a block within `exact_max_pupils` and `exact_max_columns` (pairs,
      about its columns): levels 1-2 proven optimal by HiGHS (`engine.exact`: seconds for a
      block of 500 pupils) in place of the CP-SAT search (a whole model of up to 800 pupils
      at a deterministic time of 5, 40-130 s a block on this machine, and not always
      optimal); the chains of moves and the polish still run after it.
    - `exact` (`--exact`): the engine's own HiGHS stages (the whole CP-SAT model translated
      for HiGHS up to 1,500 pupils, then levels 1-2 up to 4,000).
    - else neither: CP-SAT only.

    The territories' waves take `cores_per_block` threads (`Territory.concurrent`): a
    setting, never the machine's cores, so the block's result stays the same anywhere.
    """
    settings = replace(settings, territory=replace(settings.territory,
                                                   concurrent=national.cores_per_block))
    if national.exact:
        return settings
    fits = (national.exact_levels and to_place <= national.exact_max_pupils
            and pairs <= national.exact_max_columns)
    if fits:
        return replace(settings, exact_max_pupils=national.exact_max_pupils,
                       exact_max_columns=national.exact_max_columns,
                       search=replace(settings.search, mip_pupils=0, whole_model_pupils=0,
                                      max_neighbourhoods=0))
    return replace(settings, exact_max_pupils=0, search=replace(settings.search, mip_pupils=0))


def pair_exclusions(nat: Any, rows: Reach, pupils: np.ndarray, pair_academy: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """(pupil, offer) pairings to forbid: a pair held by one académie is not for the other
    académies' pupils (both of its offers), except a pupil's own signed pair."""
    inst = nat.instance
    of, pairs = inst.offers, inst.pairs
    if not pairs.n or not (pair_academy != "").any():
        return None
    lengths = rows.indptr[pupils + 1] - rows.indptr[pupils]
    owner = np.repeat(pupils, lengths)
    offsets = np.r_[0, np.cumsum(lengths)[:-1]] if len(lengths) else np.zeros(0, np.int64)
    idx = np.repeat(rows.indptr[pupils] - offsets, lengths) + np.arange(int(lengths.sum()))
    offer = rows.offer[idx].astype(np.int64)
    k = of.pair[offer]
    # Académies as integer codes (-1: a pair held by none): comparing strings element-wise
    # over Île-de-France's millions of pairs took seconds.
    names = sorted({str(a) for a in pair_academy.tolist()}
                   | {str(a) for a in nat.student_academy[pupils].tolist()})
    code = {a: i for i, a in enumerate(names)}
    pair_code = np.array([code[str(a)] if a != "" else -1 for a in pair_academy.tolist()],
                         dtype=np.int64)
    pupil_code = np.array([code[str(a)] for a in nat.student_academy[pupils].tolist()],
                          dtype=np.int64)
    held = np.where(k >= 0, pair_code[np.maximum(k, 0)], -1)
    bad = (held >= 0) & (held != np.repeat(pupil_code, lengths))
    s, q = owner[bad], k[bad]
    # A pupil's own signed pair stays open to it.
    conv = inst.conventions
    signed_pair = of.pair[conv.offer]
    mine = is_member(s * max(pairs.n, 1) + q,
                     sorted_unique(conv.student * max(pairs.n, 1) + signed_pair))
    s, q = s[~mine], q[~mine]
    both = pairs.offers[q]
    return np.r_[s, s], np.r_[both[:, 0], both[:, 1]]


def _alone_bound(nat: Any, rows: Reach, pupils: np.ndarray) -> tuple[int, int]:
    """Proven bounds (all, priority) on the block's pupils placed for both weeks, every offer
    at its full capacity: valid whatever the other blocks do."""
    inst = nat.instance
    everything = np.arange(inst.offers.n, dtype=np.int64)
    sub = sub_instance(inst, pupils, everything)
    reach = local_reach(rows, pupils, sub.local_offer, inst.offers.capacity)
    allowed = allowed_pairs(sub.instance, reach)
    roles = offer_roles(sub.instance)
    st = sub.instance.students
    bound, _ = full_placement_bound(sub.instance, reach, allowed, roles)
    priority, _ = full_placement_bound(sub.instance, reach, allowed, roles,
                                       st.to_place & st.priority)
    return int(bound.value), int(priority.value)


# --------------------------------------------------------------------------
# National bound
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class BoundSpec:
    work: str
    blocks: tuple[Block, ...]
    settings: NationalSettings
    resume: bool = False


def national_bound(spec: BoundSpec) -> dict[str, Any]:
    """The national proven bounds (all pupils, priority pupils); writes `bound.json`."""
    started = time.perf_counter()
    limit_threads(spec.settings.cores_per_block)
    work = Path(spec.work)
    nat = load_national(work)
    inst = nat.instance
    st = inst.students
    digests = [load_json(work / "survey" / b.code / "marker.json")["digest"]
               for b in spec.blocks]
    digest = instance_digest(inst, "bound", digests, spec.settings.bound_arcs)
    folder = work / "bound"
    if spec.resume and marker_matches(folder, digest):
        info: dict[str, Any] = load_json(folder / "bound.json")
        return {**info, "reused": True}
    reach = _national_rows(work, nat, spec.blocks, spec.settings.bound_arcs)
    allowed = allowed_pairs(inst, reach)
    roles = offer_roles(inst)
    bound, _ = full_placement_bound(inst, reach, allowed, roles)
    priority, _ = full_placement_bound(inst, reach, allowed, roles, st.to_place & st.priority)
    info = {"upper_bound_full": int(bound.value),
            "upper_bound_priority_full": int(priority.value),
            "rounds": int(bound.rounds), "arcs": int(bound.arcs),
            "pairs_loaded": int(reach.n_pairs),
            "seconds": round(time.perf_counter() - started, 3)}
    save_json(folder / "bound.json", info)
    write_marker(folder, digest)
    return {**info, "reused": False}


def _national_rows(work: Path, nat: Any, blocks: tuple[Block, ...], arcs: int) -> Reach:
    """Every pupil's first `arcs` pairs of its block's rows, plus its signed offers, as one
    national reach; a pupil whose row is cut (or was capped) is capped."""
    inst = nat.instance
    n = inst.students.n
    conv = inst.conventions
    signed = sorted_unique(conv.student.astype(np.int64) * inst.offers.n + conv.offer)
    parts_s, parts_o, parts_d = [], [], []
    capped = np.zeros(n, dtype=bool)
    for b in blocks:
        data = load_arrays(work / "survey" / b.code / "rows.npz")
        pupils, lengths = data["pupils"], data["lengths"]
        owner = np.repeat(pupils, lengths)
        starts = np.r_[0, np.cumsum(lengths)[:-1]]
        rank = np.arange(len(owner)) - np.repeat(starts, lengths)
        offer = data["offer"].astype(np.int64)
        keep = (rank < arcs) | is_member(owner * inst.offers.n + offer, signed)
        parts_s.append(owner[keep])
        parts_o.append(offer[keep])
        parts_d.append(data["deciminutes"][keep])
        capped[pupils] = data["capped"] | (lengths > arcs)
    s = np.concatenate(parts_s) if parts_s else np.zeros(0, np.int64)
    o = np.concatenate(parts_o) if parts_o else np.zeros(0, np.int64)
    d = np.concatenate(parts_d) if parts_d else np.zeros(0, np.uint16)
    order = np.lexsort((o, d, s))
    s, o, d = s[order], o[order], d[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=n), out=indptr[1:])
    return Reach(indptr=indptr, offer=o.astype(np.int32), deciminutes=d.astype(np.uint16),
                 capped=capped)
