"""The web application: FastAPI routes that parse a request, ask `authz` whether the signed-in
account may, call the store's queries and the analysis modules, and render a French page
with the views' templates (`views/templates/web/`).

`create_app(store_url, secret)` builds one application on one campaign store. Routes that
read the store or compute are plain functions (FastAPI runs them in its thread pool) or hand
their work to it, so that one slow page never blocks the event loop for the others. Accounts,
sessions and login attempts live in the store (migration 0002), so several server processes
on one PostgreSQL share them. Pages work without JavaScript (plain forms, POST then
redirect); the vendored htmx (`/static/htmx.min.js`) only makes navigation and forms partial
(`hx-boost`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from affectation.documents.batch import file_name
from affectation.documents.pdf import agreement_pdf
from affectation.domain.agreement import (
    CANCELLED,
    MODES,
    ROLES,
    STATE_LABELS,
    TransitionError,
    check_signature,
)
from affectation.domain.agreement import (
    ROLE_LABELS as SIGNER_LABELS,
)
from affectation.errors import InputError
from affectation.store import db, queries
from affectation.store.sheets import parse_date
from affectation.views.environment import environment
from affectation.views.formatting import fr_int, fr_num, fr_pct
from affectation.views.report import (
    INDICATOR_COLUMNS,
    Column,
    epci_map,
    indicator_rows,
    mobilisation,
    rate_bars,
)
from affectation.web import insight, placement, security
from affectation.web.authz import (
    ANALYST,
    COORDINATOR,
    ROLE_LABELS,
    SCHOOL,
    Actor,
    Forbidden,
    Pupil,
    School,
    may,
    require,
)
from affectation.web.state import CampaignState, Snapshot

SESSION_HOURS = 10
# Login rate limits: failed attempts per account (since its last success) and per address in
# the window; beyond, every attempt is refused until the window slides.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILED_PER_LOGIN = 5
MAX_FAILED_PER_IP = 30
HOME = {SCHOOL: "/etablissement", COORDINATOR: "/coordination", ANALYST: "/analyse"}
WEEK_LABELS = {(1, 2): "semaines 1 et 2", (1,): "semaine 1", (2,): "semaine 2"}
STATUS_LABELS = {"exempt": "dispensé(e)", "self_placed": "stage trouvé seul(e)"}


class NotFound(Exception):
    """A page that does not exist, or that the account may not know exists (404)."""


class LoginRequired(Exception):
    """No valid session: to the login page."""


@dataclass
class Web:
    """What the routes share: the store's engine, the server's secret, the cached campaign."""

    engine: Engine
    secret: str
    secure_cookies: bool
    _state: CampaignState | None = None
    _recruiting: insight.Recruiting | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def state(self) -> CampaignState:
        with self._lock:
            if self._state is None:
                with db.reading(self.engine) as conn:
                    scenario = Path(queries.get_campaign(conn).scenario_path)
                self._state = CampaignState(self.engine, scenario)
                self._recruiting = insight.Recruiting()
            return self._state

    def snapshot(self) -> Snapshot:
        state = self.state()
        with db.reading(self.engine) as conn:
            return state.current(conn)

    def recruiting(self) -> insight.Recruiting:
        self.state()
        assert self._recruiting is not None
        return self._recruiting


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    html = environment().get_template(f"web/{template}").render(
        actor=actor, role_label=ROLE_LABELS.get(actor.role, "") if actor else "",
        home=HOME.get(actor.role, "/") if actor else "/login", **context)
    return HTMLResponse(html, status_code=status)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "inconnue"


def _weeks_text(weeks: tuple[int, ...]) -> str:
    return WEEK_LABELS.get(tuple(weeks), "")


def _situation(row: dict[str, Any]) -> tuple[str, bool]:
    """(French situation, unplaced for at least one week) of a pupil row of the store."""
    status = row.get("status") or ""
    if status in STATUS_LABELS:
        return STATUS_LABELS[status], False
    weeks = {w for ag in row["agreements"] for w in ag["weeks"]}
    if len(weeks) == 2:
        return "placé(e) deux semaines", False
    if len(weeks) == 1:
        return "placé(e) une semaine", True
    return "sans stage", True


def _agreement_text(ag: dict[str, Any]) -> str:
    return (f"{ag['offer_id']} ({_weeks_text(ag['weeks'])}) : "
            f"{STATE_LABELS.get(ag['state'], ag['state'])}, "
            f"{ag['signatures']}/{len(ROLES)} signatures")


def create_app(store_url: str, secret: str, *, secure_cookies: bool = False,
               preload: bool = False) -> FastAPI:
    """The application on the campaign store at `store_url` (whose schema must be current).
    `secret` keys the session tokens' hashes kept in the store: sessions survive a restart
    with the same secret. `secure_cookies` marks cookies Secure (behind HTTPS); `preload`
    loads the campaign's state in a background thread at once (the server does)."""
    engine = db.connect(store_url, pooled=True)
    web = Web(engine, secret, secure_cookies)
    if preload:
        # The scenario, travel times and live allocation take seconds to tens of seconds at
        # académie scale: load them while the first users log in, not on their first page.
        threading.Thread(target=web.snapshot, daemon=True, name="affectation-preload").start()
    app = FastAPI(title="Affectation des stages de seconde", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.web = web
    static = files("affectation.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    # ------------------------------------------------------------------ sessions, errors

    def actor_of(request: Request) -> Actor | None:
        token = request.cookies.get(security.SESSION_COOKIE)
        if not token:
            return None
        with db.reading(engine) as conn:
            found = queries.session_user(conn, security.token_hash(token, secret),
                                         queries.now())
        if found is None:
            return None
        user, csrf = found
        return Actor(user.id, user.login, user.role, user.school_uai, csrf, user.department)

    def signed_in(request: Request) -> Actor:
        actor = actor_of(request)
        if actor is None:
            raise LoginRequired()
        request.state.actor = actor
        return actor

    async def posted(request: Request, actor: Actor) -> dict[str, str]:
        """The form of a POST, refused (403) unless it carries the session's CSRF token."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        token = form.get(security.CSRF_FIELD) or request.headers.get(security.CSRF_HEADER)
        if not security.same(token, actor.csrf):
            raise Forbidden("Formulaire expiré ou invalide : rechargez la page et recommencez.")
        return form

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path if request.method == "GET" else "/"
        return RedirectResponse(f"/login?suite={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _page(request, "erreur.html", 403, title="Accès refusé", message=exc.message)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _page(request, "erreur.html", 404, title="Page introuvable",
                     message="Cette page n'existe pas, ou vous n'y avez pas accès.")

    @app.exception_handler(404)
    async def _404(request: Request, exc: Exception) -> Response:
        return _page(request, "erreur.html", 404, title="Page introuvable",
                     message="Cette page n'existe pas, ou vous n'y avez pas accès.")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'")
        if not request.url.path.startswith("/static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                            secure=secure_cookies, path="/")

    # ------------------------------------------------------------------ login, logout

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, suite: str = "/") -> Response:
        token = security.new_token()
        response = _page(request, "login.html", csrf=token, suite=_safe_next(suite),
                         error=None, login="")
        cookie(response, security.LOGIN_CSRF_COOKIE, token, 3600)
        return response

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        return await run_in_threadpool(log_in, request, form)

    def log_in(request: Request, form: dict[str, str]) -> Response:
        login, password = form.get("login", "").strip(), form.get("password", "")
        suite = _safe_next(form.get("suite", "/"))
        if not security.same(form.get(security.CSRF_FIELD),
                             request.cookies.get(security.LOGIN_CSRF_COOKIE)):
            raise Forbidden("Formulaire expiré ou invalide : rechargez la page de connexion.")
        ip = _client_ip(request)
        at = queries.now()
        with db.reading(engine) as conn:
            by_login, by_ip = queries.failed_logins(conn, login, ip, at - LOGIN_WINDOW)
            user = queries.user_by_login(conn, login) if login else None
        if by_login >= MAX_FAILED_PER_LOGIN or by_ip >= MAX_FAILED_PER_IP:
            return _page(request, "login.html", 429, csrf=form.get(security.CSRF_FIELD, ""),
                         suite=suite, login=login,
                         error="Trop de tentatives de connexion échouées : réessayez dans "
                               f"{int(LOGIN_WINDOW.total_seconds() // 60)} minutes.")
        ok = security.verify_password(user.password_hash if user else None, password)
        ok = ok and user is not None and user.active
        with db.writing(engine) as conn:
            queries.record_login_attempt(conn, login, ip, at, ok)
            if ok and user is not None:
                token = security.new_token()
                queries.create_session(conn, user.id, security.token_hash(token, secret),
                                       security.new_token(), at,
                                       at + timedelta(hours=SESSION_HOURS))
        if not ok or user is None:
            return _page(request, "login.html", 401, csrf=form.get(security.CSRF_FIELD, ""),
                         suite=suite, login=login,
                         error="Identifiant ou mot de passe incorrect.")
        target = suite if suite != "/" else HOME[user.role]
        response = RedirectResponse(target, status_code=303)
        cookie(response, security.SESSION_COOKIE, token, SESSION_HOURS * 3600)
        response.delete_cookie(security.LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        actor = await run_in_threadpool(signed_in, request)
        await posted(request, actor)
        token = request.cookies.get(security.SESSION_COOKIE, "")

        def end() -> None:
            with db.writing(engine) as conn:
                queries.delete_session(conn, security.token_hash(token, secret))

        await run_in_threadpool(end)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(security.SESSION_COOKIE, path="/")
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        actor = signed_in(request)
        return RedirectResponse(HOME[actor.role], status_code=303)

    # ------------------------------------------------------------------ school pages

    @app.get("/etablissement", response_class=HTMLResponse)
    def own_school(request: Request, q: str = "") -> Response:
        actor = signed_in(request)
        if actor.role != SCHOOL or actor.school_uai is None:
            raise Forbidden("Cette page est celle d'un compte d'établissement.")
        return school_page(request, actor, actor.school_uai, q)

    @app.get("/etablissement/{uai}", response_class=HTMLResponse)
    def a_school(request: Request, uai: str, q: str = "") -> Response:
        actor = signed_in(request)
        return school_page(request, actor, uai, q)

    def school_page(request: Request, actor: Actor, uai: str, q: str) -> Response:
        if actor.role == ANALYST:
            raise Forbidden("Un compte d'analyse ne voit que les indicateurs agrégés.")
        if not may(actor, "view_school", School(uai)):
            raise NotFound()
        names = may(actor, "view_names", School(uai))
        with db.reading(engine) as conn:
            school_names = queries.schools(conn)
            if uai not in school_names:
                raise NotFound()
            rows = queries.school_pupils(conn, uai, q[:100], names=names)
        pupils = []
        for r in rows:
            text, unplaced = _situation(r)
            name = " ".join(x for x in (r.get("last_name"), r.get("first_name")) if x)
            pupils.append({"id": r["student_id"], "name": name, "class": r.get("class_name") or "",
                           "situation": text, "unplaced": unplaced,
                           "priority": bool(r["priority"]),
                           "agreements": [_agreement_text(ag) for ag in r["agreements"]]})
        counts = {"total": len(pupils), "unplaced": sum(p["unplaced"] for p in pupils)}
        return _page(request, "etablissement.html", uai=uai, school_name=school_names[uai],
                     pupils=pupils, names=names, q=q, counts=counts)

    # ------------------------------------------------------------------ a pupil

    def pupil_of(actor: Actor, student_id: str) -> dict[str, Any]:
        if actor.role == ANALYST:
            raise Forbidden("Un compte d'analyse ne voit aucune page d'élève.")
        with db.reading(engine) as conn:
            row = queries.pupil_row(conn, student_id, names=False)
        if row is None or not may(actor, "view_pupil", Pupil(student_id, row["school_uai"])):
            raise NotFound()  # another school's pupil: as if it did not exist
        return row

    @app.get("/eleve/{student_id}", response_class=HTMLResponse)
    def pupil_page(request: Request, student_id: str, message: str = "") -> Response:
        actor = signed_in(request)
        pupil_of(actor, student_id)
        return pupil_view(request, actor, student_id, notice=_notice(message))

    def pupil_view(request: Request, actor: Actor, student_id: str, notice: str = "",
                   error: str = "", status: int = 200) -> Response:
        row = pupil_of(actor, student_id)
        uai = row["school_uai"]
        names = may(actor, "view_names", Pupil(student_id, uai))
        with db.reading(engine) as conn:
            if names:
                row = queries.pupil_row(conn, student_id, names=True) or row
            details = queries.agreement_details(conn, student_id)
        snap = web.snapshot()
        s = snap.index(student_id)
        own = actor.school_uai if actor.role == SCHOOL else None
        story = insight.story(snap, s, own) if s is not None else []
        offers = []
        if s is not None and snap.instance.students.to_place[s]:
            for x in placement.suggestions(snap, s):
                if x.current:
                    continue
                moved = [str(snap.instance.students.ids[p]) for p, _ in x.moved]
                moved_own = [p if own is None or
                             str(snap.instance.students.school[snap.index(p)]) == own
                             else insight.FOREIGN for p in moved]
                offers.append({
                    "offer": snap.offer_id(x.offer)
                    + (f" + {snap.offer_id(x.partner)}" if x.partner >= 0 else ""),
                    "weeks": placement.WEEK_TEXT.get(x.weeks, x.weeks),
                    "minutes": fr_num(x.minutes), "free": " / ".join(str(f) for f in x.free),
                    "possible": x.moves is not None,
                    # The school may not move another school's pupil: no button that the
                    # POST would refuse, the coordination applies such a suggestion.
                    "foreign": insight.FOREIGN in moved_own,
                    "moves": moved_own, "key": placement.key_of(snap, x)})
        agreements = [{"id": d["id"], "offer": d["offer_id"], "weeks": _weeks_text(d["weeks"]),
                       "state": STATE_LABELS.get(d["state"], d["state"]),
                       "live": d["state"] != CANCELLED,
                       "signatures": len(d["signatures"]),
                       "signed": [{"role": SIGNER_LABELS.get(g["role"], g["role"]),
                                   "on": g["signed_on"].strftime("%d/%m/%Y"),
                                   "mode": MODE_LABELS.get(g["mode"], g["mode"])}
                                  for g in d["signatures"]]} for d in details]
        name = " ".join(x for x in (row.get("last_name"), row.get("first_name")) if x) \
            if names else ""
        return _page(request, "eleve.html", status, student_id=student_id, uai=uai,
                     school_name=row["school_name"], name=name,
                     class_name=row.get("class_name") or "" if names else "",
                     story=story, offers=offers, agreements=agreements,
                     revision=snap.revision, notice=notice, error=error,
                     can_place=may(actor, "change_pupil", Pupil(student_id, uai)),
                     can_download=may(actor, "download_agreement", Pupil(student_id, uai)),
                     can_sign=may(actor, "record_signature", Pupil(student_id, uai)),
                     signer_labels=SIGNER_LABELS, mode_labels=MODE_LABELS,
                     today=queries.now().date().isoformat())

    @app.post("/eleve/{student_id}/placer", response_class=HTMLResponse)
    async def place(request: Request, student_id: str) -> Response:
        actor = await run_in_threadpool(signed_in, request)
        form = await posted(request, actor)
        return await run_in_threadpool(place_pupil, request, actor, student_id, form)

    def place_pupil(request: Request, actor: Actor, student_id: str,
                    form: dict[str, str]) -> Response:
        row = pupil_of(actor, student_id)
        require(actor, "change_pupil", Pupil(student_id, row["school_uai"]))
        key = form.get("key", "")
        try:
            seen = int(form.get("revision", "-1"))
        except ValueError:
            seen = -1
        if not placement.KEY.match(key):
            return pupil_view(request, actor, student_id, error="Suggestion invalide.",
                              status=400)
        snap = web.snapshot()
        s = snap.index(student_id)
        try:
            if s is None:
                raise placement.Refused("Cet élève n'est plus dans le fichier des élèves.")
            x = placement.find(snap, s, key)
            if (x is None or x.moves is None) and seen != snap.revision:
                # The page was computed at revision `seen`: what changed since, and by whom.
                with db.reading(engine) as conn:
                    event = queries.latest_event(conn, max(seen, 0), [student_id],
                                                 [key.split("|")[0]])
                raise placement.Refused(
                    "Conflit : cette place n'est plus disponible telle que proposée"
                    + (" : " + placement.conflict_text(event, actor) if event else ".")
                    + " Rien n'a été enregistré ; les suggestions ci-dessous sont à jour.",
                    conflict=True)
            if x is None:
                raise placement.Refused("Cette suggestion n'est pas proposée pour cet élève.")
            plan = placement.plan_of(snap, s, x)
            placement.check_plan(snap, actor, plan)
            placement.apply_plan(engine, snap, actor, plan)
        except placement.Refused as exc:
            return pupil_view(request, actor, student_id, error=exc.message,
                              status=409 if exc.conflict else 422)
        return RedirectResponse(f"/eleve/{quote(student_id)}?message=place", status_code=303)

    # ------------------------------------------------------------------ agreements

    @app.get("/eleve/{student_id}/convention/{agreement_id}.pdf")
    def agreement_document(request: Request, student_id: str, agreement_id: int) -> Response:
        """The pupil's pre-filled agreement (PDF): the pupil's own school only (the family's
        details are inside); anyone else gets 404, as if it did not exist."""
        actor = signed_in(request)
        row = pupil_of(actor, student_id)
        if not may(actor, "download_agreement", Pupil(student_id, row["school_uai"])):
            raise NotFound()
        with db.reading(engine) as conn:
            if queries.agreement_owner(conn, agreement_id) != (student_id, row["school_uai"]):
                raise NotFound()
            try:
                docs = queries.agreement_documents(conn, ids=[agreement_id])
            except InputError as exc:  # personal data purged
                return _page(request, "erreur.html", 410, title="Convention indisponible",
                             message=str(exc))
        if not docs:  # a cancelled agreement has no document
            raise NotFound()
        name = file_name(docs[0], "pdf").rsplit("/", 1)[-1]
        return Response(agreement_pdf(docs[0]), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/eleve/{student_id}/signature", response_class=HTMLResponse)
    async def signature(request: Request, student_id: str) -> Response:
        actor = await run_in_threadpool(signed_in, request)
        form = await posted(request, actor)
        return await run_in_threadpool(record_signature, request, actor, student_id, form)

    def record_signature(request: Request, actor: Actor, student_id: str,
                         form: dict[str, str]) -> Response:
        """One party's signature on one of the pupil's agreements, through the store's
        `record_signatures` (the same transitions and refusals as `campaign record`)."""
        row = pupil_of(actor, student_id)
        if not may(actor, "record_signature", Pupil(student_id, row["school_uai"])):
            raise NotFound()
        try:
            message = _signature(actor, student_id, form)
        except _Refused as exc:
            return pupil_view(request, actor, student_id,
                              error=f"Signature non enregistrée : {exc}", status=422)
        return RedirectResponse(f"/eleve/{quote(student_id)}?message={message}",
                                status_code=303)

    def _signature(actor: Actor, student_id: str, form: dict[str, str]) -> str:
        from affectation.store.queries import SignatureRow, record_signatures

        role, mode = form.get("role", ""), form.get("mode", "papier")
        if role not in ROLES:
            raise _Refused("choisissez la partie qui signe.")
        if mode not in MODES:
            raise _Refused("choisissez le mode de signature.")
        on = parse_date(form.get("date", ""))
        if on is None:
            raise _Refused(f"date « {form.get('date', '')} » illisible (attendu : "
                           "AAAA-MM-JJ ou JJ/MM/AAAA).")
        with db.writing(engine) as conn:
            details = {str(d["id"]): d for d in queries.agreement_details(conn, student_id)}
            ag = details.get(form.get("agreement", ""))
            if ag is None:
                raise _Refused("cette convention n'est pas celle de cet élève.")
            try:
                check_signature(ag["state"], role, {
                    g["role"]: g["signed_on"].strftime("%d/%m/%Y") for g in ag["signatures"]})
            except TransitionError as exc:
                raise _Refused(f"{exc}.") from None
            report = record_signatures(
                conn, [SignatureRow(1, student_id, role, on, mode, ag["offer_id"],
                                    ag["weeks"][0])], "formulaire web", actor.who)
            if report.rejected:  # changed between the read and the write: nothing written
                raise _Refused(f"{report.rejected[0].expected}.")
        return "signee" if report.completed else "signature"

    # ------------------------------------------------------------------ coordination

    def aggregates(snap: Snapshot, with_schools: bool) -> dict[str, Any]:
        """The context of the aggregate pages (cards, map, tables), once per snapshot."""
        return snap.cached(("aggregates", with_schools),
                           lambda: _aggregates(snap, with_schools))

    def _aggregates(snap: Snapshot, with_schools: bool) -> dict[str, Any]:
        ind = insight.indicators(snap)
        counts = insight.summary(snap, None)
        to_place = counts["students_to_place"] or 1
        cards = [(fr_int(counts["students_to_place"]), "élèves à placer"),
                 (fr_int(counts["placed_full"]),
                  f"placés deux semaines ({fr_pct(counts['placed_full'] / to_place)})"),
                 (fr_int(counts["placed_partial"]), "placés une semaine"),
                 (fr_int(counts["unplaced"]), "sans stage")]
        kinds = ind["territory_type"]
        out: dict[str, Any] = {
            "cards": cards, "map": epci_map(ind),
            "departments": rate_bars(ind[kinds == "department"],
                                     "Taux de placement deux semaines par département"),
            "indicator_columns": INDICATOR_COLUMNS,
            "department_rows": indicator_rows(ind[kinds == "department"]),
            "epci_rows": indicator_rows(ind[kinds == "epci"]),
            "school_rows": indicator_rows(ind[kinds == "school"]) if with_schools else [],
            "school_links": [str(c) for c in ind[kinds == "school"]["territory"]]
            if with_schools else [],
        }
        return out

    @app.get("/coordination", response_class=HTMLResponse)
    def coordination(request: Request) -> Response:
        actor = signed_in(request)
        if actor.role != COORDINATOR:
            raise Forbidden("Cette page est celle de la coordination.")
        require(actor, "view_indicators")
        snap = web.snapshot()
        recruiting = web.recruiting()
        recruiting.request(snap)
        ranking = recruiting.latest
        with db.reading(engine) as conn:
            progress = queries.progress_by_week(conn)
        context = dict(aggregates(snap, True))
        if actor.department is not None:  # a département's coordinator: its schools only
            keep = [i for i, uai in enumerate(context["school_links"])
                    if may(actor, "view_school", School(uai))]
            context["school_rows"] = [context["school_rows"][i] for i in keep]
            context["school_links"] = [context["school_links"][i] for i in keep]
        return _page(request, "coordination.html", **context, scope=actor.department,
                     progress=progress, progress_columns=PROGRESS_COLUMNS,
                     mobilisation=mobilisation(ranking.frame) if ranking else None,
                     ranking_revision=ranking.revision if ranking else None,
                     revision=snap.revision)

    @app.get("/analyse", response_class=HTMLResponse)
    def analysis(request: Request) -> Response:
        actor = signed_in(request)
        if actor.role not in (ANALYST, COORDINATOR):
            raise Forbidden("Cette page est celle des indicateurs agrégés.")
        require(actor, "view_indicators")
        return _page(request, "analyse.html", **aggregates(web.snapshot(), False))

    return app


PROGRESS_COLUMNS = [Column("semaine"), Column("proposées", True), Column("envoyées", True),
                    Column("signées", True), Column("annulées", True),
                    Column("signées (cumul)", True)]
NOTICES = {"place": "Placement enregistré : la convention proposée apparaît ci-dessous.",
           "signature": "Signature enregistrée.",
           "signee": "Signature enregistrée : la convention est désormais signée par les "
                     "quatre parties."}
MODE_LABELS = {"papier": "papier", "electronique": "électronique", "hors_outil": "hors outil"}


class _Refused(Exception):
    """A signature the form or the agreement's lifecycle refuses (French message)."""


def _notice(key: str) -> str:
    return NOTICES.get(key, "")


def _safe_next(target: str) -> str:
    """A local path to go to after login (never another site)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
