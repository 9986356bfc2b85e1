"""`affectation national`: every académie at once, block by block, on Dask."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from affectation.cli.common import fail_input
from affectation.cli.progress import quiet_option
from affectation.errors import InputError


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Dossier de résultats : un dossier v1 par académie et les tableaux "
                   "nationaux.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Processus de calcul locaux (un fil chacun), sans --scheduler.")
@click.option("--scheduler", default=None,
              help="Adresse d'un ordonnanceur Dask existant (ex. tcp://10.0.0.1:8786) au "
                   "lieu de processus locaux.")
@click.option("--resume", is_flag=True, default=False,
              help="Reprend un calcul interrompu : les blocs dont les données (parts des "
                   "offres frontalières comprises) n'ont pas changé ne sont pas recalculés.")
@click.option("--no-windows", is_flag=True, default=False,
              help="Sans la ré-optimisation des fenêtres frontalières.")
@click.option("--exact", is_flag=True, default=False,
              help="Étape exacte (HiGHS) sur les blocs de 1 500 à 4 000 élèves : un peu "
                   "mieux, plus lent.")
@click.option("--pairs-per-block", type=click.IntRange(min=1000), default=None,
              help="Paires élève-offre gardées au plus par bloc (défaut : 40 000 000) ; "
                   "la borne reste prouvée sur toutes les paires.")
@quiet_option
def national(scenario: Path, out_dir: Path, workers: int, scheduler: str | None,
             resume: bool, no_windows: bool, exact: bool, pairs_per_block: int | None,
             quiet: bool) -> None:
    """Résout un scénario national (colonne « academy ») académie par académie, l'Île-de-France
    en un bloc, et écrit un dossier v1 par académie, summary.json, indicators.csv et
    flux_academies.csv (une ligne par bloc terminé sur la sortie d'erreur, sauf avec
    --quiet)."""
    from dataclasses import replace

    from affectation.national.runner import BlockFailed, Cluster, french_int, run_national
    from affectation.national.work import NationalSettings

    settings = NationalSettings()
    if no_windows:
        settings = replace(settings, windows=False)
    if exact:
        settings = replace(settings, exact=True)
    if pairs_per_block is not None:
        settings = replace(settings, pairs_per_block=pairs_per_block)

    def progress(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    try:
        run = run_national(scenario, out_dir, Cluster(workers=workers, scheduler=scheduler),
                           settings, resume=resume, progress=progress)
    except InputError as exc:
        fail_input(exc)
    except BlockFailed as exc:
        click.echo(f"Échec : {exc}", err=True)
        sys.exit(1)
    s = run.summary
    click.echo(
        f"{s['scenario']} : {french_int(s['placed_full'])} élèves placés deux semaines sur "
        f"{french_int(s['students_to_place'])} à placer (borne prouvée "
        f"{french_int(s['upper_bound_full'])} ; {s['status_text']}), "
        f"{french_int(s['placed_partial'])} une semaine, {french_int(s['unplaced'])} sans "
        f"stage ; prioritaires {french_int(s['priority_placed_full'])}/"
        f"{french_int(s['priority_students'])} ; {len(s['academies'])} académies ; "
        f"{s['wall_seconds']:.0f} s -> {out_dir}"
    )
