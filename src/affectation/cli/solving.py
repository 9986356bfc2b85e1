"""Commands on a scenario and its results: solve, repair, check, explain, suggest, mobilise,
sweep, report, travel. Each parses, calls the library (`pipeline`, `analysis`), writes the
files it gets back and prints a short summary in French."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from affectation.cli.common import (
    check_options,
    check_output_file,
    fail_input,
    inputs_size,
    reserve_output,
)
from affectation.cli.progress import console, number, quiet_option
from affectation.errors import InputError, Problem

if TYPE_CHECKING:
    from affectation.domain.allocation import PreviousResult
    from affectation.domain.instance import Instance
    from affectation.timing import Progress


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Dossier de résultats (défaut : results/ à côté du scénario).")
@click.option("--time-limit", type=float, default=None,
              help="Temps maximal de l'étape de résolution, en secondes (défaut : scénario).")
@click.option("--seed", type=int, default=None, help="Graine (défaut : scénario).")
@click.option("--xlsx", is_flag=True, default=False,
              help="Écrit aussi tous les tableaux dans un classeur resultats.xlsx.")
@click.option("--lp-bound", is_flag=True, default=False,
              help="Calcule aussi la borne par relaxation linéaire (génération de colonnes), "
                   "à côté de la borne par flots : dit quelle part de l'écart vient de la "
                   "borne et quelle part de l'allocation.")
@quiet_option
def solve(scenario: Path, out_dir: Path | None, time_limit: float | None,
          seed: int | None, xlsx: bool, lp_bound: bool, quiet: bool) -> None:
    """Résout SCENARIO et écrit assignments.csv et summary.json (l'avancement de chaque étape
    s'affiche sur la sortie d'erreur, sauf avec --quiet)."""
    from affectation.domain.params import option_problems
    from affectation.engine.solve import SolveSettings
    from affectation.pipeline.run import solve_instance
    from affectation.travel.loading import load_instance

    started = time.perf_counter()
    check_options(option_problems(time_limit, seed))
    out = out_dir if out_dir is not None else Path(scenario).parent / "results"
    reserve_output(out, "solve", [scenario], 3 * inputs_size(scenario))
    progress = console(quiet)
    try:
        instance = load_instance(scenario, progress)
    except InputError as exc:
        fail_input(exc)
    settings = SolveSettings.from_scenario(instance.scenario.solver, time_limit, seed)
    settings = dataclasses.replace(settings, lp_bound=lp_bound)
    run = solve_instance(instance, settings, started, progress=progress)
    _write(out, run.files, progress, xlsx=xlsx, command="solve", inputs=[scenario])
    s = run.summary
    _time_limit_note(progress, s)
    click.echo(
        f"{s['scenario']} : {s['placed_full']} élèves placés deux semaines sur "
        f"{s['students_to_place']} à placer (borne prouvée {s['upper_bound_full']}, "
        f"écart {100 * s['gap']:.2f} %), {s['placed_partial']} une semaine, "
        f"{s['unplaced']} sans stage ; prioritaires {s['priority_placed_full']}/"
        f"{s['priority_students']} ; {s['status_text']} ; "
        f"{s['wall_seconds']:.1f} s -> {out}"
    )


def _write(out: Path, files: dict[str, str | bytes], progress: Progress, **kwargs: Any) -> None:
    """Write a result folder (`io.workbook.write_folder`), reporting the stage; exit 2 on an
    output error."""
    from affectation.io.workbook import write_folder

    started = time.perf_counter()
    try:
        write_folder(out, files, **kwargs)
    except InputError as exc:
        fail_input(exc)
    progress.stage("writing", time.perf_counter() - started, {})


def _time_limit_note(progress: Progress, summary: dict[str, Any]) -> None:
    """Say on stderr when the safety-net time limit cut a stage short."""
    stages = summary.get("time_limit_reached_in")
    if stages:
        progress.note("time_limit", {"stages": ", ".join(stages)})


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("assignments", type=click.Path(path_type=Path))
def check(scenario: Path, assignments: Path) -> None:
    """Vérifie ASSIGNMENTS (assignments.csv) contre les règles, depuis les fichiers d'entrée."""
    from affectation.analysis.check import check_files

    try:
        violations = check_files(scenario, assignments)
    except InputError as exc:
        fail_input(exc)
    if not violations:
        click.echo("Affectation valide : toutes les règles sont respectées.")
        return
    for v in violations:
        click.echo(str(v))
    click.echo(f"{len(violations)} violation(s).", err=True)
    sys.exit(1)


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.argument("student_id")
def explain(scenario: Path, result_dir: Path, student_id: str) -> None:
    """Raconte l'affectation d'un élève : offres à portée, qui les occupe, ce qui libérerait
    une place (RESULT_DIR : dossier de résultats de « solve »)."""
    from affectation.analysis.explain import explain_student

    instance, result, student = _pupil_of_result(scenario, result_dir, student_id)
    click.echo(explain_student(instance, result, student), nl=False)


