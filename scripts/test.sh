#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, then the light benchmark smoke run.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/python -m pytest -q "$@"
status=$?
# pytest exits 5 when it collected no test: that is a failure here, never a pass.
if [ "$status" -eq 5 ]; then
  echo "no tests collected" >&2
  exit 1
fi
exit "$status"
