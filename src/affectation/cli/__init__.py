"""The `affectation` command line: parse, call the library, write, print a short summary.

One module per family of commands, each a plain click command added to the group here:
`solving` (solve, repair, check, explain, suggest, mobilise, sweep, report, travel),
`data` (generate, import-offers, import-students), `campaign` (the campaign store:
init, load, record, status, conventions, agreements, exports, purge), `national` (every
académie at once), `web` (serve, users: the web pages and their accounts). Library
imports are made inside the commands, so that `affectation --help` stays fast.
"""

from __future__ import annotations

import logging

import click

from affectation.cli import campaign, data, national, solving, web
from affectation.errors import NOTICES


class _Notices(logging.Handler):
    """The library's notices (`errors.notify`: a few far homes, the encoding a file was read
    in, a title row skipped) as plain lines on stderr, whatever logging setup is around."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(record.getMessage(), err=True)


@click.group()
@click.version_option(package_name="affectation")
def main() -> None:
    """Affectation des élèves de seconde aux offres de stage (CP-SAT)."""
    if not any(isinstance(h, _Notices) for h in NOTICES.handlers):
        NOTICES.addHandler(_Notices())


for _command in (solving.solve, solving.check, solving.explain, data.generate, solving.suggest,
                 solving.mobilise, data.import_offers, data.import_students, solving.sweep,
                 solving.report, solving.travel, solving.repair, national.national):
    main.add_command(_command)
main.add_command(campaign.campaign)
main.add_command(web.serve)
main.add_command(web.users)
