"""The national platform's 51 sectors: names to codes `s1`...`s51`.

The platform's search output gives a sector's name, the v1 files its code; importers match a
name without regard to case, accents, punctuation or a parenthesised abbreviation
("BATIMENT et travaux publics" is `s10`).
"""

from __future__ import annotations

import re
import unicodedata

from affectation.domain.instance import SECTOR

SECTOR_NAMES: dict[str, str] = {
    "s1": "Agroéquipement",
    "s2": "Architecture, urbanisme et paysage",
    "s3": "Armée - Défense",
    "s4": "Art et design",
    "s5": "Artisanat d'art",
    "s6": "Arts du spectacle",
    "s7": "Audiovisuel",
    "s8": "Automobile",
    "s9": "Banque et assurance",
    "s10": "Bâtiment et travaux publics (BTP)",
    "s11": "Bien-être",
    "s12": "Commerce et distribution",
    "s13": "Communication",
    "s14": "Comptabilité, gestion, ressources humaines",
    "s15": "Conseil et audit",
    "s16": "Construction aéronautique, ferroviaire et navale",
    "s17": "Culture et patrimoine",
    "s18": "Droit et justice",
    "s19": "Édition, librairie, bibliothèque",
    "s20": "Électronique",
    "s21": "Énergie",
    "s22": "Enseignement",
    "s23": "Environnement",
    "s24": "Filière bois",
    "s25": "Fonction publique",
    "s26": "Hôtellerie, restauration",
    "s27": "Immobilier, transactions immobilières",
    "s28": "Industrie alimentaire",
    "s29": "Industrie chimique",
    "s30": "Industrie, ingénierie industrielle",
    "s31": "Informatique et réseaux",
    "s32": "Jeu vidéo",
    "s33": "Journalisme",
    "s34": "Logistique et transport",
    "s35": "Maintenance",
    "s36": "Marketing, publicité",
    "s37": "Mécanique",
    "s38": "Métiers d'art",
    "s39": "Mode",
    "s40": "Papiers Cartons",
    "s41": "Paramédical",
    "s42": "Recherche",
    "s43": "Santé",
    "s44": "Sécurité",
    "s45": "Services postaux",
    "s46": "Social",
    "s47": "Sport",
    "s48": "Tourisme",
    "s49": "Traduction, interprétation",
    "s50": "Verre, béton, céramique",
    "s51": "Agriculture",
}


def plain_words(text: str) -> str:
    """Lower-case ASCII words separated by one space: 'Hôtellerie, restauration' ->
    'hotellerie restauration'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for code, name in SECTOR_NAMES.items():
        keys[plain_words(name)] = code
        keys[plain_words(re.sub(r"\(.*?\)", "", name))] = code  # without "(BTP)"
    return keys


_BY_KEY = _keys()


def sector_code(text: str) -> str | None:
    """The code of a sector given by its code or its name, or None when unknown."""
    text = text.strip()
    if SECTOR.match(text):
        return text
    return _BY_KEY.get(plain_words(text))
