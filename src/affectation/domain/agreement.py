"""Internship agreements ("conventions de stage"): their lifecycle and the working-time limits
of a minor's daily schedule.

The lifecycle follows the national platform's (1élève1stage): an agreement is `proposee`
(made from a solve or repair), then `envoyee` to the parties, then signed by four roles, each
once (`etablissement`, `employeur`, `eleve`, `representant_legal`), each signature `papier`,
`electronique` or `hors_outil`; it is `signee` once all four are in. `annulee` is the side
exit, from any state but `signee` (a signed agreement is a fact: it is never cancelled by a
run; the coordinator cancels it by hand, with a reason).

Schedules: the model agreement of the stage d'observation de seconde (circular of 28 March
2024, BO n°13) states the limits for pupils under 16: at most 35 h a week and 7 h a day, a
30-minute break once the day reaches 4 h 30, 14 consecutive hours of daily rest, two
consecutive days of weekly rest, and no presence at night (before 6:00 or after 20:00).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

PROPOSED, SENT, SIGNED, CANCELLED = "proposee", "envoyee", "signee", "annulee"
STATES = (PROPOSED, SENT, SIGNED, CANCELLED)
LIVE_STATES = (PROPOSED, SENT, SIGNED)
# Kept whatever a new run says: sent (signatures may be on their way) or signed.
LOCKED_STATES = (SENT, SIGNED)
ROLES = ("etablissement", "employeur", "eleve", "representant_legal")
MODES = ("papier", "electronique", "hors_outil")
STATE_LABELS = {PROPOSED: "proposée", SENT: "envoyée", SIGNED: "signée", CANCELLED: "annulée"}
ROLE_LABELS = {"etablissement": "l'établissement", "employeur": "l'employeur",
               "eleve": "l'élève", "representant_legal": "le représentant légal"}


class TransitionError(ValueError):
    """A transition the lifecycle refuses; the message is in French."""


def plain(text: str) -> str:
    """Lower case, no accents, spaces and dashes as `_`: how role and mode cells compare."""
    text = unicodedata.normalize("NFKD", text.strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\s\-']+", "_", text)


ROLE_ALIASES = {**{r: r for r in ROLES}, "chef_d_etablissement": "etablissement",
                "entreprise": "employeur", "organisme_d_accueil": "employeur",
                "representant": "representant_legal", "parent": "representant_legal",
                "responsable_legal": "representant_legal"}
MODE_ALIASES = {**{m: m for m in MODES}, "hors_ligne": "hors_outil", "numerique": "electronique"}


def role_of(text: str) -> str | None:
    """The role a cell names (`Élève`, `représentant légal`...), None when unknown."""
    return ROLE_ALIASES.get(plain(text))


def mode_of(text: str) -> str | None:
    """The signature mode a cell names (`papier`, `électronique`, `hors outil`), or None."""
    return MODE_ALIASES.get(plain(text))


def check_signature(state: str, role: str, signed_roles: dict[str, str]) -> None:
    """Refuse a signature on a cancelled agreement, or by a role that already signed (a fifth
    signature included). `signed_roles`: role -> date already recorded."""
    if state == CANCELLED:
        raise TransitionError("convention annulée : elle ne peut pas être signée")
    if role not in ROLES:
        raise TransitionError(f"rôle inconnu « {role} » (attendu : {', '.join(ROLES)})")
    if role in signed_roles:
        raise TransitionError(f"déjà signée par {ROLE_LABELS[role]} (le {signed_roles[role]}) :"
                              " chaque partie signe une seule fois")
    if len(signed_roles) >= len(ROLES):
        raise TransitionError("déjà signée par les quatre parties")


def state_after_signature(signed_roles: int) -> str:
    """The state once `signed_roles` roles have signed (the new one included)."""
    return SIGNED if signed_roles >= len(ROLES) else SENT


def check_cancel(state: str) -> None:
    if state == CANCELLED:
        raise TransitionError("convention déjà annulée")


# --------------------------------------------------------------------------
# Daily schedules and the limits for minors
# --------------------------------------------------------------------------

DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi")
_DAY_ALIASES = {**{d: d for d in DAYS}, **{d[:3]: d for d in DAYS}}
MAX_DAY_MINUTES = 7 * 60
MAX_WEEK_MINUTES = 35 * 60
MAX_STRETCH_MINUTES = 4 * 60 + 30
MIN_BREAK_MINUTES = 30
DAILY_REST_MINUTES = 14 * 60
EARLIEST, LATEST = 6 * 60, 20 * 60

_TIME = re.compile(r"^(\d{1,2})[:hH](\d{2})?$")
_SPAN = re.compile(r"^(\S+)\s*-\s*(\S+)$")


class ScheduleError(ValueError):
    """A schedule that cannot be read or breaks a limit for minors (French message)."""


@dataclass(frozen=True)
class Schedule:
    """Presence intervals per weekday, minutes after midnight, sorted and disjoint."""

    days: tuple[tuple[str, tuple[tuple[int, int], ...]], ...]

    def of(self, day: str) -> tuple[tuple[int, int], ...]:
        return dict(self.days).get(day, ())

    def day_minutes(self, day: str) -> int:
        return sum(b - a for a, b in self.of(day))

    @property
    def week_minutes(self) -> int:
        return sum(self.day_minutes(d) for d in DAYS)

    def text(self) -> str:
        """The canonical text (`lundi 09:00-12:00 13:30-16:30; mardi ...`), parsed back
        by `parse_schedule`."""
        return "; ".join(f"{day} " + " ".join(f"{clock(a)}-{clock(b)}" for a, b in spans)
                         for day, spans in self.days if spans)

    def rows(self) -> list[tuple[str, str, str]]:
        """Per weekday: (day, presence spans as "09:00-12:00, 13:30-16:30", hours)."""
        out = []
        for day in DAYS:
            spans = self.of(day)
            minutes = self.day_minutes(day)
            out.append((day, ", ".join(f"{clock(a)}-{clock(b)}" for a, b in spans),
                        hours_text(minutes) if spans else ""))
        return out

    def platform_hours(self) -> dict[str, list[str]]:
        """The platform's `daily_hours`: day -> [arrival, departure] ("" when absent)."""
        return {day: [clock(s[0][0]), clock(s[-1][1])] if (s := self.of(day)) else ["", ""]
                for day in DAYS}


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def hours_text(minutes: int) -> str:
    """`7 h`, `6 h 30`."""
    h, m = divmod(minutes, 60)
    return f"{h} h" if m == 0 else f"{h} h {m:02d}"


