"""French number formatting, spreadsheet-safe cells, and the template environment's
guarantees (autoescape on every template, undefined names are errors)."""

from __future__ import annotations

import csv
import io
import math
import re

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from affectation.views.charts import bar_chart, gain_curves, nice_ceiling
from affectation.views.environment import environment, render
from affectation.views.formatting import csv_text, fr_int, fr_num, fr_pct

NB = "\u00a0"


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (25556, f"25{NB}556"), ("1221", f"1{NB}221"), (-1234567, f"-1{NB}234{NB}567"),
    (None, "\u2013"), ("", "\u2013"), (math.nan, "\u2013"), ("abc", "\u2013"),
    (math.inf, "\u221e")])
def test_fr_int(value: object, text: str) -> None:
    assert fr_int(value) == text


def test_fr_num_and_fr_pct() -> None:
    assert fr_num(1159.5) == f"1{NB}159,5" and fr_num("22.4") == "22,4"
    assert fr_num(3.14159, 2) == "3,14" and fr_num("1,5") == "1,5"
    assert fr_pct(0.9042) == f"90,4{NB}%" and fr_pct("1.0") == f"100,0{NB}%"
    assert fr_pct(0.5, 0) == f"50{NB}%" and fr_pct(None) == "\u2013"


def test_csv_text_neutralises_formulas_in_every_cell() -> None:
    text = csv_text(["élève", "=col"], [['=HYPERLINK("http://x","y")', "-5"],
                                          ['@x,"y"', None], ["\tz", "+cmd"], ["-2+3", 7]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["élève", "'=col"], ['\'=HYPERLINK("http://x","y")', "-5"],
                    ["'@x,\"y\"", ""], ["'\tz", "'+cmd"], ["'-2+3", "7"]]


def test_every_template_is_autoescaped_and_strict() -> None:
    env = environment()
    assert env.from_string("{{ x }}").render(x="<a href=x>") == "&lt;a href=x&gt;"
    # Only markup our own code builds passes as it is.
    assert env.from_string("{{ x }}").render(x=Markup("<b>ok</b>")) == "<b>ok</b>"
    assert env.from_string("{{ x|fr_pct }}").render(x="0.5") == f"50,0{NB}%"
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing }}").render()


def test_base_layout_is_accessible_and_offline() -> None:
    page = render("base.html")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page
    assert 'href="#contenu"' in page and '<main id="contenu">' in page
    assert ":focus-visible" in page and "http://" not in page and "https://" not in page


def test_charts_geometry() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 1.5, 7, 10, 11, 240, 1039)] == [
        1, 1, 2, 10, 10, 20, 500, 2000]
    bars = bar_chart([("un très long nom de lycée qui dépasse la largeur prévue", 0.5, "d"),
                      ("court", 1.0, "e")], "t")
    assert bars.bars[0].label.endswith("\u2026") and len(bars.bars[0].label) == 46
    assert bars.bars[0].detail.startswith("un très long nom") and bars.bars[1].detail == "e"
    assert bars.bars[1].length == 2 * bars.bars[0].length
    curves = gain_curves([("1. Caen", "1. Caen (CU)", 40, 10, 40), ("2. Bayeux", "2. B", 3, 3,
                                                                     3)], "g")
    assert curves.seats == 50 and curves.pupils == 50
    caen, bayeux = curves.panels
    assert caen.direct and caen.chained and caen.caption.startswith("+40 élève(s)")
    assert bayeux.direct and not bayeux.chained  # every pupil placed without moves


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_style_sheet_text_contrast_is_at_least_7_to_1() -> None:
    css = render("style.css")
    colours = dict(re.findall(r"--(\w+):(#[0-9a-fA-F]{6})", css))
    assert {"text", "muted", "link", "head"} <= set(colours)
    for name in ("text", "muted", "link"):  # on the white page
        assert _contrast(colours[name], "#ffffff") >= 7.0, name
    assert _contrast(colours["text"], colours["head"]) >= 7.0  # table headers
    assert _contrast("#ffffff", colours["link"]) >= 7.0  # button text
    assert _contrast("#000000", "#000000") == 1.0  # the measure can fail
