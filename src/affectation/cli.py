"""The `affectation` command line: parse, call the library, write, print a short summary."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from affectation.errors import InputError

if TYPE_CHECKING:
    from affectation.intake.importing import OfferImport, StudentImport


def _fail_input(exc: InputError) -> None:
    click.echo("Erreur dans les données d'entrée :", err=True)
    click.echo(exc.message(), err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="affectation")
def main() -> None:
    """Affectation des élèves de seconde aux offres de stage (CP-SAT)."""


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Dossier de résultats (défaut : results/ à côté du scénario).")
@click.option("--time-limit", type=float, default=None,
              help="Temps maximal de l'étape de résolution, en secondes (défaut : scénario).")
@click.option("--seed", type=int, default=None, help="Graine (défaut : scénario).")
@click.option("--xlsx", is_flag=True, default=False,
              help="Écrit aussi tous les tableaux dans un classeur resultats.xlsx.")
def solve(scenario: Path, out_dir: Path | None, time_limit: float | None,
          seed: int | None, xlsx: bool) -> None:
    """Résout SCENARIO et écrit assignments.csv et summary.json."""
    from affectation.analysis.indicators import indicators_csv, indicators_table
    from affectation.analysis.result import add_fairness, make_result
    from affectation.engine.solve import SolveSettings
    from affectation.engine.solve import solve as run_solve
    from affectation.io.output import assignments_csv, summary_json
    from affectation.io.workbook import write_folder
    from affectation.travel.loading import load_instance

    started = time.perf_counter()
    try:
        instance = load_instance(scenario)
    except InputError as exc:
        _fail_input(exc)
        return
    settings = SolveSettings.from_scenario(instance.scenario.solver, time_limit, seed)
    solution = run_solve(instance, settings)
    result = make_result(instance, solution, settings.seed, time.perf_counter() - started)
    fairness = add_fairness(instance, solution, result)
    indicators = indicators_table(instance, result.week, result.kind, result.minutes,
                                  solution.reach)
    out = out_dir if out_dir is not None else Path(scenario).parent / "results"
    write_folder(out, {
        "assignments.csv": assignments_csv(instance, result),
        "summary.json": summary_json(result.summary),
        "fairness.csv": fairness,
        "indicators.csv": indicators_csv(indicators),
    }, xlsx=xlsx)
    s = result.summary
    click.echo(
        f"{s['scenario']} : {s['placed_full']} élèves placés deux semaines sur "
        f"{s['students_to_place']} à placer (borne prouvée {s['upper_bound_full']}, "
        f"écart {100 * s['gap']:.2f} %), {s['placed_partial']} une semaine, "
        f"{s['unplaced']} sans stage ; prioritaires {s['priority_placed_full']}/"
        f"{s['priority_students']} ; statut {s['solver_status']} ; "
        f"{s['wall_seconds']:.1f} s -> {out}"
    )


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("assignments", type=click.Path(path_type=Path))
def check(scenario: Path, assignments: Path) -> None:
    """Vérifie ASSIGNMENTS (assignments.csv) contre les règles, depuis les fichiers d'entrée."""
    from affectation.analysis.check import check_files

    try:
        violations = check_files(scenario, assignments)
    except InputError as exc:
        _fail_input(exc)
        return
    if not violations:
        click.echo("Affectation valide : toutes les règles sont respectées.")
        return
    for v in violations:
        click.echo(str(v))
    click.echo(f"{len(violations)} violation(s).", err=True)
    sys.exit(1)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.argument("student_id")
def explain(scenario: Path, result_dir: Path, student_id: str) -> None:
    """Raconte l'affectation d'un élève : offres à portée, qui les occupe, ce qui libérerait
    une place (RESULT_DIR : dossier de résultats de « solve »)."""
    from affectation.analysis.explain import explain_student

    instance, result, student = _pupil_of_result(scenario, result_dir, student_id)
    click.echo(explain_student(instance, result, student), nl=False)


