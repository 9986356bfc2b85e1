#!/usr/bin/env bash
# Set up (if needed), lint (ruff, mypy, import contracts) and run the whole test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/ruff check src tests benchmarks scripts || exit 1
.venv/bin/mypy src/affectation || exit 1
# The layer contracts of pyproject.toml: a wrong-way import fails here.
.venv/bin/lint-imports || exit 1
# Hypothesis draws from a seed that changes with the commit tested (a rerun of one commit
# replays it; each commit explores new cases), or $HYPOTHESIS_SEED to replay a failure.
if [ -z "${HYPOTHESIS_SEED:-}" ]; then
  if head=$(git rev-parse --short=7 HEAD 2>/dev/null); then
    HYPOTHESIS_SEED=$((16#$head))
  else
    HYPOTHESIS_SEED=$(date -u +%Y%m%d)
  fi
fi
echo "hypothesis seed: $HYPOTHESIS_SEED (replay: HYPOTHESIS_SEED=$HYPOTHESIS_SEED bash scripts/test.sh)"
.venv/bin/python -m pytest --hypothesis-seed="$HYPOTHESIS_SEED" "$@"
status=$?
# pytest exits 5 when it collected no test: that is a failure here, never a pass.
if [ "$status" -eq 5 ]; then
  echo "no tests collected" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"
# The engine against its peers at scale 0.05 (about 30 s): fails on an invalid allocation, a
# crash, or the engine placing fewer pupils than a peer (figures printed; writes to a temp folder).
.venv/bin/python benchmarks/compare.py --light
