"""Importing offers and pupils (importing.py): hand-checked fixtures
in the national platform's documented shape, a regional v1 sheet and a federation's sheet read
through a column mapping; every record accounted for (hypothesis)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, make_scenario, solve_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.cli import main
from affectation.errors import InputError
from affectation.geodata import load_communes
from affectation.intake.offers import KEPT, MERGED, REJECTED, import_offers
from affectation.intake.places import Places
from affectation.intake.pupils import import_students
from affectation.intake.sources import Source, parse_source
from affectation.io.inputs import read_offers, read_students
from affectation.io.scenario import load_scenario

IMPORT = FIXTURES / "import"
WEEKS = ("2026-W25", "2026-W26")
PLACES = Places()


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def all_sources() -> list[Source]:
    return [Source(IMPORT / "platform.json"), Source(IMPORT / "regional.csv"),
            Source(IMPORT / "federation.csv", IMPORT / "federation.toml")]


# --------------------------------------------------------------------------
# Offers: the fixtures, hand-checked
# --------------------------------------------------------------------------

def test_platform_alone_hand_checked():
    result = import_offers([Source(IMPORT / "platform.json")], default_capacity=1,
                           weeks=WEEKS, places=PLACES)
    status = {r.source_id: r for r in result.report}
    assert [r.status for r in result.report] == [
        KEPT, KEPT, REJECTED, REJECTED, KEPT, REJECTED, REJECTED, KEPT, KEPT]
    assert status["103"].field == "grades" and "troisieme" in status["103"].reason
    assert status["104"].field == "weeks" and "2026-W24" in status["104"].reason
    assert status["106"].reason.startswith("lieu inconnu")
    assert status["107"].field == "lat" and "quarante-neuf" in status["107"].reason
    offers = {r["offer_id"]: r for r in rows_of(result.offers_csv())}
    assert list(offers) == ["101", "102", "105", "108", "109"]
    assert offers["101"] == {
        "offer_id": "101", "employer_id": "", "employer_name": "Transports Exemple SAS",
        "lat": "49.1829", "lon": "-0.3707", "capacity": "3", "period": "0", "sector": "s34",
        "reserved": "0", "accessible": "0", "pair_id": "", "min_group": ""}
    # Missing max_candidates: the default, said in the report; accented upper-case sector.
    assert (offers["102"]["capacity"], offers["102"]["sector"], offers["102"]["period"]) \
        == ("1", "s26", "1")
    assert "capacité absente : 1 par défaut" in status["102"].notes
    # No coordinates: Vire Normandie's centroid, approximate; qpv -> reserved.
    vire = load_communes().set_index("insee").loc["14762"]
    assert (float(offers["105"]["lat"]), float(offers["105"]["lon"])) == (vire.lat, vire.lon)
    assert "position approchée" in status["105"].notes
    assert (offers["105"]["reserved"], offers["105"]["accessible"]) == ("1", "1")
    # Unknown sector: kept without it; rep -> reserved; period 2 stays.
    assert (offers["108"]["sector"], offers["108"]["reserved"], offers["108"]["period"]) \
        == ("", "1", "2")
    assert "secteur inconnu « Astronautique »" in status["108"].notes
    assert "capacité par défaut : 1 (1 offre(s))" in result.summary()


def test_missing_capacity_without_default_is_rejected_with_the_option_named():
    result = import_offers([Source(IMPORT / "platform.json")], weeks=WEEKS, places=PLACES)
    row = next(r for r in result.report if r.source_id == "102")
    assert row.status == REJECTED and row.field == "capacity"
    assert "--default-capacity" in row.reason
    assert "capacité par défaut : aucune" in result.summary()


def test_three_sources_deduplicated_hand_checked():
    result = import_offers(all_sources(), default_capacity=1, weeks=WEEKS, places=PLACES)
    by = {(r.source, r.source_id): r for r in result.report}
    assert (result.count(KEPT), result.count(MERGED), result.count(REJECTED)) == (9, 4, 5)
    # Slightly different names across sources: merged, with the evidence.
    dm1 = by["regional.csv", "DM-001"]
    assert (dm1.status, dm1.offer_id) == (MERGED, "101")
    assert dm1.evidence == "nom « transports exemple » ; 50 m ; semaines 2026-W25, 2026-W26"
    dm2 = by["regional.csv", "DM-002"]
    assert (dm2.status, dm2.offer_id) == (MERGED, "102")
    assert "similarité 0.94" in dm2.evidence and "semaines 2026-W25" in dm2.evidence
    # The approximate platform offer takes the sheet's exact position in the same commune.
    dm6 = by["regional.csv", "DM-006"]
    assert dm6.status == MERGED and "même commune 14762" in dm6.evidence
    kept105 = by["platform.json", "105"]
    assert "position exacte reprise de regional.csv ligne 7 (DM-006)" in kept105.notes
    assert "capacités différentes (2, 3) : gardé 3" in kept105.notes
    # SIRET written with spaces in the federation's sheet, CEDEX city.
    fed = by["federation.csv", "federation-2"]
    assert (fed.status, fed.offer_id) == (MERGED, "DM-003")
    assert fed.evidence.startswith("SIRET 44306184100013 ; même commune 14118")
    # Same employer, same place, other weeks: two offers.
    assert by["regional.csv", "DM-004"].status == KEPT
    assert by["regional.csv", "DM-005"].field == "capacity"

    offers = {r["offer_id"]: r for r in rows_of(result.offers_csv())}
    assert list(offers) == ["101", "102", "105", "108", "109", "DM-003", "DM-004",
                            "federation-3", "federation-4"]
    assert offers["101"]["capacity"] == "3"  # max, not 3 + 2
    assert offers["102"]["capacity"] == "2"  # the stated capacity beats the default
    assert (offers["105"]["lat"], offers["105"]["lon"], offers["105"]["capacity"]) \
        == ("48.839", "-0.889", "3")
    assert offers["DM-003"]["capacity"] == "2"
    assert (offers["federation-3"]["period"], offers["federation-3"]["reserved"],
            offers["federation-3"]["sector"]) == ("2", "1", "s24")
    assert offers["federation-4"]["capacity"] == "1"


def test_imported_offers_load_and_solve(tmp_path):
    result = import_offers(all_sources(), default_capacity=1, weeks=WEEKS, places=PLACES)
    students = [{"student_id": f"e{k}", "lat": 49.18 + 0.001 * k, "lon": -0.37}
                for k in range(4)]
    scenario = make_scenario(tmp_path, students, [{"offer_id": "x", "capacity": 1}])
    (scenario.parent / "offers.csv").write_text(result.offers_csv(), encoding="utf-8")
    offers, _ = read_offers(scenario.parent / "offers.csv")
    assert offers.n == 9
    outcome = solve_cli(scenario)
    assert outcome.summary["placed_full"] >= 3  # 101 (3 seats, 2 weeks) is at Caen


def test_xlsx_source_reads_as_its_csv(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    with open(IMPORT / "federation.csv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            sheet.append([int(c) if c.isdigit() else c for c in row])
    book.save(tmp_path / "federation.xlsx")
    from_csv = import_offers([Source(IMPORT / "federation.csv", IMPORT / "federation.toml")],
                             default_capacity=1, places=PLACES)
    from_xlsx = import_offers([Source(tmp_path / "federation.xlsx",
                                      IMPORT / "federation.toml")],
                              default_capacity=1, places=PLACES)
    assert from_xlsx.offers_csv() == from_csv.offers_csv()


def test_weeks_inferred_when_every_record_fits_one_window(tmp_path):
    data = json.loads((IMPORT / "platform.json").read_text(encoding="utf-8"))
    data["internshipOffers"] = [o for o in data["internshipOffers"] if o["id"] != 104]
    path = tmp_path / "platform.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = import_offers([Source(path)], default_capacity=1, places=PLACES)
    assert result.weeks == WEEKS
    with pytest.raises(InputError, match="--weeks"):
        import_offers([Source(IMPORT / "platform.json")], default_capacity=1, places=PLACES)


def test_identifier_taken_by_another_source_is_renamed(tmp_path):
    (tmp_path / "a.csv").write_text("offer_id,employer_name,lat,lon,capacity\n"
                                    "X1,Alpha,49.18,-0.37,1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("offer_id,employer_name,lat,lon,capacity\n"
                                    "X1,Beta,49.30,-0.37,1\nX1,Gamma,49.31,-0.37,1\n",
                                    encoding="utf-8")
    result = import_offers([Source(tmp_path / "a.csv"), Source(tmp_path / "b.csv")],
                           places=PLACES)
    assert result.offer_ids == ("X1", "X1-2")
    assert "identifiant renommé X1-2" in result.report[1].notes
    assert result.report[2].status == REJECTED and "déjà ligne 2" in result.report[2].reason


def test_pairs_pass_through_and_broken_pairs_are_rejected(tmp_path):
    (tmp_path / "a.csv").write_text(
        "offer_id,employer_name,lat,lon,capacity,period,pair_id,min_group\n"
        "P1,Alpha,49.18,-0.37,2,1,M1,2\nP2,Beta,49.19,-0.37,2,2,M1,\n"
        "P3,Gamma,49.20,-0.37,2,1,M2,\nP4,Delta,49.21,-0.37,2,1,M2,\n"
        "P5,Eps,49.22,-0.37,2,0,M3,\nP6,Zeta,49.23,-0.37,2,0,,3\n", encoding="utf-8")
    result = import_offers([Source(tmp_path / "a.csv")], places=PLACES)
    assert [r.status for r in result.report] == [KEPT, KEPT, REJECTED, REJECTED, REJECTED,
                                                 REJECTED]
    assert "semaine différente" in result.report[2].reason
    assert "exactement deux" in result.report[4].reason
    assert result.report[5].field == "min_group"
    path = tmp_path / "offers.csv"
    path.write_text(result.offers_csv(), encoding="utf-8")
    _, pairs = read_offers(path)
    assert list(pairs.ids) == ["M1"] and list(pairs.min_group) == [2]


# --------------------------------------------------------------------------
# Sources that cannot be read, mappings
# --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "match"), [
    ("broken.json", "un JSON valide"),
    ("absent.json", "un fichier existant"),
    ("notes.txt", "une source .json"),
])
def test_unreadable_source_is_an_input_error(name, match):
    with pytest.raises(InputError, match=match):
        import_offers([parse_source(str(IMPORT / name))], places=PLACES)


def test_parse_source_mapping_syntax():
    assert parse_source("a.xlsx::m.toml") == Source(Path("a.xlsx"), Path("m.toml"))
    assert parse_source("a.csv", Path("d.toml")) == Source(Path("a.csv"), Path("d.toml"))
    assert parse_source("a.json", Path("d.toml")) == Source(Path("a.json"))
    with pytest.raises(InputError):
        parse_source("a.json::m.toml")


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def test_cli_import_offers_writes_offers_and_report_deterministically(tmp_path):
    args = ["import-offers", str(IMPORT / "platform.json"), str(IMPORT / "regional.csv"),
            f"{IMPORT / 'federation.csv'}::{IMPORT / 'federation.toml'}",
            "--weeks", "2026-W25,2026-W26", "--default-capacity", "1"]
    outputs = []
    for run in ("a", "b"):
        out, report = tmp_path / run / "offers.csv", tmp_path / run / "dedup.csv"
        result = CliRunner().invoke(main, [*args, "--out", str(out), "--report", str(report)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("18 enregistrement(s) lus dans 3 source(s) : 9 offre(s) "
                                        "gardée(s), 4 doublon(s) fusionné(s), 5 rejeté(s)")
        assert "capacité par défaut : 1" in result.output
        outputs.append((out.read_bytes(), report.read_bytes()))
    assert outputs[0] == outputs[1]
    report_rows = rows_of(outputs[0][1].decode("utf-8"))
    assert len(report_rows) == 18
    assert list(report_rows[0]) == ["source", "record", "source_id", "status", "offer_id",
                                    "field", "reason", "evidence", "notes"]
    assert not list(tmp_path.glob("*/.*"))  # no temporary file left behind


def test_cli_unreadable_source_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "offers.csv"
    result = CliRunner().invoke(main, [
        "import-offers", str(IMPORT / "regional.csv"), str(IMPORT / "broken.json"),
        "--out", str(out), "--report", str(tmp_path / "dedup.csv")])
    assert result.exit_code == 2
    assert "broken.json" in result.output and "JSON valide" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_nothing_kept_writes_the_report_only_and_exits_1(tmp_path):
    result = CliRunner().invoke(main, [
        "import-offers", str(IMPORT / "platform.json"), "--weeks", "2026-W27,2026-W28",
        "--out", str(tmp_path / "offers.csv"), "--report", str(tmp_path / "dedup.csv")])
    assert result.exit_code == 1
    assert "Aucune offre gardée" in result.output
    assert not (tmp_path / "offers.csv").exists()
    rows = rows_of((tmp_path / "dedup.csv").read_text(encoding="utf-8"))
    assert len(rows) == 9 and {r["status"] for r in rows} == {REJECTED}


def test_cli_bad_weeks_option(tmp_path):
    result = CliRunner().invoke(main, ["import-offers", str(IMPORT / "regional.csv"),
                                       "--out", str(tmp_path / "o.csv"), "--weeks", "2026-W25"])
    assert result.exit_code == 2 and "--weeks" in result.output


def test_cli_mapping_option_applies_to_spreadsheets(tmp_path):
    sheet = tmp_path / "federation.csv"
    shutil.copy(IMPORT / "federation.csv", sheet)
    result = CliRunner().invoke(main, [
        "import-offers", str(sheet), "--mapping", str(IMPORT / "federation.toml"),
        "--out", str(tmp_path / "offers.csv")])
    assert result.exit_code == 0, result.output
    assert "2 offre(s) gardée(s)" in result.output  # the third lacks a capacity
    assert "champ « capacity »" in result.output  # rejection printed without --report


# --------------------------------------------------------------------------
# Students
# --------------------------------------------------------------------------

def test_import_students_through_a_mapping(tmp_path):
    result = import_students(Source(IMPORT / "school_export.csv",
                                    IMPORT / "school_mapping.toml"), places=PLACES)
    assert [r.status for r in result.report] == ["gardé", "gardé", "rejeté", "rejeté",
                                                 "rejeté", "gardé"]
    assert [r.field for r in result.report] == ["", "", "city", "student_id", "priority", ""]
    rows = {r["student_id"]: r for r in rows_of(result.students_csv())}
    assert rows["E001"]["school_id"] == "0140052F" and rows["E001"]["mode"] == "public"
    assert rows["E001"]["priority"] == "1" and rows["E001"]["sectors"] == "s43|s12"
    assert (rows["E002"]["lat"], rows["E002"]["mode"]) == ("49.2764", "car")
    assert rows["E005"]["sectors"] == "s43"
    assert "secteur inconnu « Astronautique »" in result.report[5].notes
    assert "position approchée" in result.report[0].notes
    scenario = make_scenario(tmp_path, [{"student_id": "x"}], [{"offer_id": "o",
                                                                "capacity": 1}])
    path = scenario.parent / "students.csv"
    path.write_text(result.students_csv(), encoding="utf-8")
    students = read_students(path, load_scenario(scenario))
    assert list(students.ids) == ["E001", "E002", "E005"]


def test_cli_import_students(tmp_path):
    out = tmp_path / "students.csv"
    result = CliRunner().invoke(main, [
        "import-students", str(IMPORT / "school_export.csv"),
        "--mapping", str(IMPORT / "school_mapping.toml"), "--out", str(out),
        "--report", str(tmp_path / "report.csv")])
    assert result.exit_code == 0, result.output
    assert "3 élève(s) gardé(s), 3 rejeté(s)" in result.output
    assert len(rows_of(out.read_text(encoding="utf-8"))) == 3
    assert len(rows_of((tmp_path / "report.csv").read_text(encoding="utf-8"))) == 6


# --------------------------------------------------------------------------
# Every record accounted for
# --------------------------------------------------------------------------

NAMES = ["Boulangerie Dupont", "Boulangerie Dupond", "BOULANGERIE DUPONT SARL", "Garage Martin",
         "Mairie de Caen", ""]
POINTS = [(49.1829, -0.3707), (49.18291, -0.37072), (49.2764, -0.7024), (None, None)]


@st.composite
def platform_offer(draw: st.DrawFn, k: int) -> dict:
    lat, lon = draw(st.sampled_from(POINTS))
    offer: dict = {
        "id": draw(st.sampled_from([k, k, k, 1])),
        "employer_name": draw(st.sampled_from(NAMES)),
        "latitude": lat, "longitude": lon,
        "zipcode": draw(st.sampled_from(["14000", "14400", "99999", ""])),
        "city": draw(st.sampled_from(["Caen", "Bayeux", ""])),
        "sector": draw(st.sampled_from(["Santé", "SANTE", "Astronautique", "s12", ""])),
        "period": draw(st.sampled_from([0, 0, 1, 2, 5])),
        "weeks": draw(st.sampled_from([list(WEEKS), list(WEEKS), ["2026-W24", "2026-W25"],
                                       ["2026-W26"], ["bad"]])),
        "grades": draw(st.sampled_from([["seconde"], ["seconde"], ["troisieme"]])),
        "rep": draw(st.booleans()), "qpv": draw(st.booleans()),
        "handicap_accessible": draw(st.sampled_from([True, False, None])),
    }
    capacity = draw(st.sampled_from([None, 0, 1, 3, -2, "x"]))
    if capacity is not None:
        offer["max_candidates"] = capacity
    if draw(st.booleans()):
        offer["siret"] = draw(st.sampled_from(["44306184100013", "12345678900017"]))
    return offer


@st.composite
def platform_sources(draw: st.DrawFn) -> list[list[dict]]:
    sizes = draw(st.lists(st.integers(0, 8), min_size=1, max_size=3))
    return [[draw(platform_offer(k)) for k in range(n)] for n in sizes]


@given(sources=platform_sources(), default=st.sampled_from([None, 2]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_record_is_kept_merged_or_rejected(sources, default):
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for k, offers in enumerate(sources):
            path = Path(folder) / f"source{k}.json"
            path.write_text(json.dumps({"internshipOffers": offers}), encoding="utf-8")
            paths.append(Source(path))
        result = import_offers(paths, default_capacity=default, weeks=WEEKS, places=PLACES)
        n = sum(len(s) for s in sources)
        kept, merged, rejected = (result.count(s) for s in (KEPT, MERGED, REJECTED))
        assert len(result.report) == n
        assert kept + merged + rejected == n
        assert len(result.offers) == kept == len(set(result.offer_ids))
        kept_ids = {r.offer_id for r in result.report if r.status == KEPT}
        assert {r.offer_id for r in result.report if r.status == MERGED} <= kept_ids
        assert all(r.reason for r in result.report if r.status == REJECTED)
        if kept:
            out = Path(folder) / "offers.csv"
            out.write_text(result.offers_csv(), encoding="utf-8")
            offers, _ = read_offers(out)
            assert offers.n == kept


def test_a_one_week_offer_listing_only_its_own_week_is_kept(tmp_path: Path) -> None:
    """Period 1 or 2 with only the week it runs in is consistent (issue 15); a period that
    names the other week is still rejected, with the reason."""
    import json

    from affectation.intake.offers import import_offers
    from affectation.intake.sources import Source

    offers = [
        {"id": 1, "title": "a", "latitude": 49.18, "longitude": -0.37, "max_candidates": 2,
         "period": 1, "weeks": ["2026-W25"], "grades": ["seconde"]},
        {"id": 2, "latitude": 49.18, "longitude": -0.37, "max_candidates": 2,
         "period": 2, "weeks": ["2026-W26"], "grades": ["seconde"]},
        {"id": 3, "latitude": 49.18, "longitude": -0.37, "max_candidates": 2,
         "period": 1, "weeks": ["2026-W26"], "grades": ["seconde"]},
        {"id": 4, "latitude": 49.18, "longitude": -0.37, "max_candidates": 2,
         "period": 2, "weeks": ["2026-W25", "2026-W26"], "grades": ["seconde"]},
    ]
    path = tmp_path / "plateforme.json"
    path.write_text(json.dumps(offers), encoding="utf-8")
    result = import_offers([Source(path)])
    assert result.weeks == ("2026-W25", "2026-W26")
    kept = {oid: c.period for oid, c in zip(result.offer_ids, result.offers, strict=True)}
    assert kept == {"1": 1, "2": 2, "4": 2}
    rejected = [r for r in result.report if r.status == "rejetée"]
    assert [(r.source_id, r.field) for r in rejected] == [("3", "period")]
    assert "semaine 1 de la campagne (2026-W25)" in rejected[0].reason
    # Alone, a period-1 offer listing one week makes that week the campaign's first.
    path.write_text(json.dumps(offers[:1]), encoding="utf-8")
    assert import_offers([Source(path)]).weeks == ("2026-W25", "2026-W26")
