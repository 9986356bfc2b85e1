"""Input problems, reported in the user's words with the place they occur.

Every defect found while reading the inputs becomes a `Problem` (file, line, column, value,
what was expected). Readers collect them all and raise one `InputError`, so that a user fixes
every row in one pass instead of one per run. The CLI turns it into exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_LISTED_PROBLEMS = 50


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
