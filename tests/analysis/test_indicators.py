"""Territorial indicators: every column of indicators.csv against hand counts on a tiny
scenario, and `solve` writing indicators.csv (and the workbook on request)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import PUBLIC, crowfly_minutes, make_scenario, near

from affectation.analysis.indicators import COLUMNS, indicators_table
from affectation.cli import main
from affectation.domain.allocation import classify
from affectation.domain.instance import Instance
from affectation.domain.territory import pupil_groups
from affectation.io.workbook import workbook_bytes
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes, reachable

BAYEUX = {"lat": 49.2765, "lon": -0.7025}
CAEN_SCHOOL, BAYEUX_SCHOOL = "0140052F", "0140004D"


def _scenario(tmp_path: Path) -> Path:
    return make_scenario(tmp_path, students=[
        {"student_id": "S1", "priority": True},
        {"student_id": "S2"},
        {"student_id": "S3"},
        {"student_id": "S4", "school_id": BAYEUX_SCHOOL, **BAYEUX},
        {"student_id": "S5", "status": "self_placed"},
    ], offers=[
        {"offer_id": "A", **near(0.01, 0.0), "capacity": 2},
        {"offer_id": "B", "capacity": 1, "period": 1},
        {"offer_id": "R", "capacity": 1, "reserved": True},
        {"offer_id": "F", **BAYEUX, "capacity": 3},
        {"offer_id": "R2", **BAYEUX, "capacity": 2, "reserved": True},
    ])


def _indicators(inst: Instance, allocation: np.ndarray) -> pd.DataFrame:
    """The indicators of allocation `allocation`, with its kinds and exact minutes."""
    kind = classify(inst, allocation)
    minutes = np.full(allocation.shape, np.nan)
    for w in (0, 1):
        s = np.flatnonzero(allocation[:, w] >= 0)
        minutes[s, w] = exact_minutes(inst, s, allocation[s, w])
    return indicators_table(inst, allocation, kind, minutes, reachable(inst))


def _table(path: Path) -> dict[tuple[str, str], dict]:
    inst = load_instance(path)
    # S1, S2 at A both weeks; S3 at B in week 1 only; S4 nowhere.
    allocation = np.array([[0, 0], [0, 0], [1, -1], [-1, -1], [-1, -1]])
    table = _indicators(inst, allocation)
    assert tuple(table.columns) == COLUMNS
    return {(r["territory_type"], r["territory"]): r for r in table.to_dict("records")}


def test_every_indicator_against_hand_counts(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    rows = _table(path)
    groups = pupil_groups(load_instance(path))
    caen_epci, bayeux_epci = groups["epci"][0], groups["epci"][3]
    assert caen_epci != bayeux_epci and groups["department"][0] == groups["department"][3]
    assert list(rows) == [("region", "ensemble"), ("department", "14"),
                          ("epci", min(caen_epci, bayeux_epci)),
                          ("epci", max(caen_epci, bayeux_epci)),
                          ("school", BAYEUX_SCHOOL), ("school", CAEN_SCHOOL)]
    a_minutes = round(crowfly_minutes(*near().values(), *near(0.01, 0.0).values(), PUBLIC), 1)
    # Caen pupils reach A (2 seats both weeks), B (1 seat, week 1: half a two-week seat) and R
    # (reserved, counted since S1 is a priority pupil); S4 reaches F, not R2 (reserved, and S4
    # is not a priority pupil). S5 (self_placed) counts nowhere.
    caen = {"students": 3, "placed_full": 2, "placed_partial": 1, "unplaced": 0,
            "rate_full": round(2 / 3, 4), "priority_students": 1, "priority_placed_full": 1,
            "priority_unplaced": 0, "seats_within_reach": 3.5, "seats_missing": 1,
            "median_minutes": a_minutes}
    bayeux = {"students": 1, "placed_full": 0, "placed_partial": 0, "unplaced": 1,
              "rate_full": 0.0, "priority_students": 0, "priority_placed_full": 0,
              "priority_unplaced": 0, "seats_within_reach": 3.0, "seats_missing": 1}
    whole = {"students": 4, "placed_full": 2, "placed_partial": 1, "unplaced": 1,
             "rate_full": 0.5, "priority_students": 1, "priority_placed_full": 1,
             "priority_unplaced": 0, "seats_within_reach": 6.5, "seats_missing": 2,
             "median_minutes": a_minutes}
    for key, expected in (
        (("region", "ensemble"), whole), (("department", "14"), whole),
        (("epci", caen_epci), caen), (("school", CAEN_SCHOOL), caen),
        (("epci", bayeux_epci), bayeux), (("school", BAYEUX_SCHOOL), bayeux),
    ):
        got = {k: rows[key][k] for k in expected}
        assert got == expected, key
    assert rows[("epci", bayeux_epci)]["median_minutes"] is None
    assert rows[("department", "14")]["label"] == "Calvados"
    assert "Caen" in rows[("epci", caen_epci)]["label"]


def test_priority_pupil_with_no_week_is_counted(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    inst = load_instance(path)
    allocation = np.array([[-1, -1], [0, 0], [0, 0], [3, 3], [-1, -1]])
    table = _indicators(inst, allocation)
    region = table.iloc[0]
    assert (region["placed_full"], region["unplaced"], region["priority_unplaced"],
            region["seats_missing"]) == (3, 1, 1, 1)


@pytest.mark.parametrize("xlsx", [False, True])
def test_solve_writes_indicators_and_the_workbook_on_request(tmp_path: Path, xlsx: bool) -> None:
    path = _scenario(tmp_path)
    out = tmp_path / "out"
    args = ["solve", str(path), "--out", str(out), "--time-limit", "5"]
    result = CliRunner().invoke(main, args + (["--xlsx"] if xlsx else []))
    assert result.exit_code == 0, result.output
    text = (out / "indicators.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["territory_type"] == "region" and rows[0]["students"] == "4"
    assert (out / "resultats.xlsx").exists() == xlsx
    if xlsx:
        from openpyxl import load_workbook

        book = load_workbook(out / "resultats.xlsx")
        assert book.sheetnames == ["assignments", "fairness", "indicators"]
        sheet = book["indicators"]
        assert sheet.cell(1, 1).value == "territory_type"
        assert sheet.cell(2, 4).value == 4  # a number, not text
        ids = [c.value for c in book["assignments"]["B"]][1:]
        assert set(ids) == {CAEN_SCHOOL, BAYEUX_SCHOOL}
        # No date inside: the same tables give the same bytes, whenever they are written.
        tables = {n: (out / n).read_text(encoding="utf-8")
                  for n in ("assignments.csv", "fairness.csv", "indicators.csv")}
        assert workbook_bytes(tables) == (out / "resultats.xlsx").read_bytes()
        with zipfile.ZipFile(out / "resultats.xlsx") as archive:
            assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = archive.read("docProps/core.xml")
            assert b'W3CDTF">2000-01-01T00:00:00Z</dcterms:modified>' in core