def _minutes(text: str) -> int:
    found = _TIME.match(text.strip())
    if found is None:
        raise ScheduleError(f"heure « {text} » illisible (attendu HH:MM, ex. 08:30)")
    h, m = int(found.group(1)), int(found.group(2) or 0)
    if h > 24 or m > 59 or h * 60 + m > 24 * 60:
        raise ScheduleError(f"heure « {text} » impossible")
    return h * 60 + m


def _days_of(word: str) -> list[str]:
    """`lundi`, `lun`, or a range `lun-ven` / `lundi-vendredi`."""
    parts = [plain(p) for p in word.split("-")]
    if len(parts) == 1 and parts[0] in _DAY_ALIASES:
        return [_DAY_ALIASES[parts[0]]]
    if len(parts) == 2 and all(p in _DAY_ALIASES for p in parts):
        a, b = DAYS.index(_DAY_ALIASES[parts[0]]), DAYS.index(_DAY_ALIASES[parts[1]])
        if a <= b:
            return list(DAYS[a:b + 1])
    raise ScheduleError(f"jour(s) « {word} » illisible(s) (attendu lundi…samedi, lun-ven)")


def parse_schedule(text: str) -> Schedule:
    """Read `lun-ven 09:00-12:00 13:30-16:30; sam 09:00-12:00` (groups separated by `;`, a
    day or a day range, then presence spans). Not checked against the limits: see
    `check_minor_limits`."""
    days: dict[str, list[tuple[int, int]]] = {}
    for group in (g.strip() for g in text.split(";")):
        if not group:
            continue
        words = group.split()
        names = _days_of(words[0])
        spans: list[tuple[int, int]] = []
        for word in words[1:]:
            found = _SPAN.match(word)
            if found is None:
                raise ScheduleError(f"plage « {word} » illisible (attendu 09:00-12:00)")
            a, b = _minutes(found.group(1)), _minutes(found.group(2))
            if b <= a:
                raise ScheduleError(f"plage « {word} » : la fin doit suivre le début")
            spans.append((a, b))
        if not spans:
            raise ScheduleError(f"« {group} » : aucune plage horaire après le jour")
        spans.sort()
        for (_, b), (c, _) in zip(spans, spans[1:], strict=False):
            if c < b:
                raise ScheduleError(f"« {group} » : plages qui se chevauchent")
        for name in names:
            if name in days:
                raise ScheduleError(f"{name} donné deux fois")
            days[name] = spans
    if not days:
        raise ScheduleError("horaires vides")
    return Schedule(tuple((d, tuple(days[d])) for d in DAYS if d in days))


