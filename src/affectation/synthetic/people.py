"""Fake personal details for a scenario's pupils, schools, employers and offers, for tests,
benchmarks and demonstrations of the campaign store: deterministic (a seed gives the same
bytes), French-looking names with every accent and ligature an agreement must print
(é, è, ë, ç, œ, Æ...), phone numbers and e-mail addresses of the reserved example domains.

Nothing here is real: names are drawn from short lists, addresses are "N rue ..." in the
commune of the pupil's school. No third-party generator is needed for this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIRST = ("Éloïse", "Chloé", "Noémie", "Zoé", "Inès", "Léa", "Maëlle", "Anaïs", "Héloïse",
         "Gaëlle", "Lucas", "Noé", "Raphaël", "Mathéo", "Loïc", "François", "Jérôme", "Joël",
         "Théo", "Aurélien", "Cédric", "Hélène", "Clémence", "Bérénice", "Ophélie", "Adèle",
         "Yaël", "Ángel", "Zoë", "Ilyès")
LAST = ("Lefèvre", "Leroy", "Moreau", "Dupré", "Bœuf", "Lætitia-Guérin", "Gérard", "Benoît",
        "Façon", "Hébert", "Mercier", "Bréhon", "Le Dû", "Noël", "Pâris", "Duchêne",
        "Lemaître", "Giraud", "Régnier", "Çelik", "Nguyễn", "Ménard", "Cœur", "Vasseur",
        "Jézéquel", "Marchal", "Œuvrard", "Dufour", "Fontaine", "Lacroix")
STREETS = ("rue de la République", "rue Saint-Étienne", "avenue de Bretagne", "rue du Général "
           "Leclerc", "boulevard Maréchal Juin", "place de l'Église", "rue des Œillets",
           "chemin des Prés", "rue Écuyère", "quai de la Londe")
ROLES = ("Responsable des ressources humaines", "Gérant(e)", "Directeur(rice) d'agence",
         "Cheffe de service", "Président(e)")
TUTOR_ROLES = ("Technicien(ne)", "Chargé(e) de mission", "Responsable d'atelier",
               "Infirmier(ère)", "Commercial(e)", "Ingénieur(e)")
SCHEDULES = ("lun-ven 09:00-12:00 13:30-16:30", "lun-ven 08:30-12:00 13:30-16:00",
             "lun-jeu 09:00-12:00 14:00-17:00; ven 09:00-12:00",
             "lun-ven 08:00-12:00 13:00-15:30")


def _phone(rng: np.random.Generator, n: int, mobile: bool = True) -> list[str]:
    prefix = "06" if mobile else "02"
    digits = rng.integers(0, 100_000_000, size=n)
    return [f"{prefix}{d:08d}" for d in digits]


def _slug(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in plain if c.isalnum() and c.isascii())


def people_details(students: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One row per pupil: the columns `campaign people` reads."""
    rng = np.random.default_rng([seed, 15, 1])
    n = len(students)
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    rep_first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    teacher_first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    teacher_last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    days = rng.integers(0, 365, n)
    births = pd.Timestamp("2010-01-01") + pd.to_timedelta(days, unit="D")
    street = np.array(STREETS, dtype=object)[rng.integers(0, len(STREETS), n)]
    number = rng.integers(1, 120, n)
    has_rep2 = rng.random(n) < 0.6
    return pd.DataFrame({
        "student_id": students["student_id"].to_numpy(),
        "last_name": last, "first_name": first,
        "birth_date": births.strftime("%d/%m/%Y"),
        "class": [f"2nde {k}" for k in rng.integers(1, 10, n)],
        "address": [f"{k} {s}" for k, s in zip(number, street, strict=True)],
        "phone": _phone(rng, n),
        "email": [f"{_slug(f)}.{_slug(lname)}{k}@example.fr"
                  for k, (f, lname) in enumerate(zip(first, last, strict=True))],
        "rep1_name": [f"{f} {lname}" for f, lname in zip(rep_first, last, strict=True)],
        "rep1_email": [f"famille.{_slug(lname)}{k}@example.org" for k, lname in enumerate(last)],
        "rep1_phone": _phone(rng, n),
        "rep2_name": [f"{f} {lname}" if h else "" for f, lname, h in zip(
            np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)], last, has_rep2,
            strict=True)],
        "rep2_email": "", "rep2_phone": "",
        "teacher_name": [f"{f} {lname}" for f, lname in zip(teacher_first, teacher_last,
                                                            strict=True)],
        "teacher_email": [f"{_slug(f)}.{_slug(lname)}@example.edu" for f, lname in zip(
            teacher_first, teacher_last, strict=True)],
        "teacher_phone": _phone(rng, n, mobile=False),
        "pai": np.where(rng.random(n) < 0.04, "oui", "non"),
    })


