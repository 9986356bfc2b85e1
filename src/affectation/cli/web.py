"""`affectation serve` (the web pages) and `affectation users` (their accounts)."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

import click

from affectation.cli.campaign import DB_HELP, fail, open_store, run_read, run_write

SECRET_ENV = "AFFECTATION_WEB_SECRET"
ROLE_CHOICE = click.Choice(["school", "coordinator", "analyst"])


@click.command()
@click.argument("store_url")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Adresse d'écoute (127.0.0.1 : cette machine seulement).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port d'écoute.")
@click.option("--secure-cookies", is_flag=True,
              help="Cookies marqués Secure (serveur derrière HTTPS).")
def serve(store_url: str, host: str, port: int, secure_cookies: bool) -> None:
    """Servir les pages web de la campagne STORE_URL (base de la campagne : URL, fichier
    SQLite ou scénario). Secret des sessions : variable AFFECTATION_WEB_SECRET (sinon un
    secret tiré au démarrage : les sessions ne survivent pas à un redémarrage)."""
    import numba
    import uvicorn

    import affectation.travel.kernels  # noqa: F401 - sets its fork-safe layer on import
    from affectation.store import db as store_db
    from affectation.web.app import create_app

    if "NUMBA_THREADING_LAYER" not in os.environ:
        # The pages run in a thread pool, so the parallel kernels are launched from several
        # threads at once: numba's workqueue layer (travel.kernels' fork-safe fallback when
        # TBB is absent) aborts the whole process on that. The server never forks: a
        # thread-safe layer (TBB, else OpenMP) runs them.
        numba.config.THREADING_LAYER = "threadsafe"  # type: ignore[attr-defined]

    engine = open_store(store_url)
    engine.dispose()
    secret = os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32)
    if SECRET_ENV not in os.environ:
        click.echo(f"{SECRET_ENV} absent : secret de session tiré au hasard (les sessions "
                   "se perdent au redémarrage).", err=True)
    url = store_db.resolve_url(store_url)
    click.echo(f"Pages web de {store_db.shown_url(url)} sur http://{host}:{port}/", err=True)
    uvicorn.run(create_app(url, secret, secure_cookies=secure_cookies, preload=True), host=host,
                port=port,
                log_level="warning")


@click.group()
def users() -> None:
    """Comptes des pages web."""


def _password(login: str) -> str:
    """The password from standard input (asked twice, hidden, on a terminal)."""
    from affectation.web.security import password_problem

    if sys.stdin.isatty():
        password = click.prompt(f"Mot de passe de {login}", hide_input=True,
                                confirmation_prompt="Confirmez le mot de passe")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    problem = password_problem(password)
    if problem:
        fail(f"Mot de passe refusé : il faut {problem}.")
    return str(password)


@users.command("add")
@click.argument("login")
@click.option("--role", required=True, type=ROLE_CHOICE,
              help="school : un lycée ; coordinator : la coordination ; analyst : indicateurs "
                   "agrégés seulement.")
@click.option("--school", "school", default=None, help="UAI du lycée (compte school).")
@click.option("--department", "department", default=None,
              help="Code du département d'un compte coordinator limité à ses lycées (14, "
                   "2A, 974...) ; sans : toute la campagne.")
@click.option("--db", "db", default=None, help=DB_HELP)
def add(login: str, role: str, school: str | None, department: str | None,
        db: str | None) -> None:
    """Créer le compte LOGIN ; le mot de passe est lu sur l'entrée standard."""
    from affectation.store import queries
    from affectation.web.security import hash_password

    if not login.strip() or len(login) > 200:
        fail("Identifiant refusé : il faut 1 à 200 caractères.")
    engine = open_store(db)
    hashed = hash_password(_password(login))
    user = run_write(engine, lambda conn: queries.add_user(conn, login, hashed, role, school,
                                                           department))
    scope = school or (f"département {department}" if department else "")
    click.echo(f"Compte {user.login} créé ({role}{' ' + scope if scope else ''}).", err=True)


@users.command("list")
@click.option("--db", "db", default=None, help=DB_HELP)
def list_users(db: str | None) -> None:
    """Lister les comptes (identifiant, rôle, lycée, actif)."""
    from affectation.store import queries

    engine = open_store(db)
    rows: Any = run_read(engine, queries.users_list)
    for u in rows:
        click.echo(f"{u.login}\t{u.role}\t{u.school_uai or u.department or ''}\t"
                   f"{'actif' if u.active else 'désactivé'}")
