"""Input problems, reported in the user's words with the place they occur.

Every defect found while reading the inputs becomes a `Problem` (file, line, column, value,
what was expected). Readers collect them all and raise one `InputError`, so that a user fixes
every row in one pass instead of one per run. The CLI turns it into exit status 2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

MAX_LISTED_PROBLEMS = 50

# Notices: what a user should know but that does not stop the run (a few homes far from every
# offer, the encoding a file was read in). The command line prints them on stderr; without a
# handler, Python's last-resort handler prints the bare message on stderr as well.
NOTICES = logging.getLogger("affectation.notices")


@dataclass(frozen=True)
class Problem:
    """One defect of an input file; `line` is the 1-based line in the file (header = 1)."""

    file: str
    expected: str
    line: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", ligne {self.line}"
        if self.column is not None:
            where += f", colonne « {self.column} »"
        text = where
        if self.value is not None:
            text += f" : valeur « {self.value} »"
        return f"{text} : {self.expected}"


class InputError(Exception):
    """The inputs cannot be used; carries every problem found."""

    heading = "Erreur dans les données d'entrée :"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.message())

    def message(self) -> str:
        shown = self.problems[:MAX_LISTED_PROBLEMS]
        lines = [str(p) for p in shown]
        rest = len(self.problems) - len(shown)
        if rest > 0:
            lines.append(f"… et {rest} autre(s) problème(s).")
        return "\n".join(lines)


def raise_if_any(problems: list[Problem]) -> None:
    """Raise one `InputError` carrying `problems` when there is any."""
    if problems:
        raise InputError(problems)


class OutputError(InputError):
    """The output cannot be written where the user asked (a folder that is not a result
    folder, a read-only place, no disk space, another run writing there): found before the
    long work starts whenever it can be. Exit status 2, like an input error."""

    heading = "Impossible d'écrire le résultat :"


def notify(message: str) -> None:
    """Tell the user something that does not stop the run (French, one line or a few)."""
    NOTICES.warning(message)
