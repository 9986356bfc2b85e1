"""Reading input tables: delimiters, decimal comma, BOM, identifiers, booleans, XLSX
(spec: general rules for every input table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from affectation.errors import InputError, Problem
from affectation.io.tables import check_identifiers, parse_bool, parse_float, parse_int, read_table

REQUIRED = ("student_id", "school_id", "lat", "lon")


def _write(path: Path, text: str, bom: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _floats(table, column: str) -> tuple[np.ndarray, list[Problem]]:
    problems: list[Problem] = []
    return parse_float(table, column, problems, "un nombre"), problems


def test_semicolon_delimiter_with_decimal_comma(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id;school_id;lat;lon\nE1;0140052F;49,18;-0,37\n")
    table = read_table(path, REQUIRED)
    assert table.decimal_comma
    lat, problems = _floats(table, "lat")
    lon, _ = _floats(table, "lon")
    assert problems == []
    assert lat[0] == pytest.approx(49.18)
    assert lon[0] == pytest.approx(-0.37)
    assert list(table.column("school_id")) == ["0140052F"]


def test_semicolon_file_also_accepts_decimal_point(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id;school_id;lat;lon\nE1;X;49.18;-0.37\n")
    lat, problems = _floats(read_table(path, REQUIRED), "lat")
    assert problems == []
    assert lat[0] == pytest.approx(49.18)


def test_comma_delimiter(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,49.18,-0.37\n")
    table = read_table(path, REQUIRED)
    assert not table.decimal_comma
    assert list(table.frame.columns) == list(REQUIRED)
    lat, problems = _floats(table, "lat")
    assert problems == [] and lat[0] == pytest.approx(49.18)


def test_decimal_comma_is_an_error_in_a_comma_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", 'student_id,school_id,lat,lon\nE1,X,"49,18",0\n')
    _, problems = _floats(read_table(path, REQUIRED), "lat")
    assert [(p.line, p.column, p.value) for p in problems] == [(2, "lat", "49,18")]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_utf8_bom_is_ignored(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(REQUIRED) + "\n" + delimiter.join(["É1", "X", "49", "0"]) + "\n"
    table = read_table(_write(tmp_path / "s.csv", text, bom=True), REQUIRED)
    assert list(table.frame.columns) == list(REQUIRED)
    assert list(table.column("student_id")) == ["É1"]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id;school_id;lat;lon\r\nE1;X;49,5;0\r\n")
    table = read_table(path, REQUIRED)
    lat, problems = _floats(table, "lat")
    assert problems == [] and lat[0] == 49.5
    assert list(table.column("lon")) == ["0"]


def test_identifiers_stay_strings_with_leading_zeros(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.csv",
        "student_id,school_id,lat,lon\n00123,0140052F,49,0\n007,0141796B,49,0\n1e3,12,49,0\n",
    )
    table = read_table(path, REQUIRED)
    assert list(table.column("student_id")) == ["00123", "007", "1e3"]
    assert list(table.column("school_id")) == ["0140052F", "0141796B", "12"]
    assert all(isinstance(x, str) for x in table.column("student_id"))


def test_surrounding_spaces_are_trimmed(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.csv",
        " student_id , school_id ,lat,lon\n  E1 , 0140052F ,  49.1 , -0.3 \n",
    )
    table = read_table(path, REQUIRED)
    assert list(table.column("student_id")) == ["E1"]
    assert list(table.column("school_id")) == ["0140052F"]
    lat, problems = _floats(table, "lat")
    assert problems == [] and lat[0] == pytest.approx(49.1)


def test_unknown_columns_ignored_and_column_order_free(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.csv",
        "lon,note,lat,school_id,student_id\n-0.3,anything,49.1,0140052F,E1\n",
    )
    table = read_table(path, REQUIRED)
    assert list(table.column("student_id")) == ["E1"]
    lat, _ = _floats(table, "lat")
    lon, _ = _floats(table, "lon")
    assert (lat[0], lon[0]) == (pytest.approx(49.1), pytest.approx(-0.3))


def test_absent_optional_column_reads_as_empty(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,1,2\n"),
                       REQUIRED)
    assert not table.has("mode")
    assert list(table.column("mode")) == [""]


def test_missing_required_column_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "students.csv", "student_id,school_id,lon\nE1,X,0\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert [(p.file, p.line, p.column) for p in err.value.problems] == [("students.csv", 1, "lat")]


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "absent.csv", REQUIRED)
    assert "absent.csv" in str(err.value)


def test_line_numbers_count_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,1,0\nE2,X,x,0\n")
    _, problems = _floats(read_table(path, REQUIRED), "lat")
    assert [(p.file, p.line, p.column, p.value) for p in problems] == [("s.csv", 3, "lat", "x")]


def test_line_numbers_after_a_blank_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,1,0\n\nE2,X,x,0\n")
    _, problems = _floats(read_table(path, REQUIRED), "lat")
    assert [(p.line, p.value) for p in problems] == [(4, "x")]


def test_duplicated_header_column_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon,lat\nE1,X,1,0,2\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    [problem] = err.value.problems
    assert (problem.line, problem.column) == (1, "lat")
    assert "positions 3, 5" in problem.expected


def test_duplicated_header_column_in_xlsx_is_an_error(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["student_id", "school_id", "lat", "lon", "lat"])
    sheet.append(["E1", "X", 1, 0, 2])
    path = tmp_path / "s.xlsx"
    workbook.save(path)
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert [(p.line, p.column) for p in err.value.problems] == [(1, "lat")]


def test_a_file_mixing_utf8_and_windows_1252_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("student_id,school_id,lat,lon\nE1,Hérouville,1,0\n".encode()
                     + "E2,Hérouville,1,0\n".encode("cp1252"))
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    [problem] = err.value.problems
    assert (problem.file, problem.line) == ("s.csv", 3)
    assert "UTF-8" in problem.expected


def test_non_utf8_line_is_right_after_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfstudent_id,school_id,lat,lon\nE1,X,1,0\n\xc9E2,X,1,0\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    [problem] = err.value.problems
    assert (problem.line, problem.column, problem.value) == (3, "student_id", "\ufffdE2")


def test_every_non_utf8_cell_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    text = 'student_id;school_id;lat;lon;note\nE1;Hérouville;1;0;"a\nbé"\nE2;X;1;0;\nÉ3;X;1;0;\n'
    path.write_bytes("student_id;school_id;lat;lon;note\nE0;Caen é;1;0;\n".encode()
                     + text.split("\n", 1)[1].encode("cp1252"))
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert [(p.line, p.column, p.value) for p in err.value.problems] == [
        (3, "school_id", "H\ufffdrouville"),
        (4, "note", "a\nb\ufffd"),
        (6, "student_id", "\ufffd3"),
    ]


def test_row_with_too_many_fields_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,1,0\nE2,X,1,0,extra\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    [problem] = err.value.problems
    assert (problem.file, problem.line, problem.value) == ("s.csv", 3, "extra")
    assert "(4), trouvé 5" in problem.expected
    assert "s.csv, ligne 3" in str(err.value)


def test_first_row_with_too_many_fields_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,1,0,extra\nE2,Y,2,0\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    [problem] = err.value.problems
    assert (problem.file, problem.line, problem.value) == ("s.csv", 2, "extra")


def test_every_row_with_too_many_fields_is_listed(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv",
                  "student_id;school_id;lat;lon\nE1;X;1;0;a\nE2;X;1;0\nE3;X;1;0;b;c\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert [(p.line, p.value) for p in err.value.problems] == [(2, "a"), (4, "b;c")]


def test_empty_trailing_fields_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id,school_id,lat,lon\nE1,X,1,0,,\nE2,X\n")
    table = read_table(path, REQUIRED)
    assert list(table.column("student_id")) == ["E1", "E2"]
    assert list(table.column("lat")) == ["1", ""]


def test_rows_of_empty_cells_are_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "student_id;school_id;lat;lon\n;;;\nE1;X;1;0\n ; ;;\n")
    table = read_table(path, REQUIRED)
    assert list(table.column("student_id")) == ["E1"]
    assert list(table.lines) == [3]


def test_line_numbers_after_a_quoted_line_break(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv",
                  'student_id,school_id,lat,lon,note\nE1,X,1,0,"deux\r\nlignes"\n\nE2,X,x,0,\n')
    table = read_table(path, REQUIRED)
    assert list(table.column("note")) == ["deux\r\nlignes", ""]
    assert list(table.lines) == [2, 5]
    _, problems = _floats(table, "lat")
    assert [(p.line, p.value) for p in problems] == [(5, "x")]


def test_header_after_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "\n\nstudent_id;school_id;lat\nE1;X;1\n", bom=True)
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert [(p.line, p.column) for p in err.value.problems] == [(3, "lon")]
    table = read_table(path, ("student_id",))
    assert table.header_line == 3 and list(table.lines) == [4]


def test_unclosed_quote_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv",
                  'student_id,school_id,lat,lon\nE1,X,1,0\nE2,"X,1,0\nE3,X,1,0\n')
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    [problem] = err.value.problems
    assert problem.line == 3 and "guillemet" in problem.expected


def test_empty_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_table(_write(tmp_path / "s.csv", ""), REQUIRED)


def test_header_only_gives_an_empty_table(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "c.csv", "student_id,offer_id,week\n"),
                       ("student_id", "offer_id"))
    assert len(table.frame) == 0
    assert len(table.column("week")) == 0


BOOL_TABLE = (
    "student_id,flag\n"
    "a,0\nb,1\nc,true\nd,FALSE\ne,True\nf,oui\ng,NON\nh,Oui\ni,yes\nj,No\nk,YES\nl,\nm, 1 \n"
)
BOOL_EXPECTED = [False, True, True, False, True, True, False, True, True, False, True]


@pytest.mark.parametrize("default", [False, True])
def test_booleans_any_case_and_empty_is_default(tmp_path: Path, default: bool) -> None:
    table = read_table(_write(tmp_path / "b.csv", BOOL_TABLE), ("student_id",))
    problems: list[Problem] = []
    values = parse_bool(table, "flag", problems, default=default)
    assert problems == []
    assert [bool(v) for v in values] == [*BOOL_EXPECTED, default, True]


def test_absent_boolean_column_is_default(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "b.csv", "student_id\na\nb\n"), ("student_id",))
    problems: list[Problem] = []
    assert list(parse_bool(table, "flag", problems, default=True)) == [True, True]
    assert problems == []


@pytest.mark.parametrize("word", ["peut-être", "2", "y", "-1", "vraiment"])
def test_bad_boolean_is_reported(tmp_path: Path, word: str) -> None:
    table = read_table(_write(tmp_path / "b.csv", f"student_id,flag\na,1\nb,{word}\n"),
                       ("student_id",))
    problems: list[Problem] = []
    parse_bool(table, "flag", problems, default=False)
    assert [(p.file, p.line, p.column, p.value) for p in problems] == [("b.csv", 3, "flag", word)]


@pytest.mark.parametrize(
    ("text", "ok"),
    [("0", True), ("3", True), ("2.0", True), ("2.5", False), ("-1", False), ("", False),
     ("deux", False), ("inf", False)],
)
def test_parse_int_required(tmp_path: Path, text: str, ok: bool) -> None:
    table = read_table(_write(tmp_path / "o.csv", f"offer_id,capacity\nO1,{text}\n"),
                       ("offer_id",))
    problems: list[Problem] = []
    values, present = parse_int(table, "capacity", problems, "un entier >= 0")
    if ok:
        assert problems == [] and bool(present[0]) and values[0] == int(float(text))
    else:
        assert [(p.line, p.column, p.value) for p in problems] == [(2, "capacity", text)]


def test_parse_int_default_when_empty(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "o.csv", "offer_id,period\nO1,\nO2,2\n"), ("offer_id",))
    problems: list[Problem] = []
    values, present = parse_int(table, "period", problems, "0, 1 ou 2", default=0)
    assert problems == []
    assert list(values) == [0, 2] and list(present) == [False, True]


def test_parse_float_range_and_default(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "s.csv", "id,m\na,\nb,12.5\nc,-1\nd,nan\n"), ("id",))
    problems: list[Problem] = []
    values = parse_float(table, "m", problems, "minutes", 0, np.inf, default=np.inf)
    assert values[0] == np.inf and values[1] == 12.5
    assert [(p.line, p.value) for p in problems] == [(4, "-1"), (5, "nan")]


def test_duplicate_identifier_names_both_lines(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "s.csv", "id\nA\nB\n\"A \"\n\n"), ("id",))
    problems: list[Problem] = []
    check_identifiers(table, "id", problems, "élève")
    [problem] = problems
    assert (problem.line, problem.column, problem.value) == (4, "id", "A")
    assert "ligne 2" in problem.expected


def test_empty_identifier_is_reported(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "s.csv", "id,x\nA,1\n,2\n"), ("id",))
    problems: list[Problem] = []
    check_identifiers(table, "id", problems, "élève")
    assert [(p.line, p.column) for p in problems] == [(3, "id")]


STUDENTS_CSV = (
    "student_id,school_id,lat,lon,mode,max_minutes,priority,sectors\n"
    "00123,0140052F,49.1829,-0.3707,,,oui,s14|s3\n"
    "E2,0141796B,49.19,-0.36,car,30,0,s5\n"
)


def test_xlsx_is_read_like_the_csv(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "students.csv", STUDENTS_CSV)
    frame = pd.DataFrame(
        {
            "student_id": ["00123", "E2"],
            "school_id": ["0140052F", "0141796B"],
            "lat": [49.1829, 49.19],
            "lon": [-0.3707, -0.36],
            "mode": ["", "car"],
            "max_minutes": [None, 30],
            "priority": ["oui", 0],
            "sectors": ["s14|s3", "s5"],
        }
    )
    xlsx_path = tmp_path / "students.xlsx"
    frame.to_excel(xlsx_path, index=False)
    from_csv = read_table(csv_path, REQUIRED)
    from_xlsx = read_table(xlsx_path, REQUIRED)
    assert list(from_xlsx.frame.columns) == list(from_csv.frame.columns)
    for column in ("student_id", "school_id", "mode", "sectors"):
        assert list(from_xlsx.column(column)) == list(from_csv.column(column)), column
    for column in ("lat", "lon"):
        assert np.allclose(_floats(from_xlsx, column)[0], _floats(from_csv, column)[0])
    p1: list[Problem] = []
    p2: list[Problem] = []
    mm_x = parse_float(from_xlsx, "max_minutes", p1, "m", 0, np.inf, default=np.inf)
    mm_c = parse_float(from_csv, "max_minutes", p2, "m", 0, np.inf, default=np.inf)
    assert list(mm_x) == list(mm_c) == [np.inf, 30.0]
    assert list(parse_bool(from_xlsx, "priority", p1, False)) == [True, False]
    assert p1 == [] and p2 == []
    assert list(from_xlsx.lines) == list(from_csv.lines) == [2, 3]


def test_xlsx_bad_cell_names_file_line_and_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"student_id": ["A", "B"], "school_id": ["X", "X"],
                          "lat": ["49.1", "nord"], "lon": [0.1, 0.2]})
    path = tmp_path / "students.xlsx"
    frame.to_excel(path, index=False)
    _, problems = _floats(read_table(path, REQUIRED), "lat")
    assert [(p.file, p.line, p.column, p.value) for p in problems] == [
        ("students.xlsx", 3, "lat", "nord")
    ]


def test_unreadable_xlsx_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "students.xlsx"
    path.write_bytes(b"not a workbook")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert "students.xlsx" in str(err.value)


def test_xlsx_lines_count_blank_rows_and_skip_them(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["student_id", "school_id", "lat", "lon", ""])
    sheet.append(["E1", "X", 49.5, 0])
    sheet.append([])
    sheet.append([None, " ", None, None])
    sheet.append(["E2", "X", "nord", 0, "hors colonne"])
    path = tmp_path / "s.xlsx"
    workbook.save(path)
    table = read_table(path, REQUIRED)
    assert list(table.frame.columns) == list(REQUIRED)
    assert list(table.column("student_id")) == ["E1", "E2"]
    assert list(table.lines) == [2, 5]
    _, problems = _floats(table, "lat")
    assert [(p.line, p.value) for p in problems] == [(5, "nord")]


def test_many_duplicate_identifiers_are_fast_and_all_reported(tmp_path: Path) -> None:
    rows = "".join(f"A{i % 100}\n" for i in range(20_000))
    table = read_table(_write(tmp_path / "s.csv", "id\n" + rows), ("id",))
    problems: list[Problem] = []
    check_identifiers(table, "id", problems, "élève")
    assert len(problems) == 20_000 - 100
    assert (problems[0].line, problems[0].value) == (102, "A0")
    assert "ligne 2" in problems[0].expected


# -- Issue 18: tables as coordinators save them ------------------------------------------------


def test_a_french_excel_csv_is_read_as_windows_1252(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Defect 9: French Excel's CSV (Windows-1252, `;`, decimal comma) was rejected one line
    per accented cell."""
    path = tmp_path / "s.csv"
    path.write_bytes("student_id;school_id;lat;lon;note\nE1;Hérouville;49,18;-0,37;élève "
                     "à l’heure\n".encode("cp1252"))
    with caplog.at_level("WARNING", logger="affectation.notices"):
        table = read_table(path, REQUIRED)
    assert table.column("school_id").tolist() == ["Hérouville"]
    assert table.column("note").tolist() == ["élève à l’heure"]
    assert table.decimal_comma
    assert "s.csv" in caplog.text and "Windows-1252" in caplog.text


