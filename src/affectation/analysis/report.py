"""The report (`affectation report RESULT_DIR --out report.html`): one self-contained HTML file.

In French, for coordinators: headline figures, a map of Normandy with the placement rate of
each EPCI (every commune centroid of the bundled geography, coloured by its EPCI's rate: a
projected point map, no polygons), bar charts by département, priority group and school, the
mobilisation ranking (when `mobilisation.csv` is in the folder), and the pupils not placed for
both weeks with their reasons (pseudonymous ids only). Everything is inline (CSS, SVG, a few
lines of script to filter the table): no network is needed to open it. The same folder gives
the same bytes.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from affectation.geodata import load_communes

# Placement-rate classes of the map and the bars: (lower bound, colour, legend).
CLASSES = ((0.95, "#1a9850", "95 % et plus"), (0.85, "#91cf60", "85 à 95 %"),
           (0.70, "#fee08b", "70 à 85 %"), (0.50, "#fc8d59", "50 à 70 %"),
           (0.0, "#d73027", "moins de 50 %"))
NO_PUPIL = "#d9d9d9"
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:1rem 2rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.card .v{font-size:1.5rem;font-weight:600}.card .l{font-size:.85rem;color:#555}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:left}
td.n{text-align:right}th{background:#f4f4f4}
.legend span{display:inline-block;width:.9rem;height:.9rem;margin:0 .3rem 0 .9rem;
vertical-align:middle}
.note{color:#555;font-size:.85rem}
"""
SCRIPT = """
document.getElementById('filtre').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('#non-places tbody tr').forEach(function (tr) {
    tr.style.display = tr.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
});
"""


def _int(n: Any) -> str:
    """An integer with French digit grouping (non-breaking spaces)."""
    return f"{int(n):,}".replace(",", "\u00a0")


def _pct(x: float) -> str:
    """A rate as a French percentage with one decimal."""
    return f"{100 * x:.1f}".replace(".", ",") + "\u00a0%"


def _colour(rate: float | None) -> str:
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return NO_PUPIL
    return next(c for lower, c, _ in CLASSES if rate >= lower)


def _rows(frame: pd.DataFrame, territory_type: str) -> pd.DataFrame:
    return frame[frame["territory_type"] == territory_type]


def _cards(summary: dict[str, Any]) -> str:
    to_place = summary["students_to_place"] or 1
    prio = summary["priority_students"]
    cards = [
        (_int(summary["students_to_place"]), "élèves à placer"),
        (_int(summary["placed_full"]),
         f"placés deux semaines ({_pct(summary['placed_full'] / to_place)})"),
        (_int(summary["placed_partial"]), "placés une semaine"),
        (_int(summary["unplaced"]), "sans stage"),
        (f"{_int(summary['priority_placed_full'])}/{_int(prio)}",
         "prioritaires placés deux semaines"
         + (f" ({_pct(summary['priority_placed_full'] / prio)})" if prio else "")),
        (_int(summary["upper_bound_full"]), "borne prouvée (placés deux semaines au plus)"),
    ]
    body = "".join(f'<div class="card"><div class="v">{html.escape(v)}</div>'
                   f'<div class="l">{html.escape(label)}</div></div>' for v, label in cards)
    return f'<div class="cards" id="chiffres">{body}</div>'


def map_svg(indicators: pd.DataFrame, width: int = 760) -> str:
    """Commune centroids coloured by their EPCI's placement rate (equirectangular projection
    at the region's mean latitude)."""
    communes = load_communes()
    rate = {r["territory"]: float(r["rate_full"]) for _, r in
            _rows(indicators, "epci").iterrows()}
    lat0 = float(communes["lat"].mean())
    k = math.cos(math.radians(lat0))
    x = communes["lon"].to_numpy() * k
    y = -communes["lat"].to_numpy()
    x0, y0 = x.min(), y.min()
    scale = (width - 20) / (x.max() - x0)
    height = int((y.max() - y0) * scale) + 20
    dots = []
    for xi, yi, epci, name in zip(x, y, communes["epci_siren"], communes["epci_name"],
                                  strict=True):
        r = rate.get(epci)
        tip = f"{name} : {_pct(r)}" if r is not None else f"{name} : aucun élève"
        dots.append(f'<circle cx="{10 + (xi - x0) * scale:.1f}" cy="{10 + (yi - y0) * scale:.1f}"'
                    f' r="3" fill="{_colour(r)}"><title>{html.escape(tip)}</title></circle>')
    legend = "".join(f'<span style="background:{c}"></span>{html.escape(t)}'
                     for _, c, t in CLASSES)
    legend += f'<span style="background:{NO_PUPIL}"></span>aucun élève'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="carte" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="Carte des taux de placement par EPCI">{"".join(dots)}</svg>'
            f'<div class="legend">{legend}</div>')


def bars_svg(items: list[tuple[str, float, str]], width: int = 760) -> str:
    """Horizontal bars: (label, rate, detail) each, rate as the bar's length."""
    row, label_w = 18, 370
    height = row * len(items) + 10
    parts = []
    for i, (label, rate, detail) in enumerate(items):
        y = 5 + i * row
        length = max(rate, 0.0) * (width - label_w - 120)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f'{html.escape(label[:46])}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row - 4}" '
            f'fill="{_colour(rate)}"><title>{html.escape(detail)}</title></rect>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 13}" font-size="12">'
            f'{html.escape(_pct(rate))}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg>')


