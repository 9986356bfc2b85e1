#!/usr/bin/env bash
# Set up (if needed), lint (ruff, mypy, import contracts) and run the whole test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/ruff check src tests benchmarks scripts || exit 1
.venv/bin/mypy src/affectation || exit 1
# The layer contracts of pyproject.toml: a wrong-way import fails here.
.venv/bin/lint-imports || exit 1
.venv/bin/python -m pytest "$@"
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
