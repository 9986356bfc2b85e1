"""Why a pupil is not placed for both weeks, in plain words derived from the data.

Each reason states a fact of the final allocation that anyone can verify: no offer within the
pupil's travel limit (and how far the nearest one is), only offers reserved to priority pupils
within reach, no accessible offer within reach for a pupil who needs one, every offer within
reach full in the week concerned, or a mutualised pair that did not reach its minimum group.
Offers declined in exclusions.csv are never counted as usable: the text says how many of the
offers within reach were declined. French by default, English on request.
"""

from __future__ import annotations

import numpy as np

from affectation.domain.allocation import pair_counts, seats_used
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, usable
from affectation.geo import flat_km
from affectation.travel.models import model_minutes
from affectation.travel.reach import PupilTravel, Reach, exact_minutes

MODE_WORDS = {
    "fr": {"public": "en transports en commun", "car": "en voiture", "bike": "à vélo",
           "walk": "à pied"},
    "en": {"public": "by public transport", "car": "by car", "bike": "by bike",
           "walk": "on foot"},
}

TEXT = {
    "fr": {
        "none_within": "aucune offre à moins de {limit} min {mode} "
                       "(la plus proche est à {nearest} min)",
        "no_offer": "aucune offre active dans le fichier des offres",
        "none_by_timetable": "aucune offre joignable {mode} chaque jour de stage (horaires ou "
                             "matrice de temps de trajet du scénario, limite {limit} min)",
        "reserved_only": "seules des offres réservées aux élèves prioritaires sont à portée "
                         "({n} offre(s) à moins de {limit} min)",
        "not_accessible": "aucune offre accessible (handicap) à portée "
                          "({n} offre(s) à moins de {limit} min)",
        "accessible_reserved_only": "les seules offres accessibles (handicap) à portée sont "
                                    "réservées aux élèves prioritaires "
                                    "({n} offre(s) à moins de {limit} min)",
        "all_full": "{n} offre(s) à portée{excluded}, toutes complètes{detail}",
        "some_full": "{n} offre(s) à portée{excluded}{detail}",
        "excluded": " (hors {r} réservée(s) aux élèves prioritaires ou non accessible(s))",
        "excluded_declined": " (hors {r} réservée(s) aux élèves prioritaires, non accessible(s) "
                             "ou refusée(s), dont {d} refusée(s) dans exclusions.csv)",
        "declined_only": "aucune offre utilisable à portée : {n} offre(s) à moins de {limit} min, "
                         "dont {d} refusée(s) dans exclusions.csv, les autres réservées aux "
                         "élèves prioritaires ou non accessibles",
        "full_both": "offres de deux semaines : {k} sur {n} complète(s) "
                     "(au moins une des deux semaines)",
        "full_week": "offres ouvertes en semaine {w} : {k} sur {n} complète(s)",
        "no_week_offer": "aucune offre à portée ouverte en semaine {w}",
        "pair_closed": "l'offre mutualisée à portée n'a pas atteint son effectif minimum "
                       "({count} élève(s) pour {min} requis)",
        "one_week": "placé(e) en semaine {w} seulement : {why}",
        "signed_one_week": "convention signée pour la semaine {w} seulement ; {why}",
        "two_week_only": "les offres à portée ouvertes en semaine {w} accueillent pour deux "
                         "semaines (règle split_two_week_offers)",
        "priority_taken": " ; {n} de ces offres accueillent au moins un élève prioritaire",
        "out_of_network": "convention signée mais hors de portée du réseau de transport "
                          "({weeks} : aucun trajet dans la limite)",
        "week_n": "semaine {w}",
        "both_weeks": "semaines 1 et 2",
    },
    "en": {
        "none_within": "no offer within {limit} min {mode} (the nearest is {nearest} min away)",
        "no_offer": "no active offer in the offers file",
        "none_by_timetable": "no offer reachable {mode} every internship day (the "
                             "scenario's timetables or travel-time matrix, limit {limit} min)",
        "reserved_only": "only offers reserved to priority pupils are within reach "
                         "({n} offer(s) within {limit} min)",
        "not_accessible": "no accessible offer (disability) within reach "
                          "({n} offer(s) within {limit} min)",
        "accessible_reserved_only": "the only accessible offers (disability) within reach are "
                                    "reserved to priority pupils "
                                    "({n} offer(s) within {limit} min)",
        "all_full": "{n} offer(s) within reach{excluded}, all full{detail}",
        "some_full": "{n} offer(s) within reach{excluded}{detail}",
        "excluded": " (besides {r} reserved to priority pupils or not accessible)",
        "excluded_declined": " (besides {r} reserved to priority pupils, not accessible or "
                             "declined, {d} of them declined in exclusions.csv)",
        "declined_only": "no usable offer within reach: {n} offer(s) within {limit} min, "
                         "{d} of them declined in exclusions.csv, the others reserved to "
                         "priority pupils or not accessible",
        "full_both": "two-week offers: {k} of {n} full (in at least one of the weeks)",
        "full_week": "offers open in week {w}: {k} of {n} full",
        "no_week_offer": "no offer within reach open in week {w}",
        "pair_closed": "the mutualised pair within reach did not reach its minimum group "
                       "({count} pupil(s) for {min} required)",
        "one_week": "placed in week {w} only: {why}",
        "signed_one_week": "convention signed for week {w} only; {why}",
        "two_week_only": "the offers within reach open in week {w} host for two weeks "
                         "(split_two_week_offers rule)",
        "priority_taken": "; {n} of these offers host at least one priority pupil",
        "out_of_network": "signed convention out of the transport network's reach ({weeks}: "
                          "no journey within the limit)",
        "week_n": "week {w}",
        "both_weeks": "weeks 1 and 2",
    },
}


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def explain(instance: Instance, reach: Reach, travel: PupilTravel, roles: OfferRoles,
            allocation: np.ndarray, kind: np.ndarray, language: str = "fr") -> np.ndarray:
    """A reason for every `partial` or `unplaced` pupil ('' for the others)."""
    text = TEXT[language]
    st, of = instance.students, instance.offers
    reasons = np.full(st.n, "", dtype=object)
    used_priority = seats_used(instance, allocation, st.priority)
    full = seats_used(instance, allocation) >= of.seats
    names = instance.scenario.travel.mode_names
    mode_words = MODE_WORDS[language]
    pair_count = pair_counts(instance, allocation)
    active = np.flatnonzero(of.capacity > 0)
    fixed = instance.fixed
    table = model_minutes(instance)

    for s in (int(i) for i in np.flatnonzero((kind == "unplaced") | (kind == "partial"))):
        offers, _ = reach.row(s)
        limit = _fmt(float(travel.limit_minutes[s]))
        mode = mode_words.get(names[st.mode[s]], f"({names[st.mode[s]]})")
        if kind[s] == "unplaced":
            if len(offers) == 0:
                if len(active) == 0:
                    reasons[s] = text["no_offer"]
                    continue
                if table is not None and table.origin_of_student[s] >= 0:
                    # Timetable or matrix: the nearest in minutes, or none reachable at all.
                    by_model = exact_minutes(instance, np.full(len(active), s), active, travel)
                    minutes = float(by_model.min())
                    if not np.isfinite(minutes):
                        reasons[s] = text["none_by_timetable"].format(limit=limit, mode=mode)
                        continue
                else:
                    km = flat_km(np.full(len(active), st.lat[s]),
                                 np.full(len(active), st.lon[s]), of.lat[active], of.lon[active])
                    nearest = active[int(np.argmin(km))]
                    minutes = exact_minutes(instance, np.array([s]), np.array([nearest]),
                                            travel)[0]
                # Rounded up, so that the nearest never reads as within the limit.
                nearest_text = f"{np.ceil(minutes * 10) / 10:.1f}".replace(
                    ".", "," if language == "fr" else ".")
                reasons[s] = text["none_within"].format(limit=limit, mode=mode,
                                                        nearest=nearest_text)
                continue
            usable_offers = offers[usable(instance, s, offers)]
            declined = int(instance.exclusions.contains(s, offers).sum())
            if len(usable_offers) == 0 and declined:
                reasons[s] = text["declined_only"].format(n=len(offers), limit=limit, d=declined)
                continue
            if len(usable_offers) == 0:
                key = "reserved_only"
                if st.needs_accessible[s]:
                    key = ("accessible_reserved_only" if of.accessible[offers].any()
                           else "not_accessible")
                reasons[s] = text[key].format(n=len(offers), limit=limit)
                continue
            reasons[s] = _full_story(instance, roles, usable_offers, full, used_priority,
                                     pair_count, text, excluded=len(offers) - len(usable_offers),
                                     declined=declined)
            continue
        # Partial: placed in one week; explain the other.
        w_missing = 0 if allocation[s, 0] < 0 else 1
        w_placed = 1 - w_missing
        usable_offers = offers[usable(instance, s, offers)]
        why = _week_story(instance, roles, usable_offers, w_missing, full, text)
        key = "signed_one_week" if fixed[s, w_placed] >= 0 else "one_week"
        reasons[s] = text[key].format(w=w_placed + 1, why=why)
    return reasons


