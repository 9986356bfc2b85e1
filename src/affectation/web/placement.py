""""Placer ici": one pupil placed from one of their suggestions, only when every rule holds,
and never over another user's action.

Decision (the issue left it open): a placement applies the suggestion's own moves
(`analysis.suggest`: the fewest moves of placed pupils that free the offer) to the live
allocation, rather than running `repair` for one pupil. The suggestion is what the user read
and chose; applying exactly it keeps the page honest (what is shown is what is done), takes
milliseconds, and moves nobody the user did not see. The result is then checked by the
independent checker (`analysis.check`, which never reads the engine's code) on the whole
allocation: the placement is refused if it adds any violation (a full seat, a travel limit,
a reserved or inaccessible offer, a signed week...).

Concurrency (optimistic): the plan and the check are made on the snapshot of revision R the
page was computed from, outside any lock. Inside the write transaction (writers serialised
by `store.db.writing`), the store's revision is read again; if other actions happened since
R, they are listed (`queries.changes_since`): if one of them touched a pupil this placement
changes, or an offer where it takes a seat, the placement is refused and the conflict
explained in French; otherwise both changes are independent (each was checked against the
same state and they share no pupil and no seat) and this one is written. Nothing is ever
overwritten. While a repair started from the web runs, placements wait for its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine

from affectation.analysis.check import check_allocation
from affectation.analysis.suggest import PAIR, SIGNED, Suggestion, suggest
from affectation.domain.agreement import STATE_LABELS, TransitionError
from affectation.engine.chains import BOTH, WEEK1, WEEK2
from affectation.store import queries
from affectation.store.db import writing
from affectation.web.authz import Actor, Pupil, may
from affectation.web.state import Snapshot, _minutes, assignments_frame

WEEK_TEXT = {BOTH: "deux semaines", WEEK1: "semaine 1", WEEK2: "semaine 2",
             PAIR: "offre mutualisée (deux semaines)", SIGNED: "semaine manquante (à l'offre "
             "de la convention)"}


class Refused(Exception):
    """A placement refused: a rule would break, a conflict, a repair running (French)."""

    def __init__(self, message: str, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict


def suggestions(snap: Snapshot, s: int) -> list[Suggestion]:
    """The ranked suggestions of pupil `s` on the snapshot (cached)."""
    base = snap.base
    return snap.cached(("suggest", s), lambda: suggest(snap.instance, snap.allocation,
                                                       base.reach, base.travel, s))


def key_of(snap: Snapshot, x: Suggestion) -> str:
    """A suggestion's identity in a form: its offer(s), weeks and moves (ids)."""
    st = snap.instance.students
    moves = ",".join(f"{st.ids[p]}>{snap.offer_id(o)}" for p, o in x.moved)
    partner = snap.offer_id(x.partner) if x.partner >= 0 else ""
    return f"{snap.offer_id(x.offer)}|{partner}|{x.weeks}|{moves}"


KEY = re.compile(r"^[^|]{1,64}\|[^|]{0,64}\|[a-z0-9]{1,8}\|[^|]{0,2000}$")


@dataclass(frozen=True)
class Plan:
    """The rows a placement writes: pupil index -> new (week 1, week 2) offers."""

    student: int
    suggestion: Suggestion
    rows: dict[int, tuple[int, int]]
    taken: frozenset[int]  # offers where a seat is taken (pairs: both offers)

    @property
    def moved(self) -> list[int]:
        return [p for p in self.rows if p != self.student]


def plan_of(snap: Snapshot, s: int, x: Suggestion) -> Plan:
    """The new weeks of the pupil and of every pupil the suggestion moves."""
    alloc = snap.allocation
    cur = (int(alloc[s, 0]), int(alloc[s, 1]))
    if x.weeks == BOTH:
        row = (x.offer, x.offer)
    elif x.weeks == PAIR:
        row = (x.offer, x.partner)
    elif x.weeks == WEEK1:
        row = (x.offer, cur[1])
    elif x.weeks == WEEK2:
        row = (cur[0], x.offer)
    else:  # SIGNED: the week that is not signed, at the signed offer
        row = (x.offer, cur[1]) if snap.locked[s, 1] else (cur[0], x.offer)
    rows = {s: (int(row[0]), int(row[1]))}
    layer = {BOTH: BOTH, SIGNED: BOTH, WEEK1: WEEK1, WEEK2: WEEK2}.get(x.weeks, BOTH)
    for p, o in x.moved:
        if layer == BOTH:
            rows[p] = (o, o)
        elif layer == WEEK1:
            rows[p] = (o, int(alloc[p, 1]))
        else:
            rows[p] = (int(alloc[p, 0]), o)
    taken = {rows[p][w] for p in rows for w in (0, 1)
             if rows[p][w] >= 0 and rows[p][w] != alloc[p, w]}
    if x.weeks == PAIR:
        k = snap.instance.offers.pair[x.offer]
        taken |= {int(o) for o in snap.instance.pairs.offers[k]}
    return Plan(s, x, rows, frozenset(taken))


