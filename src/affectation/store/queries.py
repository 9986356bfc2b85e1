"""Every read and write of the campaign store: the one module the command line and a web app
call. Each public function takes a `Connection` inside the caller's transaction
(`store.db.writing` or `store.db.reading`): a command is one transaction, committed whole or
rolled back whole.

Writes that change an agreement's state go through `_transition`, which writes the event row
(when, who, from, to, detail) of every transition.

Length: one module on purpose (the brief of the web app: one place where every query lives,
so that the command line and the web pages cannot drift apart); its sections are the
campaign, agreements and transitions, loading a run, reports, documents, exports, details.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from affectation.domain.agreement import (
    CANCELLED,
    LIVE_STATES,
    LOCKED_STATES,
    PROPOSED,
    ROLES,
    SENT,
    SIGNED,
    STATE_LABELS,
    STATES,
    AgreementDocument,
    TransitionError,
    check_cancel,
    check_signature,
    state_after_signature,
)
from affectation.domain.instance import Instance
from affectation.errors import InputError, Problem
from affectation.store import schema as t
from affectation.store.db import head_revision, upgrade


def now() -> datetime:
    """The time written on events (seconds, local time, naive: what a user reads)."""
    return datetime.now().replace(microsecond=0)


def week_monday(week: str) -> date:
    return date.fromisocalendar(int(week[:4]), int(week[6:]), 1)


# --------------------------------------------------------------------------
# The campaign
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Campaign:
    name: str
    scenario_path: str
    weeks: tuple[str, str]
    created_at: datetime
    purged_at: datetime | None
    current_run_id: int | None

    @property
    def first_day(self) -> date:
        return week_monday(self.weeks[0])


def get_campaign(conn: Connection) -> Campaign:
    row = conn.execute(select(t.campaign)).mappings().first()
    if row is None:
        raise InputError([Problem("base de campagne", "une campagne initialisée (lancez "
                                  "« affectation campaign init SCENARIO »)")])
    return Campaign(row["name"], row["scenario_path"], (row["week1"], row["week2"]),
                    row["created_at"], row["purged_at"], row["current_run_id"])


def init_campaign(conn: Connection, instance: Instance, who: str) -> dict[str, int]:
    """Create the schema (migrations), the campaign, its schools, pupils, employers and
    offers, and the agreements of the scenario's signed conventions (state `signee`,
    signatures `hors_outil`). An `InputError` when the database already holds a campaign."""
    upgrade(conn)
    if conn.execute(select(func.count()).select_from(t.campaign)).scalar_one():
        name = conn.execute(select(t.campaign.c.name)).scalar_one()
        raise InputError([Problem("base de campagne", f"une base vide : elle contient déjà la "
                                  f"campagne « {name} » (utilisez « campaign load » pour un "
                                  "nouveau résultat, ou une autre --db)")])
    scenario = instance.scenario
    at = now()
    conn.execute(insert(t.campaign).values(
        id=1, name=scenario.name, scenario_path=str(Path(scenario.path).resolve()),
        week1=scenario.scenario.weeks[0], week2=scenario.scenario.weeks[1], created_at=at))
    counts = sync_inputs(conn, instance)
    counts["conventions"] = _signed_from_conventions(conn, instance, who, at)
    return counts


def _signed_from_conventions(conn: Connection, instance: Instance, who: str,
                             at: datetime) -> int:
    """Agreements `signee` for the scenario's conventions.csv (one per pupil and offer)."""
    conv = instance.conventions
    if conv.n == 0:
        return 0
    weeks: dict[tuple[str, str], set[int]] = defaultdict(set)
    lines: dict[tuple[str, str], int] = {}
    sent: set[tuple[str, str]] = set()
    for c, (s, o, w, line) in enumerate(zip(
            conv.student, conv.offer, conv.week,
            conv.source_line if conv.source_line is not None else conv.line, strict=True)):
        key = (str(instance.students.ids[s]), str(instance.offers.ids[o]))
        weeks[key].add(int(w))
        lines.setdefault(key, int(line))
        if conv.from_pending(c):
            sent.add(key)
    inputs = instance.scenario.inputs
    # Signed before the campaign was followed here: the date is not known; the day before
    # the first week at the latest, so that "signed N days before" counts them.
    first = week_monday(instance.scenario.scenario.weeks[0])
    signed_on = min(at.date(), first - timedelta(days=1))
    for (sid, oid), ws in sorted(weeks.items()):
        file = inputs.pending if (sid, oid) in sent else inputs.conventions
        name = file.name if file is not None else "conventions.csv"
        where = f"{name}, ligne {lines[(sid, oid)]}"
        if (sid, oid) in sent:
            _create_agreement(conn, sid, oid, 1 in ws, 2 in ws, None, who, at,
                              f"convention envoyée avant la campagne ({where})", state=SENT)
            continue
        aid = _create_agreement(conn, sid, oid, 1 in ws, 2 in ws, None, who, at,
                                f"convention signée avant la campagne ({where})", state=SIGNED)
        conn.execute(insert(t.signature), [
            {"agreement_id": aid, "role": role, "signed_on": signed_on, "mode": "hors_outil",
             "recorded_at": at, "recorded_by": who, "source": f"{name}:{lines[(sid, oid)]}"}
            for role in ROLES])
    return len(weeks)


def sync_inputs(conn: Connection, instance: Instance) -> dict[str, int]:
    """Bring schools, pupils, employers and offers in line with the scenario's input files:
    new rows inserted, changed ones updated, rows gone marked inactive (never deleted:
    agreements and history point to them). Personal details are not touched."""
    from affectation.domain.territory import pupil_groups
    from affectation.geodata import load_communes, load_lycees

    st, of = instance.students, instance.offers
    communes = load_communes()
    groups = pupil_groups(instance, communes)
    lycees = load_lycees().set_index("uai")
    commune_name = dict(zip(communes["insee"], communes["name"], strict=True))
    commune_dep = dict(zip(communes["insee"], communes["department"], strict=True))

    known_schools = set(conn.execute(select(t.school.c.uai)).scalars())
    new_schools = []
    for uai in sorted(set(map(str, st.school)) - known_schools):
        row: dict[str, Any] = {"uai": uai}
        if uai in lycees.index:
            insee = str(lycees.at[uai, "insee"])
            row.update(name=str(lycees.at[uai, "name"]), city=commune_name.get(insee, ""),
                       department=commune_dep.get(insee, ""))
        new_schools.append(row)
    if new_schools:
        conn.execute(insert(t.school), new_schools)

    pupils = [{"student_id": str(sid), "school_uai": str(sch), "priority": bool(pr),
               "status": str(status), "epci": str(epci), "department": str(dep), "active": True}
              for sid, sch, pr, status, epci, dep in zip(
                  st.ids, st.school, st.priority, st.status, groups["epci"],
                  groups["department"], strict=True)]
    n_pupils = _upsert(conn, t.pupil, "student_id", pupils)

    employers: dict[str, str] = {}
    for eid, name in zip(of.employer_id, of.employer_name, strict=True):
        if str(eid):
            employers.setdefault(str(eid), str(name))
    known_emp = dict(conn.execute(select(t.employer.c.employer_id, t.employer.c.name)).all())
    new_emp = [{"employer_id": e, "name": n} for e, n in employers.items() if e not in known_emp]
    if new_emp:
        conn.execute(insert(t.employer), new_emp)
    renamed = [{"k": e, "name": n} for e, n in employers.items()
               if e in known_emp and n and known_emp[e] != n]
    if renamed:
        conn.execute(update(t.employer).where(t.employer.c.employer_id == bindparam("k"))
                     .values(name=bindparam("name")), renamed)

    pair_ids = instance.pairs.ids
    offers = [{"offer_id": str(oid), "employer_id": str(eid) or None,
               "employer_name": str(name), "lat": float(lat), "lon": float(lon),
               "capacity": int(cap), "period": int(per), "sector": str(sec),
               "reserved": bool(res), "accessible": bool(acc),
               "pair_id": str(pair_ids[p]) if p >= 0 else "",
               "min_group": int(instance.pairs.min_group[p]) if p >= 0 else 0, "active": True}
              for oid, eid, name, lat, lon, cap, per, sec, res, acc, p in zip(
                  of.ids, of.employer_id, of.employer_name, of.lat, of.lon, of.capacity,
                  of.period, of.sector, of.reserved, of.accessible, of.pair, strict=True)]
    n_offers = _upsert(conn, t.offer, "offer_id", offers)
    return {"schools": len(known_schools) + len(new_schools), "pupils": n_pupils,
            "offers": n_offers, "employers": len(employers)}


