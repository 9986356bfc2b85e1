"""One pre-filled agreement as a PDF (reportlab platypus), following the national model:
the parties, Titre I (articles 1 to 9), the educational annex with the weeks' dates and the
daily schedule, the financial annex, and the signatures. Every field the store knows is
written; every other one is a dotted line to fill in by hand.

The schedule, when known, is checked against the limits for minors first
(`domain.agreement.check_minor_limits`): a schedule that breaks them is a `ScheduleError`,
never a signed-looking document.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib import resources
from xml.sax.saxutils import escape

from affectation.documents import model
from affectation.domain.agreement import (
    DAYS,
    STATE_LABELS,
    AgreementDocument,
    Schedule,
    check_minor_limits,
    hours_text,
    parse_schedule,
)

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
BLANK = "…………………………………………"
LONG_BLANK = BLANK * 2


@lru_cache(maxsize=1)
def _styles() -> dict[str, object]:
    """Fonts registered and paragraph styles built once per process."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    fonts = resources.files("affectation.documents").joinpath("fonts")
    for name, file in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
        with resources.as_file(fonts.joinpath(file)) as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                  boldItalic=FONT_BOLD)
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.6, leading=11, spaceAfter=3)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=12.5,
                                leading=15.5, alignment=TA_CENTER, spaceAfter=6),
        "ref": ParagraphStyle("ref", parent=body, fontSize=7.5, alignment=TA_CENTER,
                              spaceAfter=8),
        "h1": ParagraphStyle("h1", parent=body, fontName=FONT_BOLD, fontSize=10, leading=13,
                             spaceBefore=8, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, spaceBefore=4,
                             spaceAfter=2),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.6, leading=9.5, spaceAfter=1),
        "cell": ParagraphStyle("cell", parent=body, spaceAfter=0),
    }


def _v(value: str, blank: str = BLANK) -> str:
    """A known value in bold, else a dotted line."""
    return f"<b>{escape(value)}</b>" if value else blank


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "☐ oui   ☐ non"
    return "☒ oui   ☐ non" if value else "☐ oui   ☒ non"


def checked_schedule(doc: AgreementDocument) -> Schedule | None:
    """The offer's schedule, checked against the limits for minors (None when unknown)."""
    if not doc.offer_schedule:
        return None
    schedule = parse_schedule(doc.offer_schedule)
    check_minor_limits(schedule)
    return schedule


