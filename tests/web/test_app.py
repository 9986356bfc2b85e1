"""Route tests of the web pages (FastAPI TestClient) on SQLite and PostgreSQL: login, the
role of each account, CSRF, escaping, search, placement and conflicts."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from web_helpers import (
    PASSWORD,
    SCHOOL_A,
    SCHOOL_B,
    agreements,
    client_for,
    csrf_of,
    db_url,
    log_in,
    site,
)

from affectation.store import db, queries

Client = Callable[[str | None], Any]
PAGES = ["/", "/etablissement", f"/etablissement/{SCHOOL_B}", "/eleve/S7", "/coordination",
         "/analyse"]

__all__ = ["client_for", "db_url", "site"]  # fixtures


def _key(html: str, offer: str) -> tuple[str, str]:
    """The (key, revision) of the "placer ici" form of `offer` on a pupil's page."""
    match = re.search(r'name="key" value="(' + re.escape(offer) + r'\|[^"]*)">'
                      r'<input type="hidden" name="revision" value="(\d+)"', html)
    assert match, html
    return match.group(1).replace("&#124;", "|"), match.group(2)


def _place(client: Any, pupil: str, key: str, revision: str, csrf: str | None) -> Any:
    data = {"key": key, "revision": revision}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post(f"/eleve/{pupil}/placer", data=data, follow_redirects=False)


def test_every_page_asks_for_a_login(client_for: Client, site: str) -> None:
    anonymous = client_for(None)
    for path in PAGES:
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    before = agreements(site)
    response = _place(anonymous, "S7", "C||week2|", "0", "x")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert agreements(site) == before
    login = anonymous.get("/login")
    assert login.status_code == 200 and "<h1>Connexion</h1>" in login.text
    assert 'for="login"' in login.text and 'for="password"' in login.text


def test_login_refuses_bad_passwords_and_then_limits_attempts(client_for: Client) -> None:
    client = client_for(None)
    bad = log_in(client, "lycee-a", "mauvais-mot-de-passe")
    assert bad.status_code == 401 and "Identifiant ou mot de passe incorrect" in bad.text
    assert log_in(client, "inconnu", PASSWORD).status_code == 401  # same answer
    for _ in range(4):
        log_in(client, "lycee-a", "mauvais-mot-de-passe")
    blocked = log_in(client, "lycee-a", PASSWORD)  # even the right password, for a while
    assert blocked.status_code == 429 and "Trop de tentatives" in blocked.text
    assert log_in(client_for(None), "lycee-b", PASSWORD).status_code == 303


def test_the_login_form_needs_its_csrf_cookie(client_for: Client) -> None:
    client = client_for(None)
    response = client.post("/login", data={"login": "lycee-a", "password": PASSWORD,
                                           "csrf": "forged"}, follow_redirects=False)
    assert response.status_code == 403


def test_a_school_sees_only_its_own_pupils(client_for: Client, site: str) -> None:
    a = client_for("lycee-a")
    own = a.get("/etablissement")
    assert own.status_code == 200
    ids = re.findall(r'data-eleve="([^"]+)"', own.text)
    assert ids == ["S1", "S2", "S3", "S4", "S5", "S9"]
    assert a.get(f"/etablissement/{SCHOOL_A}").status_code == 200
    # Another school's list and pupils: as if they did not exist.
    assert a.get(f"/etablissement/{SCHOOL_B}").status_code == 404
    for pupil in ("S6", "S7", "S8", "nobody"):
        assert a.get(f"/eleve/{pupil}").status_code == 404
    assert a.get("/coordination").status_code == 403
    assert a.get("/analyse").status_code == 403
    # Nor change one, even with a valid form.
    page = a.get("/eleve/S5")
    before = agreements(site)
    response = _place(a, "S7", "C||week2|", "0", csrf_of(page.text))
    assert response.status_code == 404
    assert agreements(site) == before


def test_an_analyst_sees_aggregates_only(client_for: Client) -> None:
    analyst = client_for("analyste")
    page = analyst.get("/analyse")
    assert page.status_code == 200
    assert "<svg" in page.text and 'class="zone' in page.text  # the map
    assert not re.search(r"\bS[1-9]\b", page.text)  # no pupil id
    for path in ("/eleve/S1", "/eleve/S7", f"/etablissement/{SCHOOL_A}", "/coordination",
                 "/etablissement"):
        assert analyst.get(path).status_code == 403, path


