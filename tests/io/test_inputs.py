"""The validated arrays built from the good fixture (spec: students.csv, offers.csv,
conventions.csv, mutualised pairs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from affectation.cli import main
from affectation.domain.instance import Instance
from affectation.errors import MAX_LISTED_PROBLEMS, InputError
from affectation.travel.loading import load_instance

GOOD = FIXTURES / "good"
STUDENTS = ["00123", "E2", "E3", "E4", "E5", "E6"]
OFFERS = ["O1", "O2", "PA", "PB", "O5"]


@pytest.fixture(scope="module")
def good() -> Instance:
    return load_instance(GOOD / "scenario.toml")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A writable copy of the good fixture."""
    target = tmp_path / "scenario"
    shutil.copytree(GOOD, target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _conventions(folder: Path, rows: str) -> Instance:
    (folder / "conventions.csv").write_text("student_id,offer_id,week\n" + rows,
                                            encoding="utf-8")
    return load_instance(folder / "scenario.toml")


def _rows(instance: Instance) -> set[tuple[str, str, int, int]]:
    c = instance.conventions
    return {
        (str(instance.students.ids[s]), str(instance.offers.ids[o]), int(w), int(line))
        for s, o, w, line in zip(c.student, c.offer, c.week, c.line, strict=True)
    }


def test_students_in_input_order_with_string_ids(good: Instance) -> None:
    st = good.students
    assert st.n == 6
    assert list(st.ids) == STUDENTS
    assert list(st.school) == ["0140052F", "0140052F", "0141796B", "0141796B", "0140052F",
                               "0140052F"]
    assert st.lat[0] == pytest.approx(49.1829) and st.lon[0] == pytest.approx(-0.3707)
    assert st.lat.dtype == np.float64


def test_student_mode_index_applies_the_default_mode(good: Instance) -> None:
    assert good.scenario.travel.mode_names == ("public", "car", "bike")
    # Empty mode -> default_mode "public" (index 0); then car, bike, public.
    assert list(good.students.mode) == [0, 1, 2, 0, 0, 0]


def test_default_mode_other_than_the_first(folder: Path) -> None:
    _replace(folder / "scenario.toml", 'default_mode = "public"', 'default_mode = "bike"')
    instance = load_instance(folder / "scenario.toml")
    assert list(instance.students.mode) == [2, 1, 2, 0, 2, 2]


def test_max_minutes_is_infinite_when_empty(good: Instance) -> None:
    mm = good.students.max_minutes
    assert mm[1] == 30.0
    assert np.isinf(mm[[0, 2, 3, 4, 5]]).all()


def test_priority_status_and_to_place(good: Instance) -> None:
    st = good.students
    assert list(st.priority) == [True, False, False, True, False, False]
    assert st.priority.dtype == bool
    assert list(st.status) == ["", "", "", "", "", "self_placed"]
    assert list(st.to_place) == [True, True, True, True, True, False]


def test_sectors_are_tuples_in_preference_order(good: Instance) -> None:
    assert good.students.sectors == (
        ("s14", "s3"), ("s14",), (), ("s5",), ("s3", "s5", "s14"), (),
    )


def test_duplicated_sector_in_a_list_is_an_error(folder: Path) -> None:
    _replace(folder / "students.csv", "s3|s5|s14", "s3|s5|s3")
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    [p] = err.value.problems
    assert (p.file, p.line, p.column, p.value) == ("students.csv", 6, "sectors", "s3|s5|s3")


def test_offers_columns(good: Instance) -> None:
    of = good.offers
    assert list(of.ids) == OFFERS
    assert list(of.capacity) == [2, 1, 1, 1, 1]
    assert list(of.period) == [0, 0, 0, 0, 2]
    assert list(of.sector) == ["s14", "s3", "s5", "s5", "s3"]
    assert list(of.reserved) == [False, True, False, False, False]
    assert list(of.employer_id) == ["11111111100011", "22222222200022", "33333333300033",
                                    "44444444400044", "55555555500055"]
    assert of.employer_name[1] == "Mairie de Caen"
    assert list(of.pair) == [-1, -1, 0, 0, -1]


def test_open_weeks(good: Instance) -> None:
    assert good.offers.open_week.tolist() == [
        [True, True], [True, True], [True, True], [True, True], [False, True],
    ]


def test_withdrawn_offer_is_open_in_no_week(folder: Path) -> None:
    _replace(folder / "offers.csv", "-0.3800,1,2", "-0.3800,0,2")
    instance = load_instance(folder / "scenario.toml")
    assert instance.offers.capacity[4] == 0
    assert instance.offers.open_week[4].tolist() == [False, False]


def test_pairs_are_matched(good: Instance) -> None:
    pairs = good.pairs
    assert pairs.n == 1
    assert list(pairs.ids) == ["M1"]
    assert pairs.offers.shape == (1, 2)
    assert pairs.offers.tolist() == [[2, 3]]
    # PA says 1, PB says 2: the larger applies.
    assert list(pairs.min_group) == [2]


@pytest.mark.parametrize(
    ("pa", "pb", "expected"),
    [("3", "1", 3), ("", "2", 2), ("2", "", 2), ("", "", 0)],
)
def test_pair_min_group_is_the_larger_value(folder: Path, pa: str, pb: str,
                                            expected: int) -> None:
    _replace(folder / "offers.csv", "s5,0,M1,1\nPB", f"s5,0,M1,{pa}\nPB")
    _replace(folder / "offers.csv", "s5,0,M1,2\nO5", f"s5,0,M1,{pb}\nO5")
    assert list(load_instance(folder / "scenario.toml").pairs.min_group) == [expected]


def test_two_pairs_matched_by_their_id(folder: Path) -> None:
    """Pairs interleaved in the file are still matched by id, not by position."""
    path = folder / "offers.csv"
    _replace(path, ",M1,1\n", ",Z9,1\n")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("PC,6,Atelier C,49.18,-0.37,1,0,s5,0,Z9,\n")
        handle.write("PD,7,Atelier D,49.18,-0.37,1,0,s5,0,M1,\n")
    _conventions(folder, "")
    instance = load_instance(folder / "scenario.toml")
    ids = instance.offers.ids
    matched = {(str(instance.pairs.ids[k]), str(ids[a]), str(ids[b]))
               for k, (a, b) in enumerate(instance.pairs.offers)}
    assert matched == {("M1", "PB", "PD"), ("Z9", "PA", "PC")}
    for k, (a, b) in enumerate(instance.pairs.offers):
        assert instance.offers.pair[a] == instance.offers.pair[b] == k


def test_conventions_are_expanded(good: Instance) -> None:
    # E2 at O1 with an empty week: both weeks (line 2). E4 at PA in week 1 (line 3): the
    # partner PB is implied in week 2, with line 0.
    assert _rows(good) == {
        ("E2", "O1", 1, 2), ("E2", "O1", 2, 2), ("E4", "PA", 1, 3), ("E4", "PB", 2, 0),
    }
    assert good.conventions.n == 4
    assert good.conventions.source_line.tolist() == [2, 2, 3, 3]


def test_fixed_matrix(good: Instance) -> None:
    fixed = good.fixed
    assert fixed.shape == (6, 2)
    assert fixed[1].tolist() == [0, 0]
    assert fixed[3].tolist() == [2, 3]
    assert (fixed[[0, 2, 4, 5]] == -1).all()


def test_paired_convention_in_week_2_implies_the_partner_in_week_1(folder: Path) -> None:
    instance = _conventions(folder, "E3,PB,2\n")
    assert _rows(instance) == {("E3", "PB", 2, 2), ("E3", "PA", 1, 0)}


def test_empty_week_on_a_one_week_offer_is_its_open_week(folder: Path) -> None:
    instance = _conventions(folder, "E3,O5,\n")
    assert _rows(instance) == {("E3", "O5", 2, 2)}


def test_no_conventions_file(folder: Path) -> None:
    _replace(folder / "scenario.toml", 'conventions = "conventions.csv"\n', "")
    instance = load_instance(folder / "scenario.toml")
    assert instance.conventions.n == 0
    assert (instance.fixed == -1).all()
    assert "conventions" not in instance.input_files()


def test_empty_conventions_file(folder: Path) -> None:
    instance = _conventions(folder, "")
    assert instance.conventions.n == 0
    assert instance.fixed.shape == (6, 2)


def test_paired_convention_whose_partner_is_closed_that_week(folder: Path) -> None:
    # PA opens in week 1 only: a pupil at PB in week 1 would need PA in week 2.
    _replace(folder / "offers.csv", "49.1900,-0.3700,1,0,s5", "49.1900,-0.3700,1,1,s5")
    with pytest.raises(InputError) as err:
        _conventions(folder, "E3,PB,1\n")
    [p] = err.value.problems
    assert (p.file, p.line, p.column, p.value) == ("conventions.csv", 2, "offer_id", "PB")
    assert "PA" in p.expected


def test_pair_whose_periods_cannot_fit(folder: Path) -> None:
    # Both offers of the pair open in week 1 only: nobody can spend one week at each.
    _replace(folder / "offers.csv", "49.1900,-0.3700,1,0,s5", "49.1900,-0.3700,1,1,s5")
    _replace(folder / "offers.csv", "49.1700,-0.3600,1,0,s5", "49.1700,-0.3600,1,1,s5")
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    [p] = err.value.problems
    assert (p.file, p.column, p.value) == ("offers.csv", "period", "M1")


def test_input_files(good: Instance) -> None:
    files = good.input_files()
    assert files == {
        "scenario": GOOD / "scenario.toml",
        "students": GOOD / "students.csv",
        "offers": GOOD / "offers.csv",
        "conventions": GOOD / "conventions.csv",
    }


def test_semicolon_students_file_with_decimal_comma_and_bom(folder: Path) -> None:
    path = folder / "students.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    converted = [line.replace(",", ";") for line in lines]
    converted = [
        ";".join(cell.replace(".", ",") for cell in line.split(";")) for line in converted
    ]
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(converted) + "\r\n").encode("utf-8"))
    instance = load_instance(folder / "scenario.toml")
    reference = load_instance(GOOD / "scenario.toml")
    for name in ("ids", "school", "lat", "lon", "mode", "max_minutes", "priority", "status"):
        assert np.array_equal(getattr(instance.students, name),
                              getattr(reference.students, name)), name
    assert instance.students.sectors == reference.students.sectors


