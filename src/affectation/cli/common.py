"""What every command shares: how an input error ends (a French message, exit status 2), and
the checks every writing command makes right after parsing, before any long work."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import click

from affectation.errors import InputError, Problem


def fail_input(exc: InputError) -> NoReturn:
    """Print the input (or output) error (file, line, column, value, what was expected) and
    exit 2."""
    click.echo(exc.heading, err=True)
    click.echo(exc.message(), err=True)
    sys.exit(2)


def check_options(problems: list[Problem]) -> None:
    """Stop with exit 2 when an option's value is out of range (see `domain.params`)."""
    if problems:
        fail_input(InputError(problems))


def reserve_output(out_dir: Path, command: str, inputs: Iterable[Path] = (),
                   needed_bytes: int = 0) -> None:
    """Refuse (exit 2, French) an output folder `command` may not replace, a place that cannot
    be written or lacks room, or a folder another run writes to; otherwise hold its lock until
    the command ends (`io.atomic.reserve_output_dir`)."""
    from affectation.io.atomic import reserve_output_dir

    try:
        click.get_current_context().with_resource(
            reserve_output_dir(out_dir, command, inputs, needed_bytes))
    except InputError as exc:
        fail_input(exc)


def check_output_file(path: Path, inputs: Iterable[Path] = (), needed_bytes: int = 0) -> None:
    """Refuse (exit 2, French) an output file that is a folder, one of the inputs, or cannot be
    written (`io.atomic.check_output_file`)."""
    from affectation.io.atomic import check_output_file as check

    try:
        check(path, inputs, needed_bytes)
    except InputError as exc:
        fail_input(exc)


def inputs_size(scenario: Path) -> int:
    """Bytes of the files beside a scenario: results take about as much, a workbook as much
    again; three times this is asked free before a run."""
    folder = Path(scenario).parent
    try:
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    except OSError:
        return 0
