"""Helpers and fixtures of the campaign store's tests: every store test runs on SQLite and
on a real PostgreSQL (`AFFECTATION_TEST_POSTGRES_URL`, set by .ci/run after
scripts/start_postgres.sh; a fresh database per test), and a small campaign built by hand
(no solve needed: results are written as assignments.csv)."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import make_scenario, near

from affectation.cli import main

PG_ENV = "AFFECTATION_TEST_POSTGRES_URL"
SCHOOL_A, SCHOOL_B = "0140052F", "0140013N"


def _postgres_database() -> Iterator[str]:
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL absent : {PG_ENV} non défini (.ci/run en démarre un avec "
                    "scripts/start_postgres.sh)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - a server we cannot use: say why, skip
        admin.dispose()
        pytest.skip(f"PostgreSQL inutilisable ({exc.__class__.__name__}: {exc})")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL that does not exist yet: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'campagne.sqlite'}"
    else:
        yield from _postgres_database()


STUDENTS = [
    {"student_id": "S1"}, {"student_id": "S2"}, {"student_id": "S3"},
    {"student_id": "S4", "priority": True}, {"student_id": "S5"},
    {"student_id": "S6", "school_id": SCHOOL_B}, {"student_id": "S7", "school_id": SCHOOL_B},
    {"student_id": "S8", "school_id": SCHOOL_B}, {"student_id": "S9", "status": "exempt"},
]
OFFERS = [
    {"offer_id": "A", "employer_id": "11111111100011", "employer_name": "Atelier Bœuf",
     "capacity": 3, "sector": "s12", **near(0.01)},
    {"offer_id": "B", "employer_id": "22222222200022", "employer_name": "Boulangerie Noël",
     "capacity": 2, "period": 1},
    {"offer_id": "C", "employer_id": "33333333300033", "employer_name": "Clinique Çà",
     "capacity": 2, "period": 2, "sector": "s43"},
    {"offer_id": "P1", "employer_id": "44444444400044", "employer_name": "Port Est",
     "capacity": 2, "pair_id": "M1"},
    {"offer_id": "P2", "employer_id": "55555555500055", "employer_name": "Port Ouest",
     "capacity": 2, "pair_id": "M1"},
    {"offer_id": "D", "employer_name": "Dépôt", "capacity": 2, "reserved": True},
]
# student -> (week 1, week 2, kind) of the first result.
FIRST = {"S1": ("A", "A", "single"), "S2": ("B", "C", "split"),
         "S3": ("P1", "P2", "mutualised"), "S4": ("D", "D", "single"),
         "S5": ("B", "", "partial"), "S6": ("A", "A", "single"), "S7": ("", "", "unplaced"),
         "S8": ("A", "A", "single"), "S9": ("", "", "exempt")}


def campaign_scenario(tmp_path: Path, **kwargs: Any) -> Path:
    return make_scenario(tmp_path, STUDENTS, OFFERS, name="essai", **kwargs)


def write_result(folder: Path, placements: dict[str, tuple[str, str, str]],
                 order: list[str] | None = None) -> Path:
    """A result folder whose assignments.csv holds `placements` (student -> w1, w2, kind)."""
    folder.mkdir(parents=True, exist_ok=True)
    schools = {s["student_id"]: s.get("school_id", SCHOOL_A) for s in STUDENTS}
    with open(folder / "assignments.csv", "w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(["student_id", "school_id", "week1_offer_id", "week2_offer_id",
                    "week1_minutes", "week2_minutes", "kind", "reason"])
        for sid in order or list(placements):
            a, b, kind = placements[sid]
            w.writerow([sid, schools[sid], a, b, "10.0" if a else "", "10.0" if b else "",
                        kind, ""])
    return folder


def cli(*args: str, code: int | None = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result


@pytest.fixture
def loaded(tmp_path: Path, db_url: str) -> tuple[Path, str]:
    """The small campaign initialised in `db_url` and its first result loaded."""
    scenario = campaign_scenario(tmp_path)
    cli("campaign", "init", str(scenario), "--db", db_url)
    cli("campaign", "load", str(write_result(tmp_path / "run1", FIRST)), "--db", db_url)
    return scenario, db_url


def table_rows(db_url: str, table: str, order: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    from affectation.store.db import connect

    engine = connect(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY "
                                                        f"{order}")).all()]
    finally:
        engine.dispose()


def agreements(db_url: str) -> dict[tuple[str, str], tuple[bool, bool, str]]:
    """(student, offer) -> (week1, week2, state) of every agreement not cancelled."""
    rows = table_rows(db_url, "agreement", "id")
    return {(r[1], r[2]): (bool(r[3]), bool(r[4]), r[5]) for r in rows if r[5] != "annulee"}