def agreement_pdf(doc: AgreementDocument) -> bytes:
    """The agreement's PDF bytes (deterministic: no creation date, no random id)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    schedule = checked_schedule(doc)
    s = _styles()
    body, small, h1, h2, cell = s["body"], s["small"], s["h1"], s["h2"], s["cell"]
    story: list[object] = []

    def p(text: str, style: object = body) -> None:
        story.append(Paragraph(text, style))

    def grid(rows: list[list[str]], widths: list[float]) -> Table:
        table = Table([[Paragraph(c, cell) for c in row] for row in rows], colWidths=widths)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]))
        return table

    width = A4[0] - 36 * mm
    p(escape(model.TITLE), s["title"])
    p(f"Réf. {escape(doc.reference)} – élève {escape(doc.student_id)} – offre "
      f"{escape(doc.offer_id)} – état : {STATE_LABELS.get(doc.state, doc.state)}", s["ref"])
    for line in model.LEGAL_BASIS:
        p(escape(line), small)
    delegation = ("par délibération du conseil d'administration du "
                  f"{_v(doc.school_delegation_date)}")
    p("<b>Entre</b>", h2)
    p(f"L'entreprise ou l'organisme d'accueil {_v(doc.host_name)}, SIRET "
      f"{_v(doc.offer_employer_id)}, dont le siège est situé {_v(doc.employer_address, LONG_BLANK)}"
      f", représenté(e) par {_v(doc.employer_representative_name)}, en qualité de "
      f"{_v(doc.employer_representative_role)} (courriel {_v(doc.employer_email)}, téléphone "
      f"{_v(doc.employer_phone)}), d'une part,")
    p("<b>et</b>", h2)
    p(f"L'établissement d'enseignement {_v(doc.school_name)} (UAI {_v(doc.school_uai)}), "
      f"{_v(doc.school_full_address, LONG_BLANK)}, représenté par {_v(doc.school_head_name)}, en "
      f"qualité de {_v(doc.school_head_role or 'chef(fe) d’établissement')}, autorisé(e) à "
      f"signer {delegation}, d'autre part,")
    p("il a été convenu ce qui suit.")

    p("TITRE I – DISPOSITIONS GÉNÉRALES", h1)
    for heading, paragraphs in model.ARTICLES:
        p(escape(heading), h2)
        for text in paragraphs:
            p(escape(text))

    p("TITRE II – DISPOSITIONS PARTICULIÈRES", h1)
    p("A – Annexe pédagogique", h2)
    label_w = 58 * mm
    reps = [", ".join(x for x in (n, e, t) if x)
            for n, e, t in ((doc.rep1_name, doc.rep1_email, doc.rep1_phone),
                            (doc.rep2_name, doc.rep2_email, doc.rep2_phone))]
    story.append(grid([
        ["Élève (prénom, nom)", _v(doc.student_full_name)],
        ["Date de naissance", _v(doc.birth_date)],
        ["Classe", _v(doc.class_name)],
        ["Adresse de l'élève", _v(doc.address, LONG_BLANK)],
        ["Projet d'accueil individualisé (PAI)", _yes_no(doc.pai)],
        ["Représentant légal 1 (nom, courriel, téléphone)", _v(reps[0], LONG_BLANK)],
        ["Représentant légal 2 (nom, courriel, téléphone)", _v(reps[1], LONG_BLANK)],
        ["Établissement, chef d'établissement",
         f"{_v(doc.school_name)} – {_v(doc.school_head_name)}"],
        ["Adresse, courriel et téléphone de l'établissement",
         f"{_v(doc.school_full_address)} – {_v(doc.school_email)} – {_v(doc.school_phone)}"],
        ["Statut de l'établissement", _v(doc.school_legal_status)],
        ["Tuteur dans l'organisme d'accueil (nom, qualité, courriel, téléphone)",
         " – ".join(_v(x) for x in (doc.tutor_full_name, doc.tutor_role, doc.tutor_email,
                                    doc.tutor_phone))],
        ["Enseignant(e) référent(e) (nom, courriel, téléphone)",
         " – ".join(_v(x) for x in (doc.teacher_name, doc.teacher_email, doc.teacher_phone))],
        ["Dates de la séquence",
         f"<b>{escape(doc.date_range)}</b> inclus (semaine"
         f"{'s' if len(doc.weeks) > 1 else ''} {escape(', '.join(doc.iso_weeks))})"],
        ["Lieu de la séquence", _v(doc.internship_address, LONG_BLANK)],
        ["Activités prévues", _v(doc.offer_title + (" – " if doc.offer_title and
                                                     doc.offer_description else "")
                                 + doc.offer_description, LONG_BLANK + "<br/>" + LONG_BLANK)],
    ], [label_w, width - label_w]))
    story.append(Spacer(1, 4))
    p("Repères réglementaires (élève mineur)", h2)
    for line in model.REGULATORY_LANDMARKS:
        p("– " + escape(line), small)
    p("Horaires journaliers de l'élève", h2)
    rows = [["<b>Jour</b>", "<b>Horaires de présence</b>", "<b>Durée</b>"]]
    if schedule is not None:
        rows += [[day.capitalize(), escape(spans) or "–", escape(hours)]
                 for day, spans, hours in schedule.rows()]
        rows.append(["<b>Total de la semaine</b>", "",
                     f"<b>{escape(hours_text(schedule.week_minutes))}</b>"])
    else:
        rows += [[day.capitalize(), "de ………… à …………  et de ………… à …………", "…………"]
                 for day in DAYS]
    story.append(KeepTogether(grid(rows, [30 * mm, width - 60 * mm, 30 * mm])))
    p("Objectifs", h2)
    for text in model.OBJECTIVES:
        p(escape(text))
    p("Compétences visées", h2)
    for text in model.SKILLS:
        p("– " + escape(text), small)
    for text in model.FOLLOW_UP:
        p(escape(text))

    p("B – Annexe financière", h2)
    for heading, text in model.FINANCIAL:
        p(f"<b>{escape(heading)}</b> – {escape(text)}")
    p(f"Restauration, précisions de l'organisme d'accueil : {_v(doc.offer_meals, LONG_BLANK)}")

    p("Signatures", h1)
    p(f"Fait à {_v(doc.school_city)}, le …………………………, en quatre exemplaires.")
    names = {"etablissement": doc.school_head_name,
             "employeur": doc.employer_representative_name,
             "eleve": doc.student_full_name,
             "representant_legal": doc.rep1_name}
    cells = [f"<b>{escape(label)}</b><br/>Nom : {_v(names[role])}<br/>Date : …………………"
             "<br/>Signature :<br/><br/><br/>" for role, label in model.SIGNATORIES]
    signatures = Table([[Paragraph(cells[0], cell), Paragraph(cells[1], cell)],
                        [Paragraph(cells[2], cell), Paragraph(cells[3], cell)]],
                       colWidths=[width / 2, width / 2])
    signatures.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                    ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(KeepTogether(signatures))

    out = io.BytesIO()

    def footer(canvas: object, document: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFont(FONT, 7)  # type: ignore[attr-defined]
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm,  # type: ignore[attr-defined]
                               f"{doc.reference} – page {document.page}")  # type: ignore[attr-defined]
        canvas.restoreState()  # type: ignore[attr-defined]

    pdf = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=15 * mm, bottomMargin=16 * mm, title=model.TITLE,
                            author=doc.campaign, subject=doc.reference, creator="affectation",
                            invariant=1)
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