def _pupil_of_result(scenario: Path, result_dir: Path, student_id: str
                     ) -> tuple[Instance, PreviousResult, int]:
    """(instance, result, pupil index) for `explain` and `suggest`; exit 2 when the inputs
    are bad, the folder has no assignments.csv or the pupil is unknown."""
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
        fail_input(exc)
    ids = {sid: i for i, sid in enumerate(instance.students.ids)}
    student = ids.get(student_id.strip())
    if student is None or not result.listed[student]:
        click.echo(text["unknown_student"].format(id=student_id, file=path), err=True)
        sys.exit(2)
    return instance, result, student


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.argument("student_id")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Nombre d'offres proposées.")
@click.option("--csv", "as_csv", is_flag=True, help="Écrit un CSV sur la sortie standard.")
def suggest(scenario: Path, result_dir: Path, student_id: str, top: int, as_csv: bool) -> None:
    """Offres possibles pour un élève, classées : élèves à déplacer, secteur préféré, trajet
    (RESULT_DIR : dossier de résultats de « solve » ou « repair »)."""
    from affectation.analysis.suggest import suggest as suggest_offers
    from affectation.analysis.suggest import suggestions_csv, suggestions_table
    from affectation.travel.reach import pupil_travel, reachable

    instance, result, student = _pupil_of_result(scenario, result_dir, student_id)
    travel = pupil_travel(instance)
    found = suggest_offers(instance, result.allocation, reachable(instance, travel), travel,
                           student)
    if as_csv:
        from affectation.io.output import protect_csv

        click.echo(protect_csv(suggestions_csv(instance, found, top)), nl=False)
    else:
        click.echo(suggestions_table(instance, result.allocation, student, found, top,
                                     instance.scenario.output.language), nl=False)


