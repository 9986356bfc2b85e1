"""The web pages in a real browser (pytest-playwright driving Debian's Chromium, which
.ci/run installs; `playwright install` cannot download browsers here): a school places an
unplaced pupil and sees the state change; a coordinator sees the map. Screenshots are
saved under the test's temporary folder (and in $AFFECTATION_SCREENSHOTS when set, to look
at them). Skipped with a message when Chromium is absent."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import PASSWORD, SECRET, agreements, db_url, site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium absent (Debian : apt-get install chromium ; .ci/run "
                             "l'installe) : tests du navigateur non lancés")

__all__ = ["db_url", "site"]  # fixtures


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser: Debian's Chromium rather than a downloaded one."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu"]}


@pytest.fixture
def server(site: str) -> Iterator[str]:
    """The application served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from affectation.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(site, SECRET)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    app.state.web.engine.dispose()


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("AFFECTATION_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def _log_in(page: Any, server: str, login: str) -> None:
    page.goto(f"{server}/login")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_selector("text=Se déconnecter")


def test_a_school_places_an_unplaced_pupil(page: Any, server: str, site: str,
                                           tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _log_in(page, server, "lycee-b")
    page.wait_for_selector("h1:has-text('Élèves du lycée')")
    row = page.locator("tr[data-eleve='S7']")
    assert "sans stage" in row.inner_text()
    _shot(page, tmp_path, "1-etablissement")
    row.get_by_role("link", name="S7").click()
    page.wait_for_selector("h1:has-text('Élève S7')")
    _shot(page, tmp_path, "2-eleve")
    page.get_by_role("button", name="Placer ici : C, semaine 2").click()
    page.wait_for_selector("text=Placement enregistré")
    assert "proposée" in page.locator("#conventions").inner_text()
    _shot(page, tmp_path, "3-place")
    assert agreements(site)[("S7", "C")] == (False, True, "proposee")
    page.get_by_role("link", name="Accueil").click()
    page.wait_for_selector("tr[data-eleve='S7']")
    text = page.locator("tr[data-eleve='S7']").inner_text()
    assert "placé(e) une semaine" in text and "proposée" in text
    assert errors == []


def test_a_coordinator_sees_the_map(page: Any, server: str, tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1200, "height": 900})
    _log_in(page, server, "coord")
    page.wait_for_selector("h1:has-text('Coordination')")
    carte = page.locator("svg#carte")
    assert carte.is_visible()
    box = carte.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    assert page.locator("svg#carte path.zone").count() > 50  # the EPCIs of Normandy
    _shot(page, tmp_path, "4-coordination")
    assert errors == []


def test_two_schools_in_two_browsers_want_the_last_seat(browser: Any, server: str, site: str,
                                                         tmp_path: Path) -> None:
    first, second = browser.new_context(), browser.new_context()
    try:
        a, b = first.new_page(), second.new_page()
        _log_in(a, server, "lycee-a")
        _log_in(b, server, "lycee-b")
        a.goto(f"{server}/eleve/S5")
        b.goto(f"{server}/eleve/S7")
        b.get_by_role("button", name="Placer ici : C, semaine 2").click()
        b.wait_for_selector("text=Placement enregistré")
        before = agreements(site)
        a.get_by_role("button", name="Placer ici : C, semaine 2").click()
        alert = a.wait_for_selector("#erreur")
        text = alert.inner_text()
        assert "Conflit" in text and "Rien n'a été enregistré" in text
        assert a.get_by_role("button", name="Placer ici : C, semaine 2").count() == 0
        _shot(a, tmp_path, "5-conflit")
        assert agreements(site) == before
    finally:
        first.close()
        second.close()