def _upsert(conn: Connection, table: Any, key: str, rows: list[dict[str, Any]]) -> int:
    """Insert the new rows, update the changed ones (only the columns given), mark the
    others inactive. Returns the number of rows given."""
    columns = list(rows[0]) if rows else [key, "active"]
    k = columns.index(key)
    active = columns.index("active")
    existing = {r[k]: tuple(r) for r in conn.execute(
        select(*(table.c[c] for c in columns))).all()}
    new = [r for r in rows if r[key] not in existing]
    changed = [r for r in rows if r[key] in existing
               and existing[r[key]] != tuple(r[c] for c in columns)]
    if new:
        conn.execute(insert(table), new)
    if changed:
        values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns if c != key}
        conn.execute(update(table).where(table.c[key] == bindparam("k")).values(**values),
                     [{"k": r[key], **{f"v_{c}": r[c] for c in columns if c != key}}
                      for r in changed])
    given = {r[key] for r in rows}
    gone = [g for g, r in existing.items() if g not in given and r[active]]
    if gone:
        conn.execute(update(table).where(table.c[key] == bindparam("k")).values(active=False),
                     [{"k": g} for g in gone])
    return len(rows)


def _bulk_insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows through the driver's executemany, values converted once per column
    by the column types' own bind processors: what `insert(table)` does, without compiling
    parameters row by row (3 s of a 10-s load at Normandy scale)."""
    if not rows:
        return
    dialect = conn.dialect
    columns = list(rows[0])
    processors = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
                  for c in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    values = [tuple(v if f is None else f(v) for f, v in zip(processors, (r[c] for c in columns),
                                                              strict=True))
              for r in rows]
    conn.exec_driver_sql(sql, values)


# --------------------------------------------------------------------------
# Agreements: creation and transitions (each one an event row)
# --------------------------------------------------------------------------

def _create_agreement(conn: Connection, student: str, offer: str, week1: bool, week2: bool,
                      run_id: int | None, who: str, at: datetime, detail: str,
                      state: str = PROPOSED) -> int:
    aid = conn.execute(insert(t.agreement).values(
        student_id=student, offer_id=offer, week1=week1, week2=week2, state=state,
        run_id=run_id, created_at=at, updated_at=at).returning(t.agreement.c.id)).scalar_one()
    conn.execute(insert(t.event).values(agreement_id=aid, at=at, who=who, from_state=None,
                                        to_state=state, detail=detail))
    return int(aid)


def _transition(conn: Connection, aid: int, old: str, new: str, who: str, at: datetime,
                detail: str) -> None:
    """Move agreement `aid` from `old` to `new` (guarded: the row must still be in `old`)
    and write the event."""
    done = conn.execute(update(t.agreement).where(t.agreement.c.id == aid,
                                                  t.agreement.c.state == old)
                        .values(state=new, updated_at=at)).rowcount
    if done != 1:
        raise TransitionError(f"convention {aid} : état modifié entre-temps")
    conn.execute(insert(t.event).values(agreement_id=aid, at=at, who=who, from_state=old,
                                        to_state=new, detail=detail))


def _bulk_transition(conn: Connection, changes: list[tuple[int, str, str, str]], who: str,
                     at: datetime) -> None:
    """Many transitions at once: (agreement id, from, to, detail)."""
    if not changes:
        return
    conn.execute(update(t.agreement).where(t.agreement.c.id == bindparam("k"),
                                           t.agreement.c.state == bindparam("old"))
                 .values(state=bindparam("new"), updated_at=at),
                 [{"k": a, "old": o, "new": n} for a, o, n, _ in changes])
    conn.execute(insert(t.event), [
        {"agreement_id": a, "at": at, "who": who, "from_state": o, "to_state": n,
         "detail": d} for a, o, n, d in changes])


@dataclass(frozen=True)
class AgreementRow:
    id: int
    student_id: str
    offer_id: str
    week1: bool
    week2: bool
    state: str

    @property
    def weeks(self) -> tuple[int, ...]:
        return tuple(w for w, on in ((1, self.week1), (2, self.week2)) if on)

    def label(self) -> str:
        weeks = "semaines 1 et 2" if len(self.weeks) == 2 else f"semaine {self.weeks[0]}"
        return f"offre {self.offer_id} ({weeks})"


def _agreements(conn: Connection, *where: Any) -> list[AgreementRow]:
    a = t.agreement
    rows = conn.execute(select(a.c.id, a.c.student_id, a.c.offer_id, a.c.week1, a.c.week2,
                               a.c.state).where(*where).order_by(a.c.id)).all()
    return [AgreementRow(int(r[0]), r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in rows]


def live_agreements(conn: Connection, student_id: str) -> list[AgreementRow]:
    return _agreements(conn, t.agreement.c.student_id == student_id,
                       t.agreement.c.state != CANCELLED)


def send(conn: Connection, who: str, school: str | None = None,
         students: Sequence[str] | None = None) -> int:
    """Mark proposed agreements as sent (all, one school's, or some pupils'). Returns how
    many changed; those already sent or signed are left as they are."""
    a = t.agreement
    where = [a.c.state == PROPOSED]
    if school is not None:
        where.append(a.c.student_id.in_(select(t.pupil.c.student_id)
                                        .where(t.pupil.c.school_uai == school)))
    if students is not None:
        where.append(a.c.student_id.in_(list(students)))
    ids = conn.execute(select(a.c.id).where(*where).order_by(a.c.id)).scalars().all()
    _bulk_transition(conn, [(int(i), PROPOSED, SENT, "envoyée aux parties") for i in ids],
                     who, now())
    return len(ids)


def cancel(conn: Connection, student_id: str, offer_id: str | None, reason: str,
           who: str) -> list[AgreementRow]:
    """Cancel a pupil's live agreement(s) (at `offer_id`, or all of them)."""
    rows = live_agreements(conn, student_id)
    if offer_id is not None:
        rows = [r for r in rows if r.offer_id == offer_id]
    if not rows:
        raise TransitionError(f"aucune convention en cours pour l'élève {student_id}"
                              + (f" à l'offre {offer_id}" if offer_id else ""))
    at = now()
    for r in rows:
        check_cancel(r.state)
        _transition(conn, r.id, r.state, CANCELLED, who, at,
                    f"annulée : {reason}" if reason else "annulée")
    return rows


@dataclass(frozen=True)
class SignatureRow:
    """One row of a signature sheet, already parsed (`sheets.read_signatures`)."""

    line: int
    student_id: str
    role: str
    signed_on: date
    mode: str
    offer_id: str = ""
    week: int = 0