def school_details(school_ids: list[str], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 15, 2])
    n = len(school_ids)
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    return pd.DataFrame({
        "school_id": school_ids,
        "address": [f"{k} {s}" for k, s in zip(rng.integers(1, 60, n), np.array(
            STREETS, dtype=object)[rng.integers(0, len(STREETS), n)], strict=True)],
        "postcode": [f"{14000 + k:05d}" for k in rng.integers(0, 999, n)],
        "legal_status": np.where(rng.random(n) < 0.85, "public", "privé"),
        "delegation_date": [f"{d:02d}/09/2025" for d in rng.integers(1, 29, n)],
        "head_name": [f"{f} {lname}" for f, lname in zip(first, last, strict=True)],
        "head_role": "Proviseur(e)",
        "email": [f"ce.{u.lower()}@example.edu" for u in school_ids],
        "phone": _phone(rng, n, mobile=False),
    })


def employer_details(offers: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 15, 3])
    firms = offers[offers["employer_id"].astype(str) != ""].drop_duplicates("employer_id")
    n = len(firms)
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    names = firms["employer_name"].astype(str).to_numpy()
    return pd.DataFrame({
        "employer_id": firms["employer_id"].to_numpy(),
        "address": [f"{k} {s}" for k, s in zip(rng.integers(1, 200, n), np.array(
            STREETS, dtype=object)[rng.integers(0, len(STREETS), n)], strict=True)],
        "description": [f"{nm} accueille des élèves de seconde pour découvrir ses métiers."
                        [:275] for nm in names],
        "website": [f"https://www.example.com/{k}" for k in range(n)],
        "representative_name": [f"{f} {lname}" for f, lname in zip(first, last, strict=True)],
        "representative_role": np.array(ROLES, dtype=object)[rng.integers(0, len(ROLES), n)],
        "email": [f"contact{k}@example.com" for k in range(n)],
        "phone": _phone(rng, n, mobile=False),
    })


def offer_details(offers: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 15, 4])
    n = len(offers)
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    names = offers["employer_name"].astype(str).to_numpy()
    return pd.DataFrame({
        "offer_id": offers["offer_id"].to_numpy(),
        "title": [f"Découverte des métiers – {nm}"[:150] for nm in names],
        "description": ["Observation des équipes, de l'accueil du public et des outils ; "
                        "échanges avec les professionnels sur leur parcours." for _ in range(n)],
        "street": [f"{k} {s}" for k, s in zip(rng.integers(1, 200, n), np.array(
            STREETS, dtype=object)[rng.integers(0, len(STREETS), n)], strict=True)],
        "postcode": [f"{14000 + k:05d}" for k in rng.integers(0, 999, n)],
        "city": "Caen",
        "permalink": [f"https://stages.example.fr/offres/{o}" for o in offers["offer_id"]],
        "schedule": np.array(SCHEDULES, dtype=object)[rng.integers(0, len(SCHEDULES), n)],
        "meals": "Restaurant d'entreprise, repas à la charge de la famille.",
        "tutor_name": [f"{f} {lname}" for f, lname in zip(first, last, strict=True)],
        "tutor_role": np.array(TUTOR_ROLES, dtype=object)[rng.integers(0, len(TUTOR_ROLES),
                                                                       n)],
        "tutor_email": [f"tuteur{k}@example.com" for k in range(n)],
        "tutor_phone": _phone(rng, n),
    })


DETAIL_FILES = {"people": "eleves.csv", "schools": "etablissements.csv",
                "employers": "employeurs.csv", "offers": "offres-details.csv"}


def write_details(scenario_dir: Path, out_dir: Path, seed: int = 0) -> dict[str, Path]:
    """Write the four detail files for the scenario's `students.csv` and `offers.csv`."""
    from affectation.io.atomic import write_files

    students = pd.read_csv(Path(scenario_dir) / "students.csv", dtype=str,
                           keep_default_na=False)
    offers = pd.read_csv(Path(scenario_dir) / "offers.csv", dtype=str, keep_default_na=False)
    if "employer_id" not in offers:
        offers["employer_id"] = ""
    if "employer_name" not in offers:
        offers["employer_name"] = ""
    frames = {
        "people": people_details(students, seed),
        "schools": school_details(sorted(set(students["school_id"])), seed),
        "employers": employer_details(offers, seed),
        "offers": offer_details(offers, seed),
    }
    paths = {k: Path(out_dir) / DETAIL_FILES[k] for k in frames}
    write_files({paths[k]: f.to_csv(index=False, lineterminator="\n")
                 for k, f in frames.items()})
    return paths
