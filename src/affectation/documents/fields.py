"""An agreement as the national platform's `internship_agreements` fields: the columns of
the mail-merge CSV and the variables of a DOCX template (plus our identifiers)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from affectation.domain.agreement import DAYS, AgreementDocument, parse_schedule

# Platform field names (db/structure.sql, table internship_agreements), then ours.
COLUMNS = (
    "uuid", "aasm_state", "student_full_name", "student_birth_date", "student_class_room",
    "student_school", "student_address", "student_phone",
    "student_legal_representative_full_name", "student_legal_representative_email",
    "student_legal_representative_phone", "student_legal_representative_2_full_name",
    "student_legal_representative_2_email", "student_legal_representative_2_phone",
    "student_refering_teacher_full_name", "student_refering_teacher_email",
    "student_refering_teacher_phone", "pai_project", "school_representative_full_name",
    "school_representative_role", "school_representative_email",
    "school_representative_phone", "legal_status", "delegation_date", "employer_name",
    "siret", "entreprise_address", "internship_address",
    "organisation_representative_full_name", "organisation_representative_role",
    "employer_contact_email", "tutor_full_name", "tutor_role", "tutor_email", "date_range",
    "daily_hours", "lunch_break", "activity_scope",
    # Ours: pseudonymous identifiers and the campaign's weeks.
    "student_id", "school_uai", "offer_id", "weeks",
)


def platform_fields(doc: AgreementDocument) -> dict[str, str]:
    """The agreement's values under the platform's field names ('' when unknown)."""
    hours = ""
    if doc.offer_schedule:
        hours = json.dumps(parse_schedule(doc.offer_schedule).platform_hours(),
                           ensure_ascii=False)
    return {
        "uuid": doc.reference, "aasm_state": doc.state,
        "student_full_name": doc.student_full_name, "student_birth_date": doc.birth_date,
        "student_class_room": doc.class_name, "student_school": doc.school_name,
        "student_address": doc.address, "student_phone": doc.phone,
        "student_legal_representative_full_name": doc.rep1_name,
        "student_legal_representative_email": doc.rep1_email,
        "student_legal_representative_phone": doc.rep1_phone,
        "student_legal_representative_2_full_name": doc.rep2_name,
        "student_legal_representative_2_email": doc.rep2_email,
        "student_legal_representative_2_phone": doc.rep2_phone,
        "student_refering_teacher_full_name": doc.teacher_name,
        "student_refering_teacher_email": doc.teacher_email,
        "student_refering_teacher_phone": doc.teacher_phone,
        "pai_project": "" if doc.pai is None else ("true" if doc.pai else "false"),
        "school_representative_full_name": doc.school_head_name,
        "school_representative_role": doc.school_head_role,
        "school_representative_email": doc.school_email,
        "school_representative_phone": doc.school_phone,
        "legal_status": doc.school_legal_status, "delegation_date": doc.school_delegation_date,
        "employer_name": doc.host_name, "siret": doc.offer_employer_id,
        "entreprise_address": doc.employer_address,
        "internship_address": doc.internship_address,
        "organisation_representative_full_name": doc.employer_representative_name,
        "organisation_representative_role": doc.employer_representative_role,
        "employer_contact_email": doc.employer_email,
        "tutor_full_name": doc.tutor_full_name, "tutor_role": doc.tutor_role,
        "tutor_email": doc.tutor_email, "date_range": doc.date_range, "daily_hours": hours,
        "lunch_break": doc.offer_meals,
        "activity_scope": " – ".join(x for x in (doc.offer_title, doc.offer_description) if x),
        "student_id": doc.student_id, "school_uai": doc.school_uai, "offer_id": doc.offer_id,
        "weeks": "|".join(doc.iso_weeks),
    }


def template_context(doc: AgreementDocument) -> dict[str, object]:
    """A DOCX template's variables: the platform fields, plus `horaires` (rows of day,
    spans, hours) and `semaines`."""
    context: dict[str, object] = dict(platform_fields(doc))
    rows = []
    if doc.offer_schedule:
        rows = [{"jour": d.capitalize(), "plages": s or "–", "duree": h}
                for d, s, h in parse_schedule(doc.offer_schedule).rows()]
    else:
        rows = [{"jour": d.capitalize(), "plages": "……………", "duree": "……"} for d in DAYS]
    context["horaires"] = rows
    context["semaines"] = ", ".join(doc.iso_weeks)
    return context


def mail_merge_csv(docs: Iterable[AgreementDocument]) -> str:
    """UTF-8 CSV (with BOM, so that spreadsheet programs read accents right), one row per
    agreement, columns named after the platform's agreement fields."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for doc in docs:
        writer.writerow(platform_fields(doc))
    return out.getvalue()
