"""Build the default Word template of the agreements (src/affectation/documents/templates/
convention.docx) from the model's text (documents/model.py). Each Jinja tag is written in
one run, as docxtpl requires. An académie may instead give its own template
(`affectation campaign agreements --format docx --template modele.docx`).

    .venv/bin/python scripts/make_docx_template.py
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.shared import Pt

from affectation.documents import model

OUT = (Path(__file__).resolve().parent.parent / "src" / "affectation" / "documents"
       / "templates" / "convention.docx")


def main() -> None:
    doc = Document()
    doc.styles["Normal"].font.name = "DejaVu Sans"
    doc.styles["Normal"].font.size = Pt(9)
    doc.add_heading(model.TITLE, level=1)
    doc.add_paragraph("Réf. {{ uuid }} – élève {{ student_id }} – offre {{ offer_id }}")
    for line in model.LEGAL_BASIS:
        doc.add_paragraph(line)
    doc.add_paragraph("Entre")
    doc.add_paragraph(
        "L'entreprise ou l'organisme d'accueil {{ employer_name or '……………' }}, SIRET "
        "{{ siret or '……………' }}, dont le siège est situé {{ entreprise_address or '……………' }}, "
        "représenté(e) par {{ organisation_representative_full_name or '……………' }}, en "
        "qualité de {{ organisation_representative_role or '……………' }}, d'une part,")
    doc.add_paragraph("et")
    doc.add_paragraph(
        "L'établissement d'enseignement {{ student_school or '……………' }} (UAI "
        "{{ school_uai }}), représenté par {{ school_representative_full_name or '……………' }}, "
        "en qualité de {{ school_representative_role or '……………' }}, "
        "d'autre part, il a été convenu ce qui suit.")
    doc.add_heading("TITRE I – DISPOSITIONS GÉNÉRALES", level=2)
    for heading, paragraphs in model.ARTICLES:
        doc.add_heading(heading, level=3)
        for text in paragraphs:
            doc.add_paragraph(text)
    doc.add_heading("TITRE II – DISPOSITIONS PARTICULIÈRES", level=2)
    doc.add_heading("A – Annexe pédagogique", level=3)
    for label, tag in (
            ("Élève", "student_full_name"), ("Date de naissance", "student_birth_date"),
            ("Classe", "student_class_room"), ("Adresse", "student_address"),
            ("Représentant légal", "student_legal_representative_full_name"),
            ("Courriel du représentant légal", "student_legal_representative_email"),
            ("Téléphone du représentant légal", "student_legal_representative_phone"),
            ("Chef d'établissement", "school_representative_full_name"),
            ("Statut de l'établissement", "legal_status"),
            ("Tuteur", "tutor_full_name"), ("Qualité du tuteur", "tutor_role"),
            ("Courriel du tuteur", "tutor_email"),
            ("Enseignant référent", "student_refering_teacher_full_name"),
            ("Lieu de la séquence", "internship_address"),
            ("Activités prévues", "activity_scope")):
        doc.add_paragraph(f"{label} : {{{{ {tag} or '……………………………' }}}}")
    doc.add_paragraph("Dates : {{ date_range }} inclus (semaines {{ semaines }})")
    doc.add_paragraph("Horaires journaliers :")
    table = doc.add_table(rows=3, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("Jour", "Horaires", "Durée"), strict=True):
        cell.text = text
    table.rows[1].cells[0].text = "{%tr for h in horaires %}"
    row = table.add_row()
    for cell, text in zip(row.cells, ("{{ h.jour }}", "{{ h.plages }}", "{{ h.duree }}"),
                          strict=True):
        cell.text = text
    end = table.add_row()
    end.cells[0].text = "{%tr endfor %}"
    # Move the loop's rows after the header: header, for, body, endfor.
    tbl = table._tbl
    rows = list(tbl.tr_lst)
    tbl.remove(rows[2])
    for line in model.REGULATORY_LANDMARKS:
        doc.add_paragraph("– " + line)
    doc.add_heading("B – Annexe financière", level=3)
    for heading, text in model.FINANCIAL:
        doc.add_paragraph(f"{heading} – {text}")
    doc.add_paragraph("Restauration : {{ lunch_break or '……………………………' }}")
    doc.add_heading("Signatures", level=2)
    for _, label in model.SIGNATORIES:
        doc.add_paragraph(f"{label} – nom, date et signature :")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(OUT))
    print(OUT)


if __name__ == "__main__":
    main()
