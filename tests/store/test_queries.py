"""The campaign store on SQLite and PostgreSQL: migrations, init, load, the agreement
lifecycle and its refusals, record, status, conventions, exports and purge."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text
from store_helpers import (
    FIRST,
    SCHOOL_A,
    SCHOOL_B,
    agreements,
    campaign_scenario,
    cli,
    db_url,
    loaded,
    table_rows,
    write_result,
)

from affectation.store.db import connect, downgrade, reading, upgrade, writing

__all__ = ["db_url", "loaded"]  # fixtures


def events(url: str) -> list[tuple[int, str | None, str, str]]:
    """(agreement id, from, to, detail) of every event, in order."""
    return [(r[1], r[4], r[5], r[6]) for r in table_rows(url, "event", "id")]


def test_migrations_create_exactly_the_schema_and_go_back(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from affectation.store.schema import metadata

    engine = connect(db_url, must_exist=False)
    with writing(engine) as conn:
        upgrade(conn)
    with reading(engine) as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    with writing(engine) as conn:
        downgrade(conn, "base")
    with reading(engine) as conn:
        names = set(conn.dialect.get_table_names(conn))
        assert names <= {"alembic_version"}
    engine.dispose()


def test_init_records_the_scenario_and_its_signed_conventions(tmp_path: Path,
                                                              db_url: str) -> None:
    scenario = campaign_scenario(tmp_path, conventions=[{"student_id": "S8", "offer_id": "A"}])
    out = cli("campaign", "init", str(scenario), "--db", db_url).output
    assert "9 élèves" in out and "6 offres" in out and "1 convention(s) signée(s)" in out
    assert agreements(db_url) == {("S8", "A"): (True, True, "signee")}
    signatures = table_rows(db_url, "signature", "role")
    assert sorted(r[1] for r in signatures) == ["eleve", "employeur", "etablissement",
                                                "representant_legal"]
    assert {r[3] for r in signatures} == {"hors_outil"}
    schools = {r[0]: r[1] for r in table_rows(db_url, "school", "uai")}
    assert set(schools) == {SCHOOL_A, SCHOOL_B} and "MALHERBE" in schools[SCHOOL_B]
    # A second init on the same store is refused, the store unchanged.
    again = cli("campaign", "init", str(scenario), "--db", db_url, code=2)
    assert "contient déjà la campagne" in again.output


def test_load_gives_one_agreement_per_firm_and_week(loaded: tuple[Path, str]) -> None:
    _, url = loaded
    assert agreements(url) == {
        ("S1", "A"): (True, True, "proposee"),
        ("S2", "B"): (True, False, "proposee"), ("S2", "C"): (False, True, "proposee"),
        ("S3", "P1"): (True, False, "proposee"), ("S3", "P2"): (False, True, "proposee"),
        ("S4", "D"): (True, True, "proposee"), ("S5", "B"): (True, False, "proposee"),
        ("S6", "A"): (True, True, "proposee"), ("S8", "A"): (True, True, "proposee")}
    placements = table_rows(url, "placement", "student_id, week")
    assert len(placements) == 2 * 6 + 1
    evs = events(url)
    assert len(evs) == 9 and all(f is None and to == "proposee" for _, f, to, _ in evs)


def signature_sheet(path: Path, rows: list[tuple[str, ...]],
                    header: tuple[str, ...] = ("student_id", "role", "date", "mode")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def test_each_transition_writes_its_event_and_four_signatures_sign(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    _, url = loaded
    cli("campaign", "send", "--student", "S1", "--db", url)
    assert agreements(url)[("S1", "A")][2] == "envoyee"
    sheet = signature_sheet(tmp_path / "s.csv", [
        ("S1", "etablissement", "2026-05-04", "papier"),
        ("S1", "employeur", "05/05/2026", "électronique"),
        ("S1", "Élève", "2026-05-06", "papier"),
    ])
    cli("campaign", "record", str(sheet), "--db", url)
    assert agreements(url)[("S1", "A")][2] == "envoyee"
    last = signature_sheet(tmp_path / "t.csv", [("S1", "representant_legal", "2026-05-07",
                                                 "hors outil")])
    out = cli("campaign", "record", str(last), "--db", url).output
    assert "1 convention(s) désormais signée(s)" in out
    assert agreements(url)[("S1", "A")][2] == "signee"
    aid = next(r[0] for r in table_rows(url, "agreement", "id") if r[1] == "S1")
    mine = [(f, to) for a, f, to, _ in events(url) if a == aid]
    assert mine == [(None, "proposee"), ("proposee", "envoyee"), ("envoyee", "envoyee"),
                    ("envoyee", "envoyee"), ("envoyee", "envoyee"), ("envoyee", "signee")]
    # A fifth signature is refused: every role signed once.
    fifth = signature_sheet(tmp_path / "u.csv", [("S1", "eleve", "2026-05-08", "papier")])
    res = cli("campaign", "record", str(fifth), "--db", url, code=1)
    assert "ligne 2" in res.output and "chaque partie signe une seule fois" in res.output
    assert len([e for e in events(url) if e[0] == aid]) == 6


def test_signing_a_cancelled_agreement_is_refused(loaded: tuple[Path, str],
                                                  tmp_path: Path) -> None:
    _, url = loaded
    cli("campaign", "cancel", "S6", "--reason", "déménagement", "--db", url)
    assert ("S6", "A") not in agreements(url)
    again = cli("campaign", "cancel", "S6", "--reason", "x", "--db", url, code=2)
    assert "aucune convention en cours" in again.output
    sheet = signature_sheet(tmp_path / "s.csv", [("S6", "eleve", "2026-05-04", "papier")])
    res = cli("campaign", "record", str(sheet), "--db", url, code=1)
    assert "annulée et ne peut pas être signée" in res.output
    assert not [r for r in table_rows(url, "signature", "role")
                if r[0] in {a[0] for a in table_rows(url, "agreement", "id") if a[1] == "S6"}]
    ev = [e for e in events(url) if e[2] == "annulee"]
    assert len(ev) == 1 and ev[0][1] == "proposee" and "déménagement" in ev[0][3]


def test_record_rejects_bad_rows_applies_the_rest_and_is_idempotent(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    _, url = loaded
    sheet = signature_sheet(tmp_path / "ecole.csv", [
        ("S1", "eleve", "2026-05-04", "papier"),                # 2 applied
        ("S2", "eleve", "2026-05-04", "papier"),                # 3 two agreements: ambiguous
        ("S2", "eleve", "2026-05-04", "papier", "C", ""),       # 4 applied (offer given)
        ("S3", "employeur", "2026-05-04", "papier", "", "2"),   # 5 applied (week given)
        ("INCONNU", "eleve", "2026-05-04", "papier"),           # 6 unknown pupil
        ("S4", "directeur", "2026-05-04", "papier"),            # 7 unknown role
        ("S4", "eleve", "le 4 mai", "papier"),                  # 8 bad date
        ("S4", "eleve", "2026-05-04", "fax"),                   # 9 bad mode
        ("S4", "eleve", "2099-05-04", "papier"),                # 10 future date
        ("S7", "eleve", "2026-05-04", "papier"),                # 11 no agreement
        ("S1", "eleve", "2026-05-05", "papier"),                # 12 signed already
    ], header=("student_id", "role", "date", "mode", "offer_id", "week"))
    before = table_rows(url, "signature", "agreement_id, role")
    res = cli("campaign", "record", str(sheet), "--db", url, "--report",
              str(tmp_path / "rejets.csv"), code=1)
    assert "3 signature(s) enregistrée(s)" in res.output and "8 ligne(s) rejetée(s)" in res.output
    with open(tmp_path / "rejets.csv", encoding="utf-8") as handle:
        rejected = {int(r["line"]): r for r in csv.DictReader(handle)}
    assert sorted(rejected) == [3, 6, 7, 8, 9, 10, 11, 12]
    assert rejected[3]["column"] == "offer_id" and "préciser offer_id" in rejected[3]["reason"]
    assert rejected[7]["column"] == "role" and rejected[9]["column"] == "mode"
    assert rejected[10]["column"] == "date" and "une seule fois" in rejected[12]["reason"]
    after = table_rows(url, "signature", "agreement_id, role")
    assert len(after) == len(before) + 3
    n_events = len(events(url))
    # Applied twice: nothing changes.
    res2 = cli("campaign", "record", str(sheet), "--db", url, code=1)
    assert "0 signature(s) enregistrée(s), 3 déjà connue(s)" in res2.output
    assert table_rows(url, "signature", "agreement_id, role") == after
    assert len(events(url)) == n_events
    # Another school's pupils are refused with --school.
    other = signature_sheet(tmp_path / "b.csv", [("S6", "eleve", "2026-05-04", "papier")])
    res3 = cli("campaign", "record", str(other), "--school", SCHOOL_A, "--db", url, code=1)
    assert f"relève de {SCHOOL_B}" in res3.output


def test_a_record_file_that_cannot_be_read_changes_nothing(loaded: tuple[Path, str],
                                                           tmp_path: Path) -> None:
    _, url = loaded
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,role\nS1,eleve\n", encoding="utf-8")
    before = table_rows(url, "event", "id")
    res = cli("campaign", "record", str(bad), "--db", url, code=2)
    assert "date" in res.output and "mode" in res.output
    assert table_rows(url, "event", "id") == before


def test_load_keeps_sent_and_signed_agreements_and_reports_differences(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    _, url = loaded
    cli("campaign", "send", "--student", "S1", "--student", "S2", "--db", url)
    sheet = signature_sheet(tmp_path / "s.csv", [
        ("S6", r, "2026-05-04", "papier")
        for r in ("etablissement", "employeur", "eleve", "representant_legal")])
    cli("campaign", "record", str(sheet), "--db", url)
    second = dict(FIRST)
    second.update({"S1": ("P1", "P2", "mutualised"), "S2": ("A", "A", "single"),
                   "S3": ("A", "A", "single"), "S6": ("", "", "unplaced"),
                   "S7": ("C", "C", "single")})
    res = cli("campaign", "load", str(write_result(tmp_path / "run2", second)), "--db", url,
              "--report", str(tmp_path / "diff.csv"))
    got = agreements(url)
    # Sent (S1, S2) and signed (S6) are kept whatever the run says.
    assert got[("S1", "A")] == (True, True, "envoyee")
    assert got[("S2", "B")][2] == "envoyee" and got[("S2", "C")][2] == "envoyee"
    assert got[("S6", "A")] == (True, True, "signee")
    assert ("S1", "P1") not in got and ("S2", "A") not in got
    # Proposed ones follow the run: S3's mutualised pair replaced by A.
    assert got[("S3", "A")] == (True, True, "proposee") and ("S3", "P1") not in got
    assert got[("S7", "C")] == (True, True, "proposee")
    assert "3 élève(s) dont la convention envoyée ou signée est conservée" in res.output
    with open(tmp_path / "diff.csv", encoding="utf-8") as handle:
        diff = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert set(diff) == {"S1", "S2", "S6"}
    assert "envoyée" in diff["S1"]["conservee"] and "P1" in diff["S1"]["le_run_propose"]
    assert diff["S6"]["le_run_propose"] == "aucun stage"
    replaced = [e for e in events(url) if e[2] == "annulee"]
    assert len(replaced) == 2 and all("remplacée par le run 2" in e[3] for e in replaced)


def test_status_counts_and_pupils_unsigned_before_the_first_week(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    _, url = loaded
    sheet = signature_sheet(tmp_path / "s.csv", [
        ("S1", r, d, "papier") for r, d in (("etablissement", "2026-05-04"),
                                            ("employeur", "2026-05-04"),
                                            ("eleve", "2026-06-01"),
                                            ("representant_legal", "2026-06-10"))])
    cli("campaign", "record", str(sheet), "--db", url)
    cli("campaign", "send", "--school", SCHOOL_B, "--db", url)
    res = cli("campaign", "status", "--by", "school", "--db", url, "--xlsx",
              str(tmp_path / "etat.xlsx"))
    lines = {ln.split()[0]: ln.split() for ln in res.output.splitlines() if ln[:2] == "01"}
    # School A: S1..S5 to place (S9 exempt); S1 signed; 6 agreements (S1 signee).
    a = lines[SCHOOL_A]
    assert a[-8:] == ["5", "4", "1", "6", "0", "0", "1", "0"]
    b = lines[SCHOOL_B]
    assert b[-8:] == ["3", "2", "0", "0", "2", "0", "0", "0"]
    # S1's last signature is dated 10/06: 10 days before the 15/06 Monday it was not signed.
    ten = cli("campaign", "status", "--days-before", "10", "--db", url).output
    assert "8 élève(s) sans convention signée" in ten
    four = cli("campaign", "status", "--days-before", "4", "--db", url).output
    assert "7 élève(s) sans convention signée" in four
    from openpyxl import load_workbook

    book = load_workbook(tmp_path / "etat.xlsx")
    assert book.sheetnames == ["etat"]


def test_conventions_files_and_the_engine_keeps_pending_agreements(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    scenario, url = loaded
    cli("campaign", "send", "--student", "S2", "--db", url)
    sheet = signature_sheet(tmp_path / "s.csv", [
        ("S3", r, "2026-05-04", "papier")
        for r in ("etablissement", "employeur", "eleve", "representant_legal")])
    cli("campaign", "record", str(sheet), "--db", url, "--", code=None)
    cli("campaign", "record", str(sheet), "--db", url, code=1)  # S3 has two: ambiguous
    sheet = signature_sheet(tmp_path / "s2.csv", [
        ("S3", r, "2026-05-04", "papier", "P1", "") for r in
        ("etablissement", "employeur", "eleve", "representant_legal")],
        header=("student_id", "role", "date", "mode", "offer_id", "week"))
    cli("campaign", "record", str(sheet), "--db", url)
    out = scenario.parent / "conventions.csv"
    cli("campaign", "conventions", "--out", str(out), "--db", url)
    with open(out, encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [{"student_id": "S3", "offer_id": "P1",
                                                 "week": "1"}]
    with open(scenario.parent / "conventions-en-cours.csv", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [
            {"student_id": "S2", "offer_id": "B", "week": "1"},
            {"student_id": "S2", "offer_id": "C", "week": "2"}]
    # The scenario names both files: the engine fixes signed and pending weeks alike.
    from affectation.io.inputs import read_instance
    from affectation.io.scenario import load_scenario

    text_ = scenario.read_text(encoding="utf-8").replace(
        'offers = "offers.csv"', 'offers = "offers.csv"\nconventions = "conventions.csv"\n'
        'pending = "conventions-en-cours.csv"')
    scenario.write_text(text_, encoding="utf-8")
    inst = read_instance(load_scenario(scenario))
    ids = list(inst.students.ids)
    fixed = {ids[s]: tuple(inst.offers.ids[o] if o >= 0 else "" for o in inst.fixed[s])
             for s in range(len(ids))}
    assert fixed["S3"] == ("P1", "P2") and fixed["S2"] == ("B", "C")
    assert fixed["S1"] == ("", "")
    assert inst.conventions.pending is not None and inst.conventions.pending.sum() == 2
    freed = scenario.read_text(encoding="utf-8") + "\n[repair]\nfree_pending = true\n"
    scenario.write_text(freed, encoding="utf-8")
    inst = read_instance(load_scenario(scenario))
    assert (inst.fixed[ids.index("S2")] == -1).all()
    assert (inst.fixed[ids.index("S3")] >= 0).all()


def test_export_placements_is_pseudonymous(loaded: tuple[Path, str], tmp_path: Path) -> None:
    _, url = loaded
    out = tmp_path / "passation.csv"
    cli("campaign", "export-placements", "--out", str(out), "--db", url)
    with open(out, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 9
    s2 = [r for r in rows if r["student_id"] == "S2"]
    assert [(r["offer_id"], r["weeks"], r["date_range"]) for r in s2] == [
        ("B", "2026-W25", "Du 15/06/2026 au 19/06/2026"),
        ("C", "2026-W26", "Du 22/06/2026 au 26/06/2026")]
    assert s2[0]["employer_id"] == "22222222200022" and s2[0]["state"] == "proposee"


def test_purge_removes_personal_data_and_keeps_statistics(loaded: tuple[Path, str],
                                                          tmp_path: Path) -> None:
    _, url = loaded
    people = tmp_path / "eleves.csv"
    people.write_text("student_id,last_name,first_name\nS1,Lefèvre,Éloïse\n",
                      encoding="utf-8")
    cli("campaign", "people", str(people), "--db", url)
    assert table_rows(url, "person", "student_id")[0][1] == "Lefèvre"
    before = cli("campaign", "status", "--db", url).output
    cli("campaign", "purge", "--yes", "--db", url)
    assert table_rows(url, "person", "student_id") == []
    assert cli("campaign", "status", "--db", url).output == before
    res = cli("campaign", "agreements", "--out", str(tmp_path / "c"), "--db", url, code=2)
    assert "purgées" in res.output


def test_commands_on_a_missing_store_fail_clearly(tmp_path: Path) -> None:
    res = cli("campaign", "status", "--db", str(tmp_path / "absent.sqlite"), code=2)
    assert "campaign init" in res.output
    assert not (tmp_path / "absent.sqlite").exists()


def test_the_pupils_of_a_school_are_one_indexed_query(loaded: tuple[Path, str]) -> None:
    from affectation.store.queries import pupils_of_school

    _, url = loaded
    engine = connect(url)
    with reading(engine) as conn:
        assert pupils_of_school(conn, SCHOOL_B) == ["S6", "S7", "S8"]
        indexes = conn.dialect.get_indexes(conn, "pupil")
        assert any(ix["column_names"] == ["school_uai"] for ix in indexes)
        # The database itself refuses two live agreements of one pupil in one week.
        with pytest.raises(Exception), conn.begin_nested():  # noqa: B017 - either driver
            conn.execute(text("INSERT INTO agreement (student_id, offer_id, week1, week2, "
                                  "state, created_at, updated_at) VALUES ('S1', 'B', true, "
                                  "false, 'proposee', '2026-01-01', '2026-01-01')"))
    engine.dispose()