@dataclass
class RecordReport:
    """What `record` did with each row: applied, already there, or rejected (line, why)."""

    file: str
    applied: int = 0
    unchanged: int = 0
    completed: int = 0  # agreements that became `signee`
    rejected: list[Problem] = field(default_factory=list)


def record_signatures(conn: Connection, rows: Sequence[SignatureRow], file: str, who: str,
                      school: str | None = None) -> RecordReport:
    """Apply signature rows: a row whose pupil has no matching live agreement, whose role
    already signed (at another date or mode), or whose agreement is cancelled is rejected
    with its line and reason; a row already recorded (same role, date and mode) changes
    nothing, so that the same sheet applied twice changes nothing. A proposed agreement
    that receives a signature is first marked sent."""
    report = RecordReport(file)
    if not rows:
        return report
    at = now()
    ids = sorted({r.student_id for r in rows})
    a, s, p = t.agreement, t.signature, t.pupil
    schools = dict(conn.execute(select(p.c.student_id, p.c.school_uai)
                                .where(p.c.student_id.in_(ids))).all())
    by_pupil: dict[str, list[AgreementRow]] = defaultdict(list)
    for ag in _agreements(conn, a.c.student_id.in_(ids)):
        by_pupil[ag.student_id].append(ag)
    signed: dict[int, dict[str, tuple[date, str]]] = defaultdict(dict)
    all_ids = [ag.id for ags in by_pupil.values() for ag in ags]
    for aid, role, on, mode in conn.execute(select(s.c.agreement_id, s.c.role, s.c.signed_on,
                                                   s.c.mode).where(s.c.agreement_id.in_(all_ids))):
        signed[int(aid)][role] = (on, mode)
    state = {ag.id: ag.state for ags in by_pupil.values() for ag in ags}
    new_signatures: list[dict[str, Any]] = []
    changes: list[tuple[int, str, str, str]] = []

    def reject(r: SignatureRow, column: str, value: str, why: str) -> None:
        report.rejected.append(Problem(file, why, line=r.line, column=column, value=value))

    for r in rows:
        if r.student_id not in schools:
            reject(r, "student_id", r.student_id, "un élève de la campagne")
            continue
        if school is not None and schools[r.student_id] != school:
            reject(r, "student_id", r.student_id, f"un élève de l'établissement {school} "
                   f"(cet élève relève de {schools[r.student_id]})")
            continue
        candidates = [ag for ag in by_pupil.get(r.student_id, [])
                      if (not r.offer_id or ag.offer_id == r.offer_id)
                      and (not r.week or r.week in ag.weeks)]
        live = [ag for ag in candidates if state[ag.id] != CANCELLED]
        if not live:
            if candidates:
                reject(r, "student_id", r.student_id, "une convention en cours : celle de "
                       f"l'élève ({candidates[-1].label()}) est annulée et ne peut pas être "
                       "signée")
            else:
                where = "".join([f" à l'offre {r.offer_id}" if r.offer_id else "",
                                 f" en semaine {r.week}" if r.week else ""])
                reject(r, "student_id", r.student_id,
                       f"une convention de l'élève{where} (aucune dans la base)")
            continue
        if len(live) > 1:
            reject(r, "offer_id", r.offer_id, "une seule convention : l'élève en a "
                   f"{len(live)} ({', '.join(ag.label() for ag in live)}), préciser offer_id "
                   "ou week")
            continue
        ag = live[0]
        have = signed[ag.id]
        if r.role in have and have[r.role] == (r.signed_on, r.mode):
            report.unchanged += 1
            continue
        try:
            check_signature(state[ag.id], r.role,
                            {k: v[0].strftime("%d/%m/%Y") for k, v in have.items()})
        except TransitionError as exc:
            reject(r, "role", r.role, f"une signature possible : {exc}")
            continue
        old = state[ag.id]
        if old == PROPOSED:
            changes.append((ag.id, PROPOSED, SENT, "envoyée (signature reçue)"))
            old = SENT
        have[r.role] = (r.signed_on, r.mode)
        new = state_after_signature(len(have))
        mode_text = {"papier": "papier", "electronique": "électronique",
                     "hors_outil": "hors outil"}[r.mode]
        changes.append((ag.id, old, new, f"signature {r.role} ({mode_text}, "
                        f"{r.signed_on.isoformat()}) ; {file} ligne {r.line}"))
        state[ag.id] = new
        report.completed += new == SIGNED
        new_signatures.append({"agreement_id": ag.id, "role": r.role, "signed_on": r.signed_on,
                               "mode": r.mode, "recorded_at": at, "recorded_by": who,
                               "source": f"{file}:{r.line}"})
        report.applied += 1
    if new_signatures:
        conn.execute(insert(s), new_signatures)
    # Events in row order; state updates collapsed to one per agreement.
    if changes:
        conn.execute(insert(t.event), [
            {"agreement_id": aid, "at": at, "who": who, "from_state": o, "to_state": n,
             "detail": d} for aid, o, n, d in changes])
        final = {aid: n for aid, _, n, _ in changes}
        conn.execute(update(a).where(a.c.id == bindparam("k"))
                     .values(state=bindparam("new"), updated_at=at),
                     [{"k": k, "new": v} for k, v in final.items()])
    return report


# --------------------------------------------------------------------------
# Loading a run
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """A pupil whose sent or signed agreement(s) the run would change: they are kept."""

    student_id: str
    school: str
    kept: str
    run_says: str


@dataclass
class LoadReport:
    run_id: int
    kind: str
    placements: int = 0
    created: int = 0
    unchanged: int = 0
    cancelled: int = 0
    differences: list[Difference] = field(default_factory=list)

    def summary(self) -> str:
        return (f"run {self.run_id} ({self.kind}) chargé : {self.placements} semaines placées ; "
                f"{self.created} convention(s) proposée(s), {self.unchanged} inchangée(s), "
                f"{self.cancelled} proposition(s) remplacée(s) ; {len(self.differences)} "
                "élève(s) dont la convention envoyée ou signée est conservée malgré le run")

    def differences_csv(self) -> str:
        import csv
        import io

        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(("student_id", "school_id", "conservee", "le_run_propose"))
        for d in self.differences:
            w.writerow((d.student_id, d.school, d.kept, d.run_says))
        return out.getvalue()


def _weeks(week1: bool, week2: bool) -> set[int]:
    return {w for w, on in ((1, week1), (2, week2)) if on}


def _wanted(week1: str, week2: str) -> list[tuple[str, bool, bool]]:
    """The agreements a pupil's two weeks call for: one when the same offer holds both
    weeks, else one per week (a split, a mutualised pair: one per firm and week)."""
    if week1 and week1 == week2:
        return [(week1, True, True)]
    return [(o, w == 1, w == 2) for w, o in ((1, week1), (2, week2)) if o]


