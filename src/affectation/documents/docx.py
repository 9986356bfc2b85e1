"""Agreements through a Word template (docxtpl): an académie keeps its own model and the
store fills it. The variables are the platform's agreement field names (`fields.COLUMNS`),
plus `horaires` (rows with `jour`, `plages`, `duree`) and `semaines`. A small default
template ships with the package (templates/convention.docx, made by
scripts/make_docx_template.py)."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

from affectation.documents.fields import template_context
from affectation.documents.pdf import checked_schedule
from affectation.domain.agreement import AgreementDocument
from affectation.errors import InputError, Problem


def default_template() -> bytes:
    return resources.files("affectation.documents").joinpath(
        "templates", "convention.docx").read_bytes()


def check_template(data: bytes, name: str) -> None:
    """An `InputError` when the template is not a readable Word file or its tags are
    broken (a Jinja tag split across Word runs, an unknown filter...)."""
    from docxtpl import DocxTemplate

    try:
        template = DocxTemplate(io.BytesIO(data))
        template.get_undeclared_template_variables()
    except Exception as exc:  # noqa: BLE001 - any defect of the user's template
        raise InputError([Problem(name, f"un modèle Word (.docx) valide ({exc})")]) from None


def agreement_docx(doc: AgreementDocument, template: bytes) -> bytes:
    """The agreement rendered through `template` (the bytes of a .docx)."""
    from docxtpl import DocxTemplate

    checked_schedule(doc)
    tpl = DocxTemplate(io.BytesIO(template))
    tpl.render(template_context(doc), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def read_template(path: Path | None) -> bytes:
    if path is None:
        return default_template()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError([Problem(str(path), f"un modèle Word lisible ({exc.strerror})")]) \
            from None
    check_template(data, Path(path).name)
    return data
