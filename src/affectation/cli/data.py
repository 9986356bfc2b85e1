"""Commands that make or gather input data: generate a synthetic scenario, import offers
from the national platform and spreadsheets, import a school's pupils."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from affectation.cli.common import check_options, check_output_file, fail_input, reserve_output
from affectation.cli.profile_options import profile_from_options, profile_options
from affectation.errors import InputError, Problem

if TYPE_CHECKING:
    from affectation.intake.offers import OfferImport
    from affectation.intake.pupils import StudentImport


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier où écrire le scénario.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="1 = les 25 556 élèves de seconde GT de l'académie (2022) ; avec --national, "
                   "les 560 124 élèves de France.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gtfs", "with_gtfs", is_flag=True, default=False,
              help="Écrit aussi un réseau de transports en commun synthétique (GTFS) et "
                   "l'utilise pour le mode « public » (model = \"gtfs\").")
@click.option("--national", is_flag=True, default=False,
              help="Scénario national : les 30 académies, une colonne « academy » par élève "
                   "et par offre (à résoudre avec « affectation national »).")
@click.option("--academies", default=None,
              help="Avec --national : seulement ces académies (codes séparés par des "
                   "virgules, ex. normandie,paris).")
@click.option("--lycees", "lycees_csv", type=click.Path(path_type=Path, exists=True,
                                                          dir_okay=False), default=None,
              help="Avec --national : effectifs réels par lycée (CSV : uai, seconde_gt_2022, "
                   "ips_gt, sector, lat, lon, commune) au lieu du modèle de population.")
@profile_options
def generate(out_dir: Path, scale: float, seed: int, with_gtfs: bool, national: bool,
             academies: str | None, lycees_csv: Path | None, **profile_values: Any) -> None:
    """Génère un scénario réaliste (géographie réelle, données synthétiques) : normand par
    défaut, selon un profil d'instance (--profile et les options qui le modifient) ; national
    avec --national."""
    import math

    from affectation.domain.params import MAX_SEED
    from affectation.io.atomic import write_result_folder

    problems = []
    top = MAX_NATIONAL_SCALE if national else MAX_SCALE
    if not (math.isfinite(scale) and 0 < scale <= top):
        problems.append(Problem("--scale", f"un nombre > 0 et <= {top:g} (1 = "
                                + ("la France" if national else "l'académie de Normandie")
                                + ")", value=str(scale)))
    if not 0 <= seed <= MAX_SEED:
        problems.append(Problem("--seed", f"un entier entre 0 et {MAX_SEED}", value=str(seed)))
    if not national and (academies is not None or lycees_csv is not None):
        problems.append(Problem("--academies / --lycees", "seulement avec --national"))
    if national and with_gtfs:
        problems.append(Problem("--gtfs", "pas de réseau synthétique national"))
    wanted = None
    if national and academies is not None:
        from affectation.geodata import load_academies

        wanted = [a.strip() for a in academies.split(",") if a.strip()]
        known = set(load_academies().academie)
        for code in wanted:
            if code not in known:
                problems.append(Problem("--academies", "un code d'académie ("
                                        + ", ".join(sorted(known)) + ")", value=code))
    if national and (profile_values.get("profile") not in (None, "bundled") or any(
            value is not None for key, value in profile_values.items() if key != "profile")):
        problems.append(Problem("--profile", "les profils d'instance ne s'appliquent qu'au "
                                "scénario normand (sans --national)"))
    check_options(problems)
    profile = profile_from_options(profile_values)
    per_unit = 90_000_000 if national else 4_000_000
    reserve_output(out_dir, "generate", needed_bytes=int(per_unit * scale) + 1_000_000)
    counts: dict[str, int | float]
    if national:
        from affectation.synthetic.national import national_files

        texts, national_counts = national_files(scale, seed, academies=wanted,
                                                lycees_csv=lycees_csv)
        counts = dict(national_counts)
    else:
        from affectation.synthetic.scenario import scenario_files

        texts, counts = scenario_files(scale=scale, seed=seed, profile=profile)
    files: dict[str, str | bytes] = dict(texts)
    sizes: dict[str, int] = {}
    if with_gtfs:
        from affectation.synthetic.network import NETWORK_FILE, network_zip, with_network

        files[NETWORK_FILE], sizes = network_zip(seed=seed)
        files["scenario.toml"] = with_network(texts["scenario.toml"])
    try:
        write_result_folder(out_dir, {name: _constant(content) for name, content in
                                      files.items()}, command="generate")
    except InputError as exc:
        fail_input(exc)
    if national:
        click.echo(
            f"Scénario national écrit dans {out_dir} : {counts['students']} élèves, "
            f"{counts['offers']} offres, {counts['conventions']} conventions, "
            f"{counts['academies']} académies."
        )
        return
    click.echo(
        f"Scénario écrit dans {out_dir} : {counts['students']} élèves, "
        f"{counts['offers']} offres, {counts['conventions']} conventions."
    )
    if with_gtfs:
        click.echo(f"Réseau synthétique {NETWORK_FILE} : {sizes['stops']} arrêts, "
                   f"{sizes['trips']} courses.")


def _constant(content: str | bytes) -> Callable[[], str | bytes]:
    return lambda: content


# Thirty académies de Normandie: more than the whole country's pupils of seconde GT.
MAX_SCALE = 30.0
# Twice the country.
MAX_NATIONAL_SCALE = 2.0


def _campaign_weeks(text: str | None) -> tuple[str, str] | None:
    from affectation.domain.params import valid_weeks

    if text is None:
        return None
    weeks = [w.strip() for w in text.split(",")]
    if not valid_weeks(weeks):
        raise click.BadParameter("deux semaines ISO consécutives, ex. 2026-W25,2026-W26",
                                 param_hint="--weeks")
    return weeks[0], weeks[1]


@click.command("import-offers")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="Fichier d'offres v1 à écrire (offers.csv).")
@click.option("--default-capacity", type=click.IntRange(min=0, max=100_000), default=None,
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
    from affectation.intake.offers import import_offers as run_import
    from affectation.intake.sources import parse_source

    campaign = _campaign_weeks(weeks)
    try:
        specs = [parse_source(s, mapping) for s in sources]
    except InputError as exc:
        fail_input(exc)
    _check_import_outputs(out_path, report_path, [p for s in specs
                                                  for p in (s.path, s.mapping) if p], mapping)
    try:
        result = run_import(specs, default_capacity=default_capacity, weeks=campaign)
    except InputError as exc:
        fail_input(exc)
    _finish_import(result, result.offers_csv() if result.offers else None, out_path,
                   report_path, "Aucune offre gardée : offers.csv n'est pas écrit.")


@click.command("import-students")
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
    from affectation.intake.pupils import import_students as run_import
    from affectation.intake.sources import parse_source

    try:
        spec = parse_source(source, mapping)
    except InputError as exc:
        fail_input(exc)
    _check_import_outputs(out_path, report_path, [p for p in (spec.path, spec.mapping) if p],
                          mapping)
    try:
        result = run_import(spec)
    except InputError as exc:
        fail_input(exc)
    _finish_import(result, result.students_csv() if result.rows else None, out_path,
                   report_path, "Aucun élève gardé : students.csv n'est pas écrit.")


def _check_import_outputs(out_path: Path, report_path: Path | None, sources: list[Path],
                          mapping: Path | None) -> None:
    """Refuse, before reading anything, an output that is a folder, a source, or unwritable;
    and the same file for the table and the report."""
    inputs = [*sources, *([mapping] if mapping else [])]
    check_output_file(out_path, inputs)
    if report_path is not None:
        check_output_file(report_path, [*inputs, out_path])


def _finish_import(result: OfferImport | StudentImport, text: str | None, out_path: Path,
                   report_path: Path | None, nothing_kept: str) -> None:
    """Write the imported file (`text`, None when nothing was kept) and the report together,
    print the summary (and the rejections when there is no report); exit 1 when nothing
    was kept."""
    from affectation.io.atomic import write_files
    from affectation.io.output import protect_csv

    files = {report_path: protect_csv(result.report_csv())} if report_path is not None else {}
    if text is not None:
        files[out_path] = protect_csv(text)
    try:
        write_files(files)
    except InputError as exc:
        fail_input(exc)
    click.echo(result.summary() + (f" -> {out_path}" if text is not None else ""))
    if report_path is None:
        for line in result.rejected_lines():
            click.echo(line, err=True)
    if text is None:
        click.echo(nothing_kept, err=True)
        sys.exit(1)
