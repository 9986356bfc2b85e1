"""Fixtures of the web pages' tests: the small campaign of the store's tests (SQLite, and
PostgreSQL when AFFECTATION_TEST_POSTGRES_URL is set), accounts of each role created by
`affectation users add`, and a TestClient logged in as one of them."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "store"))

from store_helpers import (  # noqa: E402
    FIRST,
    SCHOOL_A,
    SCHOOL_B,
    agreements,
    campaign_scenario,
    cli,
    db_url,  # noqa: F401 - the fixture, re-exported
    write_result,
)

PASSWORD = "motdepasse-solide"
__all__ = ["SCHOOL_A", "SCHOOL_B", "agreements", "db_url"]
ACCOUNTS = {"lycee-a": ("school", SCHOOL_A), "lycee-b": ("school", SCHOOL_B),
            "coord": ("coordinator", None), "analyste": ("analyst", None),
            # Coordinators of one département: Calvados (both schools, 014...) and Manche.
            "coord-14": ("coordinator", "dep:14"), "coord-50": ("coordinator", "dep:50")}
SECRET = "secret-de-test"


def add_user(url: str, login: str, role: str, school: str | None,
             password: str = PASSWORD) -> None:
    from click.testing import CliRunner

    from affectation.cli import main

    args = ["users", "add", login, "--role", role, "--db", url]
    if school and school.startswith("dep:"):
        args += ["--department", school.removeprefix("dep:")]
    elif school:
        args += ["--school", school]
    result = CliRunner().invoke(main, args, input=password + "\n")
    assert result.exit_code == 0, result.output


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> str:  # noqa: F811
    """The campaign initialised, its first result loaded, one account per role."""
    scenario = campaign_scenario(tmp_path)
    cli("campaign", "init", str(scenario), "--db", db_url)
    cli("campaign", "load", str(write_result(tmp_path / "run1", FIRST)), "--db", db_url)
    for login, (role, school) in ACCOUNTS.items():
        add_user(db_url, login, role, school)
    return db_url


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:2000]
    return match.group(1)


def log_in(client: object, login: str, password: str = PASSWORD) -> object:
    page = client.get("/login")  # type: ignore[attr-defined]
    return client.post("/login", data={"login": login, "password": password,  # type: ignore[attr-defined]
                                       "csrf": csrf_of(page.text), "suite": "/"},
                       follow_redirects=False)


@pytest.fixture
def client_for(site: str) -> Iterator[Callable[[str | None], object]]:
    """`client_for(login)`: a TestClient of the app, logged in as `login` (None: not)."""
    from fastapi.testclient import TestClient

    from affectation.web.app import create_app

    app = create_app(site, SECRET)
    clients = []

    def make(login: str | None) -> object:
        client = TestClient(app)
        clients.append(client)
        if login is not None:
            response = log_in(client, login)
            assert response.status_code == 303, response.text  # type: ignore[attr-defined]
        return client

    yield make
    for c in clients:
        c.close()
    app.state.web.engine.dispose()
