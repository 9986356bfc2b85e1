"""`affectation campaign ...`: following the campaign in a store (placements, agreements,
signatures), pre-filled agreements, and the way back to the national platform.

Every command opens the store named by `--db` (a URL, an SQLite file, a scenario file or
its folder), else by the `AFFECTATION_DB` environment variable, else `campagne.sqlite` in
the current folder (`init`: beside the scenario); each runs as one transaction.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from affectation.cli.common import fail_input
from affectation.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

DB_HELP = ("Base de la campagne : URL (sqlite:///campagne.sqlite, postgresql+psycopg://"
           "utilisateur:motdepasse@serveur/base), fichier SQLite, ou scénario (campagne.sqlite "
           "à côté). Défaut : variable AFFECTATION_DB, sinon campagne.sqlite du dossier courant.")


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db", default=None, help=DB_HELP)(func)


def who() -> str:
    """Who the events are written by: `AFFECTATION_USER`, else the system account."""
    try:
        user = os.environ.get("AFFECTATION_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no account name (container): still a command line
        user = "inconnu"
    return f"{user} (ligne de commande)"


def fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(2)


def open_store(db: str | None, scenario: Path | None = None,
               must_exist: bool = True) -> Engine:
    """The store's engine, its schema at the current migration (else a French error)."""
    from sqlalchemy.exc import OperationalError

    from affectation.store import db as store_db

    try:
        url = store_db.resolve_url(db, scenario)
        engine = store_db.connect(url, must_exist=must_exist)
        if must_exist:
            with store_db.reading(engine) as conn:
                if not store_db.has_campaign(conn):
                    raise InputError([_problem(store_db.shown_url(url), "une base de campagne "
                                               "(lancez « affectation campaign init »)")])
                current = store_db.current_revision(conn)
                if current != store_db.head_revision():
                    fail(f"La base {store_db.shown_url(url)} est au schéma {current} ; cette "
                         f"version attend {store_db.head_revision()} : lancez « affectation "
                         "campaign upgrade ».")
    except InputError as exc:
        fail_input(exc)
    except OperationalError as exc:
        fail(f"Base de données inaccessible ({store_db.shown_url(url)}) : "
             f"{str(exc.orig).strip() or exc}")
    return engine


def _problem(file: str, expected: str) -> Any:
    from affectation.errors import Problem

    return Problem(file, expected)


def run_write(engine: Engine, action: Callable[[Any], Any]) -> Any:
    """Run `action(conn)` in one write transaction; input and lifecycle errors end the
    command (exit 2) with the store unchanged."""
    from sqlalchemy.exc import OperationalError

    from affectation.domain.agreement import TransitionError
    from affectation.store.db import writing

    try:
        with writing(engine) as conn:
            return action(conn)
    except InputError as exc:
        fail_input(exc)
    except TransitionError as exc:
        fail(f"Refusé : {exc}")
    except OperationalError as exc:
        fail(f"Base de données : {str(exc.orig).strip() or exc}")


def run_read(engine: Engine, action: Callable[[Any], Any]) -> Any:
    from affectation.store.db import reading

    try:
        with reading(engine) as conn:
            return action(conn)
    except InputError as exc:
        fail_input(exc)


@click.group()
def campaign() -> None:
    """Suivi de la campagne : placements, conventions et signatures dans une base (SQLite
    par défaut, PostgreSQL pour une équipe), conventions préremplies, retour vers la
    plateforme nationale."""


@campaign.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--db", "db", default=None,
              help="Base à créer : URL ou fichier (défaut : campagne.sqlite à côté du "
                   "scénario).")
def init(scenario: Path, db: str | None) -> None:
    """Crée la base de la campagne de SCENARIO : établissements, élèves, offres, et ses
    conventions déjà signées (conventions.csv)."""
    from affectation.io.inputs import read_instance
    from affectation.io.scenario import load_scenario
    from affectation.store.db import shown_url
    from affectation.store.queries import init_campaign

    try:
        instance = read_instance(load_scenario(scenario))
    except InputError as exc:
        fail_input(exc)
    engine = open_store(db, scenario, must_exist=False)
    counts = run_write(engine, lambda conn: init_campaign(conn, instance, who()))
    click.echo(f"Campagne « {instance.scenario.name} » créée dans {shown_url(str(engine.url))} :"
               f" {counts['schools']} établissements, {counts['pupils']} élèves, "
               f"{counts['offers']} offres, {counts['conventions']} convention(s) signée(s).")