def test_the_coordinator_sees_the_map_the_schools_and_any_pupil_without_names(
        client_for: Client, site: str) -> None:
    engine = db.connect(site)
    with db.writing(engine) as conn:
        queries.save_details(conn, "people", [{"student_id": "S7", "last_name": "Durand",
                                               "first_name": "Zoé", "class_name": "2nde B"}])
    engine.dispose()
    coord = client_for("coord")
    home = coord.get("/coordination")
    assert home.status_code == 200
    assert home.text.count("<h1>") == 1 and 'id="carte"' in home.text
    assert f'href="/etablissement/{SCHOOL_B}"' in home.text and 'id="avancement"' in home.text
    school = coord.get(f"/etablissement/{SCHOOL_B}")
    assert school.status_code == 200 and "S7" in school.text
    pupil = coord.get("/eleve/S7")
    assert pupil.status_code == 200 and "Placer ici" in pupil.text
    for page in (school, pupil):
        assert "Durand" not in page.text and "Zoé" not in page.text
    own = client_for("lycee-b").get("/eleve/S7")
    assert "Durand Zoé" in own.text and "2nde B" in own.text


def test_hostile_names_are_escaped_and_search_is_literal(client_for: Client,
                                                         site: str) -> None:
    engine = db.connect(site)
    with db.writing(engine) as conn:
        queries.save_details(conn, "people", [
            {"student_id": "S7", "last_name": "<script>alert(1)</script>",
             "first_name": "=HYPERLINK(\"x\")", "class_name": "2nde B"}])
    engine.dispose()
    b = client_for("lycee-b")
    for path in ("/etablissement", "/eleve/S7", "/etablissement?q=%3Cscript%3E"):
        text = b.get(path).text
        assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    found = re.findall(r'data-eleve="([^"]+)"', b.get("/etablissement?q=script").text)
    assert found == ["S7"]
    for hostile in ("' OR '1'='1", "%", "_", "\\", "S7' --", "2nde%", "2nde_B"):
        rows = re.findall(r'data-eleve="([^"]+)"', b.get("/etablissement",
                                                          params={"q": hostile}).text)
        assert rows == [], hostile
    assert re.findall(r'data-eleve="([^"]+)"', b.get("/etablissement",
                                                      params={"q": "2nde b"}).text) == ["S7"]


def test_forms_without_the_csrf_token_are_refused(client_for: Client, site: str) -> None:
    b = client_for("lycee-b")
    page = b.get("/eleve/S7")
    key, revision = _key(page.text, "C")
    before = agreements(site)
    assert _place(b, "S7", key, revision, None).status_code == 403
    assert _place(b, "S7", key, revision, "forged-token").status_code == 403
    other = client_for("lycee-a")  # another session's token is not this one's
    assert _place(b, "S7", key, revision, csrf_of(other.get("/etablissement").text)
                  ).status_code == 403
    assert agreements(site) == before
    assert b.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert b.get("/etablissement").status_code == 200  # still signed in


def test_placer_ici_records_a_proposed_agreement(client_for: Client, site: str) -> None:
    b = client_for("lycee-b")
    page = b.get("/eleve/S7")
    key, revision = _key(page.text, "C")
    response = _place(b, "S7", key, revision, csrf_of(page.text))
    assert response.status_code == 303, response.text
    after = b.get(response.headers["location"])
    assert "Placement enregistré" in after.text
    assert re.search(r"<td>C</td><td>semaine 2</td><td>proposée</td>", after.text)
    assert agreements(site)[("S7", "C")] == (False, True, "proposee")
    listing = b.get("/etablissement").text
    row = re.search(r'<tr data-eleve="S7">.*?</tr>', listing).group(0)
    assert "placé(e) une semaine" in row and "C (semaine 2) : proposée" in row