def _pupil_of_result(scenario: Path, result_dir: Path, student_id: str) -> tuple:
    """(instance, result table, pupil index) for `explain` and `suggest`; exit 2 when the
    inputs are bad, the folder has no assignments.csv or the pupil is unknown."""
    from affectation.analysis.explain import TEXT
    from affectation.io.results import read_assignments
    from affectation.travel.loading import load_instance

    try:
        instance = load_instance(scenario)
        text = TEXT[instance.scenario.output.language]
        path = Path(result_dir) / "assignments.csv"
        if not path.is_file():
            click.echo(text["no_result"].format(dir=result_dir), err=True)
            sys.exit(2)
        result = read_assignments(instance, path)
    except InputError as exc:
        _fail_input(exc)
        raise AssertionError("unreachable") from exc
    ids = {sid: i for i, sid in enumerate(instance.students.ids)}
    student = ids.get(student_id.strip())
    if student is None or not result.listed[student]:
        click.echo(text["unknown_student"].format(id=student_id, file=path), err=True)
        sys.exit(2)
    return instance, result, student


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire le scénario.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="1 = les 25 556 élèves de seconde GT de l'académie (2022).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gtfs", "with_gtfs", is_flag=True, default=False,
              help="Écrit aussi un réseau de transports en commun synthétique (GTFS) et "
                   "l'utilise pour le mode « public » (model = \"gtfs\").")
def generate(out_dir: Path, scale: float, seed: int, with_gtfs: bool) -> None:
    """Génère un scénario normand réaliste (géographie réelle, données synthétiques)."""
    from affectation.synthetic.scenario import generate_scenario

    if scale <= 0:
        raise click.BadParameter("doit être > 0", param_hint="--scale")
    counts = generate_scenario(out_dir, scale=scale, seed=seed)
    click.echo(
        f"Scénario écrit dans {out_dir} : {counts['students']} élèves, "
        f"{counts['offers']} offres, {counts['conventions']} conventions."
    )
    if with_gtfs:
        from affectation.synthetic.network import NETWORK_FILE, add_network_to_scenario

        sizes = add_network_to_scenario(out_dir, seed=seed)
        click.echo(f"Réseau synthétique {NETWORK_FILE} : {sizes['stops']} arrêts, "
                   f"{sizes['trips']} courses.")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.argument("student_id")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Nombre d'offres proposées.")
@click.option("--csv", "as_csv", is_flag=True, help="Écrit un CSV sur la sortie standard.")
def suggest(scenario: Path, result_dir: Path, student_id: str, top: int, as_csv: bool) -> None:
    """Offres possibles pour un élève, classées : élèves à déplacer, secteur préféré, trajet
    (RESULT_DIR : dossier de résultats de « solve » ou « repair »)."""
    from affectation.analysis.suggest import suggest as run_suggest
    from affectation.analysis.suggest import suggestions_csv, suggestions_table
    from affectation.travel.reach import pupil_travel, reachable

    instance, result, student = _pupil_of_result(scenario, result_dir, student_id)
    travel = pupil_travel(instance)
    found = run_suggest(instance, result.week, reachable(instance, travel), travel, student)
    if as_csv:
        click.echo(suggestions_csv(instance, found, top), nl=False)
    else:
        click.echo(suggestions_table(instance, result.week, student, found, top,
                                     instance.scenario.output.language), nl=False)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option("--confirm", "top", type=int, default=0, show_default=True,
              help="Confirme les N meilleurs sites par des résolutions complètes (N + 1 : "
                   "une sans site, puis une par site ; de 45 s à 2 min chacune à l'échelle "
                   "de la Normandie).")
@click.option("--time-limit", type=float, default=None,
              help="Temps maximal de chaque résolution de confirmation (défaut : scénario).")
@click.option("--xlsx", is_flag=True, default=False,
              help="Réécrit aussi le classeur resultats.xlsx avec tous les tableaux.")