@campaign.command()
@db_option
def upgrade(db: str | None) -> None:
    """Met le schéma de la base à jour (migrations), sans rien perdre."""
    from affectation.store.db import current_revision, head_revision
    from affectation.store.db import upgrade as do_upgrade

    engine = open_store(db, must_exist=False)

    def action(conn: Any) -> tuple[str | None, str]:
        before = current_revision(conn)
        do_upgrade(conn)
        return before, head_revision()

    before, after = run_write(engine, action)
    click.echo("Schéma déjà à jour." if before == after
               else f"Schéma mis à jour : {before or 'vide'} -> {after}.")


def _instance(scenario: Path | None, conn_scenario: str) -> Any:
    from affectation.io.inputs import read_instance
    from affectation.io.scenario import load_scenario

    try:
        return read_instance(load_scenario(scenario or Path(conn_scenario)))
    except InputError as exc:
        fail_input(exc)


@campaign.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@db_option
@click.option("--scenario", type=click.Path(path_type=Path), default=None,
              help="Scénario du résultat (défaut : celui de la campagne).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="CSV des élèves dont la convention envoyée ou signée est conservée malgré "
                   "le résultat.")
def load(result_dir: Path, db: str | None, scenario: Path | None,
         report_path: Path | None) -> None:
    """Charge un résultat de « solve » ou « repair » (RESULT_DIR) : ses placements
    deviennent les conventions proposées ; celles déjà envoyées ou signées sont conservées
    et les différences signalées."""
    from affectation.io.atomic import write_file
    from affectation.store.queries import get_campaign, load_run

    engine = open_store(db)
    campaign_row = run_read(engine, get_campaign)
    instance = _instance(scenario, campaign_row.scenario_path)
    report = run_write(engine, lambda conn: load_run(conn, instance, result_dir, who()))
    if report_path is not None:
        write_file(report_path, report.differences_csv())
    click.echo(report.summary())
    for d in report.differences[:10]:
        click.echo(f"  élève {d.student_id} ({d.school}) : conservée {d.kept} ; le résultat "
                   f"propose {d.run_says}", err=True)
    if len(report.differences) > 10:
        click.echo(f"  … et {len(report.differences) - 10} autre(s) (--report pour la liste)",
                   err=True)


def _details_command(kind: str, name: str, what: str) -> click.Command:
    @click.command(name)
    @click.argument("file", type=click.Path(path_type=Path))
    @db_option
    @click.option("--mapping", type=click.Path(path_type=Path), default=None,
                  help="Correspondance de colonnes (TOML) si le fichier a ses propres noms.")
    def command(file: Path, db: str | None, mapping: Path | None) -> None:
        from affectation.store.queries import known_ids, save_details
        from affectation.store.sheets import read_details

        engine = open_store(db)

        def action(conn: Any) -> tuple[int, int, list[Any]]:
            rows, problems = read_details(kind, file, known_ids(conn, kind), mapping)
            return save_details(conn, kind, rows), len(rows), problems

        changed, read, problems = run_write(engine, action)
        click.echo(f"{read} ligne(s) lue(s) de {Path(file).name} : {changed} modifiée(s) ; "
                   f"{len(problems)} rejetée(s).")
        for p in problems[:50]:
            click.echo(f"  rejetée : {p}", err=True)
        if problems:
            sys.exit(1)

    command.help = (f"Charge {what} depuis FILE (CSV/XLSX) ; ces données restent dans la "
                    "base et dans les conventions. Les lignes invalides sont rejetées (avec "
                    "leur raison), les autres appliquées.")
    return command


campaign.add_command(_details_command(
    "people", "people", "les données personnelles des élèves (student_id, last_name, "
    "first_name, birth_date, class, address, phone, email, rep1_*/rep2_* (name, email, "
    "phone), teacher_*, pai)"))
campaign.add_command(_details_command(
    "schools", "schools", "les établissements (school_id, name, address, postcode, city, "
    "legal_status, delegation_date, head_name, head_role, email, phone)"))
campaign.add_command(_details_command(
    "employers", "employers", "les employeurs (employer_id = SIRET, employer_name, address, "
    "description, website, representative_name, representative_role, email, phone)"))
campaign.add_command(_details_command(
    "offers", "offer-details", "le détail des offres (offer_id, title, description, street, "
    "postcode, city, permalink, schedule, meals, tutor_name, tutor_role, tutor_email, "
    "tutor_phone)"))


@campaign.command()
@db_option
@click.option("--school", default=None, help="Seulement les élèves de cet établissement (UAI).")
@click.option("--student", "students", multiple=True, help="Seulement cet élève (répétable).")
def send(db: str | None, school: str | None, students: tuple[str, ...]) -> None:
    """Marque les conventions proposées comme envoyées aux parties."""
    from affectation.store.queries import send as do_send

    engine = open_store(db)
    n = run_write(engine, lambda conn: do_send(conn, who(), school, students or None))
    click.echo(f"{n} convention(s) marquée(s) envoyée(s).")