def test_two_schools_wanting_the_last_seat_one_gets_a_conflict(client_for: Client,
                                                                site: str) -> None:
    # Offer C has one free seat in week 2; S5 (school A) and S7 (school B) both want it.
    a, b = client_for("lycee-a"), client_for("lycee-b")
    page_a, page_b = a.get("/eleve/S5"), b.get("/eleve/S7")
    key_a, rev_a = _key(page_a.text, "C")
    key_b, rev_b = _key(page_b.text, "C")
    assert _place(b, "S7", key_b, rev_b, csrf_of(page_b.text)).status_code == 303
    before = agreements(site)
    second = _place(a, "S5", key_a, rev_a, csrf_of(page_a.text))
    assert second.status_code == 409, second.text[-3000:]
    text = html.unescape(second.text)
    assert "Conflit" in text and "Rien n'a été enregistré" in text
    assert "un autre utilisateur" in text and "offre C" in text
    assert agreements(site) == before  # nothing half-written
    assert ("S5", "C") not in before


def test_pages_keep_the_accessibility_rules_and_fetch_nothing(client_for: Client) -> None:
    pages = [(client_for(None), "/login"), (client_for("lycee-b"), "/etablissement"),
             (client_for("lycee-b"), "/eleve/S7"), (client_for("coord"), "/coordination"),
             (client_for("analyste"), "/analyse"), (client_for("analyste"), "/eleve/S1")]
    for client, path in pages:
        text = client.get(path).text
        levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", text)]
        assert levels[0] == 1 and levels.count(1) == 1, path
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), path
        for field in re.findall(r'<input id="([^"]+)"', text):
            assert f'<label for="{field}">' in text, (path, field)
        assert '<html lang="fr">' in text and 'href="#contenu"' in text
        assert "https://" not in text
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', ""), path
        assert re.findall(r'src="([^"]+)"', text) == ["/static/htmx.min.js"], path
    htmx = client_for(None).get("/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("var htmx=")


def test_a_forged_or_unknown_suggestion_writes_nothing(client_for: Client, site: str) -> None:
    b = client_for("lycee-b")
    page = b.get("/eleve/S7")
    _, revision = _key(page.text, "C")
    before = agreements(site)
    for key, status in (("D||both|", 422), ("A||both|S6>B", 422), ("pas|une|clé", 400),
                        ("C||week2|" + "x" * 3000, 400)):
        response = _place(b, "S7", key, revision, csrf_of(page.text))
        assert response.status_code == status, (key, response.status_code)
    assert agreements(site) == before


def test_a_departement_coordinator_sees_only_its_schools_and_pupils(client_for: Client,
                                                                   site: str) -> None:
    manche = client_for("coord-50")  # both schools of the campaign are in Calvados
    for path in (f"/etablissement/{SCHOOL_A}", f"/etablissement/{SCHOOL_B}", "/eleve/S7",
                 "/eleve/S1"):
        assert manche.get(path).status_code == 404, path
    home = manche.get("/coordination")
    assert home.status_code == 200 and "département 50" in home.text
    assert "/etablissement/" not in home.text and 'id="carte"' in home.text
    page = client_for("coord-14").get("/eleve/S7")  # a valid form of another account
    before = agreements(site)
    key, revision = _key(page.text, "C")
    assert _place(manche, "S7", key, revision, csrf_of(home.text)).status_code == 404
    assert agreements(site) == before
    calvados = client_for("coord-14")
    assert calvados.get(f"/etablissement/{SCHOOL_B}").status_code == 200
    assert f'href="/etablissement/{SCHOOL_A}"' in calvados.get("/coordination").text


def _agreement_ids(html_text: str) -> list[str]:
    return re.findall(r'data-convention="(\d+)"', html_text)


def test_a_school_downloads_its_own_pupils_agreement_and_nobody_else_does(
        client_for: Client, site: str) -> None:
    import io

    from pypdf import PdfReader

    engine = db.connect(site)
    with db.writing(engine) as conn:
        queries.save_details(conn, "people", [{"student_id": "S1", "last_name": "Lefèvre",
                                               "first_name": "Éloïse"}])
    engine.dispose()
    a = client_for("lycee-a")
    page = a.get("/eleve/S1")
    (aid,) = _agreement_ids(page.text)
    url = f"/eleve/S1/convention/{aid}.pdf"
    assert f'href="{url}"' in page.text
    response = a.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "Lefèvre" not in response.headers["content-disposition"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Lefèvre" in text and "Éloïse" in text
    # Another school, the coordinator (no names), the analyst; another pupil's id in the URL.
    assert client_for("lycee-b").get(url).status_code == 404
    coordinator = client_for("coord")
    assert coordinator.get(url).status_code == 404
    assert f'href="{url}"' not in coordinator.get("/eleve/S1").text
    assert client_for("analyste").get(url).status_code == 403
    assert client_for(None).get(url, follow_redirects=False).status_code == 303
    other = _agreement_ids(client_for("lycee-b").get("/eleve/S6").text)[0]
    assert a.get(f"/eleve/S1/convention/{other}.pdf").status_code == 404
    assert a.get(f"/eleve/S6/convention/{other}.pdf").status_code == 404


def _sign(client: Any, pupil: str, agreement: str, role: str, csrf: str | None,
          date: str = "2026-05-12") -> Any:
    data = {"agreement": agreement, "role": role, "date": date, "mode": "papier"}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post(f"/eleve/{pupil}/signature", data=data, follow_redirects=False)


def _signatures(url: str) -> list[tuple[Any, ...]]:
    engine = db.connect(url)
    with db.reading(engine) as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT agreement_id, role, signed_on, mode FROM signature"
            " ORDER BY agreement_id, role")]
    engine.dispose()
    return rows


