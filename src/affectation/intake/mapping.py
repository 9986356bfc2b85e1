"""Column mappings: read a spreadsheet of another layout as a v1 table.

A mapping is a small TOML file with up to three tables:

```toml
[columns]          # v1 column = the sheet's column holding it
offer_id = "Référence"
employer_name = "Raison sociale"
capacity = "Nombre de places"

[values.period]    # optional: a cell's text (trimmed, any case) -> the v1 value
"Deux semaines" = "0"
"Semaine 1" = "1"

[constants]        # optional: a v1 column absent from the sheet, the same for every row
school_id = "0140052F"
```

Unknown tables or keys, a v1 column that is not a target, a column given twice, a column
both mapped and constant, and a mapped column missing from the sheet are errors (InputError):
a mapping that does not fit its sheet makes the source unreadable. A cell whose text is not
in `[values.X]` is kept as written (so that a code already in v1 form passes).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from affectation.errors import InputError, Problem, raise_if_any
from affectation.io.scenario import toml_problem
from affectation.io.tables import Table


@dataclass(frozen=True)
class ColumnMapping:
    """v1 column -> sheet column; per v1 column, cell text (lower-case) -> v1 text; constants."""

    file: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    constants: dict[str, str]


def load_mapping(path: Path, targets: tuple[str, ...]) -> ColumnMapping:
    """Read and check a mapping file whose v1 columns must be among `targets`."""
    path = Path(path)
    file = path.name
    try:
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except OSError:
        raise InputError([Problem(str(path), "un fichier de correspondance lisible")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem(file, "un fichier TOML encodé en UTF-8")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([toml_problem(file, text, exc)]) from None
    problems: list[Problem] = []
    allowed = ", ".join(targets)

    def bad(key: str, value: Any, expected: str) -> None:
        problems.append(Problem(file, expected, column=key,
                                value=None if value is None else str(value)))

    for key in sorted(set(data) - {"columns", "values", "constants"}):
        bad(key, None, "table inconnue (tables possibles : columns, values, constants)")

    def strings(name: str, table: Any) -> dict[str, str]:
        if not isinstance(table, dict):
            bad(name, table, f"[{name}] doit être une table")
            return {}
        out: dict[str, str] = {}
        for key, value in table.items():
            if not isinstance(value, str | int):
                bad(f"{name}.{key}", value, "une chaîne de caractères")
                continue
            out[str(key)] = str(value).strip()
        return out

    columns = strings("columns", data.get("columns", {}))
    constants = strings("constants", data.get("constants", {}))
    values_table = data.get("values", {})
    values: dict[str, dict[str, str]] = {}
    if not isinstance(values_table, dict):
        bad("values", values_table, "[values] doit être une table de tables")
    else:
        for column, table in values_table.items():
            found = strings(f"values.{column}", table)
            values[column] = {k.strip().lower(): v for k, v in found.items()}
    for where, keys in (("columns", columns), ("constants", constants), ("values", values)):
        for key in keys:
            if key not in targets:
                bad(f"{where}.{key}", None, f"une colonne v1 parmi : {allowed}")
    for key in sorted(set(columns) & set(constants)):
        bad(f"constants.{key}", constants[key], "une colonne soit lue ([columns]), soit "
            "constante ([constants]), pas les deux")
    seen: dict[str, str] = {}
    for key, sheet_column in columns.items():
        if sheet_column in seen:
            bad(f"columns.{key}", sheet_column,
                f"une colonne de la feuille par colonne v1 (déjà lue pour {seen[sheet_column]})")
        seen[sheet_column] = key
    raise_if_any(problems)
    return ColumnMapping(file=file, columns=columns, values=values, constants=constants)


def apply_mapping(table: Table, mapping: ColumnMapping) -> Table:
    """The sheet's table with v1 column names, values translated and constants added.

    Columns the mapping does not name are dropped, so that a sheet column that happens to be
    called like a v1 column is never read by mistake.
    """
    missing = [c for c in mapping.columns.values() if not table.has(c)]
    if missing:
        raise InputError([
            Problem(table.file, f"la colonne nommée dans {mapping.file} (colonnes de la "
                    f"feuille : {', '.join(map(str, table.frame.columns))})",
                    line=table.header_line, column=c)
            for c in missing
        ])
    frame = pd.DataFrame(index=table.frame.index)
    for target, column in mapping.columns.items():
        cells = table.frame[column]
        table_values = mapping.values.get(target)
        if table_values:
            cells = cells.map(lambda v, t=table_values: t.get(str(v).strip().lower(), v))
        frame[target] = cells.astype(object)
    for target, value in mapping.constants.items():
        frame[target] = value
    return dataclasses.replace(table, frame=frame)
