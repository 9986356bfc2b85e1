"""The agreement lifecycle's refusals and the working-time limits for minors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affectation.domain.agreement import (
    ROLES,
    ScheduleError,
    TransitionError,
    check_minor_limits,
    check_signature,
    minor_limit_problems,
    mode_of,
    parse_schedule,
    role_of,
    state_after_signature,
)


def test_a_role_signs_once_and_a_cancelled_agreement_never() -> None:
    check_signature("envoyee", "eleve", {})
    with pytest.raises(TransitionError, match="une seule fois"):
        check_signature("envoyee", "eleve", {"eleve": "04/05/2026"})
    with pytest.raises(TransitionError, match="annulée"):
        check_signature("annulee", "employeur", {})
    with pytest.raises(TransitionError, match="une seule fois"):  # a fifth signature
        check_signature("signee", "eleve", {r: "04/05/2026" for r in ROLES})
    assert [state_after_signature(n) for n in (1, 2, 3, 4)] == ["envoyee"] * 3 + ["signee"]


def test_roles_and_modes_as_schools_write_them() -> None:
    assert role_of(" Élève ") == "eleve" and role_of("Représentant légal") == \
        "representant_legal"
    assert role_of("Chef d'établissement") == "etablissement" and role_of("fax") is None
    assert mode_of("Électronique") == "electronique" and mode_of("hors outil") == "hors_outil"


def test_a_usual_schedule_passes_and_reads_back() -> None:
    s = parse_schedule("lun-ven 09:00-12:00 13:30-16:30")
    check_minor_limits(s)
    assert s.week_minutes == 30 * 60 and s.day_minutes("mercredi") == 6 * 60
    assert parse_schedule(s.text()) == s
    assert s.platform_hours()["lundi"] == ["09:00", "16:30"]
    assert s.platform_hours()["samedi"] == ["", ""]


@pytest.mark.parametrize(("text", "message"), [
    ("lundi 08:00-12:00 13:00-16:30", "au plus 7 h par jour"),
    ("lun-ven 08:30-12:00 13:00-16:45", "au plus 35 h par semaine"),
    ("lundi 09:00-14:00", "pause de 30 minutes est due dès 4 h 30"),
    ("lundi 08:00-12:00 12:15-14:45", "sans pause d'au moins 30 minutes"),
    ("lundi 05:30-09:00", "entre 6 h et 20 h"),
    ("lundi 16:00-20:30", "entre 6 h et 20 h"),
    ("lun-sam 09:00-12:00", "deux jours de repos consécutifs"),
])
def test_schedules_beyond_the_limits_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        check_minor_limits(parse_schedule(text))


@pytest.mark.parametrize("text", ["", "lundi", "lundi 9-12", "dimanche 09:00-12:00",
                                  "lundi 12:00-09:00", "lundi 09:00-12:00 11:00-13:00",
                                  "lundi 09:00-12:00; lun 13:00-15:00", "ven-lun 09:00-10:00"])
def test_unreadable_schedules_say_why(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text)


@given(st.lists(st.tuples(st.integers(6 * 60, 19 * 60), st.integers(15, 5 * 60)),
                min_size=1, max_size=3))
def test_a_schedule_passes_exactly_when_every_limit_holds(spans: list[tuple[int, int]]) -> None:
    clock = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    parts, last = [], 0
    for start, length in sorted(spans):
        start = max(start, last)
        end = min(start + length, 20 * 60)
        if end <= start:
            continue
        parts.append(f"{clock(start)}-{clock(end)}")
        last = end + 1
    if not parts:
        return
    schedule = parse_schedule("lun-ven " + " ".join(parts))
    spans_ = schedule.of("lundi")
    day = sum(b - a for a, b in spans_)
    gaps = [c - b for (_, b), (c, _) in zip(spans_, spans_[1:], strict=False)]
    ok = (day <= 420 and 5 * day <= 2100 and all(b - a <= 270 for a, b in spans_)
          and (day <= 270 or any(g >= 30 for g in gaps))
          and spans_[-1][1] - spans_[0][0] <= 600)
    assert (minor_limit_problems(schedule) == []) == ok