def test_a_school_records_the_four_signatures_and_a_fifth_is_refused(
        client_for: Client, site: str) -> None:
    a = client_for("lycee-a")
    page = a.get("/eleve/S1")
    (aid,) = _agreement_ids(page.text)
    csrf = csrf_of(page.text)
    assert _sign(a, "S1", aid, "eleve", None).status_code == 403
    assert _sign(a, "S1", aid, "eleve", "forged").status_code == 403
    assert _signatures(site) == []
    response = _sign(a, "S1", aid, "eleve", csrf)
    assert response.status_code == 303, response.text
    after = a.get(response.headers["location"]).text
    assert "Signature enregistrée" in after
    assert re.search(r"<td>A</td><td>semaines 1 et 2</td><td>envoyée</td>"
                     r"<td class=\"n\">1/4</td><td>l&#39;élève le 12/05/2026 \(papier\)</td>",
                     after), after
    again = _sign(a, "S1", aid, "eleve", csrf, "2026-05-13")
    assert again.status_code == 422
    assert "déjà signée par l&#39;élève (le 12/05/2026)" in again.text
    for role in ("etablissement", "employeur", "representant_legal"):
        assert _sign(a, "S1", aid, role, csrf).status_code == 303
    assert agreements(site)[("S1", "A")] == (True, True, "signee")
    assert "signée par les quatre parties" in a.get("/eleve/S1?message=signee").text
    fifth = _sign(a, "S1", aid, "employeur", csrf)
    assert fifth.status_code == 422 and "Signature non enregistrée" in fifth.text
    assert len(_signatures(site)) == 4
    bad_date = _sign(a, "S1", aid, "eleve", csrf, "demain")
    assert bad_date.status_code == 422 and "illisible" in bad_date.text


def test_signatures_are_refused_elsewhere_and_on_a_cancelled_agreement(
        client_for: Client, site: str) -> None:
    b = client_for("lycee-b")
    aid = _agreement_ids(b.get("/eleve/S6").text)[0]
    a = client_for("lycee-a")
    csrf_a = csrf_of(a.get("/etablissement").text)
    # Another school's pupil, or its agreement under one's own pupil: as if absent.
    assert _sign(a, "S6", aid, "eleve", csrf_a).status_code == 404
    assert _sign(a, "S1", aid, "eleve", csrf_a).status_code == 422
    for login, status in (("coord", 404), ("analyste", 403)):
        other = client_for(login)
        token = csrf_of(other.get("/coordination" if login == "coord" else "/analyse").text)
        assert _sign(other, "S6", aid, "eleve", token).status_code == status
    assert 'id="signature"' not in client_for("coord").get("/eleve/S6").text
    assert _signatures(site) == []
    engine = db.connect(site)
    with db.writing(engine) as conn:
        queries.cancel(conn, "S6", None, "test", "test")
    engine.dispose()
    page = b.get("/eleve/S6")
    assert 'id="signature"' not in page.text  # nothing left to sign
    refused = _sign(b, "S6", aid, "eleve", csrf_of(page.text))
    assert refused.status_code == 422
    assert "convention annulée : elle ne peut pas être signée" in refused.text
    assert _signatures(site) == []