def find(snap: Snapshot, s: int, key: str) -> Suggestion | None:
    """The suggestion of pupil `s` whose form key is `key` on this snapshot (None: it is no
    longer offered, or no longer needs the same moves)."""
    return next((x for x in suggestions(snap, s) if key_of(snap, x) == key), None)


def check_plan(snap: Snapshot, actor: Actor, plan: Plan) -> None:
    """Refuse (French) a plan that moves a pupil the actor may not move, touches a week held
    at an offer the inputs no longer have, or adds a violation of the checker's rules."""
    st = snap.instance.students
    x = plan.suggestion
    if x.moves is None:
        raise Refused("Aucune suite de déplacements ne libère cette offre : elle ne peut pas "
                      "être attribuée maintenant.")
    if x.current:
        raise Refused("L'élève est déjà placé(e) à cette offre.")
    for p in plan.moved:
        if not may(actor, "move_pupil", Pupil(str(st.ids[p]), str(st.school[p]))):
            raise Refused("Cette suggestion déplace un élève d'un autre établissement : "
                          "seule la coordination peut l'appliquer. Choisissez une offre sans "
                          "déplacement ou demandez-le à la coordination.")
    for p, row in plan.rows.items():
        for w in (0, 1):
            if snap.outside[p, w] and row[w] != snap.allocation[p, w]:
                raise Refused(f"L'élève {st.ids[p]} a une convention en semaine {w + 1} à une "
                              "offre retirée du fichier des offres : annulez-la d'abord.")
    problems = new_violations(snap, plan.rows)
    if problems:
        raise Refused("Placement refusé : il enfreindrait une règle.\n" + "\n".join(problems))


def new_violations(snap: Snapshot, rows: dict[int, tuple[int, int]]) -> list[str]:
    """The violations of the independent checker on the allocation with `rows` changed that
    the current allocation does not already have."""
    allocation = snap.allocation.copy()
    pupils = np.array(sorted(rows), dtype=np.int64)
    for p, row in rows.items():
        allocation[p] = row
    minutes = _minutes(snap.base, snap.instance, allocation, pupils, snap.minutes.copy())
    after = check_allocation(snap.instance, assignments_frame(snap, allocation, minutes))
    if not after:
        return []
    before = snap.cached("violations", lambda: {
        str(v) for v in check_allocation(snap.instance, assignments_frame(snap))})
    return [str(v) for v in after if str(v) not in before]


def conflict_text(event: dict[str, object] | None, actor: Actor) -> str:
    if event is None:
        return "la situation a changé entre-temps."
    at = event["at"]
    when = at.strftime("%H:%M:%S") if hasattr(at, "strftime") else str(at)
    who = "vous-même (dans une autre fenêtre)" if event["who"] == actor.who else \
        "un autre utilisateur"
    state = STATE_LABELS.get(str(event["to_state"]), str(event["to_state"]))
    return (f"à {when}, {who} a modifié une convention à l'offre {event['offer_id']} "
            f"(désormais {state}).")


def apply_plan(engine: Engine, snap: Snapshot, actor: Actor, plan: Plan) -> int:
    """Write the plan (one transaction), unless another action since the snapshot touched
    one of its pupils or offers (`Refused` with `conflict`). Returns the agreements
    created."""
    st = snap.instance.students
    ids = {p: str(st.ids[p]) for p in plan.rows}
    taken = {snap.offer_id(o) for o in plan.taken}
    placed = ids[plan.student]
    x = plan.suggestion
    label = snap.offer_id(x.offer) + (f" + {snap.offer_id(x.partner)}" if x.partner >= 0
                                      else "")
    created = 0
    try:
        with writing(engine) as conn:
            job = queries.running_job(conn)
            if job is not None:
                raise Refused("Une réparation est en cours (lancée à "
                              f"{job['started_at']:%H:%M}) : les placements reprendront à sa "
                              "fin. Rien n'a été enregistré.")
            if queries.revision(conn) != snap.revision:
                pupils, offers = queries.changes_since(conn, snap.revision)
                clash_p = set(ids.values()) & pupils
                clash_o = taken & offers
                if clash_p or clash_o:
                    event = queries.latest_event(conn, snap.revision, clash_p, clash_o)
                    what = []
                    if placed in clash_p:
                        what.append("cet élève a changé")
                    elif clash_p:
                        what.append("un élève que ce placement déplace a changé")
                    if clash_o:
                        what.append("une place visée a été prise ou libérée")
                    raise Refused(
                        "Conflit : pendant que vous consultiez cette page, "
                        + " et ".join(what) + " : " + conflict_text(event, actor)
                        + " Rien n'a été enregistré et rien n'a été écrasé ; les suggestions "
                        "ci-dessous sont à jour.", conflict=True)
            for p, (o1, o2) in plan.rows.items():
                detail = (f"placé(e) depuis le web à {label} ({WEEK_TEXT.get(x.weeks, x.weeks)})"
                          if p == plan.student else
                          f"déplacé(e) depuis le web pour libérer une place à l'élève {placed}")
                created += queries.set_pupil_weeks(conn, ids[p], snap.offer_id(o1),
                                                   snap.offer_id(o2), actor.who, detail)
    except TransitionError as exc:
        raise Refused(f"Placement refusé : {exc}.", conflict=True) from None
    return created
