"""Rendering many agreements: checked first (every schedule against the limits for minors),
then rendered in worker processes, and written as one folder atomically (a folder per
school, a file per agreement named by pseudonymous identifiers only)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from affectation.domain.agreement import AgreementDocument, ScheduleError
from affectation.errors import InputError, Problem

FORMATS = ("pdf", "docx", "csv")
CHUNK = 64


def file_name(doc: AgreementDocument, fmt: str) -> str:
    """`UAI/convention-<campaign>-<id>-<student_id>-<offer_id>.<fmt>`: no personal data."""
    return f"{doc.school_uai}/convention-{doc.reference}-{doc.student_id}-{doc.offer_id}.{fmt}"


def schedule_problems(docs: Sequence[AgreementDocument]) -> list[Problem]:
    """Every offer whose schedule cannot be read or breaks the limits for minors."""
    from affectation.documents.pdf import checked_schedule

    problems: list[Problem] = []
    seen: set[str] = set()
    for doc in docs:
        if doc.offer_id in seen or not doc.offer_schedule:
            continue
        seen.add(doc.offer_id)
        try:
            checked_schedule(doc)
        except ScheduleError as exc:
            problems.append(Problem("horaires de l'offre", str(exc), column="schedule",
                                    value=f"{doc.offer_id} : {doc.offer_schedule}"))
    return problems


def _render_chunk(args: tuple[str, bytes | None, list[AgreementDocument]]
                  ) -> list[tuple[str, bytes]]:
    fmt, template, docs = args
    if fmt == "pdf":
        from affectation.documents.pdf import agreement_pdf

        return [(file_name(d, fmt), agreement_pdf(d)) for d in docs]
    from affectation.documents.docx import agreement_docx

    assert template is not None
    return [(file_name(d, fmt), agreement_docx(d, template)) for d in docs]


def render_all(docs: Sequence[AgreementDocument], fmt: str, out_dir: Path, jobs: int = 0,
               template: bytes | None = None,
               on_done: Callable[[int], None] | None = None) -> int:
    """Render `docs` as `fmt` (pdf or docx) into `out_dir` (replaced whole, atomically);
    `jobs` worker processes (0: one per core). Returns the number of files."""
    from affectation.io.atomic import write_folder_stream

    problems = schedule_problems(docs)
    if problems:
        raise InputError(problems)
    jobs = jobs or os.cpu_count() or 1
    chunks = [(fmt, template, list(docs[k:k + CHUNK])) for k in range(0, len(docs), CHUNK)]
    count = 0

    def files() -> Iterator[tuple[str, bytes]]:
        nonlocal count
        if jobs == 1 or len(chunks) <= 1:
            parts: Iterable[list[tuple[str, bytes]]] = map(_render_chunk, chunks)
            yield from _counted(parts)
            return
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            yield from _counted(pool.map(_render_chunk, chunks))

    def _counted(parts: Iterable[list[tuple[str, bytes]]]) -> Iterator[tuple[str, bytes]]:
        nonlocal count
        for part in parts:
            yield from part
            count += len(part)
            if on_done:
                on_done(len(part))

    write_folder_stream(out_dir, files())
    return count
