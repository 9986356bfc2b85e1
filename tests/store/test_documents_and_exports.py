"""Pre-filled agreements from the store (PDF text extracted back: every pre-filled field is
found), the DOCX and mail-merge routes, the offers export checked and round-tripped through
`import-offers`, and personal data found nowhere but in the store and the agreements."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pandas as pd
from store_helpers import SCHOOL_A, cli, db_url, loaded, table_rows

from affectation.synthetic.people import write_details

__all__ = ["db_url", "loaded"]


def _with_details(scenario: Path, url: str, tmp_path: Path) -> dict[str, Path]:
    paths = write_details(scenario.parent, tmp_path / "details", seed=3)
    for command, kind in (("people", "people"), ("schools", "schools"),
                          ("employers", "employers"), ("offer-details", "offers")):
        cli("campaign", command, str(paths[kind]), "--db", url)
    return paths


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return " ".join(text.split())


def test_every_prefilled_field_is_in_the_pdf(loaded: tuple[Path, str], tmp_path: Path) -> None:
    scenario, url = loaded
    paths = _with_details(scenario, url, tmp_path)
    out = tmp_path / "conventions"
    cli("campaign", "agreements", "--out", str(out), "--school", SCHOOL_A, "--db", url,
        "--jobs", "2")
    files = sorted(out.rglob("*.pdf"))
    assert len(files) == 7 and {f.parent.name for f in files} == {SCHOOL_A}
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False).set_index(
        "student_id")
    offers = pd.read_csv(paths["offers"], dtype=str, keep_default_na=False).set_index(
        "offer_id")
    employers = pd.read_csv(paths["employers"], dtype=str, keep_default_na=False).set_index(
        "employer_id")
    school = pd.read_csv(paths["schools"], dtype=str, keep_default_na=False).set_index(
        "school_id").loc[SCHOOL_A]
    s2 = [f for f in files if "-S2-" in f.name]
    assert [f.name.split("-")[-1] for f in s2] == ["B.pdf", "C.pdf"]
    for f in files:
        sid, oid = f.stem.split("-")[-2:]
        text = _pdf_text(f)
        p, o = people.loc[sid], offers.loc[oid]
        expected = [
            f"{p['first_name']} {p['last_name']}", p["birth_date"], p["class"], p["address"],
            p["rep1_name"], p["rep1_email"], p["rep1_phone"], p["teacher_name"],
            p["teacher_email"], school["head_name"], school["email"], school["address"],
            school["delegation_date"], o["title"], o["street"], o["tutor_name"],
            o["tutor_role"], o["tutor_email"], o["meals"], SCHOOL_A, sid, oid,
        ]
        employer_id = {"A": "11111111100011", "B": "22222222200022", "C": "33333333300033",
                       "P1": "44444444400044", "P2": "55555555500055"}.get(oid)
        if employer_id:
            e = employers.loc[employer_id]
            expected += [employer_id, e["representative_name"], e["representative_role"],
                         e["address"], e["email"]]
        for value in expected:
            assert " ".join(value.split()) in text, (f.name, value)
        assert "Lundi" in text and "Total de la semaine" in text
        one, two = "Du 15/06/2026 au 19/06/2026", "Du 22/06/2026 au 26/06/2026"
        dates = {"B": one, "P1": one, "C": two, "P2": two}
        assert dates.get(oid, "Du 15/06/2026 au 26/06/2026") in text
    # The bundled font carries every French character, ligatures included.
    assert "œ" in _pdf_text(files[0]) or "Œ" in _pdf_text(files[0])


def test_agreements_refuse_a_schedule_beyond_the_limits_for_minors(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    from sqlalchemy import text

    from affectation.store.db import connect, writing

    _, url = loaded
    engine = connect(url)
    with writing(engine) as conn:  # as if a file had slipped past `offer-details`
        conn.execute(text("UPDATE offer SET schedule = 'lundi 08:00-16:00' WHERE offer_id "
                          "= 'A'"))
    engine.dispose()
    res = cli("campaign", "agreements", "--out", str(tmp_path / "c"), "--db", url, code=2)
    assert "offre" in res.output and "A : lundi 08:00-16:00" in res.output
    assert "au plus 7 h par jour" in res.output and "pause" in res.output
    assert not (tmp_path / "c").exists()
    # offer-details rejects such a row with its line and reason, and keeps the others.
    sheet = tmp_path / "offres.csv"
    sheet.write_text("offer_id,schedule\nB,lun-ven 09:00-12:00 13:00-16:00\n"
                     "C,lun-sam 08:00-12:00 13:00-16:00\n", encoding="utf-8")
    res = cli("campaign", "offer-details", str(sheet), "--db", url, code=1)
    assert "ligne 3" in res.output and "35 h par semaine" in res.output
    schedules = {r[0]: r[19] for r in table_rows(url, "offer", "offer_id")}
    assert schedules["B"] == "lundi 09:00-12:00 13:00-16:00; mardi 09:00-12:00 13:00-16:00; " \
        "mercredi 09:00-12:00 13:00-16:00; jeudi 09:00-12:00 13:00-16:00; vendredi " \
        "09:00-12:00 13:00-16:00"
    assert schedules["C"] == ""


def test_docx_and_mail_merge(loaded: tuple[Path, str], tmp_path: Path) -> None:
    from docx import Document

    scenario, url = loaded
    paths = _with_details(scenario, url, tmp_path)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False).set_index(
        "student_id")
    cli("campaign", "agreements", "--format", "docx", "--out", str(tmp_path / "w"),
        "--school", SCHOOL_A, "--db", url, "--jobs", "1")
    doc = next((tmp_path / "w").rglob("*-S1-A.docx"))
    d = Document(str(doc))
    text = "\n".join(p.text for p in d.paragraphs)
    assert f"{people.loc['S1', 'first_name']} {people.loc['S1', 'last_name']}" in text
    assert "{{" not in text and "Du 15/06/2026 au 26/06/2026" in text
    cli("campaign", "agreements", "--format", "csv", "--out", str(tmp_path / "f.csv"),
        "--db", url)
    raw = (tmp_path / "f.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert len(rows) == 9
    s1 = next(r for r in rows if r["student_id"] == "S1")
    assert s1["student_full_name"] == f"{people.loc['S1', 'first_name']} " \
        f"{people.loc['S1', 'last_name']}"
    assert s1["siret"] == "11111111100011" and s1["date_range"] == "Du 15/06/2026 au 26/06/2026"
    assert json.loads(s1["daily_hours"])["lundi"][0] != ""


def test_export_offers_checked_and_round_tripped(loaded: tuple[Path, str],
                                                  tmp_path: Path) -> None:
    scenario, url = loaded
    # Without details: every offer lacks title, description, permalink...: none exported.
    res = cli("campaign", "export-offers", "--out", str(tmp_path / "o.json"), "--report",
              str(tmp_path / "r.csv"), "--db", url)
    assert "0 offre(s) exportée(s)" in res.output and "6 incomplète(s)" in res.output
    with open(tmp_path / "r.csv", encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert {(r["offer_id"], r["field"]) for r in report} >= {
        ("A", "title"), ("A", "description"), ("A", "permalink"),
        ("A", "employer_description"), ("B", "sector_uuid")}
    _with_details(scenario, url, tmp_path)
    defaults = tmp_path / "defauts.toml"
    defaults.write_text('[defaults]\nemployer_description = "{employer_name}, employeur '
                        'normand."\n', encoding="utf-8")
    res = cli("campaign", "export-offers", "--out", str(tmp_path / "o.json"), "--report",
              str(tmp_path / "r.csv"), "--defaults", str(defaults), "--db", url)
    with open(tmp_path / "r.csv", encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    missing = {(r["offer_id"], r["field"]) for r in report if r["status"] == "non exportée"}
    # B, P1, P2 and D have no sector: the platform requires one; D's employer description
    # comes from the defaults.
    assert missing == {("B", "sector_uuid"), ("P1", "sector_uuid"), ("P2", "sector_uuid"),
                       ("D", "sector_uuid")}
    bodies = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert [b["internship_offer"]["remote_id"] for b in bodies] == ["A", "C"]
    c = bodies[1]["internship_offer"]
    assert c["weeks"] == ["2026-W25", "2026-W26"] and c["period"] == 2
    assert c["grades"] == ["seconde"] and c["sector_uuid"] == "s43"
    assert len(c["title"]) <= 150 and c["permalink"].startswith("https://")
    # The store's value wins; the default fills D's (no employer: only its sector lacks).
    assert c["employer_description"].startswith("Clinique Çà accueille")
    # Round trip: importing the export gives back the same offers.
    back = tmp_path / "retour.csv"
    cli("import-offers", str(tmp_path / "o.json"), "--out", str(back))
    got = pd.read_csv(back, dtype=str, keep_default_na=False).set_index("offer_id")
    src = pd.read_csv(scenario.parent / "offers.csv", dtype=str,
                      keep_default_na=False).set_index("offer_id").loc[["A", "C"]]
    for column in ("employer_name", "capacity", "period", "sector"):
        assert list(got[column]) == list(src[column].replace("", "0") if column == "period"
                                          else src[column]), column
    assert [float(x) for x in got["lat"]] == [float(x) for x in src["lat"]]
    assert [float(x) for x in got["lon"]] == [float(x) for x in src["lon"]]


def test_personal_fields_appear_only_in_the_store_and_the_agreements(
        loaded: tuple[Path, str], tmp_path: Path) -> None:
    scenario, url = loaded
    paths = _with_details(scenario, url, tmp_path)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False)
    names = [n for n in people["last_name"]] + [n for n in people["rep1_name"]]
    sheet = tmp_path / "sig.csv"
    sheet.write_text("student_id,role,date,mode\nS1,eleve,2026-05-04,papier\n"
                     "S7,eleve,2026-05-04,papier\n", encoding="utf-8")
    out = tmp_path / "sorties"
    out.mkdir()
    printed = [
        cli("campaign", "record", str(sheet), "--db", url, "--report",
            str(out / "rejets.csv"), code=1).output,
        cli("campaign", "status", "--by", "school", "--days-before", "3", "--xlsx",
            str(out / "etat.xlsx"), "--db", url).output,
        cli("campaign", "conventions", "--out", str(out / "conventions.csv"), "--db",
            url).output,
        cli("campaign", "export-placements", "--out", str(out / "passation.csv"), "--db",
            url).output,
        cli("campaign", "export-offers", "--out", str(out / "offres.json"), "--report",
            str(out / "offres.csv"), "--db", url).output,
        cli("campaign", "load", str(tmp_path / "run1"), "--report", str(out / "diff.csv"),
            "--db", url).output,
    ]
    xlsx = subprocess.run(["unzip", "-p", str(out / "etat.xlsx")], capture_output=True,
                          check=False).stdout.decode("utf-8", "replace")
    written = "\n".join(p.read_text(encoding="utf-8") for p in out.iterdir()
                        if p.suffix != ".xlsx") + xlsx
    for name in names:
        assert name not in written and all(name not in p for p in printed), name
    # The event history names pupils by their pseudonymous id only.
    history = " ".join(str(r) for r in table_rows(url, "event", "id"))
    assert all(n not in history for n in names)
    # Yet the agreements carry them.
    cli("campaign", "agreements", "--format", "csv", "--out", str(tmp_path / "m.csv"),
        "--db", url)
    assert people["last_name"].iloc[0] in (tmp_path / "m.csv").read_text(encoding="utf-8")