def _full_story(instance: Instance, roles: OfferRoles, usable: np.ndarray, full: np.ndarray,
                used_priority: np.ndarray, pair_count: np.ndarray, text: dict[str, str],
                excluded: int = 0, declined: int = 0) -> str:
    of, pairs = instance.offers, instance.pairs
    # Each statement counts what is full, so that it stays true whatever the allocation.
    parts = []
    everything_full = True
    singles = usable[roles.single[usable]]
    if len(singles):
        k = int(full[singles].any(axis=1).sum())
        everything_full &= k == len(singles)
        parts.append(text["full_both"].format(k=k, n=len(singles)))
    for w, role in ((0, roles.week1), (1, roles.week2)):
        stays = usable[role[usable] & ~roles.single[usable]]
        if len(stays):
            k = int(full[stays, w].sum())
            everything_full &= k == len(stays)
            parts.append(text["full_week"].format(k=k, n=len(stays), w=w + 1))
    paired = np.unique(of.pair[usable[of.pair[usable] >= 0]])
    for k in paired:
        a, b = pairs.offers[k]
        if pair_count[k] == 0 and pairs.min_group[k] > 1 and not (full[a].all() and full[b].all()):
            parts.append(text["pair_closed"].format(count=0, min=int(pairs.min_group[k])))
            everything_full = False
    # Offers where at least one seat (in either week) is held by a priority pupil.
    held = int((used_priority[usable].max(axis=1) > 0).sum())
    detail = " : " + " ; ".join(parts) if parts else ""
    if text is TEXT["en"] and parts:
        detail = ": " + "; ".join(parts)
    story = text["all_full" if everything_full else "some_full"].format(
        n=len(usable),
        excluded=(text["excluded_declined"].format(r=excluded, d=declined) if declined
                  else text["excluded"].format(r=excluded) if excluded else ""),
        detail=detail)
    if held:
        story += text["priority_taken"].format(n=held)
    return story