def minor_limit_problems(schedule: Schedule) -> list[str]:
    """Every limit for minors the schedule breaks, in French (empty when none)."""
    problems = []
    for day in DAYS:
        spans = schedule.of(day)
        if not spans:
            continue
        total = schedule.day_minutes(day)
        if total > MAX_DAY_MINUTES:
            problems.append(f"{day} : {hours_text(total)} de présence, au plus 7 h par jour")
        if spans[0][0] < EARLIEST or spans[-1][1] > LATEST:
            problems.append(f"{day} : présence entre 6 h et 20 h seulement (pas de travail de "
                            "nuit pour un mineur)")
        for a, b in spans:
            if b - a > MAX_STRETCH_MINUTES:
                problems.append(f"{day} : {hours_text(b - a)} d'affilée ({clock(a)}-{clock(b)}),"
                                " une pause de 30 minutes est due dès 4 h 30")
        breaks = [c - b for (_, b), (c, _) in zip(spans, spans[1:], strict=False)]
        if total > MAX_STRETCH_MINUTES and not any(g >= MIN_BREAK_MINUTES for g in breaks):
            problems.append(f"{day} : {hours_text(total)} de présence sans pause d'au moins "
                            "30 minutes (due dès 4 h 30)")
        if spans[-1][1] - spans[0][0] > 24 * 60 - DAILY_REST_MINUTES:
            problems.append(f"{day} : amplitude {hours_text(spans[-1][1] - spans[0][0])}, le "
                            "repos quotidien de 14 heures consécutives n'est pas respecté")
    week = schedule.week_minutes
    if week > MAX_WEEK_MINUTES:
        problems.append(f"semaine : {hours_text(week)} de présence, au plus 35 h par semaine")
    worked = [bool(schedule.of(d)) for d in DAYS] + [False]  # Sunday is never worked
    rest = any(not worked[k] and not worked[(k + 1) % 7] for k in range(7))
    if not rest:
        problems.append("semaine : deux jours de repos consécutifs sont dus (repos "
                        "hebdomadaire)")
    return problems


def check_minor_limits(schedule: Schedule) -> None:
    """Raise `ScheduleError` listing every limit the schedule breaks."""
    problems = minor_limit_problems(schedule)
    if problems:
        raise ScheduleError("horaires contraires aux limites pour un mineur : "
                            + " ; ".join(problems))


# --------------------------------------------------------------------------
# What an agreement document carries
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class AgreementDocument:
    """Every field of one pre-filled agreement ('' where the store does not know it).

    Built by the store (`store.queries.agreement_documents`), rendered by `documents` (PDF,
    DOCX, mail-merge CSV). Personal fields: the pupil's, the family's, the referent
    teacher's, the tutor's and the representatives' names and contacts.
    """

    agreement_id: int
    state: str
    campaign: str
    student_id: str
    offer_id: str
    weeks: tuple[int, ...]
    iso_weeks: tuple[str, ...]
    first_day: date
    last_day: date
    school_uai: str
    last_name: str = ""
    first_name: str = ""
    birth_date: str = ""
    class_name: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    rep1_name: str = ""
    rep1_email: str = ""
    rep1_phone: str = ""
    rep2_name: str = ""
    rep2_email: str = ""
    rep2_phone: str = ""
    teacher_name: str = ""
    teacher_email: str = ""
    teacher_phone: str = ""
    pai: bool | None = None
    school_name: str = ""
    school_address: str = ""
    school_postcode: str = ""
    school_city: str = ""
    school_legal_status: str = ""
    school_delegation_date: str = ""
    school_head_name: str = ""
    school_head_role: str = ""
    school_email: str = ""
    school_phone: str = ""
    offer_employer_name: str = ""
    offer_employer_id: str = ""
    offer_title: str = ""
    offer_description: str = ""
    offer_street: str = ""
    offer_postcode: str = ""
    offer_city: str = ""
    offer_schedule: str = ""
    offer_meals: str = ""
    employer_name: str = ""
    employer_address: str = ""
    employer_representative_name: str = ""
    employer_representative_role: str = ""
    employer_email: str = ""
    employer_phone: str = ""
    tutor_full_name: str = ""
    tutor_role: str = ""
    tutor_email: str = ""
    tutor_phone: str = ""

    @property
    def student_full_name(self) -> str:
        return " ".join(x for x in (self.first_name, self.last_name) if x)

    @property
    def host_name(self) -> str:
        return self.employer_name or self.offer_employer_name

    @property
    def internship_address(self) -> str:
        town = " ".join(x for x in (self.offer_postcode, self.offer_city) if x)
        return ", ".join(x for x in (self.offer_street, town) if x)

    @property
    def school_full_address(self) -> str:
        town = " ".join(x for x in (self.school_postcode, self.school_city) if x)
        return ", ".join(x for x in (self.school_address, town) if x)

    @property
    def date_range(self) -> str:
        """The platform's `date_range`: "Du jj/mm/aaaa au jj/mm/aaaa"."""
        return f"Du {self.first_day:%d/%m/%Y} au {self.last_day:%d/%m/%Y}"

    @property
    def reference(self) -> str:
        return f"{self.campaign}-{self.agreement_id:06d}"
