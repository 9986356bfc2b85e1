"""Border windows: re-solved with everything else fixed (placeholder, see run_windows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from affectation.national.data import Block, National
from affectation.national.work import NationalSettings


def run_windows(client: Any, work: Path, nat: National, blocks: list[Block],
                allocation: np.ndarray, settings: NationalSettings, resume: bool,
                say: Any) -> tuple[np.ndarray, dict[str, Any]]:
    return allocation, {"rounds": 0, "windows": 0, "pupils_placed_more": 0}
