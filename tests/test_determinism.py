"""Same input and seed, same bytes, across processes: two separate `affectation solve` runs of
a generated scale-0.1 Normandy instance (2,556 pupils: above the whole-model size, so the
neighbourhood search and the exact stage run) with different PYTHONHASHSEED values write the
same result files.

Within one process, set and dict iteration orders are fixed for the run; a second process with
another hash seed changes the order of every set of strings, which is where an ordering that
leaks into the result shows. The summary's volatile fields (wall and stage times, the exact
stage's seconds, engine version, input paths) are left out; every other file is compared byte
for byte. The time limit is far above the solve's time, so that only budgets of work decide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_golden import VOLATILE

from affectation.cli import main

# The golden test's volatile fields, and the exact stage's wall time (the golden instance is
# solved whole, so its summary has none).
UNSTABLE = VOLATILE | {"exact_seconds"}
SCALE = "0.1"
SEED = "4"


@pytest.mark.slow
def test_two_processes_with_different_hash_seeds_write_the_same_bytes(tmp_path: Path) -> None:
    scenario = tmp_path / "scen"
    result = CliRunner().invoke(main, ["generate", "--out", str(scenario), "--scale", SCALE,
                                       "--seed", SEED])
    assert result.exit_code == 0, result.output
    runs = {}
    for hash_seed in ("1", "2024"):
        out = tmp_path / f"out-{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        runs[hash_seed] = out, subprocess.Popen(
            [sys.executable, "-m", "affectation", "solve", str(scenario / "scenario.toml"),
             "--out", str(out), "--time-limit", "900", "--seed", "3"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = []
    for out, proc in runs.values():
        stdout, stderr = proc.communicate(timeout=1800)
        assert proc.returncode == 0, (stdout, stderr[-3000:])
        outs.append(out)
    a, b = outs
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert "assignments.csv" in names and "summary.json" in names
    for name in names:
        if (a / name).is_dir():
            continue
        if name == "summary.json":
            sa, sb = (json.loads((x / name).read_text(encoding="utf-8")) for x in (a, b))
            assert _stable(sa) == _stable(sb)
            assert sa["students"] > 1500  # above the whole-model size
            assert sa["search"]["whole_model_solver"] == ""
            assert sa["search"]["neighbourhoods"] >= 1
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _stable(summary: Any) -> Any:
    if isinstance(summary, dict):
        return {k: _stable(v) for k, v in summary.items() if k not in UNSTABLE}
    if isinstance(summary, list):
        return [_stable(v) for v in summary]
    return summary