def mobilise(scenario: Path, result_dir: Path, top: int, time_limit: float | None,
             xlsx: bool) -> None:
    """Où recruter des entreprises : pour chaque EPCI, combien d'élèves de plus 1, 5 ou 10
    places de deux semaines dans sa commune la plus peuplée placeraient ; écrit
    mobilisation.csv dans RESULT_DIR (dossier de résultats de « solve »)."""
    from affectation.engine.solve import SolveSettings
    from affectation.io.results import read_assignments
    from affectation.io.workbook import WORKBOOK_NAME, read_folder, write_folder
    from affectation.pipeline.mobilisation import (
        confirm_by_resolve,
        mobilisation_csv,
        mobilisation_table,
        sites,
    )
    from affectation.travel.loading import load_instance
    from affectation.travel.reach import reachable

    path = Path(result_dir) / "assignments.csv"
    if not path.is_file():
        click.echo(f"Pas de résultat dans {result_dir} (assignments.csv manquant) : "
                   "lancez d'abord « affectation solve ».", err=True)
        sys.exit(2)
    try:
        instance = load_instance(scenario)
        result = read_assignments(instance, path)
    except InputError as exc:
        _fail_input(exc)
        return
    settings = SolveSettings.from_scenario(instance.scenario.solver, time_limit)
    confirm = confirm_by_resolve(instance, settings) if top > 0 else None
    started = time.perf_counter()
    with click.progressbar(length=len(sites()), label="Sites", file=sys.stderr) as bar:
        table = mobilisation_table(instance, result.week, reachable(instance), confirm, top,
                                   on_site=lambda: bar.update(1))
    files = read_folder(result_dir)
    files["mobilisation.csv"] = mobilisation_csv(table)
    write_folder(result_dir, files, xlsx=xlsx or (Path(result_dir) / WORKBOOK_NAME).exists())
    best = table.iloc[0]
    click.echo(
        f"{len(table)} EPCI évalués en {time.perf_counter() - started:.1f} s ; en tête : "
        f"{best['label']} ({best['commune']}), 10 places y placeraient {best['gain_10']} "
        f"élève(s) de plus -> {Path(result_dir) / 'mobilisation.csv'}"
    )


def _campaign_weeks(text: str | None) -> tuple[str, str] | None:
    from affectation.domain.params import valid_weeks

    if text is None:
        return None
    weeks = [w.strip() for w in text.split(",")]
    if not valid_weeks(weeks):
        raise click.BadParameter("deux semaines ISO consécutives, ex. 2026-W25,2026-W26",
                                 param_hint="--weeks")
    return weeks[0], weeks[1]


@main.command("import-offers")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Fichier d'offres v1 à écrire (offers.csv).")
@click.option("--default-capacity", type=click.IntRange(min=0), default=None,
              help="Capacité des offres qui n'en donnent pas (max_candidates absent) ; sans "
                   "elle, ces offres sont rejetées.")
@click.option("--weeks", default=None,
              help="Les deux semaines de la campagne, ex. 2026-W25,2026-W26 (défaut : celles "
                   "de toutes les offres, si elles tiennent en deux semaines).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Rapport CSV : chaque enregistrement gardé, fusionné (avec la preuve) ou "
                   "rejeté (avec la raison).")
@click.option("--mapping", type=click.Path(path_type=Path), default=None,
              help="Correspondance de colonnes (TOML) des tableurs qui n'ont pas la leur "
                   "(SOURCE::correspondance.toml).")
def import_offers(sources: tuple[str, ...], out_path: Path, default_capacity: int | None,
                  weeks: str | None, report_path: Path | None, mapping: Path | None) -> None:
    """Rassemble les offres de SOURCES (JSON de la plateforme nationale, tableurs CSV/XLSX v1
    ou avec correspondance de colonnes), rejette les enregistrements invalides, fusionne les
    doublons et écrit un offers.csv v1."""
    from affectation.intake.importing import import_offers as run_import
    from affectation.intake.importing import parse_source

    campaign = _campaign_weeks(weeks)
    try:
        specs = [parse_source(s, mapping) for s in sources]
        result = run_import(specs, default_capacity=default_capacity, weeks=campaign)
    except InputError as exc:
        _fail_input(exc)
        return
    _finish_import(result, result.offers_csv() if result.offers else None, out_path,
                   report_path, "Aucune offre gardée : offers.csv n'est pas écrit.")


