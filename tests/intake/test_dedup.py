"""De-duplication rule (dedup.py): each condition alone, then what a merge keeps."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from affectation.intake.dedup import (
    MAX_DISTANCE_M,
    Candidate,
    find_duplicates,
    merge,
    normalise_name,
    same_employer,
)

GEOD = Geod(ellps="WGS84")
CAEN = (49.1829, -0.3707)


def offer(source: int = 0, name: str = "Boulangerie Dupont", siret: str = "",
          metres_east: float = 0.0, **kw: object) -> Candidate:
    """A candidate `metres_east` metres east of central Caen (geodesic)."""
    lon, lat, _ = GEOD.fwd(CAEN[1], CAEN[0], 90.0, metres_east)
    fields: dict = dict(source=source, source_name=f"s{source}.csv", record="ligne 2",
                        source_id=f"{source}-{name}", employer_id=siret, employer_name=name,
                        lat=lat, lon=lon, approximate=False, insee="14118", capacity=2,
                        period=0, sector="s26", reserved=False, accessible=None)
    fields.update(kw)
    return Candidate(**fields)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Transports Exemple S.A.S.", "transports exemple"),
    ("TRANSPORTS  EXEMPLE, SARL", "transports exemple"),
    ("Hôtel-Restaurant de l'Église", "hotel restaurant de l eglise"),
    ("SA Lemoine & Fils", "lemoine fils"),
])
def test_normalise_name_strips_case_accents_legal_forms_and_punctuation(raw, expected):
    assert normalise_name(raw) == expected


def test_same_employer_siret_decides_when_both_have_one():
    a = offer(siret="443 061 841 00013", name="Garage Martin")
    assert same_employer(a, offer(siret="44306184100013", name="Autre nom")).startswith("SIRET")
    assert same_employer(a, offer(siret="44306184100021", name="Garage Martin")) == ""
    assert same_employer(a, offer(name="Garage Martin SARL")) == "nom « garage martin »"


def test_same_employer_fuzzy_threshold():
    assert "similarité 0.94" in same_employer(offer(name="Boulangerie Dupont"),
                                              offer(name="Boulangerie Dupond"))
    assert same_employer(offer(name="Garage Martin"), offer(name="Garage Morin")) == ""
    assert same_employer(offer(name=""), offer(name="")) == ""


def test_distance_threshold_is_200_metres():
    kept = offer(0)
    near = find_duplicates([kept, offer(1, metres_east=MAX_DISTANCE_M - 1)])
    far = find_duplicates([kept, offer(1, metres_east=MAX_DISTANCE_M + 1)])
    assert list(near.into) == [0, 0] and "199 m" in near.evidence[1]
    assert list(far.into) == [0, 1] and far.evidence == ("", "")


def test_approximate_position_matches_within_its_commune():
    kept = offer(0, approximate=True)
    other = offer(1, metres_east=2500)
    assert list(find_duplicates([kept, other]).into) == [0, 0]
    assert list(find_duplicates([kept, replace(other, insee="14327")]).into) == [0, 1]
    assert list(find_duplicates([replace(kept, approximate=False), other]).into) == [0, 1]


def test_different_period_or_same_source_or_pair_is_never_merged():
    assert list(find_duplicates([offer(0), offer(1, period=1)]).into) == [0, 1]
    assert list(find_duplicates([offer(0), offer(0, source_id="x")]).into) == [0, 1]
    assert list(find_duplicates([offer(0, pair_id="P"), offer(1)]).into) == [0, 1]
    assert list(find_duplicates([offer(0), offer(1, pair_id="P")]).into) == [0, 1]


def test_weeks_in_evidence():
    found = find_duplicates([offer(0, period=2), offer(1, period=2)],
                            weeks=("2026-W25", "2026-W26"))
    assert found.evidence[1].endswith("semaines 2026-W26")


def test_a_kept_offer_absorbs_one_record_per_source():
    # Two identical posts in source 0 are two jobs; source 1 has both too: one each.
    records = [offer(0, source_id="a"), offer(0, source_id="b"),
               offer(1, source_id="c"), offer(1, source_id="d"), offer(1, source_id="e")]
    assert list(find_duplicates(records).into) == [0, 1, 0, 1, 4]


def test_merge_keeps_max_capacity_any_reserved_and_reports_conflicts():
    group = [offer(0, capacity=3, accessible=True, sector="s26"),
             offer(1, capacity=2, reserved=True, accessible=False, sector="s12"),
             offer(2, capacity=5, capacity_defaulted=True, accessible=None, sector="")]
    merged, notes = merge(group, [0, 1, 2])
    assert merged.capacity == 3 and not merged.capacity_defaulted
    assert merged.reserved is True
    assert merged.accessible is False
    assert merged.sector == "s26"
    assert merged.source_id == group[0].source_id
    text = " ; ".join(notes)
    assert "capacités différentes (3, 2) : gardé 3" in text
    assert "accessibilité contradictoire" in text
    assert "secteurs différents (s26, s12)" in text
    assert "réservée" in text


def test_merge_default_capacity_yields_and_exact_position_wins():
    kept = offer(0, capacity=1, capacity_defaulted=True, approximate=True)
    exact = offer(1, capacity=4, metres_east=900)
    merged, notes = merge([kept, exact], [0, 1])
    assert merged.capacity == 4 and not merged.capacity_defaulted
    assert (merged.lat, merged.lon, merged.approximate) == (exact.lat, exact.lon, False)
    assert any("position exacte reprise" in n for n in notes)
    alone, none = merge([kept], [0])
    assert alone == kept and none == []


# -- Issue 18: near-linear blocking, rapidfuzz, duplicates within one source --------------------


def test_within_one_source_a_likely_duplicate_is_flagged_never_merged():
    """Campaign issue 15: two posts of one source meeting the rule are flagged, not merged."""
    records = [offer(0, source_id="a"), offer(0, source_id="b", metres_east=50),
               offer(1, source_id="c")]
    found = find_duplicates(records)
    assert list(found.into) == [0, 1, 0]
    assert list(found.same_source) == [-1, 0, -1]


def _reference(cands, weeks=None):
    """The rule applied pair by pair over every earlier record (quadratic, obviously right)."""
    from affectation.intake.dedup import _same_offer

    into = list(range(len(cands)))
    absorbed: dict[int, set[int]] = {}
    for i, c in enumerate(cands):
        for k in range(i):
            if into[k] != k or cands[k].source == c.source or c.source in absorbed[k]:
                continue
            if _same_offer(cands[k], c, weeks, MAX_DISTANCE_M):
                into[i] = k
                absorbed[k].add(c.source)
                break
        if into[i] == i:
            absorbed[i] = {c.source}
    return into


NAMES = ["Boulangerie Dupont", "Boulangerie Dupond", "BOULANGERIE DUPONT SARL", "Garage Martin",
         "Garage Morin", "Pharmacie du Port", "", "Pharmacie du Pont"]


@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(NAMES),
                          st.sampled_from(["", "111", "222"]), st.floats(0, 3000),
                          st.booleans(), st.sampled_from(["14118", "14327", ""]),
                          st.integers(0, 2), st.booleans()), max_size=25))
@settings(max_examples=150, deadline=None)
def test_blocking_finds_what_the_pairwise_rule_finds(rows):
    """The blocks (cells, communes, names) never hide a pair the rule would merge."""
    cands = [offer(source, name=name, siret=siret, metres_east=east,
                   approximate=approximate and bool(insee), insee=insee, period=period,
                   pair_id="P" if paired else "", source_id=f"r{k}")
             for k, (source, name, siret, east, approximate, insee, period, paired)
             in enumerate(rows)]
    assert list(find_duplicates(cands).into) == _reference(cands)


def test_import_report_names_a_likely_duplicate_of_the_same_source(tmp_path):
    from affectation.intake.offers import import_offers
    from affectation.intake.sources import Source

    path = tmp_path / "offres.csv"
    path.write_text("offer_id,employer_name,lat,lon,capacity\n"
                    "A,Boulangerie Dupont,49.1829,-0.3707,1\n"
                    "B,Garage Martin,49.1829,-0.3707,1\n"
                    "C,Boulangerie Dupond,49.1830,-0.3707,2\n", encoding="utf-8")
    result = import_offers([Source(path)])
    notes = {r.source_id: r.notes for r in result.report}
    assert "doublon probable dans la même source : ligne 2 (A)" in notes["C"]
    assert notes["A"] == "" and notes["B"] == ""
    assert len(result.offers) == 3  # flagged, never merged


def test_the_benchmark_runs(tmp_path):
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO))
    from benchmarks.dedup import main

    assert main(["--sizes", "40", "--out", str(tmp_path)]) == 0
    assert "sans coordonnées" in (tmp_path / "dedup.md").read_text(encoding="utf-8")
