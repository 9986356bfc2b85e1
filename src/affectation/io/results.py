"""Reading a result folder back: its `assignments.csv` mapped onto the current instance.

One reader for every command that starts from a previous result (`explain`, `suggest`,
`mobilise`, `repair`). Strict by default: a pupil or an offer the instance does not know is an
input error. `changed=True` (repair) accepts a result of the same campaign whose inputs have
since changed: rows of pupils no longer in the pupils file are kept aside (`removed`), offer
ids no longer in the offers file become `GONE`; a file whose pupils are mostly unknown is not
a result of this campaign.

Either way the file must be whole (our writer always ends it with a line break, every row has
the header's eight fields, and the rows are as many as summary.json's `students`) and of this
campaign: the scenario's name in summary.json, and most rows' pupils at the school
students.csv gives them (or, for pupils since removed, at a school it knows). Inputs may have
changed since: a repair follows changes.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectation.domain.allocation import GONE, PreviousResult
from affectation.domain.instance import Instance
from affectation.errors import InputError, Problem
from affectation.io.output import ASSIGNMENT_COLUMNS
from affectation.io.tables import read_table

# A previous result whose listed pupils are mostly unknown is not a result of this campaign.
MIN_KNOWN_SHARE = 0.5


def assignments_path(result_dir: Path) -> Path:
    """`RESULT_DIR/assignments.csv`; an `InputError` when the folder has none."""
    path = Path(result_dir) / "assignments.csv"
    if not path.is_file():
        raise InputError([Problem(
            str(result_dir), "un dossier de résultats d'« affectation solve » ou "
            "« affectation repair » (assignments.csv absent)")])
    return path


def read_assignments(instance: Instance, path: Path, changed: bool = False) -> PreviousResult:
    """Read `assignments.csv` at `path` (see the module docstring for `changed`)."""
    _check_whole(Path(path))
    table = read_table(path, ASSIGNMENT_COLUMNS)
    frame = table.frame
    st, of = instance.students, instance.offers
    student_of = {sid: i for i, sid in enumerate(st.ids)}
    offer_of = {oid: j for j, oid in enumerate(of.ids)}
    ids = frame["student_id"].tolist()
    rows = [student_of.get(sid, -1) for sid in ids]
    _check_campaign(instance, Path(path), table.file, rows, frame["school_id"].tolist())
    if changed:
        known = sum(r >= 0 for r in rows)
        if not ids or known < MIN_KNOWN_SHARE * len(ids):
            raise InputError([Problem(
                table.file, f"un résultat de cette campagne : {len(ids) - known} élève(s) sur "
                f"{len(ids)} inconnu(s) du fichier des élèves actuel ({st.n} élèves)",
                column="student_id", value=str(ids[0]) if ids else None)])
    allocation = np.full((st.n, 2), -1, dtype=np.int64)
    text = np.full((st.n, 2), "", dtype=object)
    kind = np.full(st.n, "", dtype=object)
    reason = np.full(st.n, "", dtype=object)
    listed = np.zeros(st.n, dtype=bool)
    removed: list[tuple[str, str, str]] = []
    problems: list[Problem] = []
    w_text = [frame["week1_offer_id"].tolist(), frame["week2_offer_id"].tolist()]
    kinds, reasons = frame["kind"].tolist(), frame["reason"].tolist()
    for r, i in enumerate(rows):
        line = int(table.lines[r])
        if i < 0 and changed:
            removed.append((str(ids[r]), str(w_text[0][r]), str(w_text[1][r])))
            continue
        if i < 0 or listed[i]:
            expected = "un élève du scénario" if i < 0 else "un élève listé une seule fois"
            problems.append(Problem(table.file, expected, line, "student_id", str(ids[r])))
            continue
        listed[i] = True
        kind[i] = kinds[r]
        reason[i] = reasons[r]
        for w in (0, 1):
            oid = w_text[w][r]
            text[i, w] = oid
            if not oid:
                continue
            j = offer_of.get(oid)
            if j is not None:
                allocation[i, w] = j
            elif changed:
                allocation[i, w] = GONE
            else:
                problems.append(Problem(table.file, "une offre du scénario", line,
                                        f"week{w + 1}_offer_id", oid))
    if problems:
        raise InputError(problems)
    return PreviousResult(allocation=allocation, offer_text=text, kind=kind, reason=reason,
                          listed=listed, removed=tuple(removed))


def _check_whole(path: Path) -> None:
    """The file as our writer leaves it: ended by a line break, every row of the header's
    width (a cut file has a short last row, or none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return  # read_table reports it with its place
    file = path.name
    cut = "fichier tronqué ? relancez « affectation solve » ou reprenez une copie entière"
    if text and not text.endswith("\n"):
        raise InputError([Problem(file, f"un fichier complet : la dernière ligne n'est pas "
                                  f"terminée ({cut})", line=text.count("\n") + 1)])
    reader = csv.reader(io.StringIO(text, newline=""))
    width = len(ASSIGNMENT_COLUMNS)
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if row and len(row) != width:
                raise InputError([Problem(file, f"une ligne de {width} champs, trouvé "
                                          f"{len(row)} ({cut})", line=start)])
    except csv.Error:
        return  # read_table reports it with its place


def _check_campaign(instance: Instance, path: Path, file: str, rows: list[int],
                    schools: list[str]) -> None:
    """The result is of this campaign (module docstring); an `InputError` otherwise."""
    st = instance.students
    summary_path = path.parent / "summary.json"
    if summary_path.is_file():
        summary = read_summary(summary_path, {"scenario": str, "students": int})
        if summary["students"] != len(rows):
            raise InputError([Problem(file, f"autant d'élèves que summary.json en annonce "
                                      f"({summary['students']}) : {len(rows)} listé(s) "
                                      "(fichier tronqué ou modifié ?)")])
        if summary["scenario"] != instance.scenario.name:
            raise InputError([Problem(str(summary_path), f"un résultat de cette campagne : "
                                      f"il est de « {summary['scenario']} », ce scénario est "
                                      f"« {instance.scenario.name} »", column="scenario")])
    if not rows:
        return
    known_schools = set(st.school.tolist())
    fits = sum((school == st.school[i]) if i >= 0 else (school in known_schools)
               for i, school in zip(rows, schools, strict=True))
    if fits < MIN_KNOWN_SHARE * len(rows):
        raise InputError([Problem(file, f"un résultat de cette campagne : {len(rows) - fits} "
                                  f"élève(s) sur {len(rows)} y ont un autre établissement "
                                  "(school_id) que dans le fichier des élèves actuel",
                                  column="school_id")])


REPORT_FILES = ("summary.json", "assignments.csv", "indicators.csv")
# What the report reads from summary.json, and the type each must have.
REPORT_SUMMARY = {"scenario": str, "students_to_place": int, "placed_full": int,
                  "placed_partial": int, "unplaced": int, "priority_students": int,
                  "priority_placed_full": int, "upper_bound_full": int, "solver_status": str}
REPORT_INDICATORS = ("territory_type", "territory", "label", "students", "placed_full",
                     "rate_full", "priority_students", "priority_placed_full",
                     "seats_within_reach", "median_minutes")


def read_summary(path: Path, required: dict[str, type] | None = None) -> dict[str, Any]:
    """A result folder's `summary.json`; an `InputError` when it is not a JSON object of
    ours (a corrupt or truncated file, a key the caller needs missing or of the wrong type)."""
    file = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([Problem(file, "un fichier summary.json (relancez « affectation "
                                  "solve »)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(file, f"un fichier lisible en UTF-8 ({exc})")]) from None
    except json.JSONDecodeError as exc:
        raise InputError([Problem(file, f"un JSON valide ({exc.msg}) : fichier abîmé ou "
                                  "tronqué, relancez « affectation solve »",
                                  line=exc.lineno, column=str(exc.colno))]) from None
    if not isinstance(data, dict):
        raise InputError([Problem(file, "un objet JSON (le résumé d'un résultat)")])
    problems = []
    for key, kind in (required or {}).items():
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            what = "un entier" if kind is int else "un texte"
            problems.append(Problem(file, f"la clé « {key} » ({what}) : fichier abîmé ou "
                                    "d'une autre version", column=key,
                                    value=None if value is None else str(value)))
    if problems:
        raise InputError(problems)
    return data


def read_report_tables(result_dir: Path) -> dict[str, Any]:
    """The tables the report (`views.report`) needs, checked; an `InputError` naming any
    missing, corrupt or incomplete file."""
    result_dir = Path(result_dir)
    missing = [n for n in REPORT_FILES if not (result_dir / n).is_file()]
    if missing:
        raise InputError([Problem(str(result_dir / n), "un fichier du dossier de résultats "
                                  "(relancez « affectation solve »)") for n in missing])
    summary = read_summary(result_dir / "summary.json", REPORT_SUMMARY)
    assignments = read_table(result_dir / "assignments.csv", ASSIGNMENT_COLUMNS).frame
    indicators = read_table(result_dir / "indicators.csv", REPORT_INDICATORS)
    frame = indicators.frame
    problems = []
    if not (frame["territory_type"] == "region").any():
        problems.append(Problem(indicators.file, "une ligne territory_type = region (fichier "
                                "abîmé : relancez « affectation solve »)"))
    numbers = pd.to_numeric(frame["rate_full"], errors="coerce")
    for row in np.flatnonzero(numbers.isna().to_numpy()):
        problems.append(Problem(indicators.file, "un taux entre 0 et 1",
                                line=int(indicators.lines[row]), column="rate_full",
                                value=str(frame["rate_full"].iat[row])))
    if problems:
        raise InputError(problems)
    mobilisation = (read_table(result_dir / "mobilisation.csv", ()).frame
                    if (result_dir / "mobilisation.csv").is_file() else None)
    return {"summary": summary, "assignments": assignments, "indicators": frame,
            "mobilisation": mobilisation}