@campaign.command()
@click.argument("student_id")
@db_option
@click.option("--offer", "offer_id", default=None, help="Seulement la convention à cette offre.")
@click.option("--reason", required=True, help="Motif (écrit dans l'historique).")
def cancel(student_id: str, db: str | None, offer_id: str | None, reason: str) -> None:
    """Annule la ou les conventions en cours d'un élève (STUDENT_ID)."""
    from affectation.store.queries import cancel as do_cancel

    engine = open_store(db)
    rows = run_write(engine, lambda conn: do_cancel(conn, student_id, offer_id, reason, who()))
    click.echo(f"{len(rows)} convention(s) annulée(s) : " + ", ".join(r.label() for r in rows))


@campaign.command()
@click.argument("file", type=click.Path(path_type=Path))
@db_option
@click.option("--mapping", type=click.Path(path_type=Path), default=None,
              help="Correspondance de colonnes (TOML) du tableau de l'établissement.")
@click.option("--school", default=None,
              help="Refuse les lignes des élèves d'un autre établissement (UAI).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="CSV des lignes rejetées (ligne, colonne, valeur, raison).")
def record(file: Path, db: str | None, mapping: Path | None, school: str | None,
           report_path: Path | None) -> None:
    """Enregistre les signatures d'un tableau (CSV/XLSX : student_id, role, date, mode,
    et offer_id, week si besoin). Les lignes invalides sont rejetées avec leur raison, les
    autres appliquées ; le même fichier appliqué deux fois ne change rien. Code de sortie 1
    si des lignes sont rejetées."""
    import csv
    import io

    from affectation.io.atomic import write_file
    from affectation.store.queries import record_signatures
    from affectation.store.sheets import read_signatures

    try:
        rows, problems = read_signatures(file, mapping)
    except InputError as exc:
        fail_input(exc)
    engine = open_store(db)
    report = run_write(engine, lambda conn: record_signatures(conn, rows, Path(file).name,
                                                              who(), school))
    rejected = sorted(problems + report.rejected, key=lambda p: p.line or 0)
    click.echo(f"{Path(file).name} : {report.applied} signature(s) enregistrée(s), "
               f"{report.unchanged} déjà connue(s), {len(rejected)} ligne(s) rejetée(s) ; "
               f"{report.completed} convention(s) désormais signée(s) par tous.")
    for p in rejected[:50]:
        click.echo(f"  rejetée : {p}", err=True)
    if report_path is not None:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(("file", "line", "column", "value", "reason"))
        for p in rejected:
            w.writerow((p.file, p.line, p.column or "", p.value or "", p.expected))
        write_file(report_path, out.getvalue())
    if rejected:
        sys.exit(1)


@campaign.command()
@db_option
@click.option("--by", type=click.Choice(["school", "epci", "department", "week"]), default=None,
              help="Décompte par établissement, EPCI du domicile, département ou semaine.")
@click.option("--days-before", type=click.IntRange(min=0), default=None,
              help="Liste les élèves sans convention signée par tous N jours avant la "
                   "première semaine (d'après les dates de signature).")
@click.option("--xlsx", "xlsx_path", type=click.Path(path_type=Path), default=None,
              help="Écrit aussi les tableaux dans ce classeur XLSX.")
def status(db: str | None, by: str | None, days_before: int | None,
           xlsx_path: Path | None) -> None:
    """État de la campagne : élèves et conventions par état (proposée, envoyée, en
    signature, signée, annulée)."""
    from datetime import timedelta

    from affectation.store.queries import get_campaign, status_table, unsigned_pupils

    engine = open_store(db)

    def action(conn: Any) -> tuple[Any, list[dict[str, Any]], Any, list[dict[str, str]]]:
        c = get_campaign(conn)
        table = status_table(conn, by)
        when = c.first_day - timedelta(days=days_before) if days_before is not None else None
        late = unsigned_pupils(conn, when) if when is not None else []
        return c, table, when, late

    c, table, when, late = run_read(engine, action)
    columns = ["groupe", "libelle", "eleves_a_placer", "eleves_avec_convention",
               "eleves_signes", "proposee", "envoyee", "en_signature", "signee", "annulee"]
    headers = ["groupe", "libellé", "à placer", "avec conv.", "signés", "proposées",
               "envoyées", "en signature", "signées", "annulées"]
    click.echo(f"Campagne « {c.name} » ({c.weeks[0]}, {c.weeks[1]})"
               + (f" ; run courant : {c.current_run_id}" if c.current_run_id else ""))
    _print_table(headers, [[str(r[k]) for k in columns] for r in table])
    if when is not None:
        click.echo(f"\nÀ J-{days_before} ({when:%d/%m/%Y}) : {len(late)} élève(s) sans "
                   "convention signée par les quatre parties pour les deux semaines.")
        for row in late[:20]:
            click.echo(f"  {row['student_id']} ({row['school_id']}) : semaine(s) "
                       f"{row['semaines_non_signees']} ; {row['conventions']}")
        if len(late) > 20:
            click.echo(f"  … et {len(late) - 20} autre(s) (--xlsx pour la liste complète)")
    if xlsx_path is not None:
        _write_status_xlsx(xlsx_path, table, late if when is not None else None)
        click.echo(f"Classeur écrit : {xlsx_path}")


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[k]) for r in rows)) if rows else len(h)
              for k, h in enumerate(headers)]
    widths[1] = min(widths[1], 40)
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for r in rows:
        cells = [r[0], r[1][:40], *r[2:]]
        click.echo("  ".join(c.ljust(w) if k < 2 else c.rjust(w)
                             for k, (c, w) in enumerate(zip(cells, widths, strict=True))))


