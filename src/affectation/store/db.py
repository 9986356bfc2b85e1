"""Connecting to a campaign store: URL resolution, engine set-up (SQLite pragmas), Alembic
migrations, and the one kind of write transaction every command uses.

Writers are serialised, readers never wait: on SQLite a write transaction starts with
`BEGIN IMMEDIATE` (WAL journal, a busy timeout), on PostgreSQL it takes a transaction-level
advisory lock. Two `record` runs from two schools at once therefore apply one after the
other, and neither loses a row; a failure or a kill rolls the whole command back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from affectation.errors import InputError, Problem

DEFAULT_FILE = "campagne.sqlite"
ENV_DB = "AFFECTATION_DB"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Key of PostgreSQL's advisory lock held by writers ("affectation" in ASCII, truncated).
_PG_LOCK = 0x6166666563746174
SQLITE_BUSY_SECONDS = 60.0


def resolve_url(db: str | None, scenario: Path | None = None) -> str:
    """The database URL of `--db`: a SQLAlchemy URL (`sqlite:///x.sqlite`,
    `postgresql+psycopg://user:pw@host/base`), a scenario file (`campagne.sqlite` beside
    it), a folder (`campagne.sqlite` in it) or a file path (an SQLite file). Without `--db`:
    the `AFFECTATION_DB` environment variable, else `campagne.sqlite` beside `scenario`
    (init) or in the current folder."""
    if not db:
        db = os.environ.get(ENV_DB) or None
    if not db:
        base = Path(scenario).parent if scenario is not None else Path(".")
        return f"sqlite:///{(base / DEFAULT_FILE).resolve()}"
    if "://" in db:
        try:
            url = make_url(db)
        except ArgumentError:
            raise InputError([Problem("--db", "une URL de base de données (ex. "
                                      "sqlite:///campagne.sqlite ou postgresql+psycopg://"
                                      "utilisateur:motdepasse@serveur/base)", value=db)]) from None
        if url.drivername == "postgresql":  # psycopg 3 is the driver we ship
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    path = Path(db)
    if path.suffix == ".toml":
        path = path.parent / DEFAULT_FILE
    elif path.is_dir():
        path = path / DEFAULT_FILE
    return f"sqlite:///{path.resolve()}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for another database or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or \
            parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def connect(url: str, must_exist: bool = True, pooled: bool = False) -> Engine:
    """An engine on `url`. With `must_exist`, an SQLite file that does not exist is an
    `InputError` (a store is created by `campaign init` only, never by a typo). A command
    opens one connection at a time and closes it (no pool); a server (the web app) passes
    `pooled=True`."""
    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    file = sqlite_file(url)
    if file is not None:
        if must_exist and not file.is_file():
            raise InputError([Problem(str(file), "une base de campagne existante (créez-la avec "
                                      "« affectation campaign init SCENARIO »)")])
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **pool)
        _sqlite_setup(engine)
        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True, **pool)
    except Exception as exc:  # noqa: BLE001 - a missing driver or a bad URL: user error
        raise InputError([Problem("--db", f"une base de données utilisable ({exc})",
                                  value=shown_url(url))]) from None
    return engine


def _sqlite_setup(engine: Engine) -> None:
    """Foreign keys on, WAL journal, and transactions begun by us (`BEGIN` or `BEGIN
    IMMEDIATE`), not by the sqlite3 module."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.info.pop("begin", "BEGIN")
        conn.exec_driver_sql(mode)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction: serialised with every other writer, committed at the end,
    rolled back whole on any error."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.info["begin"] = "BEGIN IMMEDIATE"
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One read transaction (a consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Apply the migrations up to `revision` inside the caller's transaction."""
    from alembic import command

    command.upgrade(alembic_config(conn), revision)


def downgrade(conn: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(conn), revision)


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def has_campaign(conn: Connection) -> bool:
    return inspect(conn).has_table("campaign")
