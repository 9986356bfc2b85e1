"""What every command shares: how an input error ends (a French message, exit status 2)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from affectation.errors import InputError


def fail_input(exc: InputError) -> NoReturn:
    """Print the input error (file, line, column, value, what was expected) and exit 2."""
    click.echo("Erreur dans les données d'entrée :", err=True)
    click.echo(exc.message(), err=True)
    sys.exit(2)
