"""Small SVG charts computed here and drawn by the macros of `templates/macros.html`:
horizontal bars of placement rates, and the gain curves of new sites ("where to recruit").

Only geometry and French text are prepared here; escaping is the templates' business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from affectation.views.formatting import fr_int, fr_pct
from affectation.views.maps import RateClass, rate_class


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    length: float
    cls: RateClass
    value_text: str
    detail: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars of rates: label on the left, bar coloured by rate class, value."""

    width: int
    height: int
    label_width: int
    row: int
    bars: tuple[Bar, ...]
    title: str


LABEL_CHARS = 46


def bar_chart(items: Sequence[tuple[str, float, str]], title: str, width: int = 760
              ) -> BarChart:
    """Bars of `items` (label, rate in 0..1, detail for the tooltip), in the given order.
    Labels are cut to 46 characters (the full label stays in the tooltip)."""
    row, label_w = 18, 370
    span = width - label_w - 120
    bars = []
    for i, (label, rate, detail) in enumerate(items):
        short = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "\u2026"
        tip = detail if short == label else f"{label} : {detail}"
        bars.append(Bar(short, 5 + i * row, round(max(rate, 0.0) * span, 1), rate_class(rate),
                        fr_pct(rate), tip))
    return BarChart(width, row * len(items) + 10, label_w, row, tuple(bars), title)


@dataclass(frozen=True)
class CurvePanel:
    """One site's gain curve in pixel coordinates of its panel (origin top left).

    `direct` is the solid part (pupils placed without moving anyone), `chained` the part
    that needs moves (dashed), `flat` the plateau after saturation."""

    x: float
    y: float
    title: str
    caption: str
    detail: str
    tooltip: str
    direct: str
    chained: str
    flat: str
    point_x: float
    point_y: float


@dataclass(frozen=True)
class GainCurves:
    """Small multiples of gain curves sharing their axes: `seats` and `pupils` are the axes'
    maxima, `panel_w` x `panel_h` each panel's plot area, at (`left`, `top`) in its panel."""

    width: int
    height: int
    left: int
    top: int
    panel_w: int
    panel_h: int
    seats: int
    pupils: int
    panels: tuple[CurvePanel, ...]
    title: str


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


TITLE_CHARS = 34


def gain_curves(sites: Sequence[tuple[str, str, int, int, int]], title: str, width: int = 760,
                columns: int = 3) -> GainCurves:
    """Panels of gain curves: for each site (short name, full name for the tooltip, total
    gain, pupils placed without moving anyone, seats at saturation), pupils placed for both
    weeks against seats opened. Short names are cut to 34 characters.

    Each seat places at most one pupil, so a curve climbs one pupil per seat, first without
    moves (solid), then through chains of moves (dashed), and is flat from its saturation
    point on. All panels share their axes, so the sites compare at a glance."""
    gap_x, gap_y, left, top, bottom = 18, 16, 34, 46, 26
    cell_w = (width - gap_x * (columns - 1)) // columns
    panel_w, panel_h = cell_w - left - 8, 96
    seats = nice_ceiling(max([s for *_, s in sites] + [1]) * 1.1)
    pupils = nice_ceiling(max([g for _, _, g, _, _ in sites] + [1]))
    rows = math.ceil(len(sites) / columns) if sites else 0
    cell_h = top + panel_h + bottom

    def px(seat: float, pupil: float) -> tuple[float, float]:
        return (round(left + seat / seats * panel_w, 1),
                round(top + panel_h - pupil / pupils * panel_h, 1))

    panels = []
    for i, (name, full, total, direct, saturation) in enumerate(sites):
        x0, y0 = (i % columns) * (cell_w + gap_x), (i // columns) * (cell_h + gap_y)
        a, b = px(0, 0), px(direct, direct)
        c, d = px(saturation, total), px(seats, total)
        short = name if len(name) <= TITLE_CHARS else name[:TITLE_CHARS - 1] + "\u2026"
        caption = f"+{fr_int(total)} élève(s), saturé à {fr_int(saturation)} place(s)"
        detail = f"dont {fr_int(direct)} sans déplacement"
        panels.append(CurvePanel(
            x0, y0, short, caption, detail, f"{full} : {caption}, {detail}",
            f"M{a[0]} {a[1]}L{b[0]} {b[1]}" if direct > 0 else "",
            f"M{b[0]} {b[1]}L{c[0]} {c[1]}" if saturation > direct else "",
            f"M{c[0]} {c[1]}L{d[0]} {d[1]}", c[0], c[1]))
    height = rows * cell_h + max(rows - 1, 0) * gap_y
    return GainCurves(width, height, left, top, panel_w, panel_h, seats, pupils, tuple(panels),
                      title)
