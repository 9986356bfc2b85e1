"""The methods the engine is compared with (`benchmarks/compare.py`).

Each takes a validated `Instance` and returns an allocation, a (students, 2) array of offer
indices per week (-1 for none) that obeys every hard rule (`affectation check` verifies it):

- `fcfs.first_come_first_served`: the status quo, pupils in a random order each taking the
  nearest free place;
- `deferred_acceptance.deferred_acceptance`: pupil-proposing deferred acceptance with the
  `matching` library, on two-week offers;
- `mip.highs_mip`: the engine's own model (rules and objective levels 1-4) solved whole as a
  MIP by HiGHS.

`base` holds what they share: the reachable pairs, the offers' roles and the signed
conventions every method starts from.
"""