@main.command("import-students")
@click.argument("source")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Fichier d'élèves v1 à écrire (students.csv).")
@click.option("--mapping", type=click.Path(path_type=Path), default=None,
              help="Correspondance de colonnes (TOML) de l'export de l'établissement.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Rapport CSV : chaque ligne gardée ou rejetée (avec la raison).")
def import_students(source: str, out_path: Path, mapping: Path | None,
                    report_path: Path | None) -> None:
    """Convertit l'export d'élèves d'un établissement (SOURCE, CSV/XLSX) en students.csv v1,
    avec une correspondance de colonnes ; les lignes invalides sont rejetées avec leur raison."""
    from affectation.intake.importing import import_students as run_import
    from affectation.intake.importing import parse_source

    try:
        result = run_import(parse_source(source, mapping))
    except InputError as exc:
        _fail_input(exc)
        return
    _finish_import(result, result.students_csv() if result.rows else None, out_path,
                   report_path, "Aucun élève gardé : students.csv n'est pas écrit.")


def _finish_import(result: OfferImport | StudentImport, text: str | None, out_path: Path,
                   report_path: Path | None, nothing_kept: str) -> None:
    """Write the imported file (`text`, None when nothing was kept) and the report together,
    print the summary (and the rejections when there is no report); exit 1 when nothing
    was kept."""
    from affectation.io.atomic import write_files

    files = {report_path: result.report_csv()} if report_path is not None else {}
    if text is not None:
        files[out_path] = text
    write_files(files)
    click.echo(result.summary() + (f" -> {out_path}" if text is not None else ""))
    if report_path is None:
        for line in result.rejected_lines():
            click.echo(line, err=True)
    if text is None:
        click.echo(nothing_kept, err=True)
        sys.exit(1)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--vary", "varies", multiple=True, required=True,
              help="CLE=V1,V2,... : une clé du scénario en notation pointée et ses valeurs "
                   "(littéraux TOML), ex. travel.modes.public.max_minutes=30,45,60 ; "
                   "répétable (grille de toutes les combinaisons).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire sweep.csv, les graphiques et les résultats de chaque run.")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Processus en parallèle (chacun demande ~2 Go à l'échelle de la Normandie).")
def sweep(scenario: Path, varies: tuple[str, ...], out_dir: Path, jobs: int) -> None:
    """Résout SCENARIO sur une grille de valeurs de paramètres (en parallèle) et écrit un
    tableau par run et territoire (sweep.csv) et des graphiques PNG."""
    from affectation.io.workbook import write_folder
    from affectation.pipeline.sweep import parse_vary, plan, run_sweep

    if jobs < 1:
        raise click.BadParameter("doit être >= 1", param_hint="--jobs")
    started = time.perf_counter()
    try:
        parsed = [parse_vary(v) for v in varies]
        runs = len(plan(scenario, parsed))
    except InputError as exc:
        _fail_input(exc)
        return
    with click.progressbar(length=runs, label="Runs", file=sys.stderr) as bar:
        files = run_sweep(scenario, parsed, jobs, on_done=lambda: bar.update(1))
    write_folder(out_dir, files)
    click.echo(f"{runs} run(s) en {time.perf_counter() - started:.1f} s -> "
               f"{Path(out_dir) / 'sweep.csv'}")


@main.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_file", type=click.Path(path_type=Path), required=True,
              help="Fichier HTML à écrire (autonome : s'ouvre sans réseau).")
def report(result_dir: Path, out_file: Path) -> None:
    """Rapport HTML d'un dossier de résultats : chiffres clés, carte par EPCI, graphiques,
    classement « où mobiliser », élèves non placés et raisons."""
    from affectation.analysis.report import write_report

    try:
        write_report(result_dir, out_file)
    except InputError as exc:
        _fail_input(exc)
        return
    click.echo(f"Rapport écrit : {out_file}")


