"""`affectation users add` and `affectation serve`'s refusals: French messages, exit 2,
nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from web_helpers import SCHOOL_A, db_url, site  # noqa: E402

from affectation.cli import main  # noqa: E402
from affectation.store import db, queries  # noqa: E402

__all__ = ["db_url", "site"]  # fixtures


def _add(url: str, *args: str, password: str = "un-mot-de-passe-long") -> object:
    return CliRunner().invoke(main, ["users", "add", *args, "--db", url],
                              input=password + "\n")


def _logins(url: str) -> list[str]:
    engine = db.connect(url)
    with db.reading(engine) as conn:
        out = [u.login for u in queries.users_list(conn)]
    engine.dispose()
    return out


def test_users_add_stores_an_argon2_hash_and_refuses_bad_accounts(site: str) -> None:
    ok = _add(site, "secretariat", "--role", "school", "--school", SCHOOL_A)
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]
    engine = db.connect(site)
    with db.reading(engine) as conn:
        user = queries.user_by_login(conn, "secretariat")
    engine.dispose()
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert "un-mot-de-passe-long" not in user.password_hash
    before = _logins(site)
    for args, password, message in (
            (("secretariat", "--role", "coordinator"), "un-mot-de-passe-long", "existe déjà"),
            (("x1", "--role", "school"), "un-mot-de-passe-long", "UAI"),
            (("x2", "--role", "school", "--school", "9999999Z"), "un-mot-de-passe-long",
             "9999999Z"),
            (("x3", "--role", "analyst", "--school", SCHOOL_A), "un-mot-de-passe-long", "UAI"),
            (("x4", "--role", "analyst"), "court", "au moins 10"),
            (("x5", "--role", "school", "--school", SCHOOL_A, "--department", "14"),
             "un-mot-de-passe-long", "--department"),
            (("x6", "--role", "coordinator", "--department", "99"), "un-mot-de-passe-long",
             "99")):
        result = _add(site, *args, password=password)
        assert result.exit_code == 2, (args, result.output)  # type: ignore[attr-defined]
        assert message in result.output, result.output  # type: ignore[attr-defined]
        assert "Traceback" not in result.output  # type: ignore[attr-defined]
    assert _logins(site) == before
    listed = CliRunner().invoke(main, ["users", "list", "--db", site])
    assert f"secretariat\tschool\t{SCHOOL_A}\tactif" in listed.output


def test_serve_refuses_a_missing_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", str(tmp_path / "absente.sqlite")])
    assert result.exit_code == 2 and "campaign init" in result.output
