"""Choropleth maps drawn as inline SVG: one path per area, coloured by a placement rate.

The geometry is a parameter: a list of `Area` (a code, a name and lon/lat rings), built from
the bundled polygons by `epci_areas` (the EPCIs of Normandy, or of France),
`department_areas` or `academie_areas` (for a national map), or from any other source. The
areas are projected with a plain equirectangular projection at the middle latitude of their
bounding box (x = longitude x cos(latitude), y = -latitude), which keeps shapes right to a
few per cent over a region or metropolitan France. Every ring of an area goes into one path
drawn with `fill-rule="evenodd"`, so holes (an enclave EPCI) stay holes.

`choropleth(...)` computes everything a page needs (paths, colours, tooltips, legend counts,
the rows of the text alternative) and the `choropleth` macro of `templates/macros.html`
draws it: the report and the web pages share both. Colours follow `RATE_CLASSES`, the
classes of the report's bars, with a grey for an area without pupils.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from affectation.geodata import load_academies, load_department_shapes, load_epci_shapes
from affectation.views.formatting import fr_pct


@dataclass(frozen=True)
class Area:
    """One shape of a map: `code` (EPCI SIREN, département code...), `name`, and its `rings`
    ((n, 2) float arrays of longitude, latitude; exteriors and holes alike)."""

    code: str
    name: str
    rings: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class RateClass:
    """A colour class: rates at or above `lower` (and below the previous class's bound).

    `key` is the CSS class of the class's paths and swatches; `colour` its fill."""

    key: str
    lower: float
    colour: str
    label: str


# From the highest rates to the lowest (ColorBrewer's RdYlGn, colour-blind-checked order of
# lightness); every swatch has a dark border in the legend, so no colour needs to carry
# contrast with the page by itself.
RATE_CLASSES = (
    RateClass("c0", 0.95, "#1a9850", "95\u00a0% et plus"),
    RateClass("c1", 0.85, "#91cf60", "85 à 95\u00a0%"),
    RateClass("c2", 0.70, "#fee08b", "70 à 85\u00a0%"),
    RateClass("c3", 0.50, "#fc8d59", "50 à 70\u00a0%"),
    RateClass("c4", 0.0, "#d73027", "moins de 50\u00a0%"),
)
NO_PUPIL = RateClass("nd", math.nan, "#d9d9d9", "aucun élève")


def rate_class(rate: float | None) -> RateClass:
    """The class of a rate (0..1); `NO_PUPIL` for None or NaN."""
    if rate is None or math.isnan(rate):
        return NO_PUPIL
    return next((c for c in RATE_CLASSES if rate >= c.lower), RATE_CLASSES[-1])


def epci_areas(scope: Literal["normandie", "france"] = "normandie") -> list[Area]:
    """The EPCIs of the bundled geography (`"normandie"`: the 71 with a commune in Normandy,
    fine detail; `"france"`: all 1,253, coarser), sorted by SIREN."""
    return [Area(s["epci_siren"], s["name"], tuple(s["rings"]))
            for s in load_epci_shapes(scope)]


def department_areas(codes: Collection[str] | None = None) -> list[Area]:
    """The départements of the bundled geography, sorted by code: the given `codes`, or by
    default the 96 of metropolitan France (the overseas ones are at their true position and
    need insets of their own)."""
    return [Area(s["department"], s["name"], tuple(s["rings"]))
            for s in load_department_shapes()
            if (s["department"] in codes if codes is not None else len(s["department"]) == 2)]


def academie_areas(overseas: bool = False) -> list[Area]:
    """The académies, each drawn as the rings of its départements (their common borders
    show as thin lines), sorted by code (`normandie`, `paris`...); metropolitan ones only
    unless `overseas`."""
    table = load_academies()
    names = dict(zip(table["academie"], table["academie_name"], strict=True))
    rings: dict[str, list[np.ndarray]] = {}
    for area in department_areas([d for d in table["department"]
                                  if overseas or len(d) == 2]):
        code = table.loc[table["department"] == area.code, "academie"].iloc[0]
        rings.setdefault(code, []).extend(area.rings)
    return [Area(code, names[code], tuple(rings[code])) for code in sorted(rings)]


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection of lon/lat onto a `width` x `height` pixel box."""

    lon0: float
    lat1: float
    kx: float
    scale: float
    margin: float
    width: int
    height: int

    @staticmethod
    def fit(areas: Sequence[Area], width: int, margin: float = 6.0) -> Projection:
        """The projection that fits `areas` in `width` pixels, at their middle latitude."""
        points = np.concatenate([ring for a in areas for ring in a.rings])
        lon0, lon1 = float(points[:, 0].min()), float(points[:, 0].max())
        lat0, lat1 = float(points[:, 1].min()), float(points[:, 1].max())
        kx = math.cos(math.radians((lat0 + lat1) / 2))
        scale = (width - 2 * margin) / max((lon1 - lon0) * kx, 1e-9)
        height = math.ceil((lat1 - lat0) * scale + 2 * margin)
        return Projection(lon0, lat1, kx, scale, margin, width, height)

    def xy(self, ring: np.ndarray) -> np.ndarray:
        """Pixel coordinates of lon/lat points, rounded to a tenth of a pixel."""
        x = (ring[:, 0] - self.lon0) * self.kx * self.scale + self.margin
        y = (self.lat1 - ring[:, 1]) * self.scale + self.margin
        return np.round(np.stack([x, y], axis=1), 1)


def path_data(rings: Sequence[np.ndarray], projection: Projection) -> str:
    """SVG path data of `rings`: one closed subpath each, consecutive duplicate points (after
    rounding to a tenth of a pixel) dropped, rings that collapse below three points left out."""
    parts = []
    for ring in rings:
        xy = projection.xy(ring)
        keep = np.r_[True, (np.diff(xy, axis=0) != 0).any(axis=1)]
        xy = xy[keep]
        if len(xy) > 1 and (xy[0] == xy[-1]).all():
            xy = xy[:-1]
        if len(xy) < 3:
            continue
        coords = [f"{x:.1f} {y:.1f}" for x, y in xy.tolist()]
        parts.append("M" + coords[0] + "L" + " ".join(coords[1:]) + "Z")
    return "".join(parts)


@dataclass(frozen=True)
class MapArea:
    """One drawn area: its path, colour class, rate (None: no pupil) and a note (placed of
    how many) for its tooltip and the text alternative."""

    code: str
    name: str
    d: str
    cls: RateClass
    rate: float | None
    note: str

    @property
    def rate_text(self) -> str:
        return NO_PUPIL.label if self.rate is None else fr_pct(self.rate)

    @property
    def tooltip(self) -> str:
        text = f"{self.name} : {self.rate_text}"
        return f"{text} ({self.note})" if self.note and self.rate is not None else text


@dataclass(frozen=True)
class LegendItem:
    """A legend line: the class and how many areas it holds (`text`: "26 EPCI")."""

    cls: RateClass
    count: int
    text: str


@dataclass(frozen=True)
class Choropleth:
    """A map ready to draw (`choropleth` macro): `ident` is the SVG's id (unique per page),
    `area_label` names an area in the table (``EPCI``, ``département``)."""

    ident: str
    title: str
    description: str
    area_label: str
    width: int
    height: int
    areas: tuple[MapArea, ...]
    legend: tuple[LegendItem, ...]
    outline: str


def choropleth(areas: Sequence[Area], rates: Mapping[str, float | None],
               notes: Mapping[str, str] | None = None, *, title: str,
               description: str = "", ident: str = "carte", area_label: str = "EPCI",
               area_plural: str | None = None, width: int = 760,
               outlines: Sequence[Area] = ()) -> Choropleth:
    """A choropleth of `areas` coloured by `rates` (area code -> rate in 0..1; a code
    absent, None or NaN: no pupil), with `notes` (code -> short text, e.g. "241 placés sur
    259") in tooltips and the text alternative. `area_plural` is the plural of `area_label`
    in the legend (default: an -s added, except to an acronym). `outlines` (e.g. the
    départements over EPCIs) are drawn as borders on top, in the same projection; they must
    lie within `areas`' bounding box to be seen whole."""
    if not areas:
        raise ValueError("a map needs at least one area")
    notes = notes or {}
    projection = Projection.fit(areas, width)
    drawn = []
    for area in areas:
        rate = rates.get(area.code)
        if rate is not None and math.isnan(rate):
            rate = None
        drawn.append(MapArea(area.code, area.name, path_data(area.rings, projection),
                             rate_class(rate), rate, notes.get(area.code, "")))
    counts = {c.key: 0 for c in (*RATE_CLASSES, NO_PUPIL)}
    for a in drawn:
        counts[a.cls.key] += 1
    plural = area_plural or (area_label if area_label.isupper() else area_label + "s")
    legend = tuple(LegendItem(c, counts[c.key], f"{counts[c.key]} "
                              f"{area_label if counts[c.key] <= 1 else plural}")
                   for c in (*RATE_CLASSES, NO_PUPIL))
    outline = "".join(path_data(a.rings, projection) for a in outlines)
    return Choropleth(ident, title, description, area_label, projection.width,
                      projection.height, tuple(drawn), legend, outline)