def _book(path: Path, sheets: dict[str, list[list[object]]],
          merged: dict[str, list[str]] | None = None) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for ref in (merged or {}).get(name, []):
            sheet.merge_cells(ref)
    book.save(path)
    return path


def test_a_title_row_above_the_header_is_found(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = _book(tmp_path / "s.xlsx", {"Feuil1": [
        ["Élèves de seconde 2026", None, None, None], [None] * 4,
        ["student_id", "school_id", "lat", "lon"], ["E1", "X", 49.18, -0.37]]},
        merged={"Feuil1": ["A1:D1"]})
    with caplog.at_level("WARNING", logger="affectation.notices"):
        table = read_table(path, REQUIRED)
    assert table.header_line == 3 and table.lines.tolist() == [4]
    assert "ligne 3" in caplog.text


def test_a_header_further_down_is_hinted(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "Liste;;;\nEnvoyée le 3 juin;x;y;z\n;;;\n"
                  "student_id;school_id;lat;longitude\nE1;X;1;0\n")
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert "la ligne d'en-tête semble être la ligne 4" in err.value.message()


def test_the_sheet_is_chosen_by_name(tmp_path: Path) -> None:
    """Defect 9: data on the second sheet got no hint; `file.xlsx#Sheet` names the sheet."""
    path = _book(tmp_path / "s.xlsx", {"Notice": [["Mode d'emploi"]], "Élèves": [
        ["student_id", "school_id", "lat", "lon"], ["E1", "X", 49.18, -0.37]]})
    with pytest.raises(InputError) as err:
        read_table(path, REQUIRED)
    assert "s.xlsx#Élèves" in err.value.message()
    table = read_table(Path(f"{path}#Élèves"), REQUIRED)
    assert table.column("student_id").tolist() == ["E1"]
    with pytest.raises(InputError, match="Feuille9"):
        read_table(Path(f"{path}#Feuille9"), REQUIRED)


def test_vertically_merged_cells_are_filled_down(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Defect 9: vertically merged cells dropped offers as « lieu inconnu »."""
    path = _book(tmp_path / "o.xlsx", {"Offres": [
        ["offer_id", "employer_name", "postcode", "city", "capacity"],
        ["A", "Mairie", "14000", "Caen", 1], ["B", "Musée", None, None, 2],
        ["C", "École", None, None, 1], ["D", "Garage", "50100", "Cherbourg", 1]]},
        merged={"Offres": ["C2:C4", "D2:D4"]})
    with caplog.at_level("WARNING", logger="affectation.notices"):
        table = read_table(path, ("offer_id",))
    assert table.column("city").tolist() == ["Caen", "Caen", "Caen", "Cherbourg"]
    assert table.column("postcode").tolist() == ["14000", "14000", "14000", "50100"]
    assert "C2:C4" in caplog.text