def _write_status_xlsx(path: Path, table: list[dict[str, Any]],
                       late: list[dict[str, str]] | None) -> None:
    import csv
    import io

    from affectation.io.atomic import write_file
    from affectation.io.workbook import workbook_bytes

    def text(rows: list[dict[str, Any]], columns: list[str]) -> str:
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return out.getvalue()

    from affectation.store.queries import STATUS_COLUMNS

    sheets = {"etat.csv": text(table, list(STATUS_COLUMNS))}
    if late is not None:
        sheets["sans_convention_signee.csv"] = text(late, ["student_id", "school_id",
                                                            "semaines_non_signees",
                                                            "conventions"])
    write_file(path, workbook_bytes(sheets))


@campaign.command()
@db_option
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Fichier de conventions v1 à écrire (conventions signées par tous).")
@click.option("--pending", "pending_path", type=click.Path(path_type=Path), default=None,
              help="Fichier des conventions envoyées mais pas encore signées (défaut : "
                   "conventions-en-cours.csv à côté de --out).")
def conventions(db: str | None, out_path: Path, pending_path: Path | None) -> None:
    """Écrit les conventions signées par tous (conventions.csv v1 : « solve » et
    « repair » ne les déplacent jamais) et les conventions envoyées non signées (à geler
    dans une réparation : [inputs] pending)."""
    import csv
    import io

    from affectation.io.atomic import write_files
    from affectation.store.queries import convention_rows

    engine = open_store(db)
    signed, pending = run_read(engine, convention_rows)
    pending_path = pending_path or Path(out_path).parent / "conventions-en-cours.csv"

    def text(rows: list[dict[str, str]]) -> str:
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=["student_id", "offer_id", "week"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return out.getvalue()

    write_files({Path(out_path): text(signed), pending_path: text(pending)})
    click.echo(f"{len(signed)} convention(s) signée(s) -> {out_path} ; {len(pending)} "
               f"envoyée(s) non signée(s) -> {pending_path}.")
    click.echo(f"Dans le scénario : [inputs] conventions = \"{Path(out_path).name}\" et "
               f"pending = \"{pending_path.name}\" ([repair] free_pending = true pour libérer "
               "les conventions non signées).")


@campaign.command()
@db_option
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier des conventions (un sous-dossier par établissement) ; pour "
                   "--format csv, le fichier CSV de publipostage.")
@click.option("--school", default=None, help="Seulement cet établissement (UAI).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "docx", "csv"]), default="pdf",
              show_default=True, help="PDF (modèle national), DOCX (modèle Word) ou CSV de "
                                      "publipostage (champs de la plateforme).")
@click.option("--template", type=click.Path(path_type=Path), default=None,
              help="Modèle Word de l'académie pour --format docx (défaut : modèle fourni).")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["proposee", "envoyee", "signee"]),
              help="États à produire (défaut : proposée, envoyée, signée).")
@click.option("--jobs", type=click.IntRange(min=0), default=0,
              help="Processus de rendu (défaut : un par cœur).")
