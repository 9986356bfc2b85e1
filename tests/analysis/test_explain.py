"""`affectation explain`: one pupil's story, in French and English, from a result folder
written by hand (so that the situation told is known), and its errors (exit 2)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from conftest import PUBLIC, crowfly_minutes, make_scenario, near, solve_cli

from affectation.cli import main
from affectation.io.output import ASSIGNMENT_COLUMNS


def invoke(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def minutes(student: dict[str, float], offer: dict[str, float]) -> float:
    return crowfly_minutes(student["lat"], student["lon"], offer["lat"], offer["lon"], PUBLIC)


# Public transport reaches 6.67 km. U lives 3.6 km west of central Caen, H in the centre;
# O1 (centre) is within reach of both, O3 (4.4 km east) of H only, O2 of both.
U = near(0.0, -0.05)
H = near()
POINTS = {"O1": near(), "O2": near(0.01), "O3": near(0.0, 0.06)}


def scenario(tmp_path: Path, language: str = "fr", o3_capacity: int = 1) -> Path:
    students = [
        {"student_id": "U", **U},
        {"student_id": "H", **H},
        {"student_id": "P", "priority": True, **H},
        {"student_id": "C", **H},
    ]
    offers = [
        {"offer_id": "O1", "capacity": 2, **POINTS["O1"]},
        {"offer_id": "O2", "capacity": 2, "reserved": True, **POINTS["O2"]},
        {"offer_id": "O3", "capacity": o3_capacity, **POINTS["O3"]},
    ]
    return make_scenario(tmp_path, students, offers,
                         conventions=[{"student_id": "C", "offer_id": "O1"}],
                         output={"language": language}, folder=f"s-{language}-{o3_capacity}")


def write_result(folder: Path, rows: dict[str, tuple[str, str, str]]) -> Path:
    """An assignments.csv with the given (week 1 offer, week 2 offer, kind) per pupil."""
    points = {"U": U, "H": H, "P": H, "C": H}
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "assignments.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ASSIGNMENT_COLUMNS)
        for sid, (w1, w2, kind) in rows.items():
            m = [f"{minutes(points[sid], POINTS[o]):.1f}" if o else "" for o in (w1, w2)]
            reason = "toutes les offres sont complètes" if kind == "unplaced" else ""
            writer.writerow((sid, "0140052F", w1, w2, m[0], m[1], kind, reason))
    return folder


# O1 is held by H and by C's signed convention; P (priority) holds one seat of the reserved
# O2; U is unplaced though O3, within H's reach but not U's, is free.
ROWS = {"U": ("", "", "unplaced"), "H": ("O1", "O1", "single"), "P": ("O2", "O2", "single"),
        "C": ("O1", "O1", "single")}


def fr(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")


def test_explain_in_french_lists_offers_minutes_holders_and_a_move(tmp_path: Path) -> None:
    path = scenario(tmp_path)
    out = write_result(tmp_path / "res", ROWS)
    checked = invoke("check", path, out / "assignments.csv")
    assert checked.exit_code == 0, checked.output  # the situation told is a valid one
    result = invoke("explain", path, out, "U")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Élève U" in text
    assert "sans stage" in text
    assert "toutes les offres sont complètes" in text
    assert "30 min au plus" in text
    assert "Offres à portée : 2" in text  # O1 and the reserved O2; O3 is out of U's reach
    assert f"O1 : {fr(minutes(U, POINTS['O1']))} min, deux semaines, capacité 2" in text
    assert f"O2 : {fr(minutes(U, POINTS['O2']))} min" in text
    assert "réservée aux élèves prioritaires (pas pour cet élève)" in text
    assert "semaine 1 : H, C (convention signée) (complète)" in text
    assert "semaine 2 : H, C (convention signée) (complète)" in text
    assert "semaine 1 : P (prioritaire) (1 place(s) libre(s))" in text
    assert "O3 :" not in text
    # H could move to the free O3 (within H's reach), freeing O1 in week 1.
    move = (f"à l'offre O1 ({fr(minutes(U, POINTS['O1']))} min), l'élève H pourrait aller à "
            f"l'offre O3 ({fr(minutes(H, POINTS['O3']))} min")
    assert move in text
    assert "sa place en semaines 1 et 2 serait libérée" in text


def test_explain_in_english(tmp_path: Path) -> None:
    path = scenario(tmp_path, language="en")
    out = write_result(tmp_path / "res", ROWS)
    result = invoke("explain", path, out, "U")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Pupil U" in text
    assert "Status: no internship" in text
    assert "at most 30 min (one way)" in text
    assert f"O1: {minutes(U, POINTS['O1']):.1f} min, both weeks, capacity 2" in text
    assert "week 2: H, C (signed convention) (full)" in text
    assert "week 1: P (priority) (1 free seat(s))" in text
    assert "reserved to priority pupils (not for this pupil)" in text
    assert f"pupil H could move to offer O3 ({minutes(H, POINTS['O3']):.1f} min" in text


def test_explain_one_more_seat_when_no_holder_can_move(tmp_path: Path) -> None:
    path = scenario(tmp_path, o3_capacity=0)
    out = write_result(tmp_path / "res", ROWS)
    result = invoke("explain", path, out, "U")
    assert result.exit_code == 0, result.output
    assert "pourrait aller" not in result.output
    assert (f"une place de plus à l'offre O1 ({fr(minutes(U, POINTS['O1']))} min) en "
            "semaines 1 et 2") in result.output


def test_explain_placed_pupil_shows_placement_and_self(tmp_path: Path) -> None:
    path = scenario(tmp_path)
    out = write_result(tmp_path / "res", ROWS)
    result = invoke("explain", path, out, "P")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Élève P : lycée 0140052F, prioritaire" in text
    assert f"Semaine 1 : O2 ({fr(minutes(H, POINTS['O2']))} min)" in text
    assert "P (cet élève, prioritaire)" in text
    assert "Offres à portée : 3" in text  # O3 is within reach of the centre
    assert "Ce qui libérerait" not in text


def test_explain_after_solve(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, [{"student_id": "A"}, {"student_id": "B"}],
                         [{"offer_id": "O", "capacity": 1, **near(0.01)}])
    outcome = solve_cli(path)
    placed = [s for s in ("A", "B") if outcome.kind(s) == "single"]
    left = [s for s in ("A", "B") if outcome.kind(s) == "unplaced"]
    assert len(placed) == len(left) == 1
    result = invoke("explain", path, outcome.out, left[0])
    assert result.exit_code == 0, result.output
    assert f"semaine 1 : {placed[0]} (complète)" in result.output
    assert "une place de plus à l'offre O" in result.output


def test_explain_unknown_pupil_or_missing_result_exits_2(tmp_path: Path) -> None:
    path = scenario(tmp_path)
    out = write_result(tmp_path / "res", ROWS)
    result = invoke("explain", path, out, "NOBODY")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Élève inconnu" in result.output and "NOBODY" in result.output
    result = invoke("explain", path, tmp_path / "empty", "U")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "assignments.csv" in result.output
    # A result of another scenario: an unknown offer is an input error, not a traceback.
    rows = dict(ROWS)
    rows["H"] = ("O9", "O9", "single")
    POINTS["O9"] = near(0.02)
    try:
        other = write_result(tmp_path / "other", rows)
    finally:
        del POINTS["O9"]
    result = invoke("explain", path, other, "U")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "O9" in result.output
