"""benchmarks/web_load.py end to end on a tiny campaign: two school users for a few seconds
against a real `affectation serve`, no error, no lost write, the checker clean."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import web_load  # noqa: E402


def test_two_users_for_three_seconds(tmp_path: Path) -> None:
    out = tmp_path / "web-load.md"
    status = web_load.main(["--users", "2", "--seconds", "3", "--scale", "0.05",
                            "--solve-seconds", "3", "--out", str(out)])
    text = out.read_text(encoding="utf-8")
    assert status == 0, text
    assert "errors: 0;" in text and "lost writes: 0;" in text and "PASS" in text
    assert "| school list |" in text and "| pupil page |" in text
