"""Instances beyond Normandy: the académie's geography copied side by side.

    python -m benchmarks.instances SOURCE_DIR OUT_DIR COPIES

Copy `c` (0-based) of every pupil, offer and convention is shifted by `c * SHIFT_DEG` degrees
of longitude, with `-c{c}` appended to every identifier (pupils, schools, offers, employers,
pairs); copy 0 is the source itself. The shift is wider than the region plus any pupil's travel
radius, so no pupil reaches another copy: the instance is `COPIES` independent académies of
realistic density (each pupil keeps the same ~800 reachable offers), which is how the problem
grows when several académies or a whole country are allocated at once. Generating at a larger
`scale` instead would pack more pupils and offers into the same towns, multiplying every
pupil's reachable offers too: a denser region, not a larger one.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

SHIFT_DEG = 5.0  # Normandy spans ~3.6 degrees of longitude; radii are below 0.6 degree


def replicate(source: Path, out: Path, copies: int) -> None:
    """Write `copies` side-by-side copies of the scenario in `source` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {name: pd.read_csv(source / name, dtype=str, keep_default_na=False)
              for name in ("students.csv", "offers.csv", "conventions.csv")
              if (source / name).is_file()}
    ids = {"students.csv": ("student_id", "school_id"),
           "offers.csv": ("offer_id", "employer_id", "pair_id"),
           "conventions.csv": ("student_id", "offer_id")}
    for name, table in tables.items():
        parts = []
        for c in range(copies):
            part = table.copy()
            if c:
                for col in ids[name]:
                    filled = part[col] != ""
                    part.loc[filled, col] = part.loc[filled, col] + f"-c{c}"
                if "lon" in part.columns:
                    lon = pd.to_numeric(part["lon"]) + c * SHIFT_DEG
                    part["lon"] = lon.map(lambda v: f"{v:.5f}")
            parts.append(part)
        pd.concat(parts, ignore_index=True).to_csv(out / name, index=False)
    shutil.copyfile(source / "scenario.toml", out / "scenario.toml")


if __name__ == "__main__":
    replicate(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
