"""Pre-filled agreements ("conventions de stage d'observation de seconde"): one PDF per
agreement (reportlab, bundled DejaVu Sans font), a DOCX route through an académie's own Word
template (docxtpl), and a mail-merge CSV named after the national platform's agreement
fields. Documents are built from `domain.agreement.AgreementDocument` records; nothing here
reads the store."""
