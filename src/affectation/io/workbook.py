"""Every result table of a folder as one XLSX workbook (`resultats.xlsx`).

French Excel opens a `,`-separated CSV in one column; a workbook has no such trouble. One sheet
per CSV table, named after the file. Numbers become numeric cells, except in identifier
columns (pupil, school, offer, territory, commune, EPCI ids), which stay text so that
`0140052F` or `00123` are never altered. Every other cell is written as text, never as a
formula: an identifier such as `=HYPERLINK(...)` stays inert (the CSV tables carry it with a
leading apostrophe, `io.output.spreadsheet_cell`, taken off here). The bytes are
deterministic: fixed document dates and fixed timestamps inside the zip archive.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from affectation.io.atomic import write_result_folder
from affectation.io.output import protect_csv, spreadsheet_text, unprotect_csv

WORKBOOK_NAME = "resultats.xlsx"
_FIXED_DATE = datetime(2000, 1, 1)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_TEXT_COLUMNS = {"group", "territory", "epci", "commune_insee", "label", "reason", "kind"}


def _is_identifier(column: str) -> bool:
    return column.endswith("_id") or column in _TEXT_COLUMNS


def _number(text: str) -> int | float | None:
    """`text` as a number when it is one written plainly (no leading zero), else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    if text.strip() != text or text.lower() in ("nan", "inf", "-inf", "infinity"):
        return None
    digits = text.lstrip("-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] != ".":
        return None
    return int(text) if text.lstrip("-").isdigit() else value


def workbook_bytes(tables: dict[str, str]) -> bytes:
    """An XLSX workbook with one sheet per CSV text of `tables` (file name -> text), in order."""
    from openpyxl import Workbook  # imported only when a workbook is asked for (0.1 s)

    book = Workbook()
    book.remove(book.active)
    book.properties.created = _FIXED_DATE
    book.properties.modified = _FIXED_DATE
    for name, text in tables.items():
        sheet = book.create_sheet(title=name.removesuffix(".csv")[:31])
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            continue
        header = rows[0]
        numeric = [not _is_identifier(c) for c in header]
        for r, row in enumerate(rows, start=1):
            for k, cell_text in enumerate(row, start=1):
                value = spreadsheet_text(cell_text)
                if value == "":
                    continue
                number = (_number(value) if r > 1 and k - 1 < len(numeric) and numeric[k - 1]
                          else None)
                cell = sheet.cell(row=r, column=k)
                if number is not None:
                    cell.value = number
                else:
                    # Assigned as a value, a text starting with `=` would become a formula.
                    cell.value = value
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
    raw = io.BytesIO()
    book.save(raw)
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same zip archive with every entry dated 1980-01-01 (byte-identical reruns)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps the save time as the document's modification date.
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            target.writestr(fixed, content)
    return out.getvalue()


def with_workbook(files: dict[str, str | bytes]) -> dict[str, str | bytes]:
    """`files` plus the workbook of its CSV tables (in name order)."""
    tables = {n: t for n, t in sorted(files.items()) if n.endswith(".csv") and isinstance(t, str)}
    return {**files, WORKBOOK_NAME: workbook_bytes(tables)}


def write_folder(out_dir: Path, files: dict[str, str | bytes], xlsx: bool = False,
                 command: str = "solve", inputs: Iterable[Path] = ()) -> None:
    """Write `files` (name -> content) as the result folder `out_dir` of `command`,
    atomically (`io.atomic`: only over a result folder or an empty one), with the workbook of
    its tables when `xlsx`."""
    files = {name: protect_csv(content) if name.endswith(".csv") and isinstance(content, str)
             else content for name, content in files.items()}
    if xlsx:
        files = with_workbook(files)
    write_result_folder(out_dir, {name: _constant(content) for name, content in files.items()},
                        command=command, inputs=inputs)


def _constant(content: str | bytes) -> Callable[[], str | bytes]:
    return lambda: content


def read_folder(out_dir: Path) -> dict[str, str | bytes]:
    """The files of a result folder (top level, name order): text for CSV and JSON files
    (CSV cells as the texts they stand for), bytes for the others; the workbook and the
    marker are left out (they are rebuilt)."""
    files: dict[str, str | bytes] = {}
    for path in sorted(Path(out_dir).iterdir()):
        if not path.is_file() or path.name == WORKBOOK_NAME or path.name.startswith("."):
            continue
        if path.suffix == ".csv":
            files[path.name] = unprotect_csv(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            files[path.name] = path.read_text(encoding="utf-8")
        else:
            files[path.name] = path.read_bytes()
    return files