def load_run(conn: Connection, instance: Instance, result_dir: Path, who: str,
             kind: str | None = None) -> LoadReport:
    """Load a solve or repair result: inputs synchronised, the run and its placements
    recorded, proposed agreements made to match it. Agreements sent or signed are kept
    whatever the run says; each pupil where the run differs is reported."""
    from affectation.io.results import assignments_path, read_assignments

    path = assignments_path(result_dir)
    previous = read_assignments(instance, path)  # strict: every pupil and offer known
    summary_path = Path(result_dir) / "summary.json"
    summary: dict[str, Any] = {}
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
    if kind is None:
        kind = "repair" if "changes" in summary or (Path(result_dir) / "changes.csv").is_file() \
            else "solve"
    sync_inputs(conn, instance)
    at = now()
    run_id = int(conn.execute(insert(t.run).values(
        kind=kind, loaded_at=at, loaded_by=who, result_dir=str(Path(result_dir).resolve()),
        assignments_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        summary=json.dumps({k: summary[k] for k in ("placed_full", "students_to_place",
                                                     "upper_bound_full", "solver_status")
                            if k in summary}, ensure_ascii=False))
        .returning(t.run.c.id)).scalar_one())
    report = LoadReport(run_id, kind)
    st, of = instance.students, instance.offers
    alloc = previous.allocation
    offer_ids = of.ids.astype(str)
    week_offer = [np.where(alloc[:, w] >= 0, offer_ids[np.maximum(alloc[:, w], 0)], "")
                  for w in (0, 1)]
    kinds = previous.kind
    placements = []
    for w in (0, 1):
        for p in np.flatnonzero(alloc[:, w] >= 0):
            placements.append({"run_id": run_id, "student_id": str(st.ids[p]), "week": w + 1,
                               "offer_id": str(week_offer[w][p]), "kind": str(kinds[p])})
    _bulk_insert(conn, t.placement, placements)
    report.placements = len(placements)

    wanted: dict[str, list[tuple[str, bool, bool]]] = {}
    for k in range(st.n):
        if previous.listed[k]:
            wanted[str(st.ids[k])] = _wanted(str(week_offer[0][k]), str(week_offer[1][k]))
    existing: dict[str, list[AgreementRow]] = defaultdict(list)
    for ag in _agreements(conn, t.agreement.c.state != CANCELLED):
        existing[ag.student_id].append(ag)
    school_of = dict(zip(map(str, st.ids), map(str, st.school), strict=True))
    school_of.update({k: v for k, v in conn.execute(
        select(t.pupil.c.student_id, t.pupil.c.school_uai).where(
            t.pupil.c.student_id.in_([s for s in existing if s not in school_of]))).all()})
    cancels: list[tuple[int, str, str, str]] = []
    creates: list[tuple[str, str, bool, bool]] = []
    for sid in sorted(set(wanted) | set(existing)):
        want = wanted.get(sid, [])
        have = existing.get(sid, [])
        locked = [ag for ag in have if ag.state in LOCKED_STATES]
        have_keys = {(ag.offer_id, ag.week1, ag.week2): ag for ag in have}
        locked_weeks = {w for ag in locked for w in ag.weeks}
        want_set = set(want)
        conflict = bool(locked) and (
            any(k not in have_keys and _weeks(k[1], k[2]) & locked_weeks for k in want)
            or any((ag.offer_id, ag.week1, ag.week2) not in want_set for ag in locked))
        for ag in have:
            key = (ag.offer_id, ag.week1, ag.week2)
            if ag.state == PROPOSED and key not in want_set:
                cancels.append((ag.id, PROPOSED, CANCELLED, f"proposition remplacée par le run "
                                f"{run_id}"))
            elif key in want_set:
                report.unchanged += 1
        if conflict:
            says = ", ".join(AgreementRow(0, sid, o, w1, w2, PROPOSED).label()
                             for o, w1, w2 in want) or "aucun stage"
            report.differences.append(Difference(
                sid, school_of.get(sid, ""),
                "; ".join(f"{STATE_LABELS[ag.state]} : {ag.label()}" for ag in locked), says))
            continue
        for o, w1, w2 in want:
            if (o, w1, w2) not in have_keys:
                creates.append((sid, o, w1, w2))
    _bulk_transition(conn, cancels, who, at)
    report.cancelled = len(cancels)
    if creates:
        # Bulk insert without RETURNING (which SQLite would run row by row), then read the
        # new ids back: they are this run's proposed agreements.
        _bulk_insert(conn, t.agreement, [
            {"student_id": s, "offer_id": o, "week1": w1, "week2": w2, "state": PROPOSED,
             "run_id": run_id, "created_at": at, "updated_at": at}
            for s, o, w1, w2 in creates])
        a = t.agreement
        new_ids = conn.execute(select(a.c.id).where(a.c.run_id == run_id,
                                                    a.c.created_at == at,
                                                    a.c.state == PROPOSED)
                               .order_by(a.c.id)).scalars().all()
        assert len(new_ids) == len(creates)
        _bulk_insert(conn, t.event, [
            {"agreement_id": int(i), "at": at, "who": who, "from_state": None,
             "to_state": PROPOSED, "detail": f"proposée par le run {run_id} ({kind})"}
            for i in new_ids])
    report.created = len(creates)
    conn.execute(update(t.campaign).values(current_run_id=run_id))
    return report


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------

GROUPINGS = ("school", "epci", "department", "week")
STATUS_COLUMNS = ("groupe", "libelle", "eleves_a_placer", "eleves_avec_convention",
                  "eleves_signes", "eleves_sans_convention_signee", *STATES, "en_signature")


def status_table(conn: Connection, by: str | None = None) -> list[dict[str, Any]]:
    """Counts per group (all pupils when `by` is None): pupils to place, pupils with live
    agreements for both weeks, pupils signed for both weeks, those not yet, agreements per
    state and those sent with at least one signature (`en_signature`)."""
    a, p, s = t.agreement, t.pupil, t.signature
    pupils = conn.execute(select(p.c.student_id, p.c.school_uai, p.c.epci, p.c.department)
                          .where(p.c.active, p.c.status == "")).all()
    group_of: dict[str, list[str]] = {}
    for sid, school, epci, dep in pupils:
        key = {"school": [school], "epci": [epci], "department": [dep], "week": ["1", "2"],
               None: ["toutes"]}[by]
        group_of[sid] = key
    cover: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    signing = {int(x) for x in conn.execute(select(s.c.agreement_id).distinct()).scalars()}
    rows = conn.execute(select(a.c.id, a.c.student_id, a.c.week1, a.c.week2, a.c.state,
                               p.c.school_uai, p.c.epci, p.c.department)
                        .join(p, p.c.student_id == a.c.student_id)).all()
    for aid, sid, w1, w2, state, school, epci, dep in rows:
        weeks = [w for w, on in ((1, w1), (2, w2)) if on]
        keys = {"school": [school], "epci": [epci], "department": [dep],
                "week": [str(w) for w in weeks], None: ["toutes"]}[by]
        for k in keys:
            counts[k][state] += 1
            if state == SENT and int(aid) in signing:
                counts[k]["en_signature"] += 1
        if state in LIVE_STATES:
            cover[sid]["live"].update(weeks)
        if state == SIGNED:
            cover[sid]["signed"].update(weeks)
    table: dict[str, dict[str, Any]] = {}

    def entry(k: str) -> dict[str, Any]:
        if k not in table:
            table[k] = {c: 0 for c in STATUS_COLUMNS}
            table[k]["groupe"], table[k]["libelle"] = k, ""
        return table[k]

    for sid, keys in group_of.items():
        for k in keys:
            e = entry(k)
            e["eleves_a_placer"] += 1
            need = {int(k)} if by == "week" else {1, 2}
            if need <= cover[sid]["live"]:
                e["eleves_avec_convention"] += 1
            if need <= cover[sid]["signed"]:
                e["eleves_signes"] += 1
            else:
                e["eleves_sans_convention_signee"] += 1
    for k, c in counts.items():
        e = entry(k)
        for state, n in c.items():
            e[state] += n
    labels = _group_labels(conn, by)
    out = []
    for k in sorted(table):
        e = table[k]
        e["libelle"] = labels.get(k, "")
        out.append(e)
    return out


