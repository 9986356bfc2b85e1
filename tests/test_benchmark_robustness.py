"""benchmarks/robustness.py: the targets it judges, and one tiny run end to end (generate a
profile, solve, check, tables written)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import robustness  # noqa: E402


def _measure(tag: str, **row: object) -> robustness.Measure:
    profile, seed = tag.split(":")
    return robustness.Measure(robustness.Instance(profile, int(seed), 1.0),
                              {"scale": 1.0, **row})


def test_verdicts_and_summary() -> None:
    good = _measure("scarce:0", wall_s=100.0, wall_at_index_5_s=55.0, peak_mb=3000.0,
                    ratio=0.998, gap=0.002, priority_at_bound=True)
    slow = _measure("dense-seats:1", wall_s=90.0, wall_at_index_5_s=61.0, peak_mb=4200.0,
                    ratio=0.99, gap=0.01, priority_at_bound=False)
    assert robustness.verdicts(good.row) == {"wall": True, "peak": True, "ratio": True,
                                             "priority": True}
    assert robustness.verdicts(slow.row) == {"wall": False, "peak": False, "ratio": False,
                                             "priority": False}
    # The wall target applies at scale 1 only.
    small = dict(good.row, scale=0.3)
    assert robustness.verdicts(small)["wall"] is None
    lines = robustness.summary_lines([good, slow, _measure("x:2", gap=0.004)])
    assert lines[0].startswith("- median gap over 3 instances: 0.40 %") and "✗" in lines[0]
    assert any("missed by dense-seats-s1-x1" in line for line in lines)


def test_instance_names() -> None:
    inst = robustness.Instance("dense-rural+gtfs", 2, 0.3)
    assert inst.gtfs and inst.base == "dense-rural" and inst.tag == "dense-rural-gtfs-s2-x0.3"


def test_tiny_run_writes_the_tables(tmp_path: Path) -> None:
    code = robustness.main(["--scale", "0.01", "--seeds", "0", "--profiles", "scarce",
                            "--no-bundled", "--speed-index", "5", "--out", str(tmp_path),
                            "--no-snapshot"])
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "robustness-scale-0.01.csv").open()))
    assert len(rows) == 1
    row = rows[0]
    assert row["profile"] == "scarce" and row["valid"] == "True"
    assert int(row["placed_full"]) <= int(row["upper_bound_full"])
    assert any(k.startswith("t_") for k in row)
    text = (tmp_path / "robustness-scale-0.01.md").read_text("utf-8")
    assert "| scarce-s0-x0.01 |" in text and "## Stages" in text
