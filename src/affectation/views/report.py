"""The report (`affectation report RESULT_DIR --out report.html`): one self-contained HTML file.

In French, for coordinators: headline figures, the choropleth of the placement rate by EPCI
(`views.maps`), bar charts by département, priority group and school, the indicator tables,
the mobilisation ranking with the gain curves of its best sites (when `mobilisation.csv` is
in the folder), and the pupils not placed for both weeks with their reasons and a filter box
(pseudonymous ids only). Everything is inline (CSS, SVG, a few lines of script to filter the
table): no network is needed to open it. The page is `templates/report.html`, which extends
the layout of the web pages; this module only turns the result tables into its context. The
same folder gives the same bytes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from affectation.views.charts import BarChart, GainCurves, bar_chart, gain_curves
from affectation.views.environment import render
from affectation.views.formatting import fr_int, fr_num, fr_pct
from affectation.views.maps import Choropleth, choropleth, department_areas, epci_areas

# Sites whose gain curves the report draws, and rows of the ranking it shows.
CURVES = 6
RANKING_ROWS = 20
NORMANDY = ("14", "27", "50", "61", "76")


class Column(NamedTuple):
    """A table column: its French title, and whether it holds numbers (right-aligned)."""

    title: str
    numeric: bool = False


def _rows(frame: pd.DataFrame, territory_type: str) -> pd.DataFrame:
    return frame[frame["territory_type"] == territory_type]


def _rate(value: str) -> float:
    return float(value)


def headline(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline figures of a result (value, label), French."""
    to_place = summary["students_to_place"] or 1
    prio = summary["priority_students"]
    return [
        (fr_int(summary["students_to_place"]), "élèves à placer"),
        (fr_int(summary["placed_full"]),
         f"placés deux semaines ({fr_pct(summary['placed_full'] / to_place)})"),
        (fr_int(summary["placed_partial"]), "placés une semaine"),
        (fr_int(summary["unplaced"]), "sans stage"),
        (f"{fr_int(summary['priority_placed_full'])}/{fr_int(prio)}",
         "prioritaires placés deux semaines"
         + (f" ({fr_pct(summary['priority_placed_full'] / prio)})" if prio else "")),
        (fr_int(summary["upper_bound_full"]), "borne prouvée (placés deux semaines au plus)"),
    ]


def epci_map(indicators: pd.DataFrame, ident: str = "carte") -> Choropleth:
    """The choropleth of the EPCIs of Normandy by the placement rate (both weeks) of the
    pupils living there, from the rows of `indicators.csv`."""
    epci = _rows(indicators, "epci")
    rates = {r.territory: _rate(r.rate_full) for r in epci.itertuples()}
    notes = {r.territory: f"{fr_int(r.placed_full)} placés deux semaines sur "
                          f"{fr_int(r.students)} élèves" for r in epci.itertuples()}
    return choropleth(epci_areas("normandie"), rates, notes, ident=ident,
                      outlines=department_areas(NORMANDY),
                      title="Taux de placement deux semaines par EPCI du domicile des élèves",
                      description="Carte de la Normandie découpée en EPCI, chacun coloré "
                                  "selon le taux de placement deux semaines de ses élèves ; "
                                  "traits sombres : limites des départements.")


def rate_bars(frame: pd.DataFrame, title: str) -> BarChart:
    """Bars of the placement rate of indicator rows (départements, schools...)."""
    items = []
    for r in frame.itertuples():
        name = r.label or r.territory
        if r.territory_type == "school" and r.label:
            name = f"{r.territory} {r.label}"
        detail = f"{fr_int(r.placed_full)} placés deux semaines sur {fr_int(r.students)}"
        items.append((name, _rate(r.rate_full), detail))
    return bar_chart(items, title)


def priority_bars(region: pd.Series) -> BarChart:
    """Placement rates of priority pupils, other pupils and everyone."""
    total, placed = int(region["students"]), int(region["placed_full"])
    p_n, p_placed = int(region["priority_students"]), int(region["priority_placed_full"])
    items = []
    if p_n:
        items.append(("prioritaires", p_placed / p_n, f"{fr_int(p_placed)} sur {fr_int(p_n)}"))
    if total - p_n:
        items.append(("non prioritaires", (placed - p_placed) / (total - p_n),
                      f"{fr_int(placed - p_placed)} sur {fr_int(total - p_n)}"))
    items.append(("ensemble", placed / max(total, 1), f"{fr_int(placed)} sur {fr_int(total)}"))
    return bar_chart(items, "Taux de placement deux semaines des élèves prioritaires")


INDICATOR_COLUMNS = [Column("code"), Column("nom"), Column("élèves", True),
                     Column("placés 2 semaines", True), Column("1 semaine", True),
                     Column("aucune", True), Column("taux", True),
                     Column("places à portée", True), Column("places manquantes", True),
                     Column("prioritaires sans stage", True),
                     Column("trajet médian (min)", True)]