@main.command("travel")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire reach_by_pupil.csv et no_reach_by_territory.csv.")
def travel_command(scenario: Path, out_dir: Path) -> None:
    """Offres à portée de chaque élève selon chaque modèle de trajet (vol d'oiseau, horaires
    GTFS, matrice) et, par commune et EPCI, les élèves sans aucune offre à portée."""
    import functools

    from affectation.analysis.travel_report import travel_tables
    from affectation.io.atomic import write_result_folder
    from affectation.travel.loading import load_instance

    started = time.perf_counter()
    try:
        instance = load_instance(scenario)
        tables = travel_tables(instance)
    except InputError as exc:
        _fail_input(exc)
        return
    write_result_folder(out_dir, {name: functools.partial(str, text)
                                  for name, text in tables.items()})
    click.echo(f"Trajets calculés en {time.perf_counter() - started:.1f} s -> {out_dir}")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--previous", "previous_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier de résultats précédent (assignments.csv).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire le nouveau résultat.")
@click.option("--freeze-placed", is_flag=True,
              help="Ne déplace aucun élève déjà placé (défaut : [repair] freeze_placed).")
@click.option("--xlsx", is_flag=True, default=False,
              help="Écrit aussi tous les tableaux dans un classeur resultats.xlsx.")
def repair(scenario: Path, previous_dir: Path, out_dir: Path, freeze_placed: bool,
           xlsx: bool) -> None:
    """Répare une affectation après des changements (offres retirées, nouveaux élèves,
    conventions) : les conventions ne bougent jamais, les élèves placés gardent leur place
    sauf pour en placer d'autres ; écrit aussi changes.csv."""
    from affectation.analysis.changes import change_counts, changes_csv
    from affectation.analysis.indicators import indicators_csv, indicators_table
    from affectation.analysis.result import add_fairness, make_result
    from affectation.domain.territory import pupil_groups
    from affectation.engine.repair import RepairSettings
    from affectation.engine.repair import repair as run_repair
    from affectation.io.output import assignments_csv, sha256, summary_json
    from affectation.io.results import assignments_path, read_assignments
    from affectation.io.workbook import write_folder
    from affectation.travel.loading import load_instance

    started = time.perf_counter()
    try:
        instance = load_instance(scenario)
        previous = read_assignments(instance, assignments_path(previous_dir), changed=True)
    except InputError as exc:
        _fail_input(exc)
        return
    repaired = run_repair(instance, previous,
                          RepairSettings(freeze_placed=True if freeze_placed else None))
    result = make_result(instance, repaired.solution, instance.scenario.solver.seed,
                         time.perf_counter() - started)
    result.summary["changes"] = change_counts(instance, repaired)
    previous_file = Path(previous_dir) / "assignments.csv"
    result.summary["inputs"]["previous_assignments"] = {"path": str(previous_file),
                                                        "sha256": sha256(previous_file)}
    groups = pupil_groups(instance)
    fairness = add_fairness(instance, repaired.solution, result, groups)
    indicators = indicators_table(instance, result.week, result.kind, result.minutes,
                                  repaired.solution.reach, groups)
    write_folder(out_dir, {
        "assignments.csv": assignments_csv(instance, result),
        "summary.json": summary_json(result.summary),
        "fairness.csv": fairness,
        "indicators.csv": indicators_csv(indicators),
        "changes.csv": changes_csv(instance, repaired),
    }, xlsx=xlsx)
    s, c = result.summary, result.summary["changes"]
    click.echo(
        f"{s['scenario']} (réparation) : {s['placed_full']} élèves placés deux semaines sur "
        f"{s['students_to_place']} à placer ; {c['displaced_by_changes']} déplacés par les "
        f"changements, {c['moved_to_make_room']} déplacés pour faire de la place, "
        f"{c['newly_placed']} nouvellement placés, {c['newly_unplaced']} sans place ; "
        f"{s['wall_seconds']:.1f} s -> {out_dir}"
    )


if __name__ == "__main__":
    main()
