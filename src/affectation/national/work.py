"""The work folder of a national run (`OUT/.work/`): what the tasks read and write.

Workers get paths and small specs, never solver objects: each task loads the national data
(`national.pkl`, written once by the driver after every input was checked), reads the files
of the phases before it, and writes its own with the atomic writer. A task whose result is
there with the same input digest (`marker.json`) is not run again (`--resume`).
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectation.io.atomic import write_file
from affectation.national.coordination import Rows, Shares
from affectation.national.data import National
from affectation.travel.reach import Reach

WORK = ".work"


@dataclass(frozen=True)
class NationalSettings:
    """Every setting of a national run that changes its result; none depends on the machine
    or the number of workers, so that the same inputs give the same bytes anywhere.

    - Rows (each pupil's nearest reachable offers): a block keeps at most `pairs_per_block`
      pairs, i.e. `clamp(pairs_per_block / pupils, min_candidates, max_candidates)` offers
      per pupil (all of them when it reaches fewer); the bounds stay proven on every
      reachable pair (`engine.bound`).
    - `coordination_arcs`: each pupil's nearest offers in the coordination flow.
    - `bound_arcs`: each pupil's nearest offers loaded first in the national bound's flows.
    - Time limit of a block's solve: the largest of the scenario's, `min_block_time_limit_s`
      and `seconds_per_pair` times its pairs (a large block needs its slower stages:
      `engine.solve` chooses them from the limit, never from the clock). Every stage runs on
      a work budget, so the limit is only the engine's safety net: a block ends when its
      work is done. The floor keeps that net out of the way on a loaded machine or a busy
      cluster (at the scenario's 60 s, blocks of 2,500 pupils were cut on a 2-core machine
      at load 12, and their results then depended on its speed).
    - `reshare_rounds`: rounds of border seats left free by the blocks given to the blocks
      whose pupils miss them, those blocks solved again (`coordination.reshare`), only
      blocks on the HiGHS path with at most `reshare_max_pairs` pairs (a few seconds each:
      at scale 0.05, solving blocks of 60,000-105,000 pairs again cost 200 s of tasks for
      2 more placed); the others keep their shares.
    - `windows`: re-solve the border windows; `window_passes`: their move search's budget.
    - `cores_per_block`: threads of a block's compiled kernels and of its territories' waves
      (the CP-SAT workers are the scenario's `[solver] workers`, each HiGHS run one thread).
    - `exact_levels`: a block of at most `exact_max_pupils` pupils and `exact_max_columns`
      pairs has its levels 1-2 (priority pupils, then pupils placed for both weeks) proven
      optimal by HiGHS (`engine.exact`) instead of a CP-SAT search: at scale 0.02, 0.1-2.6 s
      a block where the whole-model CP-SAT took 20-65 s and placed 9 fewer pupils in all.
      HiGHS's time grows faster than its columns (scale 0.05, loaded machine: 79,000
      columns 40 s, 163,000 130 s, 217,000 200 s), hence the cap on pairs; larger blocks
      take the CP-SAT neighbourhoods. When HiGHS does not prove levels 1-2 within its work
      budget, the block is solved again on the CP-SAT path (`tasks.block_settings`).
    - `block_bounds_alone`: also prove each block's bound with every offer it reaches at
      full capacity (valid whatever the other blocks do; their sum is a second national
      bound). Off by default: the national flow's bound is tighter (scale 1: 500,301 against
      527,406), and these bounds cost 960 s of the scale-1 run's 4,351 s of tasks, 588 s of
      them in Île-de-France's block, the critical path. Without them a block's bound is the
      engine's with its shares, and each académie's folder proves its own.
    - `exact`: run the engine's own HiGHS stages instead (the whole CP-SAT model translated
      for HiGHS up to 1,500 pupils, `engine.mip`; levels 1-2 up to 4,000, `engine.exact`).
      Either way every stage runs on a work budget (`engine.budget`): the result does not
      depend on the machine's speed unless the time limit, a safety net, cuts a stage.
    """

    pairs_per_block: int = 40_000_000
    max_candidates: int = 2000
    min_candidates: int = 100
    coordination_arcs: int = 16
    bound_arcs: int = 32
    seconds_per_pair: float = 10e-6
    min_block_time_limit_s: float = 900.0
    reshare_rounds: int = 1
    reshare_max_pairs: int = 40_000
    windows: bool = True
    window_passes: int = 100
    cores_per_block: int = 1
    exact: bool = False
    exact_levels: bool = True
    exact_max_pupils: int = 4_000
    exact_max_columns: int = 120_000
    block_bounds_alone: bool = False

    def candidates(self, pupils: int) -> int:
        per = self.pairs_per_block // max(pupils, 1)
        return int(min(max(per, self.min_candidates), self.max_candidates))


def work_dir(out_dir: Path) -> Path:
    return Path(out_dir) / WORK


def save_national(work: Path, nat: National) -> None:
    write_file(work / "national.pkl", pickle.dumps(nat, protocol=pickle.HIGHEST_PROTOCOL))


_NATIONAL: dict[str, National] = {}


def load_national(work: Path) -> National:
    """The national data (kept in the worker process: the next task on it reuses it)."""
    path = str(Path(work) / "national.pkl")
    stamp = f"{path}:{Path(path).stat().st_mtime_ns}"
    if stamp not in _NATIONAL:
        _NATIONAL.clear()
        with open(path, "rb") as handle:
            _NATIONAL[stamp] = pickle.load(handle)
    return _NATIONAL[stamp]


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    write_file(path, buffer.getvalue())


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=True) as data:
        return {k: data[k] for k in data.files}


def save_json(path: Path, value: Any) -> None:
    write_file(path, json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def marker_matches(folder: Path, digest: str) -> bool:
    marker = Path(folder) / "marker.json"
    if not marker.is_file():
        return False
    try:
        return bool(load_json(marker).get("digest") == digest)
    except (OSError, ValueError):
        return False


def write_marker(folder: Path, digest: str) -> None:
    save_json(Path(folder) / "marker.json", {"digest": digest})


# --------------------------------------------------------------------------
# Rows (survey) and shares (coordination)
# --------------------------------------------------------------------------

def rows_path(work: Path, block: str) -> Path:
    return Path(work) / "survey" / block / "rows.npz"


def load_rows(work: Path, block: str, n_students: int) -> Reach:
    """The block's rows as a reach over every national pupil (other rows empty)."""
    data = load_arrays(rows_path(work, block))
    pupils, lengths = data["pupils"], data["lengths"]
    counts = np.zeros(n_students, dtype=np.int64)
    counts[pupils] = lengths
    indptr = np.zeros(n_students + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    capped = np.zeros(n_students, dtype=bool)
    capped[pupils] = data["capped"]
    return Reach(indptr=indptr, offer=data["offer"], deciminutes=data["deciminutes"],
                 capped=capped)


def _shares_name(round_: int) -> str:
    return "shares" if round_ == 0 else f"shares-{round_}"


def blocks_dir(work: Path, round_: int = 0) -> Path:
    """Where the block solves of a round write (round 0: the coordination's shares; round r:
    the shares redistributed after round r - 1, `coordination.reshare`)."""
    return Path(work) / ("blocks" if round_ == 0 else f"blocks-{round_}")


def save_shares(work: Path, shares: Shares, round_: int = 0) -> None:
    arrays: dict[str, np.ndarray] = {"pair_academy": shares.pair_academy.astype(str)}
    for code in shares.offers:
        arrays[f"offers:{code}"] = shares.offers[code]
        arrays[f"quotas:{code}"] = shares.quotas[code]
    save_arrays(Path(work) / f"{_shares_name(round_)}.npz", **arrays)
    save_json(Path(work) / f"{_shares_name(round_)}.json", shares.stats)


def load_shares(work: Path, round_: int = 0) -> Shares:
    data = load_arrays(Path(work) / f"{_shares_name(round_)}.npz")
    offers = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("offers:")}
    quotas = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("quotas:")}
    stats = load_json(Path(work) / f"{_shares_name(round_)}.json")
    return Shares(offers, quotas, data["pair_academy"].astype(object), stats)


def nearest_rows(reach: Reach, pupils: np.ndarray, k: int) -> Rows:
    """The first `k` pairs of each of `pupils`' rows."""
    lengths = np.minimum(reach.indptr[pupils + 1] - reach.indptr[pupils], k)
    starts = reach.indptr[pupils]
    offsets = np.r_[0, np.cumsum(lengths)[:-1]] if len(lengths) else np.zeros(0, np.int64)
    idx = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    return Rows(pupils, indptr, reach.offer[idx].astype(np.int64),
                reach.deciminutes[idx].astype(np.int64))