def _group_labels(conn: Connection, by: str | None) -> dict[str, str]:
    if by == "school":
        return dict(conn.execute(select(t.school.c.uai, t.school.c.name)).all())
    if by in ("epci", "department"):
        from affectation.domain.territory import group_labels
        from affectation.geodata import load_communes

        return group_labels(load_communes())[by]
    if by == "week":
        c = get_campaign(conn)
        return {"1": c.weeks[0], "2": c.weeks[1]}
    return {"toutes": "campagne"}


def unsigned_pupils(conn: Connection, on: date) -> list[dict[str, str]]:
    """Pupils to place without agreements signed by all four parties for both weeks by the
    end of day `on` (signature dates as recorded), with what they have."""
    a, p, s = t.agreement, t.pupil, t.signature
    done: dict[int, int] = dict(conn.execute(
        select(s.c.agreement_id, func.count()).where(s.c.signed_on <= on)
        .group_by(s.c.agreement_id)).all())
    covered: dict[str, set[int]] = defaultdict(set)
    states: dict[str, list[str]] = defaultdict(list)
    for aid, sid, oid, w1, w2, state in conn.execute(
            select(a.c.id, a.c.student_id, a.c.offer_id, a.c.week1, a.c.week2, a.c.state)
            .where(a.c.state != CANCELLED).order_by(a.c.id)):
        weeks = {w for w, on_ in ((1, w1), (2, w2)) if on_}
        if state == SIGNED and done.get(int(aid), 0) >= len(ROLES):
            covered[sid] |= weeks
        states[sid].append(f"{oid} : {STATE_LABELS[state]} ({done.get(int(aid), 0)}/4)")
    out = []
    for sid, school in conn.execute(select(p.c.student_id, p.c.school_uai)
                                    .where(p.c.active, p.c.status == "")
                                    .order_by(p.c.school_uai, p.c.student_id)):
        if covered[sid] >= {1, 2}:
            continue
        missing = sorted({1, 2} - covered[sid])
        out.append({"student_id": sid, "school_id": school,
                    "semaines_non_signees": " et ".join(map(str, missing)),
                    "conventions": " ; ".join(states[sid]) or "aucune"})
    return out


