"""The choropleth: one path per area with the colour class of its rate, holes kept, the
projection's proportions, the real EPCI and département geometries, and its drawing by the
shared macro (escaped, with a text alternative)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from affectation.views.environment import environment
from affectation.views.maps import (
    NO_PUPIL,
    RATE_CLASSES,
    Area,
    Projection,
    academie_areas,
    choropleth,
    department_areas,
    epci_areas,
    rate_class,
)


def square(lon: float, lat: float, size: float = 1.0) -> np.ndarray:
    """A closed counter-clockwise square ring of `size` degrees from (lon, lat)."""
    return np.array([[lon, lat], [lon + size, lat], [lon + size, lat + size],
                     [lon, lat + size], [lon, lat]], dtype=float)


def draw(m: object) -> str:
    template = environment().from_string(
        '{% import "macros.html" as ui %}{{ ui.choropleth(m) }}')
    return template.render(m=m)


@pytest.mark.parametrize(("rate", "key"), [
    (1.0, "c0"), (0.95, "c0"), (0.9499, "c1"), (0.85, "c1"), (0.8499, "c2"), (0.70, "c2"),
    (0.6999, "c3"), (0.50, "c3"), (0.4999, "c4"), (0.0, "c4"), (None, "nd"),
    (math.nan, "nd")])
def test_rate_classes(rate: float | None, key: str) -> None:
    assert rate_class(rate).key == key


def test_one_path_per_area_with_the_colour_of_its_rate() -> None:
    areas = [Area(f"A{k}", f"zone {k}", (square(k, 45.0),)) for k in range(7)]
    rates = {"A0": 0.99, "A1": 0.90, "A2": 0.75, "A3": 0.60, "A4": 0.10, "A5": None}
    m = choropleth(areas, rates, {"A0": "99 placés sur 100"}, title="Essai", ident="essai")
    assert [a.code for a in m.areas] == [f"A{k}" for k in range(7)]
    assert [a.cls.key for a in m.areas] == ["c0", "c1", "c2", "c3", "c4", "nd", "nd"]
    assert {i.cls.key: i.count for i in m.legend} == {
        "c0": 1, "c1": 1, "c2": 1, "c3": 1, "c4": 1, "nd": 2}
    html = draw(m)
    paths = re.findall(r'<path class="zone (\w+)" data-code="(\w+)" fill="(#\w+)" '
                       r'fill-rule="evenodd" d="([^"]+)"><title>([^<]*)</title>', html)
    assert len(paths) == 7
    colour = {c.key: c.colour for c in (*RATE_CLASSES, NO_PUPIL)}
    for (key, code, fill, d, _), area in zip(paths, m.areas, strict=True):
        assert (key, code, fill) == (area.cls.key, area.code, colour[area.cls.key])
        assert d.count("M") == 1 and d.endswith("Z")
    assert paths[0][4] == "zone 0 : 99,0\u00a0% (99 placés sur 100)"
    assert paths[5][4] == "zone 5 : aucun élève"
    # The text alternative lists every area with its rate and class.
    table = html[html.index('<table id="essai-tableau">'):]
    assert table.count("<tr><td>") == 7 and "<td>zone 3</td><td>A3</td>" in table
    assert 'role="img"' in html and 'aria-labelledby="essai-titre essai-desc"' in html


def test_holes_are_subpaths_of_the_same_path() -> None:
    outer = square(0.0, 45.0, 2.0)
    hole = square(0.5, 45.5, 1.0)[::-1]  # clockwise
    m = choropleth([Area("X", "troué", (outer, hole)), Area("Y", "enclave", (square(
        0.5, 45.5, 1.0),))], {"X": 0.9, "Y": 0.2}, title="t")
    assert m.areas[0].d.count("M") == 2 and m.areas[1].d.count("M") == 1
    assert 'fill-rule="evenodd"' in draw(m)


def test_projection_is_equirectangular_at_the_middle_latitude() -> None:
    # A 1 x 1 degree square centred on 60 degrees north is half as wide as it is tall.
    areas = [Area("S", "carré", (square(10.0, 59.5),))]
    p = Projection.fit(areas, width=212, margin=6.0)
    assert p.width == 212
    assert p.height == pytest.approx(6 + 200 / math.cos(math.radians(60)) + 6, abs=1)
    xy = p.xy(areas[0].rings[0])
    assert xy[:, 0].min() == 6.0 and xy[:, 0].max() == 206.0
    assert xy[:, 1].min() == 6.0  # north is up


def test_the_epcis_of_normandy_with_a_hand_made_rates_table() -> None:
    areas = epci_areas("normandie")
    assert len(areas) == 71 and len({a.code for a in areas}) == 71
    codes = [a.code for a in areas]
    rates = {codes[0]: 0.96, codes[1]: 0.86, codes[2]: 0.71, codes[3]: 0.51, codes[4]: 0.2}
    m = choropleth(areas, rates, title="EPCI")
    html = draw(m)
    assert html.count('<path class="zone ') == 71
    for code, key in zip(codes[:6], ["c0", "c1", "c2", "c3", "c4", "nd"], strict=True):
        assert f'<path class="zone {key}" data-code="{code}"' in html
    assert sum(i.count for i in m.legend) == 71
    # Every path stays inside the drawing.
    numbers = np.array([float(v) for a in m.areas for v in re.findall(r"[\d.]+", a.d)])
    assert numbers.min() >= 0 and numbers.max() <= max(m.width, m.height)


def test_departement_geometry_for_a_national_map() -> None:
    metro = department_areas()
    assert len(metro) == 96 and {"2A", "2B", "75"} <= {a.code for a in metro}
    m = choropleth(metro, {"75": 0.9}, title="France", area_label="département")
    assert len(m.areas) == 96 and 500 < m.height < 900
    assert [i.text for i in m.legend] == ["0 département", "1 département", "0 département",
                                          "0 département", "0 département", "95 départements"]
    assert [a.code for a in department_areas(["14", "27", "50", "61", "76"])] == [
        "14", "27", "50", "61", "76"]
    academies = academie_areas()
    assert len(academies) == 25 and {"normandie", "corse", "versailles"} <= {
        a.code for a in academies}
    normandie = next(a for a in academies if a.code == "normandie")
    assert normandie.name == "Normandie" and len(normandie.rings) == sum(
        len(a.rings) for a in department_areas(["14", "27", "50", "61", "76"]))
    assert len(academie_areas(overseas=True)) == 30


def test_names_are_escaped_in_tooltips_and_table() -> None:
    m = choropleth([Area("<X>", '<script>alert(1)</script> "Q"', (square(0, 45),))],
                   {"<X>": 0.5}, {"<X>": "<i>note</i>"}, title="<b>titre</b>")
    html = draw(m)
    assert "<script>" not in html and "<i>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &#34;Q&#34;" in html
    assert 'data-code="&lt;X&gt;"' in html


def test_a_map_needs_an_area() -> None:
    with pytest.raises(ValueError):
        choropleth([], {}, title="vide")