def indicator_rows(frame: pd.DataFrame) -> list[list[str]]:
    """The `indicators.csv` columns coordinators read, formatted."""
    return [[r.territory, r.label, fr_int(r.students), fr_int(r.placed_full),
             fr_int(r.placed_partial), fr_int(r.unplaced), fr_pct(r.rate_full),
             fr_num(r.seats_within_reach), fr_int(r.seats_missing),
             fr_int(r.priority_unplaced), fr_num(r.median_minutes)]
            for r in frame.itertuples()]


MOBILISATION_COLUMNS = [Column("rang", True), Column("EPCI"), Column("commune"),
                        Column("élèves à portée", True), Column("en attente à portée", True),
                        Column("gain total", True), Column("saturé à (places)", True),
                        Column("sans déplacement", True), Column("+10 places", True),
                        Column("confirmé (+10 places)", True)]
# mobilisation.csv written before the gain curves (gain at 1, 5 and 10 seats only).
OLD_MOBILISATION_COLUMNS = [Column("rang", True), Column("EPCI"), Column("commune"),
                            Column("élèves en attente à portée", True),
                            Column("+1 place", True), Column("+5 places", True),
                            Column("+10 places", True), Column("confirmé (+10)", True)]


def mobilisation(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    """The ranking's table and the gain curves of its best sites (None: no ranking)."""
    if frame is None:
        return None
    top = frame.head(RANKING_ROWS)
    if "gain_total" not in frame.columns:
        rows = [[r.rank, r.label, r.commune, fr_int(r.waiting_within_reach), fr_int(r.gain_1),
                 fr_int(r.gain_5), fr_int(r.gain_10), fr_int(r.confirmed_gain_10)]
                for r in top.itertuples()]
        return {"columns": OLD_MOBILISATION_COLUMNS, "rows": rows, "curves": None,
                "legacy": True}
    rows = [[r.rank, r.label, r.commune, fr_int(r.pupils_within_reach),
             fr_int(r.waiting_within_reach), fr_int(r.gain_total), fr_int(r.saturation_seats),
             fr_int(r.direct_gain), fr_int(r.gain_10), fr_int(r.confirmed_gain_10)]
            for r in top.itertuples()]
    best = [(f"{r.rank}. {r.commune}", f"{r.rank}. {r.commune} ({r.label})",
             int(r.gain_total), int(r.direct_gain), int(r.saturation_seats))
            for r in frame.head(CURVES).itertuples() if int(r.gain_total) > 0]
    curves: GainCurves | None = None
    if best:
        curves = gain_curves(best, "Courbes de gain des meilleurs sites : élèves placés deux "
                                   "semaines en plus selon le nombre de places ouvertes")
    return {"columns": MOBILISATION_COLUMNS, "rows": rows, "curves": curves, "legacy": False}


UNPLACED_COLUMNS = [Column("élève"), Column("lycée"), Column("placé"), Column("raison")]
KIND_TEXT = {"unplaced": "aucune semaine", "partial": "une semaine"}


def unplaced_rows(assignments: pd.DataFrame) -> list[list[str]]:
    """Pupils not placed for both weeks (pseudonymous id, school, weeks, reason)."""
    rows = assignments[assignments["kind"].isin(list(KIND_TEXT))]
    return [[r.student_id, r.school_id, KIND_TEXT[r.kind], r.reason] for r in rows.itertuples()]


def report_context(data: dict[str, Any]) -> dict[str, Any]:
    """The template context of `report.html` from the tables of a result folder
    (`io.results.read_report_tables`)."""
    summary = data["summary"]
    ind = data["indicators"]
    region = _rows(ind, "region").iloc[0]
    schools = _rows(ind, "school").assign(r=lambda f: f["rate_full"].astype(float))
    schools = schools.sort_values(["r", "territory"], kind="stable")
    epci = _rows(ind, "epci").assign(r=lambda f: f["rate_full"].astype(float))
    epci = epci.sort_values(["r", "territory"], kind="stable")
    return {
        "scenario": summary["scenario"],
        "cards": headline(summary),
        "status": str(summary.get("status_text") or summary["solver_status"]),
        "gap": fr_pct(summary.get("gap", 0.0)),
        "map": epci_map(ind),
        "departments": rate_bars(_rows(ind, "department"),
                                 "Taux de placement deux semaines par département"),
        "priority": priority_bars(region),
        "schools": rate_bars(schools, "Taux de placement deux semaines par lycée"),
        "indicator_columns": INDICATOR_COLUMNS,
        "department_rows": indicator_rows(_rows(ind, "department")),
        "epci_rows": indicator_rows(epci),
        "mobilisation": mobilisation(data["mobilisation"]),
        "unplaced_columns": UNPLACED_COLUMNS,
        "unplaced": unplaced_rows(data["assignments"]),
    }


def report_html(data: dict[str, Any]) -> str:
    """The whole report page."""
    return render("report.html", **report_context(data))