def _week_story(instance: Instance, roles: OfferRoles, usable: np.ndarray, w: int,
                full: np.ndarray, text: dict[str, str]) -> str:
    role = roles.week1 if w == 0 else roles.week2
    stays = usable[role[usable]]
    if len(stays):
        return text["full_week"].format(k=int(full[stays, w].sum()), n=len(stays), w=w + 1)
    open_that_week = usable[instance.offers.open_week[usable, w]]
    if len(open_that_week):
        return text["two_week_only"].format(w=w + 1)
    return text["no_week_offer"].format(w=w + 1)


def out_of_network(allocation: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """(students, 2): the weeks placed at an offer no journey of the timetable or matrix
    model serves (exact minutes infinite). Only a signed convention can be there: the engine
    places no one else out of reach."""
    with np.errstate(invalid="ignore"):
        return (allocation >= 0) & ~np.isfinite(minutes)


def add_out_of_network(reasons: np.ndarray, weeks: np.ndarray, language: str = "fr") -> None:
    """Say, in `reasons` (after any other reason), which signed weeks are out of the
    network's reach (`weeks`: `out_of_network`)."""
    text = TEXT[language]
    for s in np.flatnonzero(weeks.any(axis=1)).tolist():
        which = (text["both_weeks"] if weeks[s].all()
                 else text["week_n"].format(w=int(np.flatnonzero(weeks[s])[0]) + 1))
        words = text["out_of_network"].format(weeks=which)
        reasons[s] = f"{reasons[s]} ; {words}" if reasons[s] else words