def convention_rows(conn: Connection) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(signed, pending): v1 conventions rows (`student_id`, `offer_id`, `week`) of the
    agreements signed by all four parties, and of those sent but not yet signed. A two-week
    agreement is one row with an empty week; a one-week agreement names its week."""
    a = t.agreement
    signed: list[dict[str, str]] = []
    pending: list[dict[str, str]] = []
    for ag in _agreements(conn, a.c.state.in_(LOCKED_STATES)):
        row = {"student_id": ag.student_id, "offer_id": ag.offer_id,
               "week": "" if len(ag.weeks) == 2 else str(ag.weeks[0])}
        (signed if ag.state == SIGNED else pending).append(row)
    key = lambda r: (r["student_id"], r["week"], r["offer_id"])  # noqa: E731
    return sorted(signed, key=key), sorted(pending, key=key)


def events_of(conn: Connection, student_id: str) -> list[dict[str, Any]]:
    """Every event of a pupil's agreements, oldest first (for a school's page)."""
    e, a = t.event, t.agreement
    return [dict(r) for r in conn.execute(
        select(e.c.at, e.c.who, e.c.from_state, e.c.to_state, e.c.detail, a.c.offer_id)
        .join(a, a.c.id == e.c.agreement_id).where(a.c.student_id == student_id)
        .order_by(e.c.id)).mappings()]


def pupils_of_school(conn: Connection, uai: str) -> list[str]:
    """The pupils of one school (indexed: what a school's account sees)."""
    return list(conn.execute(select(t.pupil.c.student_id).where(t.pupil.c.school_uai == uai)
                             .order_by(t.pupil.c.student_id)).scalars())


# --------------------------------------------------------------------------
# Agreement documents
# --------------------------------------------------------------------------

def agreement_documents(conn: Connection, school: str | None = None,
                        states: Iterable[str] = (PROPOSED, SENT, SIGNED),
                        ids: Sequence[int] | None = None) -> list[AgreementDocument]:
    """Everything the store knows for each agreement's document, in school, pupil, week
    order. An `InputError` after `purge`."""
    c = get_campaign(conn)
    if c.purged_at is not None:
        raise InputError([Problem("base de campagne", "des données personnelles : elles ont "
                                  f"été purgées le {c.purged_at:%d/%m/%Y}")])
    a, p, pe, sc, o, em, tu = (t.agreement, t.pupil, t.person, t.school, t.offer, t.employer,
                               t.tutor)
    query = (select(a.c.id, a.c.student_id, a.c.offer_id, a.c.week1, a.c.week2, a.c.state,
                    p.c.school_uai, *[pe.c[k] for k in _PERSON],
                    *[sc.c[k].label(f"school_{k}") for k in _SCHOOL],
                    *[o.c[k].label(f"offer_{k}") for k in _OFFER],
                    *[em.c[k].label(f"employer_{k}") for k in _EMPLOYER],
                    *[tu.c[k].label(f"tutor_{k}") for k in _TUTOR])
             .join(p, p.c.student_id == a.c.student_id)
             .join(sc, sc.c.uai == p.c.school_uai)
             .join(o, o.c.offer_id == a.c.offer_id)
             .outerjoin(pe, pe.c.student_id == a.c.student_id)
             .outerjoin(em, em.c.employer_id == o.c.employer_id)
             .outerjoin(tu, tu.c.offer_id == o.c.offer_id)
             .where(a.c.state.in_(list(states))))
    if school is not None:
        query = query.where(p.c.school_uai == school)
    if ids is not None:
        query = query.where(a.c.id.in_(list(ids)))
    query = query.order_by(p.c.school_uai, a.c.student_id, a.c.week2, a.c.id)
    mondays = [week_monday(w) for w in c.weeks]
    out = []
    for r in conn.execute(query).mappings():
        weeks = tuple(w for w, on in ((1, r["week1"]), (2, r["week2"])) if on)
        out.append(AgreementDocument(
            agreement_id=int(r["id"]), state=r["state"], campaign=c.name,
            student_id=r["student_id"], offer_id=r["offer_id"], weeks=weeks,
            iso_weeks=tuple(c.weeks[w - 1] for w in weeks),
            first_day=mondays[weeks[0] - 1], last_day=mondays[weeks[-1] - 1] + timedelta(4),
            **{k: _text(r[k]) for k in _PERSON if k not in ("birth_date", "pai")},
            birth_date=r["birth_date"].strftime("%d/%m/%Y") if r["birth_date"] else "",
            pai=bool(r["pai"]) if r["pai"] is not None else None,
            school_uai=r["school_uai"],
            **{f"school_{k}": _text(r[f"school_{k}"]) for k in _SCHOOL},
            **{f"offer_{k}": _text(r[f"offer_{k}"]) for k in _OFFER},
            **{f"employer_{k}": _text(r[f"employer_{k}"]) for k in _EMPLOYER},
            **{f"tutor_{k}": _text(r[f"tutor_{k}"]) for k in _TUTOR}))
    return out


_PERSON = ("last_name", "first_name", "birth_date", "class_name", "address", "phone", "email",
           "rep1_name", "rep1_email", "rep1_phone", "rep2_name", "rep2_email", "rep2_phone",
           "teacher_name", "teacher_email", "teacher_phone", "pai")
_SCHOOL = ("name", "address", "postcode", "city", "legal_status", "delegation_date",
           "head_name", "head_role", "email", "phone")
_OFFER = ("employer_name", "employer_id", "title", "description", "street", "postcode", "city",
          "schedule", "meals")
_EMPLOYER = ("name", "address", "representative_name", "representative_role", "email",
             "phone")
_TUTOR = ("full_name", "role", "email", "phone")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------

def offer_rows(conn: Connection, active_only: bool = True) -> list[dict[str, Any]]:
    """Offers with their employer's details, in offer order (for export-offers)."""
    o, em = t.offer, t.employer
    query = (select(o, em.c.description.label("employer_description"),
                    em.c.website.label("employer_website"),
                    em.c.name.label("employer_label"))
             .outerjoin(em, em.c.employer_id == o.c.employer_id).order_by(o.c.offer_id))
    if active_only:
        query = query.where(o.c.active)
    return [dict(r) for r in conn.execute(query).mappings()]


PLACEMENT_COLUMNS = ("student_id", "school_id", "offer_id", "employer_id", "employer_name",
                     "weeks", "date_range", "state", "signatures", "last_change")


def placement_rows(conn: Connection) -> list[dict[str, str]]:
    """The hand-over of live agreements for the platform's operators: pseudonymous ids, the
    offer and its employer, weeks, state and signatures (no personal field)."""
    c = get_campaign(conn)
    a, p, o, s = t.agreement, t.pupil, t.offer, t.signature
    roles: dict[int, list[str]] = defaultdict(list)
    for aid, role in conn.execute(select(s.c.agreement_id, s.c.role)
                                  .order_by(s.c.agreement_id, s.c.role)):
        roles[int(aid)].append(role)
    mondays = [week_monday(w) for w in c.weeks]
    out = []
    for r in conn.execute(
            select(a.c.id, a.c.student_id, p.c.school_uai, a.c.offer_id, o.c.employer_id,
                   o.c.employer_name, a.c.week1, a.c.week2, a.c.state, a.c.updated_at)
            .join(p, p.c.student_id == a.c.student_id).join(o, o.c.offer_id == a.c.offer_id)
            .where(a.c.state != CANCELLED).order_by(p.c.school_uai, a.c.student_id, a.c.id)
            ).mappings():
        weeks = [w for w, on in ((1, r["week1"]), (2, r["week2"])) if on]
        first, last = mondays[weeks[0] - 1], mondays[weeks[-1] - 1] + timedelta(4)
        out.append({"student_id": r["student_id"], "school_id": r["school_uai"],
                    "offer_id": r["offer_id"], "employer_id": r["employer_id"] or "",
                    "employer_name": r["employer_name"],
                    "weeks": "|".join(c.weeks[w - 1] for w in weeks),
                    "date_range": f"Du {first:%d/%m/%Y} au {last:%d/%m/%Y}",
                    "state": r["state"], "signatures": "|".join(roles.get(int(r["id"]), [])),
                    "last_change": r["updated_at"].isoformat(sep=" ")})
    return out


# --------------------------------------------------------------------------
# Personal details and purge
# --------------------------------------------------------------------------

def known_ids(conn: Connection, kind: str) -> set[str]:
    table, key = {"people": (t.pupil, "student_id"), "schools": (t.school, "uai"),
                  "employers": (t.employer, "employer_id"),
                  "offers": (t.offer, "offer_id")}[kind]
    return set(conn.execute(select(table.c[key])).scalars())


def save_details(conn: Connection, kind: str, rows: list[dict[str, Any]]) -> int:
    """Write parsed detail rows (`sheets.read_details`); `people` and tutors are upserted
    into their own tables, schools, employers and offers updated in place. Returns the
    number of rows that changed something."""
    c = get_campaign(conn)
    if c.purged_at is not None:
        raise InputError([Problem("base de campagne", "une campagne non purgée (les données "
                                  "personnelles ont été effacées)")])
    if not rows:
        return 0
    if kind == "people":
        return _upsert_rows(conn, t.person, "student_id", rows)
    if kind == "offers":
        tutor_cols = [k for k in rows[0] if k.startswith("tutor_")]
        offer_rows_ = [{k: v for k, v in r.items() if not k.startswith("tutor_")} for r in rows]
        n = _update_rows(conn, t.offer, "offer_id", offer_rows_)
        if tutor_cols:
            tutors = [{"offer_id": r["offer_id"],
                       **{k.removeprefix("tutor_"): r[k] for k in tutor_cols}} for r in rows]
            n += _upsert_rows(conn, t.tutor, "offer_id", tutors)
        return n
    table, key = {"schools": (t.school, "uai"), "employers": (t.employer, "employer_id")}[kind]
    return _update_rows(conn, table, key, rows)


def _upsert_rows(conn: Connection, table: Any, key: str, rows: list[dict[str, Any]]) -> int:
    columns = list(rows[0])
    existing = {r[key]: dict(r) for r in conn.execute(
        select(*(table.c[c] for c in columns))).mappings()}
    new = [r for r in rows if r[key] not in existing]
    if new:
        conn.execute(insert(table), new)
    return len(new) + _update_rows(conn, table, key,
                                   [r for r in rows if r[key] in existing], existing)


def _update_rows(conn: Connection, table: Any, key: str, rows: list[dict[str, Any]],
                 existing: dict[str, dict[str, Any]] | None = None) -> int:
    if not rows:
        return 0
    columns = list(rows[0])
    if existing is None:
        existing = {r[key]: dict(r) for r in conn.execute(
            select(*(table.c[c] for c in columns))).mappings()}
    changed = [r for r in rows if existing.get(r[key]) != r]
    if changed:
        conn.execute(update(table).where(table.c[key] == bindparam("k"))
                     .values({c: bindparam(f"v_{c}") for c in columns if c != key}),
                     [{"k": r[key], **{f"v_{c}": r[c] for c in columns if c != key}}
                      for r in changed])
    return len(changed)


def purge(conn: Connection, who: str) -> dict[str, int]:
    """Delete every personal field (pupils' details, tutors, the contacts of schools and
    employers); pseudonymous tables and statistics stay."""
    counts = {"eleves": conn.execute(delete(t.person)).rowcount,
              "tuteurs": conn.execute(delete(t.tutor)).rowcount}
    for name, columns in t.PERSONAL_COLUMNS.items():
        table = getattr(t, name)
        counts[name] = conn.execute(update(table).where(or_(*(table.c[c].isnot(None)
                                                              for c in columns)))
                                    .values({c: None for c in columns})).rowcount
    conn.execute(update(t.campaign).values(purged_at=now()))
    _ = who
    return counts


def schema_is_current(conn: Connection) -> bool:
    from affectation.store.db import current_revision

    return current_revision(conn) == head_revision()



# --------------------------------------------------------------------------
# The web application: accounts, sessions, login attempts
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    """A web account. `school_uai` is set for (and only for) a school account."""

    id: int
    login: str
    role: str
    school_uai: str | None
    active: bool
    password_hash: str = field(repr=False, default="")
    department: str | None = None  # a coordinator of one département; None: the campaign


DEPARTMENT_CODE = re.compile(r"^(?:0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")


def _user(row: Any) -> User:
    return User(int(row["id"]), row["login"], row["role"], row["school_uai"], bool(row["active"]),
                row["password_hash"], row["department"])


def add_user(conn: Connection, login: str, password_hash: str, role: str,
             school_uai: str | None, department: str | None = None) -> User:
    """Create an account; an `InputError` for a login already taken, an unknown role, a
    school account without a known school, or another role with one, a département scope
    for another role than coordinator or a code that is not a département's."""
    if role not in t.USER_ROLES:
        raise InputError([Problem("--role", "coordinator, school ou analyst", value=role)])
    if department is not None and (role != "coordinator"
                                   or not DEPARTMENT_CODE.match(department)):
        raise InputError([Problem("--department", "un code de département (14, 2A, 974...) "
                                  "pour un compte de coordination (--role coordinator) "
                                  "seulement", value=department)])
    if (role == "school") != (school_uai is not None):
        raise InputError([Problem("--school", "un UAI pour un compte d'établissement (--role "
                                  "school), et seulement pour lui", value=school_uai or "")])
    if school_uai is not None and conn.execute(
            select(t.school.c.uai).where(t.school.c.uai == school_uai)).first() is None:
        raise InputError([Problem("--school", "un établissement de la campagne",
                                  value=school_uai)])
    if user_by_login(conn, login) is not None:
        raise InputError([Problem("LOGIN", "un identifiant libre (ce compte existe déjà)",
                                  value=login)])
    uid = conn.execute(insert(t.users).values(
        login=login, password_hash=password_hash, role=role, school_uai=school_uai,
        department=department, active=True, created_at=now()).returning(t.users.c.id)
    ).scalar_one()
    return User(int(uid), login, role, school_uai, True, password_hash, department)


def user_by_login(conn: Connection, login: str) -> User | None:
    row = conn.execute(select(t.users).where(t.users.c.login == login)).mappings().first()
    return None if row is None else _user(row)


def users_list(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(t.users).order_by(t.users.c.login)).mappings()]


