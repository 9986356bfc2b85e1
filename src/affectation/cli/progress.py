"""What a long command shows on stderr while it runs: each stage as it ends, in French, with
its figures and seconds (« bornes : 22 961 élèves au plus (12,3 s) »), and a progress bar
within long stages when stderr is a terminal. `--quiet` silences it all; stdout is never
touched (it may carry data: `suggest --csv`)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import TextIO

import click

from affectation.analysis.result import bounds_split
from affectation.timing import Progress


def number(value: float | int | str) -> str:
    """A French number: 22 961 (no-break space between thousands), 12,3."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u00a0")
    return f"{value:,.1f}".replace(",", "\u00a0").replace(".", ",")


def seconds(value: float) -> str:
    return f"{value:.1f}".replace(".", ",") + "\u00a0s"


def _placed(f: Mapping[str, float | int | str]) -> str:
    return f"{number(f['placed_full'])} élèves placés deux semaines"


def _lp_bound(f: Mapping[str, float | int | str]) -> str:
    """The LP bound beside the flow bound, and the gap split between the bounds' slack (what
    the LP takes off the flow bound) and the allocation's share (what is left)."""
    lp, flow, placed = int(f["lp_bound_full"]), int(f["flow_bound_full"]), int(f["placed_full"])
    split = bounds_split({"flow_upper_bound_full": flow, "lp_upper_bound_full": lp}, placed)
    return (f"{number(lp)} élèves au plus (borne par flots : {number(flow)}), dont "
            f"{number(f['lp_bound_priority_full'])} prioritaires ; écart de "
            f"{number(flow - placed)} élève(s) à la borne par flots : "
            f"{number(split['bound_slack_full'])} dû à cette borne, "
            f"{number(split['engine_gap_full'])} à l'allocation")


# Per stage: its name in French, and how its figures read (None: no figures).
STAGES: dict[str, tuple[str, object]] = {
    "reading": ("lecture des données", lambda f: f"{number(f['students'])} élèves, "
                                                 f"{number(f['offers'])} offres"),
    "timetables": ("temps de trajet par le réseau (horaires ou matrice)", None),
    "travel": ("trajets", lambda f: f"{number(f['reachable_pairs'])} couples élève-offre "
                                    "à portée"),
    "bounds": ("bornes", lambda f: f"{number(f['upper_bound_full'])} élèves au plus, dont "
                                   f"{number(f['upper_bound_priority_full'])} prioritaires"),
    "start": ("allocation de départ (flots)", _placed),
    "candidates": ("options retenues", None),
    "search": ("recherche par voisinages", lambda f: f"{number(f['neighbourhoods'])} "
                                                     f"voisinage(s), {number(f['improved'])} "
                                                     f"amélioré(s) ; {_placed(f)}"),
    "exact": ("résolution exacte (HiGHS)", _placed),
    "equity": ("équité entre groupes", None),
    "moves": ("chaînes de déplacements", _placed),
    "territories": ("voisinages exacts (HiGHS)", lambda f: f"{number(f['neighbourhoods'])} "
                                                          f"voisinage(s), "
                                                          f"{number(f['improved'])} "
                                                          f"amélioré(s) ; {_placed(f)}"),
    "polish": ("finitions (secteurs, trajets)", _placed),
    "lp_bound": ("borne par relaxation linéaire", _lp_bound),
    "lp_bound_priority": ("borne par relaxation linéaire des prioritaires",
                          lambda f: f"{number(f['lp_bound_priority_full'])} prioritaires au "
                                    "plus"),
    "keep": ("placements conservés", lambda f: f"{number(f['kept'])} élèves gardent leur "
                                               "place"),
    "free_seats": ("places libres", _placed),
    "result": ("résultat (motifs, temps de trajet)", None),
    "audit": ("audit d'équité", lambda f: f"{number(f['groups'])} groupes"),
    "indicators": ("indicateurs", None),
    "writing": ("écriture des fichiers", None),
    "run": ("résolution", lambda f: f"{f['label']}"),
    "site": ("sites évalués", lambda f: f"{number(f['sites'])} EPCI"),
}
NOTES = {
    "time_limit": "limite de temps atteinte ({stages}) : le résultat dépend de la vitesse de "
                  "la machine ; une limite plus longue (--time-limit) le rendrait "
                  "reproductible",
}
STEP_LABELS = {"search": "voisinages", "territories": "voisinages", "moves": "passes",
               "run": "résolutions", "site": "sites"}


class ConsoleProgress(Progress):
    """Prints each stage's line on `stream` (stderr), and a bar for the steps of long stages
    when `stream` is a terminal."""

    def __init__(self, stream: TextIO | None = None, prefix: str = "") -> None:
        self.stream = sys.stderr if stream is None else stream
        self.prefix = prefix
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar_open = False

    def _line(self, text: str) -> None:
        if self._bar_open:
            click.echo("", file=self.stream)
            self._bar_open = False
        click.echo(f"{self.prefix}{text}", file=self.stream)

    def stage(self, name: str, seconds_: float, figures: Mapping[str, float | int | str]
              ) -> None:
        label, words = STAGES.get(name, (name, None))
        text = label
        if callable(words):
            with contextlib.suppress(KeyError):
                text += " : " + str(words(figures))
        self._line(f"{text} ({seconds(seconds_)})")

    def step(self, name: str, done: int, total: int) -> None:
        if not self.tty or total <= 1:
            return
        width = 30
        filled = int(width * min(done, total) / total)
        label = STEP_LABELS.get(name, name)
        click.echo(f"\r{self.prefix}  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                   f"{label}", file=self.stream, nl=False)
        self._bar_open = True

    def note(self, name: str, figures: Mapping[str, float | int | str]) -> None:
        template = NOTES.get(name)
        if template is not None:
            self._line("attention : " + template.format(**figures))


def console(quiet: bool) -> Progress:
    """The progress of a command: silent with `--quiet`, else printed on stderr."""
    return Progress() if quiet else ConsoleProgress()


quiet_option = click.option("--quiet", "-q", is_flag=True, default=False,
                            help="N'affiche pas l'avancement sur la sortie d'erreur.")
