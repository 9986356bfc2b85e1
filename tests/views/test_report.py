"""The HTML report: its content from a result folder, escaping of every value a user wrote,
the same bytes from the same folder, and its rendering in headless Chromium (renders, shows
the headline figures, logs no JavaScript error, injects nothing)."""

from __future__ import annotations

import json
import re
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
# Identifiers a user may write in students.csv and scenario.toml: markup and a formula.
SCRIPT_ID = '<script>alert("E9")</script>'
FORMULA_SCHOOL = '=HYPERLINK("http://example.invalid","x")'
BOLD_NAME = "<b>campagne</b> & co"


def _result(tmp_path: Path, mobilise: bool = True, hostile: bool = False) -> Path:
    students = [
        {"student_id": "E1", "priority": True}, {"student_id": "E2"}, {"student_id": "E3"},
        {"student_id": "E4", "lat": 49.2765, "lon": -0.7025, "school_id": "0140004D"},
    ]
    if hostile:
        students.append({"student_id": SCRIPT_ID, "lat": 49.2765, "lon": -0.7025,
                         "school_id": FORMULA_SCHOOL})
    path = make_scenario(tmp_path, students=students, offers=[
        {"offer_id": "A", "capacity": 1},
        {"offer_id": "B", **near(0.01, 0.0), "capacity": 1, "period": 1}],
        name=BOLD_NAME if hostile else "test")
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["solve", str(path), "--out", str(out)]).exit_code == 0
    if mobilise:
        result = runner.invoke(main, ["mobilise", str(path), str(out)])
        assert result.exit_code == 0, result.output
    return out


def _report(tmp_path: Path, out: Path, name: str = "rapport.html") -> str:
    html_path = tmp_path / name
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
    # The map is the choropleth of the 71 EPCIs, with its text alternative.
    assert text.count('<path class="zone ') == 71 and 'id="carte-tableau"' in text
    # The mobilisation section shows the gain curves of its best sites.
    assert "Courbes de gain" in text and "saturé à" in text
    # Pupils not placed for both weeks are listed with their reason, by pseudonymous id.
    assert ">E4<" in text and "aucune semaine" in text
    assert '<label for="filtre">' in text
    # Headings in order: one h1, then h2 and h3 without skipping a level.
    levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", text)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))
    # Nothing is fetched: no external URL in any src or href.
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "src=" not in text
    # The same folder gives the same bytes, whoever renders it and where.
    again = tmp_path / "again"
    shutil.copytree(out, again)
    assert _report(tmp_path, again, "autre.html") == text
    assert (tmp_path / "rapport.html").read_bytes() == (tmp_path / "autre.html").read_bytes()


def test_every_value_a_user_wrote_is_escaped(tmp_path: Path) -> None:
    out = _result(tmp_path, hostile=True)
    text = _report(tmp_path, out)
    assert SCRIPT_ID not in text and "<b>campagne" not in text
    assert "&lt;script&gt;alert(&#34;E9&#34;)&lt;/script&gt;" in text
    assert "&lt;b&gt;campagne&lt;/b&gt; &amp; co" in text
    # The formula is plain text in the page (a browser never evaluates it); its quotes are
    # escaped like any other.
    assert "=HYPERLINK(&#34;http://example.invalid&#34;,&#34;x&#34;)" in text
    # Our own script is the only one.
    assert text.count("<script>") == 1


def test_report_without_mobilisation_says_how_to_get_it(tmp_path: Path) -> None:
    text = _report(tmp_path, _result(tmp_path, mobilise=False))
    assert "affectation mobilise" in text and 'id="mobilisation"' not in text


def test_report_reads_a_ranking_of_the_first_version(tmp_path: Path) -> None:
    out = _result(tmp_path)
    path = out / "mobilisation.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    keep = lines[0].split(",").index("confirmed_gain_10") + 1
    path.write_text("\n".join(",".join(line.split(",")[:keep]) for line in lines) + "\n",
                    encoding="utf-8")
    text = _report(tmp_path, out)
    assert 'id="mobilisation"' in text and "+10 places" in text
    assert "Courbes de gain" not in text and "relancez" in text


def test_report_of_a_folder_without_results_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--out",
                                       str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "summary.json" in result.output
    assert not (tmp_path / "r.html").exists()


def _chromium(page: Path, profile: Path) -> tuple[str, str]:
    """The DOM after scripts ran, and Chromium's log (console messages included)."""
    assert CHROMIUM is not None
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium absent (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium_without_errors(tmp_path: Path) -> None:
    out = _result(tmp_path, hostile=True)
    _report(tmp_path, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    dom, log = _chromium(tmp_path / "rapport.html", tmp_path / "profile")
    assert 'id="chiffres"' in dom and "élèves à placer" in dom
    assert f">{summary['placed_full']}<" in dom and f">{summary['unplaced']}<" in dom
    assert dom.count('class="zone ') == 71 and 'id="non-places"' in dom
    # The hostile pupil id is text in a cell: no element was created from it.
    assert "&lt;script&gt;alert" in dom and dom.count("<script") == 1
    assert _console_errors(log) == [], log
    # The check can fail: a page with a script error is caught.
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script></body></html>",
                      encoding="utf-8")
    _, log = _chromium(broken, tmp_path / "profile2")
    assert _console_errors(log), log