def agreements(db: str | None, out_dir: Path, school: str | None, fmt: str,
               template: Path | None, states: tuple[str, ...], jobs: int) -> None:
    """Conventions préremplies (modèle national de la séquence d'observation de seconde) :
    un fichier par convention, nommé par identifiants (aucun nom dans le nom du fichier)."""
    import time

    from affectation.documents.batch import render_all
    from affectation.documents.docx import read_template
    from affectation.documents.fields import mail_merge_csv
    from affectation.io.atomic import write_file
    from affectation.store.queries import agreement_documents

    started = time.perf_counter()
    engine = open_store(db)
    docs = run_read(engine, lambda conn: agreement_documents(
        conn, school, states or ("proposee", "envoyee", "signee")))
    if not docs:
        fail("Aucune convention à produire" + (f" pour l'établissement {school}." if school
                                               else "."))
    try:
        if fmt == "csv":
            write_file(out_dir, mail_merge_csv(docs))
            n = len(docs)
        else:
            data = read_template(template) if fmt == "docx" else None
            with click.progressbar(length=len(docs), label="Conventions",
                                   file=sys.stderr) as bar:
                n = render_all(docs, fmt, out_dir, jobs, data, on_done=bar.update)
    except InputError as exc:
        fail_input(exc)
    click.echo(f"{n} convention(s) {fmt.upper()} en {time.perf_counter() - started:.1f} s -> "
               f"{out_dir}")


@campaign.command("export-offers")
@db_option
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Fichier JSON : la liste des corps POST /api/v2/internship_offers.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="CSV des valeurs manquantes ou invalides, par offre.")
@click.option("--defaults", "defaults_path", type=click.Path(path_type=Path), default=None,
              help="TOML [defaults] : valeurs par défaut des champs absents de la base "
                   "(title, description, employer_description, permalink...), avec "
                   "{offer_id}, {employer_name}, {city}...")
@click.option("--reserved-as", type=click.Choice(["rep", "qpv"]), default="rep",
              show_default=True, help="Champ de la plateforme des offres réservées.")
def export_offers(db: str | None, out_path: Path, report_path: Path | None,
                  defaults_path: Path | None, reserved_as: str) -> None:
    """Offres au format de l'API v2 de la plateforme nationale, vérifiées hors ligne ; les
    offres incomplètes sont signalées (--report) et non exportées."""
    from affectation.io.atomic import write_files
    from affectation.store.platform import export_offers as do_export
    from affectation.store.platform import load_defaults
    from affectation.store.queries import get_campaign, offer_rows

    try:
        defaults = load_defaults(defaults_path) if defaults_path else {}
    except InputError as exc:
        fail_input(exc)
    engine = open_store(db)
    c, rows = run_read(engine, lambda conn: (get_campaign(conn), offer_rows(conn)))
    export = do_export(rows, c.weeks, defaults, reserved_as)
    files: dict[Path, str] = {Path(out_path): export.json()}
    if report_path is not None:
        files[Path(report_path)] = export.report_csv()
    write_files(files)
    click.echo(f"{len(export.bodies)} offre(s) exportée(s) -> {out_path} ; "
               f"{len(export.incomplete)} incomplète(s) non exportée(s) ; "
               f"{export.withdrawn} retirée(s) (capacité 0).")
    for line in export.problem_lines()[:20]:
        click.echo("  " + line, err=True)


@campaign.command("export-placements")
@db_option
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Fichier CSV de passation pour les opérateurs de la plateforme.")
def export_placements(db: str | None, out_path: Path) -> None:
    """Placements et conventions en cours, pour les opérateurs de la plateforme nationale
    (qui n'a pas d'API des placements) : identifiants pseudonymes, offre, employeur, dates,
    état et signatures ; aucune donnée personnelle."""
    import csv
    import io

    from affectation.io.atomic import write_file
    from affectation.store.queries import PLACEMENT_COLUMNS, placement_rows

    engine = open_store(db)
    rows = run_read(engine, placement_rows)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(PLACEMENT_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_file(out_path, out.getvalue())
    click.echo(f"{len(rows)} convention(s) en cours -> {out_path}")


@campaign.command()
@db_option
@click.option("--yes", is_flag=True, help="Confirme sans question.")
def purge(db: str | None, yes: bool) -> None:
    """Efface les données personnelles après la campagne (élèves, familles, tuteurs,
    contacts) ; garde les identifiants pseudonymes, les conventions et les statistiques."""
    from affectation.store.queries import purge as do_purge

    engine = open_store(db)
    if not yes and not click.confirm("Effacer définitivement les données personnelles ?"):
        fail("Rien n'a été effacé.")
    counts = run_write(engine, lambda conn: do_purge(conn, who()))
    click.echo("Données personnelles effacées : " + ", ".join(f"{v} {k}"
                                                            for k, v in counts.items()) + ".")