@click.command()
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
@quiet_option
def mobilise(scenario: Path, result_dir: Path, top: int, time_limit: float | None,
             xlsx: bool, quiet: bool) -> None:
    """Où recruter des entreprises : pour chaque EPCI, combien d'élèves de plus des places
    de deux semaines dans sa commune la plus peuplée placeraient, place après place jusqu'à
    saturation ; écrit mobilisation.csv dans RESULT_DIR (dossier de résultats de « solve »)."""
    from affectation.analysis.mobilisation import mobilisation_csv, mobilisation_table, sites
    from affectation.domain.params import option_problems
    from affectation.engine.solve import SolveSettings
    from affectation.io.results import read_assignments
    from affectation.io.workbook import WORKBOOK_NAME, read_folder, write_folder
    from affectation.pipeline.run import confirm_by_resolve
    from affectation.travel.loading import load_instance
    from affectation.travel.reach import reachable

    check_options(option_problems(time_limit))
    if top < 0:
        check_options([Problem("--confirm", "un entier >= 0", value=str(top))])
    path = Path(result_dir) / "assignments.csv"
    if not path.is_file():
        click.echo(f"Pas de résultat dans {result_dir} (assignments.csv manquant) : "
                   "lancez d'abord « affectation solve ».", err=True)
        sys.exit(2)
    reserve_output(Path(result_dir), "mobilise", [scenario], inputs_size(scenario))
    progress = console(quiet)
    try:
        instance = load_instance(scenario, progress)
        result = read_assignments(instance, path)
    except InputError as exc:
        fail_input(exc)
    settings = SolveSettings.from_scenario(instance.scenario.solver, time_limit)
    confirm = confirm_by_resolve(instance, settings, progress) if top > 0 else None
    started = time.perf_counter()
    total, done = len(sites()), [0]

    def on_site() -> None:
        done[0] += 1
        progress.step("site", done[0], total)

    table = mobilisation_table(instance, result.allocation, reachable(instance), confirm, top,
                               on_site=on_site)
    progress.stage("site", time.perf_counter() - started, {"sites": len(table)})
    files = read_folder(result_dir)
    files["mobilisation.csv"] = mobilisation_csv(table)
    try:
        write_folder(result_dir, files, command="mobilise", inputs=[scenario],
                     xlsx=xlsx or (Path(result_dir) / WORKBOOK_NAME).exists())
    except InputError as exc:
        fail_input(exc)
    best = table.iloc[0]
    click.echo(
        f"{len(table)} EPCI évalués en {time.perf_counter() - started:.1f} s ; en tête : "
        f"{best['label']} ({best['commune']}), jusqu'à {best['gain_total']} élève(s) de plus "
        f"avec {best['saturation_seats']} place(s) -> {Path(result_dir) / 'mobilisation.csv'}"
    )


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--vary", "varies", multiple=True, required=True,
              help="CLE=V1,V2,... : une clé du scénario en notation pointée et ses valeurs "
                   "(littéraux TOML), ex. travel.modes.public.max_minutes=30,45,60 ; "
                   "répétable (grille de toutes les combinaisons).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire sweep.csv, les graphiques et les résultats de chaque run.")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Processus en parallèle (chacun demande ~2 Go à l'échelle de la Normandie).")
@quiet_option
def sweep(scenario: Path, varies: tuple[str, ...], out_dir: Path, jobs: int,
          quiet: bool) -> None:
    """Résout SCENARIO sur une grille de valeurs de paramètres (en parallèle) et écrit un
    tableau par run et territoire (sweep.csv) et des graphiques PNG (chaque run terminé
    s'affiche sur la sortie d'erreur, sauf avec --quiet)."""
    from affectation.io.workbook import write_folder
    from affectation.pipeline.sweep import parse_vary, plan, run_id, run_sweep

    if not 1 <= jobs <= 256:
        check_options([Problem("--jobs", "un entier entre 1 et 256", value=str(jobs))])
    started = time.perf_counter()
    reserve_output(out_dir, "sweep", [scenario], 3 * inputs_size(scenario))
    try:
        parsed = [parse_vary(v) for v in varies]
        runs = len(plan(scenario, parsed))
    except InputError as exc:
        fail_input(exc)
    progress = console(quiet)
    done = [0]

    def on_done(k: int, timing: dict[str, Any]) -> None:
        done[0] += 1
        progress.stage("run", float(timing["wall_seconds"]), {
            "label": f"{run_id(k, runs)}, {number(timing['placed_full'])} élèves placés deux "
                     f"semaines (borne {number(timing['upper_bound_full'])})"})
        progress.step("run", done[0], runs)

    files = run_sweep(scenario, parsed, jobs, on_done=on_done)
    try:
        write_folder(out_dir, files, command="sweep", inputs=[scenario])
    except InputError as exc:
        fail_input(exc)
    click.echo(f"{runs} run(s) en {time.perf_counter() - started:.1f} s -> "
               f"{Path(out_dir) / 'sweep.csv'}")


@click.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_file", type=click.Path(path_type=Path), required=True,
              help="Fichier HTML à écrire (autonome : s'ouvre sans réseau).")
