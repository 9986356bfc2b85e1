"""The HTML report: its content from a result folder, and its rendering in headless Chromium
(renders, shows the headline figures, logs no JavaScript error)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_scenario, near

from affectation.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0")


def _result(tmp_path: Path, mobilise: bool = True) -> Path:
    path = make_scenario(tmp_path, students=[
        {"student_id": "E1", "priority": True}, {"student_id": "E2"}, {"student_id": "E3"},
        {"student_id": "E4", "lat": 49.2765, "lon": -0.7025, "school_id": "0140004D"},
    ], offers=[{"offer_id": "A", "capacity": 1}, {"offer_id": "B", **near(0.01, 0.0),
                                                   "capacity": 1, "period": 1}])
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["solve", str(path), "--out", str(out)]).exit_code == 0
    if mobilise:
        assert runner.invoke(main, ["mobilise", str(path), str(out)]).exit_code == 0
    return out


def _report(tmp_path: Path, out: Path) -> str:
    html_path = tmp_path / "rapport.html"
    result = CliRunner().invoke(main, ["report", str(out), "--out", str(html_path)])
    assert result.exit_code == 0, result.output
    return html_path.read_text(encoding="utf-8")


def test_report_content_is_french_self_contained_and_deterministic(tmp_path: Path) -> None:
    out = _result(tmp_path)
    text = _report(tmp_path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert '<html lang="fr">' in text and "élèves à placer" in text
    assert f">{summary['placed_full']}<" in text  # headline figure
    assert 'id="carte"' in text and 'id="mobilisation"' in text
    # Pupils not placed for both weeks are listed with their reason, by pseudonymous id.
    assert ">E4<" in text and "aucune semaine" in text
    # Nothing is fetched: no external URL in any src or href.
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "src=" not in text
    assert _report(tmp_path, out) == text


def test_report_without_mobilisation_says_how_to_get_it(tmp_path: Path) -> None:
    text = _report(tmp_path, _result(tmp_path, mobilise=False))
    assert "affectation mobilise" in text and 'id="mobilisation"' not in text


def test_report_of_a_folder_without_results_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--out",
                                       str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "summary.json" in result.output
    assert not (tmp_path / "r.html").exists()


def _chromium(page: Path, profile: Path) -> tuple[str, str]:
    """The DOM after scripts ran, and Chromium's log (console messages included)."""
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium absent (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium_without_errors(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    out = _result(tmp_path)
    _report(tmp_path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    dom, log = _chromium(tmp_path / "rapport.html", tmp_path / "profile")
    assert 'id="chiffres"' in dom and "élèves à placer" in dom
    assert f">{summary['placed_full']}<" in dom and f">{summary['unplaced']}<" in dom
    assert "<circle" in dom and 'id="non-places"' in dom
    assert _console_errors(log) == [], log
    # The check can fail: a page with a script error is caught.
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script></body></html>",
                      encoding="utf-8")
    _, log = _chromium(broken, tmp_path / "profile2")
    assert _console_errors(log), log