def set_user(conn: Connection, login: str, *, active: bool | None = None,
             password_hash: str | None = None) -> bool:
    """Enable or disable an account, or change its password; a disabled account or a new
    password ends the account's sessions. False when the login is unknown."""
    values: dict[str, Any] = {}
    if active is not None:
        values["active"] = active
    if password_hash is not None:
        values["password_hash"] = password_hash
    user = user_by_login(conn, login)
    if user is None or not values:
        return False
    conn.execute(update(t.users).where(t.users.c.id == user.id).values(**values))
    conn.execute(delete(t.web_session).where(t.web_session.c.user_id == user.id))
    return True


def create_session(conn: Connection, user_id: int, token_hash: str, csrf_token: str,
                   at: datetime, expires_at: datetime) -> None:
    conn.execute(delete(t.web_session).where(t.web_session.c.expires_at < at))
    conn.execute(insert(t.web_session).values(token_hash=token_hash, user_id=user_id,
                                              csrf_token=csrf_token, created_at=at,
                                              expires_at=expires_at))


def session_user(conn: Connection, token_hash: str, at: datetime) -> tuple[User, str] | None:
    """The active account of a session that has not expired, and the session's CSRF token."""
    s, u = t.web_session, t.users
    row = conn.execute(select(u, s.c.csrf_token).join(s, s.c.user_id == u.c.id)
                       .where(s.c.token_hash == token_hash, s.c.expires_at > at, u.c.active)
                       ).mappings().first()
    return None if row is None else (_user(row), row["csrf_token"])


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(t.web_session).where(t.web_session.c.token_hash == token_hash))


def record_login_attempt(conn: Connection, login: str, ip: str, at: datetime,
                         success: bool) -> None:
    conn.execute(insert(t.login_attempt).values(login=login[:200], ip=ip[:64], at=at,
                                                success=success))


def failed_logins(conn: Connection, login: str, ip: str, since: datetime) -> tuple[int, int]:
    """Failed attempts since `since`: for `login` (after its last success), and from `ip`."""
    la = t.login_attempt
    last_ok = conn.execute(select(func.max(la.c.at)).where(
        la.c.login == login, la.c.success, la.c.at >= since)).scalar()
    by_login = conn.execute(select(func.count()).where(
        la.c.login == login, ~la.c.success, la.c.at >= (last_ok or since))).scalar_one()
    by_ip = conn.execute(select(func.count()).where(
        la.c.ip == ip, ~la.c.success, la.c.at >= since)).scalar_one()
    return int(by_login), int(by_ip)


# --------------------------------------------------------------------------
# The web application: background jobs (a repair started from the web)
# --------------------------------------------------------------------------

def running_job(conn: Connection) -> dict[str, Any] | None:
    """The job waiting or running, if any (one at a time)."""
    j = t.web_job
    row = conn.execute(select(j).where(j.c.state.in_(("en_attente", "en_cours")))
                       .order_by(j.c.id.desc())).mappings().first()
    return None if row is None else dict(row)


def create_job(conn: Connection, kind: str, who: str, steps: int) -> int:
    """A new job, waiting; a `TransitionError` while another one waits or runs."""
    other = running_job(conn)
    if other is not None:
        raise TransitionError(f"une réparation est déjà en cours (lancée par "
                              f"{other['started_by']} à {other['started_at']:%H:%M})")
    at = now()
    return int(conn.execute(insert(t.web_job).values(
        kind=kind, state="en_attente", stage="en attente", step=0, steps=steps, started_by=who,
        started_at=at, updated_at=at).returning(t.web_job.c.id)).scalar_one())


def update_job(conn: Connection, job_id: int, *, state: str | None = None,
               stage: str | None = None, step: int | None = None,
               detail: str | None = None) -> None:
    values: dict[str, Any] = {"updated_at": now()}
    for key, value in (("state", state), ("stage", stage), ("step", step), ("detail", detail)):
        if value is not None:
            values[key] = value
    if state in ("terminee", "echouee"):
        values["finished_at"] = values["updated_at"]
    conn.execute(update(t.web_job).where(t.web_job.c.id == job_id).values(**values))


