"""Who may do what: the one place that answers "may this actor do this action on this
resource?" Every route asks here (through `require`), never decides by itself.

Roles:
- `school` (a school's staff): its own pupils only: their list, pages, names, agreements
  (download, send, record signatures) and placements ("placer ici" when every pupil the placement
  moves is one of its own);
- `coordinator` (the académie's team, or a département's when the account has one: then
  only the schools of that département, by the UAI's first digits, and their pupils):
  every pupil's page and placement, the indicators,
  the map, the agreements' progress, where to recruit, the repair; **no names**: pupils are
  shown by their pseudonymous id. A coordinator steers and unblocks; the school is the one
  that talks to families and signs the agreements, so names and agreements (which carry the
  family's details) stay with it (data minimisation);
- `analyst`: the aggregated indicators, map, progress and where to recruit only: no page
  about a pupil, not even by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

COORDINATOR, SCHOOL, ANALYST = "coordinator", "school", "analyst"
ROLE_LABELS = {COORDINATOR: "coordination", SCHOOL: "établissement", ANALYST: "analyse"}

Action = Literal[
    "view_indicators",   # campaign-wide figures, map, progress, where to recruit
    "view_school",       # a school's pupil list and figures
    "view_pupil",        # a pupil's page (story, suggestions, agreements)
    "change_pupil",      # place, send, record a signature
    "move_pupil",        # move a pupil to free a seat for another
    "view_names",        # names and class of a pupil
    "download_agreement",  # the pre-filled agreement (family's details inside)
    "record_signature",  # a party's signature on one of the pupil's agreements
    "export_pupils",     # a school's pupil list as CSV or XLSX (names inside)
    "run_repair",        # start a repair of the whole campaign
    "search_pupils",     # look a pupil up by id across schools
]


@dataclass(frozen=True)
class Actor:
    """The signed-in account making the request."""

    user_id: int
    login: str
    role: str
    school_uai: str | None
    csrf: str
    department: str | None = None  # a département's coordinator; None: the campaign

    @property
    def who(self) -> str:
        """How events written by this account name it."""
        return f"{self.login} (web)"


@dataclass(frozen=True)
class Campaign:
    """The campaign as a whole."""


@dataclass(frozen=True)
class School:
    uai: str


@dataclass(frozen=True)
class Pupil:
    student_id: str
    school_uai: str


Resource = Campaign | School | Pupil
CAMPAIGN = Campaign()


def school_department(uai: str) -> str:
    """The département of a school from its UAI (its first three digits: 014 -> "14",
    974 -> "974"; Corsica's 620/720 -> "2A"/"2B")."""
    head = uai[:3]
    return {"620": "2A", "720": "2B"}.get(head, head[1:] if head.startswith("0") else head)


def _in_scope(actor: Actor, resource: Resource) -> bool:
    """A coordinator's scope: the campaign, or the schools of its département."""
    if actor.department is None:
        return True
    uai = resource.uai if isinstance(resource, School) else \
        resource.school_uai if isinstance(resource, Pupil) else None
    return uai is not None and school_department(uai) == actor.department


def _own(actor: Actor, resource: Resource) -> bool:
    if actor.role != SCHOOL or actor.school_uai is None:
        return False
    if isinstance(resource, School):
        return resource.uai == actor.school_uai
    if isinstance(resource, Pupil):
        return resource.school_uai == actor.school_uai
    return False


def may(actor: Actor | None, action: Action, resource: Resource = CAMPAIGN) -> bool:
    """Whether `actor` may do `action` on `resource`. Anything not granted here is refused."""
    if actor is None:
        return False
    role = actor.role
    if action == "view_indicators":
        return role in (COORDINATOR, ANALYST) and isinstance(resource, Campaign)
    coordinator = role == COORDINATOR and _in_scope(actor, resource)
    if action in ("view_school",):
        return isinstance(resource, School) and (coordinator or _own(actor, resource))
    if action in ("view_pupil", "change_pupil", "move_pupil"):
        return isinstance(resource, Pupil) and (coordinator or _own(actor, resource))
    if action in ("view_names", "download_agreement", "record_signature", "export_pupils"):
        return _own(actor, resource)
    if action in ("run_repair", "search_pupils"):  # the whole campaign's coordinators only
        return role == COORDINATOR and actor.department is None \
            and isinstance(resource, Campaign)
    return False


class Forbidden(Exception):
    """Raised by `require`: the application answers 403 with a French page."""

    def __init__(self, message: str = "Vous n'avez pas accès à cette page.") -> None:
        super().__init__(message)
        self.message = message


def require(actor: Actor | None, action: Action, resource: Resource = CAMPAIGN) -> None:
    """Raise `Forbidden` unless `may(actor, action, resource)`."""
    if not may(actor, action, resource):
        raise Forbidden()
