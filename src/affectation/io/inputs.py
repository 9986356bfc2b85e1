"""Reading the input files (students, offers, conventions, exclusions) into the frozen
`domain.instance` arrays, every defect reported with its file, line, column and value.

A student or an offer is its row number in the input file, so results can be written back in
input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affectation.domain.instance import (
    SECTOR,
    STATUSES,
    Conventions,
    Exclusions,
    Instance,
    Offers,
    Pairs,
    Students,
    no_exclusions,
)
from affectation.domain.params import MAX_CAPACITY, MAX_MINUTES, InputsParams, Scenario
from affectation.errors import InputError, Problem, notify, raise_if_any
from affectation.geo import far_from_all
from affectation.io.tables import (
    Table,
    check_identifiers,
    parse_bool,
    parse_float,
    parse_int,
    read_table,
    report_rows,
    split_sheet,
)


def read_instance(scenario: Scenario) -> Instance:
    """Read and validate the input files of an already parsed scenario.

    Problems of every file are collected and raised together (one `InputError`), so that a
    user fixes all of them in one pass; conventions are checked only once students and offers
    are valid, since each convention is checked against them.
    """
    problems: list[Problem] = []
    files = scenario.inputs
    present = {
        key: _input_file_exists(scenario, key, path, problems)
        for key, path in (("students", files.students), ("offers", files.offers),
                          ("conventions", files.conventions), ("exclusions", files.exclusions),
                          ("pending", files.pending))
        if path is not None
    }
    students: Students | None = None
    offers: Offers | None = None
    pairs: Pairs | None = None
    if present["students"]:
        try:
            students = read_students(files.students, scenario)
        except InputError as exc:
            problems.extend(exc.problems)
    if present["offers"]:
        try:
            offers, pairs = read_offers(files.offers)
        except InputError as exc:
            problems.extend(exc.problems)
    conventions = Conventions(*(np.zeros(0, dtype=np.int64) for _ in range(5)))
    if files.conventions is not None and present["conventions"] and not problems:
        assert students is not None and offers is not None and pairs is not None
        try:
            conventions = read_conventions(files.conventions, students, offers, pairs)
        except InputError as exc:
            problems.extend(exc.problems)
    if (files.pending is not None and present["pending"] and not problems
            and not scenario.repair.free_pending):
        assert students is not None and offers is not None and pairs is not None
        try:
            pending = read_conventions(files.pending, students, offers, pairs)
            conventions = merge_pending(conventions, pending, offers,
                                        files.conventions.name if files.conventions else
                                        "conventions.csv", files.pending.name)
        except InputError as exc:
            problems.extend(exc.problems)
    exclusions = no_exclusions(offers.n if offers is not None else 0)
    if files.exclusions is not None and present["exclusions"] and not problems:
        assert students is not None and offers is not None
        try:
            exclusions = read_exclusions(files.exclusions, students, offers, conventions)
        except InputError as exc:
            problems.extend(exc.problems)
    if not problems and students is not None and offers is not None:
        problems.extend(_whole_problems(files, students, offers))
    raise_if_any(problems)
    assert students is not None and offers is not None and pairs is not None
    return Instance(scenario, students, offers, pairs, conventions, exclusions)


def _whole_problems(files: InputsParams, students: Students, offers: Offers) -> list[Problem]:
    """What only the two files together show: no pupil to place; homes or offers far from
    everything (swapped columns). A few far rows are a notice."""
    if not students.to_place.any():
        statuses = sorted(set(students.status.tolist()) - {""})
        return [Problem(files.students.name, "aucun élève à placer : tous ont le statut "
                        + " ou ".join(f"« {s} »" for s in statuses)
                        + " (un résultat vide remplacerait le précédent)", column="status")]
    return far_apart(files.students.name, students, files.offers.name, offers)


# Homes farther than this from every offer (and offers from every home) are suspect.
FAR_KM = 100.0
_LISTED_LINES = 10


def far_apart(students_file: str, students: Students, offers_file: str,
              offers: Offers) -> list[Problem]:
    """Homes mostly (more than half) far from every offer, or offers mostly far from every
    home: an input error that says which file's `lat` and `lon` look swapped (the check is
    geometric, tied to no region). A few far rows: a notice naming their lines."""
    st_lat, st_lon, of_lat, of_lon = students.lat, students.lon, offers.lat, offers.lon
    far_homes = far_from_all(st_lat, st_lon, of_lat, of_lon, FAR_KM)
    far_offers = far_from_all(of_lat, of_lon, st_lat, st_lon, FAR_KM)
    if 2 * far_homes.sum() <= len(far_homes) and 2 * far_offers.sum() <= len(far_offers):
        for file, rows, lines, what, other in (
                (students_file, far_homes, students.lines, "domicile(s)", "de toute offre"),
                (offers_file, far_offers, offers.lines, "offre(s)", "de tout domicile")):
            if rows.any():
                shown = [str(lines[r]) if lines is not None else f"#{r + 1}"
                         for r in np.flatnonzero(rows)[:_LISTED_LINES]]
                more = int(rows.sum()) - len(shown)
                notify(f"Attention : {int(rows.sum())} {what} à plus de {FAR_KM:.0f} km "
                       f"{other} ({file}, ligne{'s' if len(shown) > 1 else ''} "
                       f"{', '.join(shown)}"
                       + (f" et {more} autre(s)" if more > 0 else "")
                       + ") : coordonnées à vérifier.")
        return []

    def swapped_fits(lat: np.ndarray, lon: np.ndarray, o_lat: np.ndarray,
                     o_lon: np.ndarray) -> bool:
        if (np.abs(lon) > 90).any():
            return False
        return 2 * far_from_all(lon, lat, o_lat, o_lon, FAR_KM).sum() <= len(lat)

    counts = (f"{int(far_homes.sum())} domicile(s) sur {len(far_homes)} à plus de "
              f"{FAR_KM:.0f} km de toute offre, {int(far_offers.sum())} offre(s) sur "
              f"{len(far_offers)} à plus de {FAR_KM:.0f} km de tout domicile")
    fits = [file for file, ok in (
        (students_file, swapped_fits(st_lat, st_lon, of_lat, of_lon)),
        (offers_file, swapped_fits(of_lat, of_lon, st_lat, st_lon))) if ok]
    if len(fits) == 2:
        # Swapping either file brings them together: the bundled geography (Normandy) tells
        # which one lies where it should, when one of them does; else both are named.
        fits = _off_the_map(students_file, students, offers_file, offers) or fits
    if fits:
        which = " ou ".join(fits)
        return [Problem(fits[0], "des colonnes lat et lon dans le bon ordre : elles semblent "
                        f"inversées{'' if len(fits) == 1 else ' (dans ' + which + ')'} ("
                        f"{counts} ; une fois inversées, presque tout est à portée)",
                        column="lat")]
    return [Problem(students_file, f"des domiciles proches des offres de {offers_file} : "
                    f"{counts} (vérifiez les colonnes lat et lon des deux fichiers : degrés "
                    "décimaux WGS84, latitude dans lat)", column="lat")]


def _off_the_map(students_file: str, students: Students, offers_file: str,
                 offers: Offers) -> list[str]:
    """The one file whose points are mostly off the bundled geography while the other's are
    mostly on it ([] when that does not single one out: another region, or both off)."""
    from affectation.geodata import load_communes

    communes = load_communes()
    c_lat, c_lon = communes["lat"].to_numpy(), communes["lon"].to_numpy()
    off = [2 * far_from_all(lat, lon, c_lat, c_lon, 30.0).sum() > len(lat)
           for lat, lon in ((students.lat, students.lon), (offers.lat, offers.lon))]
    if off == [True, False]:
        return [students_file]
    if off == [False, True]:
        return [offers_file]
    return []


def _input_file_exists(scenario: Scenario, key: str, path: Path, problems: list[Problem]) -> bool:
    """Is the input file named by `inputs.KEY` there? If not, a problem names the key."""
    if split_sheet(path)[0].is_file():
        return True
    what = "un fichier, pas un dossier" if path.is_dir() else "un fichier existant"
    problems.append(Problem(
        scenario.path.name,
        f"{what} (chemin relatif au dossier du scénario)",
        column=f"inputs.{key}",
        value=str(path),
    ))
    return False


def _sector_lists(table: Table, column: str,
                  problems: list[Problem]) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for row, text in enumerate(table.column(column)):
        if not text:
            out.append(())
            continue
        codes = tuple(c.strip() for c in str(text).split("|") if c.strip())
        bad = [c for c in codes if not SECTOR.match(c)]
        if bad or len(set(codes)) != len(codes):
            problems.append(
                Problem(
                    table.file,
                    "des codes secteur s1…s51 distincts séparés par « | »",
                    line=int(table.lines[row]),
                    column=column,
                    value=str(text),
                )
            )
            codes = ()
        out.append(codes)
    return tuple(out)


def read_students(path: Path, scenario: Scenario) -> Students:
    """Read students.csv (spec: students.csv)."""
    table = read_table(path, ("student_id", "school_id", "lat", "lon"))
    problems: list[Problem] = []
    if len(table.frame) == 0:
        # Nothing to place: a result would replace a good one with an empty one.
        raise InputError([Problem(table.file, "au moins un élève (le fichier n'a que "
                                  "l'en-tête)", line=table.header_line)])
    ids = check_identifiers(table, "student_id", problems, "élève")
    school = table.column("school_id")
    report_rows(table, "school_id", school == "", problems, "un UAI d'établissement non vide")
    lat = parse_float(table, "lat", problems, "une latitude entre -90 et 90", -90, 90)
    lon = parse_float(table, "lon", problems, "une longitude entre -180 et 180", -180, 180)
    report_rows(table, "lat", table.column("lat") == "", problems, "une latitude (obligatoire)")
    report_rows(table, "lon", table.column("lon") == "", problems, "une longitude (obligatoire)")

    modes = scenario.travel.mode_names
    mode_text = table.column("mode")
    mode_text = np.where(mode_text == "", scenario.travel.default_mode, mode_text)
    known = np.isin(mode_text, list(modes))
    report_rows(table, "mode", ~known, problems, "un mode du scénario : " + ", ".join(modes))
    mode_index = {m: i for i, m in enumerate(modes)}
    mode = np.array([mode_index.get(m, 0) for m in mode_text], dtype=np.int16)

    max_minutes = parse_float(
        table, "max_minutes", problems, f"un nombre de minutes entre 0 et {MAX_MINUTES:.0f}",
        0, MAX_MINUTES, default=np.inf
    )
    priority = parse_bool(table, "priority", problems, default=False)
    needs_accessible = parse_bool(table, "needs_accessible", problems, default=False)
    sectors = _sector_lists(table, "sectors", problems)
    status = table.column("status")
    report_rows(
        table, "status", ~np.isin(status, STATUSES), problems,
        "vide, « self_placed » ou « exempt »",
    )
    raise_if_any(problems)
    return Students(
        ids=ids,
        school=school,
        lat=lat,
        lon=lon,
        mode=mode,
        max_minutes=max_minutes,
        priority=priority.astype(bool),
        sectors=sectors,
        status=status,
        needs_accessible=needs_accessible.astype(bool),
        zone=table.column("zone") if table.has("zone") else None,
        lines=table.lines,
    )


def read_offers(path: Path) -> tuple[Offers, Pairs]:
    """Read offers.csv and its mutualised pairs (spec: offers.csv)."""
    table = read_table(path, ("offer_id", "lat", "lon", "capacity"))
    problems: list[Problem] = []
    if len(table.frame) == 0:
        # Nothing could be allocated: most likely the wrong file (an empty export).
        raise InputError([Problem(table.file, "au moins une offre (le fichier n'a que l'en-tête)",
                                  line=1)])
    ids = check_identifiers(table, "offer_id", problems, "offre")
    lat = parse_float(table, "lat", problems, "une latitude entre -90 et 90", -90, 90)
    lon = parse_float(table, "lon", problems, "une longitude entre -180 et 180", -180, 180)
    report_rows(table, "lat", table.column("lat") == "", problems, "une latitude (obligatoire)")
    report_rows(table, "lon", table.column("lon") == "", problems, "une longitude (obligatoire)")
    capacity, _ = parse_int(table, "capacity", problems,
                            f"un entier entre 0 et {MAX_CAPACITY} (places par semaine)",
                            high=MAX_CAPACITY)
    period, _ = parse_int(table, "period", problems, "0, 1 ou 2", default=0, high=2)
    sector = table.column("sector")
    report_rows(
        table, "sector",
        (sector != "") & ~np.array([bool(SECTOR.match(s)) for s in sector], dtype=bool),
        problems, "un code secteur s1…s51",
    )
    reserved = parse_bool(table, "reserved", problems, default=False)
    accessible = parse_bool(table, "accessible", problems, default=False)
    min_group, has_min = parse_int(table, "min_group", problems,
                                   f"un entier entre 1 et {MAX_CAPACITY}", low=1, default=0,
                                   high=MAX_CAPACITY)

    pair_text = table.column("pair_id")
    paired = pair_text != ""
    report_rows(
        table, "min_group", has_min & ~paired, problems,
        "vide : min_group ne s'applique qu'aux offres mutualisées (pair_id)",
    )
    pair_ids, pair_index, counts = np.unique(
        pair_text[paired].astype(str), return_inverse=True, return_counts=True
    )
    pair = np.full(len(ids), -1, dtype=np.int64)
    pair[paired] = pair_index
    for k in np.flatnonzero(counts != 2):
        rows = np.flatnonzero(pair == k)
        for row in rows:
            problems.append(
                Problem(
                    table.file,
                    f"exactement deux offres par pair_id (trouvé {counts[k]})",
                    line=int(table.lines[row]),
                    column="pair_id",
                    value=str(pair_ids[k]),
                )
            )
    raise_if_any(problems)

    order = np.argsort(pair[paired], kind="stable")
    members = np.flatnonzero(paired)[order].reshape(-1, 2)
    pair_min = np.maximum(min_group[members[:, 0]], min_group[members[:, 1]])
    offers = Offers(
        ids=ids,
        employer_id=table.column("employer_id"),
        employer_name=table.column("employer_name"),
        lat=lat,
        lon=lon,
        capacity=capacity,
        period=period.astype(np.int8),
        sector=sector,
        reserved=reserved.astype(bool),
        pair=pair,
        accessible=accessible.astype(bool),
        zone=table.column("zone") if table.has("zone") else None,
        lines=table.lines,
    )
    open_w = offers.open_week
    a, b = members[:, 0], members[:, 1]
    can = (open_w[a, 0] & open_w[b, 1]) | (open_w[b, 0] & open_w[a, 1])
    for k in np.flatnonzero(~can & (capacity[a] > 0) & (capacity[b] > 0)):
        problems.append(
            Problem(
                table.file,
                "deux offres mutualisées ouvertes chacune une semaine différente "
                "(périodes incompatibles)",
                line=int(table.lines[a[k]]),
                column="period",
                value=str(pair_ids[k]),
            )
        )
    raise_if_any(problems)
    return offers, Pairs(ids=pair_ids.astype(object), offers=members, min_group=pair_min)


@dataclass(frozen=True)
class _Signed:
    """One (student, week, offer) fixed by a conventions.csv row, or implied by it for a pair.

    `line` is the line of the row that fixes it; `row_offer` the offer written on that row
    (the partner of `offer` when `implied`).
    """

    student: int
    offer: int
    week: int
    line: int
    row_offer: int
    implied: bool


def _refusal(students: Students, offers: Offers, s: int, o: int, student_id: str) -> str:
    """Why pupil `s` may not hold offer `o` (reserved, accessibility), or '' when it may."""
    if offers.reserved[o] and not students.priority[s]:
        return (f"une offre non réservée (réservée aux élèves prioritaires ; {student_id} "
                "ne l'est pas)")
    if students.needs_accessible[s] and not offers.accessible[o]:
        return (f"une offre accessible (handicap) : {student_id} en a besoin "
                "(needs_accessible), l'offre n'est pas marquée accessible")
    return ""


def read_conventions(path: Path, students: Students, offers: Offers, pairs: Pairs) -> Conventions:
    """Read conventions.csv and check that every agreement fits the rules (spec: conventions)."""
    table = read_table(path, ("student_id", "offer_id"))
    problems: list[Problem] = []
    file = table.file
    signed = _signed_rows(table, students, offers, pairs, problems)
    raise_if_any(problems)
    kept = _one_offer_per_week(file, signed, offers, problems)
    raise_if_any(problems)
    _check_capacity(file, kept, offers, problems)
    raise_if_any(problems)
    return Conventions(
        student=np.array([c.student for c in kept], dtype=np.int64),
        offer=np.array([c.offer for c in kept], dtype=np.int64),
        week=np.array([c.week for c in kept], dtype=np.int64),
        line=np.array([0 if c.implied else c.line for c in kept], dtype=np.int64),
        source_line=np.array([c.line for c in kept], dtype=np.int64),
    )


def _signed_rows(table: Table, students: Students, offers: Offers, pairs: Pairs,
                 problems: list[Problem]) -> list[_Signed]:
    """Each row checked alone, expanded to the weeks it fixes (a pair's implied week too)."""
    s_index = {sid: i for i, sid in enumerate(students.ids)}
    o_index = {oid: i for i, oid in enumerate(offers.ids)}
    s_text, o_text, w_text = (table.column(c) for c in ("student_id", "offer_id", "week"))

    def bad(row: int, column: str, value: str, expected: str) -> None:
        problems.append(
            Problem(table.file, expected, line=int(table.lines[row]), column=column, value=value)
        )

    signed: list[_Signed] = []
    open_w = offers.open_week
    for row in range(len(s_text)):
        s, o = s_index.get(s_text[row]), o_index.get(o_text[row])
        if s is None:
            bad(row, "student_id", s_text[row], "un élève de students.csv")
        if o is None:
            bad(row, "offer_id", o_text[row], "une offre de offers.csv"
                + (f" (convention de l'élève {s_text[row]} : offre retirée ? annuler d'abord "
                   "la convention)" if s is not None else ""))
        if w_text[row] not in ("", "1", "2"):
            bad(row, "week", w_text[row], "1, 2 ou vide (toutes les semaines de l'offre)")
            continue
        if s is None or o is None:
            continue
        line = int(table.lines[row])
        if students.status[s] != "":
            bad(row, "student_id", s_text[row],
                f"un élève à placer (statut « {students.status[s]} » incompatible avec "
                "une convention)")
            continue
        if offers.capacity[o] == 0:
            bad(row, "offer_id", o_text[row],
                f"une offre active (capacité 0 : offre retirée ; annuler d'abord la convention "
                f"de l'élève {s_text[row]})")
            continue
        refusal = _refusal(students, offers, s, o, s_text[row])
        if refusal:
            bad(row, "offer_id", o_text[row], refusal)
            continue
        if w_text[row]:
            weeks = [int(w_text[row])]
            if not open_w[o, weeks[0] - 1]:
                bad(row, "week", w_text[row],
                    f"une semaine où l'offre {o_text[row]} est ouverte "
                    f"(période {offers.period[o]})")
                continue
        else:
            weeks = [w for w in (1, 2) if open_w[o, w - 1]]
            if offers.pair[o] >= 0 and len(weeks) == 2:
                bad(row, "week", "",
                    "la semaine (1 ou 2) : l'offre est mutualisée, l'élève y passe une "
                    "seule semaine")
                continue
        for w in weeks:
            k = offers.pair[o]
            if k < 0:
                signed.append(_Signed(s, o, w, line, o, implied=False))
                continue
            a, b = pairs.offers[k]
            partner = int(b if o == a else a)
            if not open_w[partner, 2 - w]:
                bad(row, "offer_id", o_text[row],
                    f"une offre mutualisée dont la partenaire {offers.ids[partner]} "
                    f"est ouverte la semaine {3 - w}")
                continue
            refusal = _refusal(students, offers, s, partner, s_text[row])
            if refusal:
                bad(row, "offer_id", o_text[row],
                    f"une offre mutualisée dont la partenaire {offers.ids[partner]} convienne "
                    f"({refusal})")
                continue
            signed.append(_Signed(s, o, w, line, o, implied=False))
            signed.append(_Signed(s, partner, 3 - w, line, o, implied=True))
    return signed


def _one_offer_per_week(file: str, signed: list[_Signed], offers: Offers,
                        problems: list[Problem]) -> list[_Signed]:
    """One offer per (student, week): a clash or a row signed twice is reported at the row
    that causes it, naming the earlier row; a pair's week written out in full is merged."""
    ids = offers.ids
    fixed: dict[tuple[int, int], _Signed] = {}
    reported: set[tuple[int, int]] = set()
    for c in signed:
        key = (c.student, c.week)
        other = fixed.get(key)
        if other is None:
            fixed[key] = c
            continue
        if other.offer == c.offer:
            if other.implied and not c.implied:
                fixed[key] = c  # the pair's other half written out: keep its own line
            elif not other.implied and not c.implied and (c.line, other.line) not in reported:
                reported.add((c.line, other.line))
                problems.append(Problem(
                    file,
                    f"une seule ligne par convention : convention en double (semaine "
                    f"{c.week} déjà signée avec {ids[c.offer]}, ligne {other.line})",
                    line=c.line, column="offer_id", value=str(ids[c.row_offer])))
            continue
        if (c.line, other.line) in reported:
            continue
        reported.add((c.line, other.line))
        taken = f"semaine {c.week} déjà signée avec {ids[other.offer]}"
        if other.implied:
            taken += f" (mutualisée avec {ids[other.row_offer]}, ligne {other.line})"
        else:
            taken += f" (ligne {other.line})"
        if c.implied:
            taken += (f" ; {ids[c.row_offer]} est mutualisée avec {ids[c.offer]}, "
                      f"qui occupe la semaine {c.week}")
        problems.append(Problem(file, f"une seule offre par semaine : {taken}",
                                line=c.line, column="offer_id", value=str(ids[c.row_offer])))
    return list(fixed.values())


def _check_capacity(file: str, kept: list[_Signed], offers: Offers,
                    problems: list[Problem]) -> None:
    """Conventions of one offer and week fit its capacity: one problem per (offer, week), at
    the last line that overflows, listing every line."""
    lines: dict[tuple[int, int], list[int]] = {}
    for c in kept:
        lines.setdefault((c.offer, c.week), []).append(c.line)
    for (o, w), found in sorted(lines.items()):
        if len(found) <= offers.capacity[o]:
            continue
        shown = sorted(set(found))
        problems.append(Problem(
            file,
            f"au plus {offers.capacity[o]} convention(s) en semaine {w} pour l'offre "
            f"{offers.ids[o]} (sa capacité) : {len(found)} signées, lignes "
            f"{', '.join(map(str, shown))}",
            line=shown[-1], column="offer_id", value=str(offers.ids[o])))


def merge_pending(signed: Conventions, pending: Conventions, offers: Offers,
                  signed_file: str, pending_file: str) -> Conventions:
    """The signed conventions and the pending ones (sent, not yet signed: `[inputs] pending`,
    beyond the v1 spec) as one set kept by every run. A pending week already signed at the
    same offer is dropped; at another offer it is an error, and so is a week over the
    offer's capacity once both are counted."""
    problems: list[Problem] = []
    taken = {(int(s), int(w)): int(o) for s, o, w in zip(signed.student, signed.offer,
                                                         signed.week, strict=True)}
    keep = np.ones(pending.n, dtype=bool)
    src = pending.source_line if pending.source_line is not None else pending.line
    for c in range(pending.n):
        key = (int(pending.student[c]), int(pending.week[c]))
        if key not in taken:
            continue
        keep[c] = False
        if taken[key] != int(pending.offer[c]):
            problems.append(Problem(
                pending_file, f"une convention en cours compatible avec les conventions "
                f"signées : semaine {key[1]} déjà signée avec {offers.ids[taken[key]]} "
                f"({signed_file})", line=int(src[c]), column="offer_id",
                value=str(offers.ids[pending.offer[c]])))
    raise_if_any(problems)
    merged = Conventions(
        student=np.r_[signed.student, pending.student[keep]],
        offer=np.r_[signed.offer, pending.offer[keep]],
        week=np.r_[signed.week, pending.week[keep]],
        line=np.r_[signed.line, pending.line[keep]],
        source_line=np.r_[signed.source_line if signed.source_line is not None
                          else signed.line, src[keep]],
        pending=np.r_[np.zeros(signed.n, dtype=bool), np.ones(int(keep.sum()), dtype=bool)])
    counts: dict[tuple[int, int], int] = {}
    for o, w in zip(merged.offer, merged.week, strict=True):
        counts[(int(o), int(w))] = counts.get((int(o), int(w)), 0) + 1
    assert merged.source_line is not None and merged.pending is not None
    for (o, w), n in sorted(counts.items()):
        if n > offers.capacity[o]:
            lines = sorted({int(x) for x, p, oo, ww in zip(merged.source_line, merged.pending,
                                                           merged.offer, merged.week,
                                                           strict=True)
                            if p and oo == o and ww == w})
            problems.append(Problem(
                pending_file, f"au plus {offers.capacity[o]} convention(s) signée(s) ou en "
                f"cours en semaine {w} pour l'offre {offers.ids[o]} (sa capacité) : {n}, "
                f"dont les lignes en cours {', '.join(map(str, lines))} (annuler une "
                "convention, ou [repair] free_pending = true)",
                line=lines[-1] if lines else None, column="offer_id", value=str(offers.ids[o])))
    raise_if_any(problems)
    return merged


def read_exclusions(path: Path, students: Students, offers: Offers,
                    conventions: Conventions) -> Exclusions:
    """Read exclusions.csv (`student_id`, `offer_id`: declined pairings, beyond the v1 spec).

    Unknown ids, a pairing listed twice and a pairing a signed convention holds (implied pair
    weeks included: the convention must be cancelled first) are input errors.
    """
    table = read_table(path, ("student_id", "offer_id"))
    problems: list[Problem] = []
    s_index = {sid: i for i, sid in enumerate(students.ids)}
    o_index = {oid: i for i, oid in enumerate(offers.ids)}
    signed = {(int(s), int(o)) for s, o in zip(conventions.student, conventions.offer,
                                               strict=True)}
    seen: dict[tuple[int, int], int] = {}
    s_text, o_text = table.column("student_id"), table.column("offer_id")
    rows_s: list[int] = []
    rows_o: list[int] = []
    rows_line: list[int] = []
    for row in range(len(s_text)):
        line = int(table.lines[row])
        s, o = s_index.get(s_text[row]), o_index.get(o_text[row])
        if s is None:
            problems.append(Problem(table.file, "un élève de students.csv", line, "student_id",
                                    s_text[row]))
        if o is None:
            problems.append(Problem(table.file, "une offre de offers.csv", line, "offer_id",
                                    o_text[row]))
        if s is None or o is None:
            continue
        if (s, o) in seen:
            problems.append(Problem(table.file, f"une seule ligne par exclusion (déjà ligne "
                                    f"{seen[(s, o)]} pour l'élève {s_text[row]})", line,
                                    "offer_id", o_text[row]))
            continue
        seen[(s, o)] = line
        if (s, o) in signed:
            problems.append(Problem(
                table.file, f"une offre sans convention signée pour l'élève {s_text[row]} "
                "(une convention signée ne peut pas être exclue : annuler d'abord la "
                "convention)", line, "offer_id", o_text[row]))
            continue
        rows_s.append(s)
        rows_o.append(o)
        rows_line.append(line)
    raise_if_any(problems)
    return Exclusions(student=np.array(rows_s, dtype=np.int64),
                      offer=np.array(rows_o, dtype=np.int64),
                      line=np.array(rows_line, dtype=np.int64), n_offers=offers.n)