def test_xlsx_offers_give_the_same_instance(folder: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(folder / "offers.csv", dtype=str, keep_default_na=False)
    for column in ("lat", "lon"):
        frame[column] = frame[column].astype(float)
    frame["capacity"] = frame["capacity"].astype(int)
    frame.to_excel(folder / "offers.xlsx", index=False)
    _replace(folder / "scenario.toml", 'offers = "offers.csv"', 'offers = "offers.xlsx"')
    instance = load_instance(folder / "scenario.toml")
    reference = load_instance(GOOD / "scenario.toml")
    for name in ("ids", "employer_id", "lat", "lon", "capacity", "period", "sector",
                 "reserved", "pair"):
        assert np.array_equal(getattr(instance.offers, name),
                              getattr(reference.offers, name)), name
    assert instance.pairs.min_group.tolist() == reference.pairs.min_group.tolist()
    assert _rows(instance) == _rows(reference)


def test_xlsx_students_and_conventions_give_the_same_instance(folder: Path) -> None:
    import pandas as pd

    for name in ("students", "conventions"):
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        frame.to_excel(folder / f"{name}.xlsx", index=False)
        _replace(folder / "scenario.toml", f'{name} = "{name}.csv"', f'{name} = "{name}.xlsx"')
    instance = load_instance(folder / "scenario.toml")
    reference = load_instance(GOOD / "scenario.toml")
    for name in ("ids", "school", "lat", "lon", "mode", "max_minutes", "priority", "status"):
        assert np.array_equal(getattr(instance.students, name),
                              getattr(reference.students, name)), name
    assert instance.students.sectors == reference.students.sectors
    assert _rows(instance) == _rows(reference)


def test_many_problems_are_listed_then_counted(folder: Path) -> None:
    n_bad = MAX_LISTED_PROBLEMS + 10
    rows = "".join(f"X{i},0140052F,abc,-0.37\n" for i in range(n_bad))
    with (folder / "students.csv").open("a", encoding="utf-8") as handle:
        handle.write(rows)
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    assert len(err.value.problems) == n_bad
    message = err.value.message()
    assert message.count("colonne « lat »") == MAX_LISTED_PROBLEMS
    assert "10 autre(s)" in message
    assert "ligne 8," in message  # the first bad row, right after the fixture's 6 pupils


def test_many_duplicate_ids_are_all_counted(folder: Path) -> None:
    n_dup = MAX_LISTED_PROBLEMS + 10
    rows = "".join("E2,0140052F,49.18,-0.37\n" for _ in range(n_dup))
    with (folder / "students.csv").open("a", encoding="utf-8") as handle:
        handle.write(rows)
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    assert len(err.value.problems) == n_dup
    assert "10 autre(s)" in err.value.message()


def test_valid_one_week_convention_solves(folder: Path, tmp_path: Path) -> None:
    _conventions(folder, "E3,O5,\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["solve", str(folder / "scenario.toml"), "--out", str(out)])
    assert result.exit_code == 0, repr(result.exception)
    rows = (out / "assignments.csv").read_text(encoding="utf-8").splitlines()
    e3 = next(r.split(",") for r in rows if r.startswith("E3,"))
    assert e3[3] == "O5"  # week2_offer_id: the signed week is kept


def _problems(folder: Path, rows: str) -> list[tuple[int | None, str | None, str | None]]:
    with pytest.raises(InputError) as err:
        _conventions(folder, rows)
    assert all(p.file == "conventions.csv" for p in err.value.problems)
    return [(p.line, p.column, p.value) for p in err.value.problems]


def test_clash_on_a_week_implied_by_a_pair_names_the_paired_row(folder: Path) -> None:
    # Line 2: E3 at O5 in week 2; line 3: E3 at PA in week 1, which implies PB in week 2.
    with pytest.raises(InputError) as err:
        _conventions(folder, "E3,O5,2\nE3,PA,1\n")
    [p] = err.value.problems
    assert (p.line, p.column, p.value) == (3, "offer_id", "PA")
    assert "O5 (ligne 2)" in p.expected and "PB" in p.expected


def test_clash_with_an_implied_week_names_the_pair_row(folder: Path) -> None:
    # Line 2: E3 at PA in week 1 (PB implied in week 2); line 3: E3 at O5 in week 2.
    with pytest.raises(InputError) as err:
        _conventions(folder, "E3,PA,1\nE3,O5,2\n")
    [p] = err.value.problems
    assert (p.line, p.column, p.value) == (3, "offer_id", "O5")
    assert "PB" in p.expected and "PA, ligne 2" in p.expected


def test_both_halves_of_a_pair_written_out_are_one_convention(folder: Path) -> None:
    instance = _conventions(folder, "E3,PA,1\nE3,PB,2\n")
    assert _rows(instance) == {("E3", "PA", 1, 2), ("E3", "PB", 2, 3)}
    instance = _conventions(folder, "E3,PB,2\nE3,PA,1\n")
    assert _rows(instance) == {("E3", "PB", 2, 2), ("E3", "PA", 1, 3)}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("E3,O5,2\nE3,O5,2\n", [(3, "offer_id", "O5")]),
        ("E3,O5,\nE3,O5,2\n", [(3, "offer_id", "O5")]),
        ("E3,PA,1\nE3,PA,1\n", [(3, "offer_id", "PA")]),
        ("E3,O1,1\nE5,O5,2\nE3,O1,\n", [(4, "offer_id", "O1")]),
    ],
)
def test_a_convention_signed_twice_is_an_error(folder: Path, rows: str,
                                               expected: list[tuple[int, str, str]]) -> None:
    _replace(folder / "offers.csv", "-0.3650,2,0", "-0.3650,3,0")
    (folder / "conventions.csv").write_text("student_id,offer_id,week\n" + rows,
                                            encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    assert [(p.line, p.column, p.value) for p in err.value.problems] == expected
    assert all("convention en double" in p.expected for p in err.value.problems)
    assert "ligne 2" in err.value.problems[0].expected


def test_over_capacity_is_reported_once_at_the_last_line(folder: Path) -> None:
    # O1 (capacity 2) in week 1: lines 2 (E2, both weeks), 3, 4 and 5.
    problems = _problems(folder, "E2,O1,\nE3,O1,1\nE5,O1,1\n00123,O1,1\n")
    assert problems == [(5, "offer_id", "O1")]


def test_over_capacity_counts_implied_pair_weeks(folder: Path) -> None:
    # Capacity 1 each: E4 signs PA in week 1 (PB implied in week 2, line 2), E3 signs PB in
    # week 2 (PA implied in week 1, line 3): both offers overflow, each reported at line 3.
    with pytest.raises(InputError) as err:
        _conventions(folder, "E4,PA,1\nE3,PB,2\n")
    assert [(p.line, p.value) for p in err.value.problems] == [(3, "PA"), (3, "PB")]
    assert all("lignes 2, 3" in p.expected for p in err.value.problems)


def test_problems_of_every_file_are_raised_together(folder: Path) -> None:
    _replace(folder / "students.csv", "49.1700,-0.3800", "x,-0.3800")
    _replace(folder / "offers.csv", "-0.3650,2,0", "-0.3650,deux,0")
    (folder / "conventions.csv").write_text("student_id,offer_id,week\nE9,O1,\n",
                                            encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    # Conventions are checked against valid students and offers only.
    assert [(p.file, p.line, p.column) for p in err.value.problems] == [
        ("students.csv", 4, "lat"), ("offers.csv", 2, "capacity"),
    ]


def test_missing_input_files_name_their_scenario_key(folder: Path) -> None:
    (folder / "offers.csv").unlink()
    (folder / "conventions.csv").unlink()
    (folder / "conventions.csv").mkdir()
    _replace(folder / "students.csv", "49.1700,-0.3800", "x,-0.3800")
    with pytest.raises(InputError) as err:
        load_instance(folder / "scenario.toml")
    assert [(p.file, p.column, p.value) for p in err.value.problems] == [
        ("scenario.toml", "inputs.offers", str(folder / "offers.csv")),
        ("scenario.toml", "inputs.conventions", str(folder / "conventions.csv")),
        ("students.csv", "lat", "x"),
    ]
    assert "dossier" in err.value.problems[1].expected


# -- Issue 18: values in range, never wrapped; homes and offers near each other ----------------


@pytest.mark.parametrize("value", ["1e20", "9223372036854775807", "1e300"])
def test_a_huge_capacity_is_refused_without_a_numpy_warning(folder: Path, value: str) -> None:
    """Defect 4: `capacity = 1e20` wrapped to a negative integer (offer silently withdrawn)
    and a numpy warning with a source path leaked."""
    import warnings

    _replace(folder / "offers.csv", "Mairie de Caen,49.1750,-0.3750,1,",
             f"Mairie de Caen,49.1750,-0.3750,{value},")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError) as found:
            load_instance(folder / "scenario.toml")
    assert f"colonne « capacity » : valeur « {value} »" in found.value.message()


def test_a_few_far_homes_are_warned_about_with_their_lines(
        folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Defect 3 (the few): a home 300 km away from every offer is a notice, not an error."""
    _replace(folder / "students.csv", "E3,0141796B,49.1700,-0.3800",
             "E3,0141796B,46.5000,-0.3800")
    with caplog.at_level("WARNING", logger="affectation.notices"):
        instance = load_instance(folder / "scenario.toml")
    assert instance.students.n == 6
    text = caplog.text
    assert "students.csv" in text and "ligne 4" in text and "100 km" in text


def test_swapped_offer_columns_name_the_file(folder: Path) -> None:
    """Defect 3: the check is geometric (homes against offers), so it tells which file's
    columns look swapped."""
    _replace(folder / "offers.csv", "employer_name,lat,lon", "employer_name,lon,lat")
    with pytest.raises(InputError) as found:
        load_instance(folder / "scenario.toml")
    message = found.value.message()
    assert "offers.csv" in message and "inversées" in message
    assert "students.csv" not in message