def _bars(frame: pd.DataFrame) -> str:
    items = []
    for _, r in frame.iterrows():
        name = r["label"] or r["territory"]
        if r["territory_type"] == "school" and r["label"]:
            name = f"{r['territory']} {r['label']}"
        detail = f"{r['placed_full']} placés deux semaines sur {r['students']}"
        items.append((name, float(r["rate_full"]), detail))
    return bars_svg(items)


def _table(frame: pd.DataFrame, columns: dict[str, str], numeric: set[str],
           table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for t in columns.values())
    body = []
    for _, r in frame.iterrows():
        cells = "".join(
            f'<td class="n">{html.escape(str(r[c]))}</td>' if c in numeric
            else f"<td>{html.escape(str(r[c]))}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _indicators(frame: pd.DataFrame) -> str:
    """The `indicators.csv` columns coordinators read, as a table."""
    columns = {"territory": "code", "label": "nom", "students": "élèves",
               "placed_full": "placés 2 semaines", "placed_partial": "1 semaine",
               "unplaced": "aucune", "rate_full": "taux",
               "seats_within_reach": "places à portée", "seats_missing": "places manquantes",
               "priority_unplaced": "prioritaires sans stage",
               "median_minutes": "trajet médian (min)"}
    shown = frame.assign(
        rate_full=[_pct(float(x)) for x in frame["rate_full"]],
        seats_within_reach=[x.replace(".", ",") for x in frame["seats_within_reach"]],
        median_minutes=[x.replace(".", ",") for x in frame["median_minutes"]])
    return _table(shown, columns, set(columns) - {"territory", "label"})


def _priority_bars(region: pd.Series) -> str:
    total, placed = int(region["students"]), int(region["placed_full"])
    p_n, p_placed = int(region["priority_students"]), int(region["priority_placed_full"])
    items = []
    if p_n:
        items.append(("prioritaires", p_placed / p_n, f"{p_placed} sur {p_n}"))
    if total - p_n:
        items.append(("non prioritaires", (placed - p_placed) / (total - p_n),
                      f"{placed - p_placed} sur {total - p_n}"))
    items.append(("ensemble", placed / max(total, 1), f"{placed} sur {total}"))
    return bars_svg(items)


def report_html(data: dict[str, Any]) -> str:
    """The whole report page."""
    summary = data["summary"]
    ind = data["indicators"]
    region = _rows(ind, "region").iloc[0]
    schools = _rows(ind, "school").assign(r=lambda f: f["rate_full"].astype(float))
    schools = schools.sort_values(["r", "territory"], kind="stable")
    epci = _rows(ind, "epci").assign(r=lambda f: f["rate_full"].astype(float))
    epci = epci.sort_values(["r", "territory"], kind="stable")
    sections = [
        f"<h1>Affectation des stages de seconde — {html.escape(summary['scenario'])}</h1>",
        _cards(summary),
        f'<p class="note">Statut du solveur : {html.escape(str(summary["solver_status"]))} ; '
        f"écart à la borne : {_pct(summary.get('gap', 0.0))}.</p>",
        "<h2>Taux de placement par EPCI (domicile des élèves)</h2>", map_svg(ind),
        '<p class="note">Chaque point est le centre d\'une commune, coloré selon le taux de '
        "placement deux semaines des élèves de son EPCI.</p>",
        "<h2>Par département</h2>", _bars(_rows(ind, "department")),
        "<h2>Élèves prioritaires</h2>", _priority_bars(region),
        "<h2>Par lycée (du taux le plus bas au plus haut)</h2>", _bars(schools),
        "<h2>Indicateurs par département et par EPCI</h2>",
        _indicators(_rows(ind, "department")), _indicators(epci),
        "<h2>Où mobiliser des entreprises</h2>", _mobilisation(data["mobilisation"]),
        "<h2>Élèves non placés pour deux semaines</h2>", _unplaced(data["assignments"]),
    ]
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Rapport — {html.escape(summary['scenario'])}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n<script>{SCRIPT}</script>"
            f"</body></html>\n")


def _mobilisation(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return ('<p class="note">Pas de classement dans ce dossier : lancez « affectation '
                "mobilise SCENARIO DOSSIER » pour l'ajouter.</p>")
    top = frame.head(20)
    return ('<p class="note">Élèves placés en plus si 1, 5 ou 10 places de deux semaines '
            "étaient offertes dans la commune la plus peuplée de l'EPCI (calcul exact sur les "
            "échanges de places de deux semaines ; « confirmé » : nouvelle résolution "
            "complète).</p>"
            + _table(top, {"rank": "rang", "label": "EPCI", "commune": "commune",
                           "waiting_within_reach": "élèves en attente à portée",
                           "gain_1": "+1 place", "gain_5": "+5 places", "gain_10": "+10 places",
                           "confirmed_gain_10": "confirmé (+10)"},
                     {"rank", "waiting_within_reach", "gain_1", "gain_5", "gain_10",
                      "confirmed_gain_10"}, "mobilisation"))


def _unplaced(assignments: pd.DataFrame) -> str:
    rows = assignments[assignments["kind"].isin(["unplaced", "partial"])]
    rows = rows.assign(kind=rows["kind"].map({"unplaced": "aucune semaine",
                                              "partial": "une semaine"}))
    return (f'<p>{_int(len(rows))} élève(s). <input id="filtre" type="search" '
            'placeholder="Filtrer (identifiant, lycée, raison)"></p>'
            + _table(rows, {"student_id": "élève", "school_id": "lycée", "kind": "placé",
                            "reason": "raison"}, set(), "non-places"))
