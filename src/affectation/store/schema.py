"""The store's tables (SQLAlchemy Core). One campaign per database.

Pseudonymous tables (`campaign`, `school`, `pupil`, `offer`, `employer`, `run`,
`placement`, `agreement`, `signature`, `event`) keep only identifiers and facts about the
campaign; personal fields live in `person` (pupils: names, birth date, family contacts) and
`tutor`, and in the contact columns of `school` and `employer` (`PERSONAL_COLUMNS`), which
`campaign purge` deletes or empties. The web application's tables (`users`, `web_session`,
`login_attempt`, `web_job`: migration 0002) hold accounts, sessions, the login attempts that
rate limiting counts, and background jobs (repairs started from the web). Migrations
(store/migrations) create exactly these tables: a test compares the migrated database with
this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from affectation.domain.agreement import MODES, ROLES, STATES

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


campaign = Table(
    "campaign", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scenario_path", Text, nullable=False),
    Column("week1", String(8), nullable=False),
    Column("week2", String(8), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("purged_at", DateTime),
    Column("current_run_id", Integer),
)

school = Table(
    "school", metadata,
    Column("uai", String(16), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("address", String(300), nullable=False, server_default=""),
    Column("postcode", String(10), nullable=False, server_default=""),
    Column("city", String(100), nullable=False, server_default=""),
    Column("department", String(40), nullable=False, server_default=""),
    Column("legal_status", String(20), nullable=False, server_default=""),
    Column("delegation_date", String(10), nullable=False, server_default=""),
    # Contact of the head (personal: emptied by purge).
    Column("head_name", String(100)),
    Column("head_role", String(100)),
    Column("email", String(200)),
    Column("phone", String(20)),
)

pupil = Table(
    "pupil", metadata,
    Column("student_id", String(64), primary_key=True),
    Column("school_uai", String(16), ForeignKey("school.uai"), nullable=False, index=True),
    Column("priority", Boolean, nullable=False, server_default=text("false")),
    Column("status", String(20), nullable=False, server_default=""),
    Column("epci", String(40), nullable=False, server_default=""),
    Column("department", String(40), nullable=False, server_default=""),
    # False once the pupil left students.csv (kept: agreements and history point to it).
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

person = Table(
    "person", metadata,
    Column("student_id", String(64), ForeignKey("pupil.student_id", ondelete="CASCADE"),
           primary_key=True),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("birth_date", Date),
    Column("class_name", String(50), nullable=False, server_default=""),
    Column("address", String(170), nullable=False, server_default=""),
    Column("phone", String(20), nullable=False, server_default=""),
    Column("email", String(200), nullable=False, server_default=""),
    Column("rep1_name", String(100), nullable=False, server_default=""),
    Column("rep1_email", String(200), nullable=False, server_default=""),
    Column("rep1_phone", String(20), nullable=False, server_default=""),
    Column("rep2_name", String(100), nullable=False, server_default=""),
    Column("rep2_email", String(200), nullable=False, server_default=""),
    Column("rep2_phone", String(20), nullable=False, server_default=""),
    Column("teacher_name", String(100), nullable=False, server_default=""),
    Column("teacher_email", String(200), nullable=False, server_default=""),
    Column("teacher_phone", String(20), nullable=False, server_default=""),
    Column("pai", Boolean, nullable=False, server_default=text("false")),
)

employer = Table(
    "employer", metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("name", String(180), nullable=False, server_default=""),
    Column("address", String(300), nullable=False, server_default=""),
    Column("description", String(275), nullable=False, server_default=""),
    Column("website", String(300), nullable=False, server_default=""),
    # Representative who signs (personal: emptied by purge).
    Column("representative_name", String(100)),
    Column("representative_role", String(100)),
    Column("email", String(200)),
    Column("phone", String(20)),
)

offer = Table(
    "offer", metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("employer_id", String(64), ForeignKey("employer.employer_id"), index=True),
    Column("employer_name", String(180), nullable=False, server_default=""),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("period", Integer, nullable=False, server_default=text("0")),
    Column("sector", String(4), nullable=False, server_default=""),
    Column("reserved", Boolean, nullable=False, server_default=text("false")),
    Column("accessible", Boolean, nullable=False, server_default=text("false")),
    Column("pair_id", String(64), nullable=False, server_default=""),
    Column("min_group", Integer, nullable=False, server_default=text("0")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    # Details for the agreements and the platform (campaign offer-details).
    Column("title", String(150), nullable=False, server_default=""),
    Column("description", String(1500), nullable=False, server_default=""),
    Column("street", String(300), nullable=False, server_default=""),
    Column("postcode", String(10), nullable=False, server_default=""),
    Column("city", String(50), nullable=False, server_default=""),
    Column("permalink", String(300), nullable=False, server_default=""),
    Column("schedule", String(300), nullable=False, server_default=""),
    Column("meals", String(500), nullable=False, server_default=""),
)

tutor = Table(
    "tutor", metadata,
    Column("offer_id", String(64), ForeignKey("offer.offer_id", ondelete="CASCADE"),
           primary_key=True),
    Column("full_name", String(100), nullable=False, server_default=""),
    Column("role", String(100), nullable=False, server_default=""),
    Column("email", String(200), nullable=False, server_default=""),
    Column("phone", String(20), nullable=False, server_default=""),
)

run = Table(
    "run", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),
    Column("loaded_at", DateTime, nullable=False),
    Column("loaded_by", String(200), nullable=False, server_default=""),
    Column("result_dir", Text, nullable=False, server_default=""),
    Column("assignments_sha256", String(64), nullable=False, server_default=""),
    Column("summary", Text, nullable=False, server_default="{}"),
    CheckConstraint(_one_of("kind", ("solve", "repair")), name="kind"),
)

placement = Table(
    "placement", metadata,
    Column("run_id", Integer, ForeignKey("run.id"), primary_key=True),
    Column("student_id", String(64), ForeignKey("pupil.student_id"), primary_key=True),
    Column("week", Integer, primary_key=True),
    Column("offer_id", String(64), ForeignKey("offer.offer_id"), nullable=False),
    Column("kind", String(12), nullable=False),
    CheckConstraint("week IN (1, 2)", name="week"),
    Index("ix_placement_student_id", "student_id"),
)

agreement = Table(
    "agreement", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student_id", String(64), ForeignKey("pupil.student_id"), nullable=False,
           index=True),
    Column("offer_id", String(64), ForeignKey("offer.offer_id"), nullable=False, index=True),
    Column("week1", Boolean, nullable=False),
    Column("week2", Boolean, nullable=False),
    Column("state", String(10), nullable=False),
    Column("run_id", Integer, ForeignKey("run.id")),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    CheckConstraint(_one_of("state", STATES), name="state"),
    CheckConstraint("week1 OR week2", name="weeks"),
    # At most one live agreement per pupil and week, enforced by the database itself.
    Index("uq_agreement_live_week1", "student_id", unique=True,
          sqlite_where=text("week1 AND state <> 'annulee'"),
          postgresql_where=text("week1 AND state <> 'annulee'")),
    Index("uq_agreement_live_week2", "student_id", unique=True,
          sqlite_where=text("week2 AND state <> 'annulee'"),
          postgresql_where=text("week2 AND state <> 'annulee'")),
    Index("ix_agreement_state", "state"),
)

signature = Table(
    "signature", metadata,
    Column("agreement_id", Integer, ForeignKey("agreement.id"), primary_key=True),
    Column("role", String(20), primary_key=True),
    Column("signed_on", Date, nullable=False),
    Column("mode", String(12), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("recorded_by", String(200), nullable=False, server_default=""),
    Column("source", String(300), nullable=False, server_default=""),
    CheckConstraint(_one_of("role", ROLES), name="role"),
    CheckConstraint(_one_of("mode", MODES), name="mode"),
)

event = Table(
    "event", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agreement_id", Integer, ForeignKey("agreement.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("who", String(200), nullable=False, server_default=""),
    Column("from_state", String(10)),
    Column("to_state", String(10), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
)

# --------------------------------------------------------------------------
# The web application (migration 0002)
# --------------------------------------------------------------------------

USER_ROLES = ("coordinator", "school", "analyst")
JOB_STATES = ("en_attente", "en_cours", "terminee", "echouee")

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(200), nullable=False, unique=True),
    # argon2id hash (argon2-cffi's encoded form: parameters and salt included).
    Column("password_hash", String(200), nullable=False),
    Column("role", String(12), nullable=False),
    Column("school_uai", String(16), ForeignKey("school.uai")),
    # A coordinator of one département (code "14", "2A", "974"); NULL: the whole campaign.
    Column("department", String(3)),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime, nullable=False),
    CheckConstraint(_one_of("role", USER_ROLES), name="role"),
    # A school account belongs to one school; the other roles to none.
    CheckConstraint("(role = 'school') = (school_uai IS NOT NULL)", name="school"),
    # Only a coordinator has a département scope.
    CheckConstraint("department IS NULL OR role = 'coordinator'", name="department"),
)

web_session = Table(
    "web_session", metadata,
    # SHA-256 of the cookie's random token: a copy of the database opens no session.
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

login_attempt = Table(
    "login_attempt", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(200), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("success", Boolean, nullable=False),
    Index("ix_login_attempt_login_at", "login", "at"),
    Index("ix_login_attempt_ip_at", "ip", "at"),
)

web_job = Table(
    "web_job", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("state", String(12), nullable=False),
    Column("stage", String(200), nullable=False, server_default=""),
    Column("step", Integer, nullable=False, server_default=text("0")),
    Column("steps", Integer, nullable=False, server_default=text("0")),
    Column("started_by", String(200), nullable=False, server_default=""),
    Column("started_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("detail", Text, nullable=False, server_default=""),
    CheckConstraint(_one_of("state", JOB_STATES), name="state"),
)

# Columns emptied by `campaign purge` (tables `person` and `tutor` are emptied whole).
PERSONAL_COLUMNS = {
    "school": ("head_name", "head_role", "email", "phone"),
    "employer": ("representative_name", "representative_role", "email", "phone"),
}