def report(result_dir: Path, out_file: Path) -> None:
    """Rapport HTML d'un dossier de résultats : chiffres clés, carte par EPCI, graphiques,
    classement « où mobiliser », élèves non placés et raisons."""
    from affectation.io.atomic import write_file
    from affectation.io.results import REPORT_FILES, read_report_tables
    from affectation.views.report import report_html

    check_output_file(out_file, [Path(result_dir) / n for n in REPORT_FILES])
    try:
        text = report_html(read_report_tables(result_dir))
        write_file(out_file, text)
    except InputError as exc:
        fail_input(exc)
    click.echo(f"Rapport écrit : {out_file}")


@click.command("travel")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire reach_by_pupil.csv et no_reach_by_territory.csv.")
def travel(scenario: Path, out_dir: Path) -> None:
    """Offres à portée de chaque élève selon chaque modèle de trajet (vol d'oiseau, horaires
    GTFS, matrice) et, par commune et EPCI, les élèves sans aucune offre à portée."""
    from affectation.analysis.travel_report import travel_tables
    from affectation.io.workbook import write_folder
    from affectation.travel.loading import load_instance

    started = time.perf_counter()
    reserve_output(out_dir, "travel", [scenario], 3 * inputs_size(scenario))
    try:
        instance = load_instance(scenario)
        tables = travel_tables(instance)
    except InputError as exc:
        fail_input(exc)
    try:
        write_folder(out_dir, dict(tables), command="travel", inputs=[scenario])
    except InputError as exc:
        fail_input(exc)
    click.echo(f"Trajets calculés en {time.perf_counter() - started:.1f} s -> {out_dir}")


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--previous", "previous_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier de résultats précédent (assignments.csv).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire le nouveau résultat.")
@click.option("--freeze-placed", is_flag=True,
              help="Ne déplace aucun élève déjà placé (défaut : [repair] freeze_placed).")
@click.option("--xlsx", is_flag=True, default=False,
              help="Écrit aussi tous les tableaux dans un classeur resultats.xlsx.")
@quiet_option
def repair(scenario: Path, previous_dir: Path, out_dir: Path, freeze_placed: bool,
           xlsx: bool, quiet: bool) -> None:
    """Répare une affectation après des changements (offres retirées, nouveaux élèves,
    conventions) : les conventions ne bougent jamais, les élèves placés gardent leur place
    sauf pour en placer d'autres ; écrit aussi changes.csv."""
    from affectation.engine.repair import RepairSettings
    from affectation.io.results import assignments_path, read_assignments
    from affectation.pipeline.run import repair_instance
    from affectation.travel.loading import load_instance

    started = time.perf_counter()
    reserve_output(out_dir, "repair", [scenario], 3 * inputs_size(scenario))
    progress = console(quiet)
    try:
        instance = load_instance(scenario, progress)
        previous_file = assignments_path(previous_dir)
        previous = read_assignments(instance, previous_file, changed=True)
    except InputError as exc:
        fail_input(exc)
    settings = RepairSettings(freeze_placed=True if freeze_placed else None)
    run = repair_instance(instance, previous, previous_file, settings, started, progress)
    _write(out_dir, run.files, progress, xlsx=xlsx, command="repair", inputs=[scenario])
    s, c = run.summary, run.summary["changes"]
    _time_limit_note(progress, s)
    click.echo(
        f"{s['scenario']} (réparation) : {s['placed_full']} élèves placés deux semaines sur "
        f"{s['students_to_place']} à placer ; {c['displaced_by_changes']} déplacés par les "
        f"changements, {c['moved_to_make_room']} déplacés pour faire de la place, "
        f"{c['newly_placed']} nouvellement placés, {c['newly_unplaced']} sans place"
        + (f" dont {c['displaced_by_priority']} pour un élève prioritaire"
           if c.get("displaced_by_priority") else "")
        + f" ; {s['status_text']} ; {s['wall_seconds']:.1f} s -> {out_dir}"
    )