def get_job(conn: Connection, job_id: int | None = None) -> dict[str, Any] | None:
    """One job, or the latest one."""
    j = t.web_job
    query = select(j).order_by(j.c.id.desc())
    if job_id is not None:
        query = query.where(j.c.id == job_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


# --------------------------------------------------------------------------
# The web application: the live allocation, its revision, placements
# --------------------------------------------------------------------------

def revision(conn: Connection) -> int:
    """The store's revision: the last event's id. Every change of an agreement (creation,
    transition, signature) writes an event, whoever makes it (command line or web), so two
    reads at the same revision see the same agreements."""
    return int(conn.execute(select(func.coalesce(func.max(t.event.c.id), 0))).scalar_one())


def changes_since(conn: Connection, since: int) -> tuple[set[str], set[str]]:
    """Pupils and offers whose agreements changed after revision `since`."""
    e, a = t.event, t.agreement
    pupils: set[str] = set()
    offers: set[str] = set()
    for sid, oid in conn.execute(select(a.c.student_id, a.c.offer_id)
                                 .join(e, e.c.agreement_id == a.c.id).where(e.c.id > since)
                                 .distinct()):
        pupils.add(sid)
        offers.add(oid)
    return pupils, offers


def live_agreement_rows(conn: Connection, students: Sequence[str] | None = None
                        ) -> list[AgreementRow]:
    """Live agreements (proposed, sent, signed) of every pupil, or of `students`."""
    where = [t.agreement.c.state != CANCELLED]
    if students is not None:
        where.append(t.agreement.c.student_id.in_(list(students)))
    return _agreements(conn, *where)


def set_pupil_weeks(conn: Connection, student_id: str, week1: str, week2: str, who: str,
                    detail: str) -> int:
    """Make pupil `student_id`'s live agreements say `week1`/`week2` (offer ids, '' for
    none): proposed agreements that no longer match are cancelled, the missing ones proposed
    (one per firm and week, as `load` does). A sent or signed agreement must already match
    (a `TransitionError` otherwise: they never move). Returns the agreements created."""
    at = now()
    want = _wanted(week1, week2)
    want_set = set(want)
    have = live_agreements(conn, student_id)
    have_keys = {(ag.offer_id, ag.week1, ag.week2) for ag in have}
    for ag in have:
        if (ag.offer_id, ag.week1, ag.week2) in want_set:
            continue
        if ag.state != PROPOSED:
            raise TransitionError(f"élève {student_id} : convention {STATE_LABELS[ag.state]} "
                                  f"({ag.label()}), elle ne peut pas être déplacée")
        _transition(conn, ag.id, PROPOSED, CANCELLED, who, at, f"remplacée : {detail}")
    created = 0
    for o, w1, w2 in want:
        if (o, w1, w2) not in have_keys:
            _create_agreement(conn, student_id, o, w1, w2, None, who, at, detail)
            created += 1
    return created


def send_agreement(conn: Connection, agreement_id: int, who: str) -> None:
    """Mark one proposed agreement as sent to the parties."""
    row = conn.execute(select(t.agreement.c.state).where(t.agreement.c.id == agreement_id)
                       ).scalar()
    if row != PROPOSED:
        raise TransitionError("seule une convention proposée peut être envoyée")
    _transition(conn, agreement_id, PROPOSED, SENT, who, now(), "envoyée aux parties")


def pupil_row(conn: Connection, student_id: str, names: bool) -> dict[str, Any] | None:
    """One pupil: school, priority, status, active; with `names`, the personal details
    a school shows (name, class)."""
    p, pe, sc = t.pupil, t.person, t.school
    columns = [p.c.student_id, p.c.school_uai, p.c.priority, p.c.status, p.c.active,
               p.c.epci, p.c.department, sc.c.name.label("school_name")]
    query = select(*columns).join(sc, sc.c.uai == p.c.school_uai)
    if names:
        query = select(*columns, pe.c.last_name, pe.c.first_name, pe.c.class_name).join(
            sc, sc.c.uai == p.c.school_uai).outerjoin(pe, pe.c.student_id == p.c.student_id)
    row = conn.execute(query.where(p.c.student_id == student_id)).mappings().first()
    return None if row is None else dict(row)


def _like(text_: str) -> str:
    """A LIKE pattern matching `text_` anywhere, its wildcards taken literally."""
    escaped = text_.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def school_pupils(conn: Connection, uai: str | None, search: str = "",
                  names: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """The active pupils of one school (all schools with None), in id order, with their live
    agreements (offer, weeks, state, signatures) and, with `names`, name and class. `search`
    (bound as a parameter, never spliced into SQL) matches the id, and with `names` the name
    or the class."""
    p, pe, a, s = t.pupil, t.person, t.agreement, t.signature
    columns = [p.c.student_id, p.c.school_uai, p.c.priority, p.c.status]
    if names:
        columns += [pe.c.last_name, pe.c.first_name, pe.c.class_name]
    query = select(*columns).where(p.c.active)
    if names:
        query = query.outerjoin(pe, pe.c.student_id == p.c.student_id)
    if uai is not None:
        query = query.where(p.c.school_uai == uai)
    search = search.strip()
    if search:
        pattern = _like(search)
        fields = [func.lower(p.c.student_id)]
        if names:
            fields += [func.lower(pe.c.last_name), func.lower(pe.c.first_name),
                       func.lower(pe.c.class_name),
                       func.lower(pe.c.first_name + " " + pe.c.last_name),
                       func.lower(pe.c.last_name + " " + pe.c.first_name)]
        query = query.where(or_(*(f.like(pattern, escape="\\") for f in fields)))
    query = query.order_by(p.c.student_id)
    if limit is not None:
        query = query.limit(limit)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    ids = [r["student_id"] for r in rows]
    by_pupil: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        where = a.c.state != CANCELLED
        if uai is not None:
            where = where & a.c.student_id.in_(select(p.c.student_id)
                                               .where(p.c.school_uai == uai))
        else:
            where = where & a.c.student_id.in_(ids)
        signed: dict[int, int] = {
            int(k): int(v) for k, v in conn.execute(
                select(s.c.agreement_id, func.count()).join(a, a.c.id == s.c.agreement_id)
                .where(where).group_by(s.c.agreement_id)).all()}
        for ag in _agreements(conn, where):
            by_pupil[ag.student_id].append({
                "id": ag.id, "offer_id": ag.offer_id, "weeks": ag.weeks, "state": ag.state,
                "signatures": int(signed.get(ag.id, 0))})
    for r in rows:
        r["agreements"] = by_pupil.get(r["student_id"], [])
    return rows


def agreement_details(conn: Connection, student_id: str) -> list[dict[str, Any]]:
    """A pupil's agreements (cancelled included, newest last) with their signatures."""
    a, s = t.agreement, t.signature
    out = []
    for ag in _agreements(conn, a.c.student_id == student_id):
        sigs = [dict(r) for r in conn.execute(
            select(s.c.role, s.c.signed_on, s.c.mode, s.c.recorded_by)
            .where(s.c.agreement_id == ag.id).order_by(s.c.role)).mappings()]
        out.append({"id": ag.id, "offer_id": ag.offer_id, "weeks": ag.weeks,
                    "state": ag.state, "signatures": sigs})
    return out


def agreement_owner(conn: Connection, agreement_id: int) -> tuple[str, str] | None:
    """(pupil, school) of an agreement."""
    a, p = t.agreement, t.pupil
    row = conn.execute(select(a.c.student_id, p.c.school_uai)
                       .join(p, p.c.student_id == a.c.student_id)
                       .where(a.c.id == agreement_id)).first()
    return None if row is None else (row[0], row[1])


def schools(conn: Connection) -> dict[str, str]:
    """UAI -> name of every school."""
    return dict(conn.execute(select(t.school.c.uai, t.school.c.name)
                             .order_by(t.school.c.uai)).all())


def progress_by_week(conn: Connection) -> list[dict[str, Any]]:
    """Agreement progress per ISO week of the events: agreements proposed, sent and signed by
    all four parties that week, and cumulated (from the events: what happened when)."""
    e = t.event
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {PROPOSED: 0, SENT: 0, SIGNED: 0,
                                                             CANCELLED: 0})
    for at, old, new in conn.execute(select(e.c.at, e.c.from_state, e.c.to_state)):
        if old == new:  # a signature on a sent agreement: no change of state
            continue
        year, week, _ = at.isocalendar()
        counts[f"{year}-W{week:02d}"][new] += 1
    out = []
    total = {PROPOSED: 0, SENT: 0, SIGNED: 0, CANCELLED: 0}
    for key in sorted(counts):
        c = counts[key]
        for k in total:
            total[k] += c[k]
        out.append({"week": key, "proposed": c[PROPOSED], "sent": c[SENT],
                    "signed": c[SIGNED], "cancelled": c[CANCELLED],
                    "proposed_total": total[PROPOSED], "sent_total": total[SENT],
                    "signed_total": total[SIGNED], "cancelled_total": total[CANCELLED]})
    return out


def latest_event(conn: Connection, since: int, students: Iterable[str] = (),
                 offers: Iterable[str] = ()) -> dict[str, Any] | None:
    """The last event after revision `since` on an agreement of one of `students` or at one
    of `offers` (what a conflicting action did: when, who, which pupil and offer)."""
    e, a = t.event, t.agreement
    students, offers = list(students), list(offers)
    if not students and not offers:
        return None
    row = conn.execute(
        select(e.c.id, e.c.at, e.c.who, e.c.from_state, e.c.to_state, e.c.detail,
               a.c.student_id, a.c.offer_id)
        .join(a, a.c.id == e.c.agreement_id)
        .where(e.c.id > since, or_(a.c.student_id.in_(students), a.c.offer_id.in_(offers)))
        .order_by(e.c.id.desc()).limit(1)).mappings().first()
    return None if row is None else dict(row)
