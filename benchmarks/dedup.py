"""`import-offers` de-duplication speed: N platform-like + N sheet offers of one town (issue 18).

Two sources of one town (Caen), written as CSV files in a temporary folder and imported with
`intake.offers.import_offers` (reading, places, de-duplication, report), the de-duplication
(`intake.dedup.find_duplicates`) also timed alone:

- `sans coordonnées`: every offer gives only its postcode and city, so all of them sit at the
  commune's centroid and the commune is the only place block (the worst case: the issue's
  1,000 + 1,000 took 144 s with the quadratic matcher);
- `coordonnées`: exact positions spread over a 6 km disc around the town centre.

Employers are drawn from trade words and surnames (distinct names mostly); the second source
repeats 40 % of the first's offers (a typo, a legal form or a different case in the name,
another position within 150 m or the same commune) and adds new ones. The target: 10,000 +
10,000 offers in <= 10 s. Prints a table and writes it to `benchmarks/results/dedup.md`.

    python benchmarks/dedup.py [--sizes 1000,10000] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import random
import tempfile
import time
from pathlib import Path

from affectation.intake.dedup import find_duplicates
from affectation.intake.offers import MERGED, import_offers
from affectation.intake.sources import Source

ROOT = Path(__file__).resolve().parents[1]
CAEN = (49.1829, -0.3707)
POSTCODE, CITY = "14000", "Caen"
TRADES = ("Boulangerie", "Garage", "Pharmacie", "Cabinet", "Atelier", "Plomberie", "Coiffure",
          "Restaurant", "Librairie", "Menuiserie", "Électricité", "Fleuriste", "Imprimerie",
          "Agence", "Clinique vétérinaire", "Laboratoire", "Bureau d'études", "Épicerie")
FORMS = ("", "", "", " SARL", " SAS", " EURL")
COLUMNS = ("offer_id", "employer_id", "employer_name", "lat", "lon", "capacity", "period",
           "postcode", "city")


def _surname(rng: random.Random) -> str:
    syllables = ("ma", "ti", "ne", "lo", "ber", "du", "pon", "ri", "car", "le", "va", "mon",
                 "fer", "gan", "ho", "lin", "sé", "ro", "che", "vi")
    return "".join(rng.choice(syllables) for _ in range(rng.randint(3, 5))).capitalize()


def _typo(rng: random.Random, name: str) -> str:
    k = rng.randrange(len(name))
    edit = rng.choice(("drop", "case", "form"))
    if edit == "drop" and len(name) > 12:
        return name[:k] + name[k + 1:]
    if edit == "case":
        return name.upper()
    return name + rng.choice((" SARL", " S.A.S."))


def _point(rng: random.Random, km: float) -> tuple[float, float]:
    r = km * math.sqrt(rng.random())
    a = rng.random() * 2 * math.pi
    lat = CAEN[0] + r * math.cos(a) / 111.2
    lon = CAEN[1] + r * math.sin(a) / (111.2 * math.cos(math.radians(CAEN[0])))
    return round(lat, 6), round(lon, 6)


def sources(folder: Path, n: int, exact: bool, seed: int = 0) -> list[Source]:
    """Write the two sources of `n` offers each; return them in order of trust."""
    rng = random.Random(seed)
    first = []
    for k in range(n):
        name = f"{rng.choice(TRADES)} {_surname(rng)}{rng.choice(FORMS)}"
        lat, lon = _point(rng, 6.0) if exact else ("", "")
        siret = f"{rng.randrange(10**13, 10**14)}" if rng.random() < 0.3 else ""
        first.append({"offer_id": f"P{k}", "employer_id": siret, "employer_name": name,
                      "lat": lat, "lon": lon, "capacity": rng.randint(1, 3),
                      "period": rng.choice((0, 0, 0, 1, 2)), "postcode": POSTCODE,
                      "city": CITY})
    second = []
    for k in range(n):
        if rng.random() < 0.4:
            row = dict(rng.choice(first))
            row["employer_name"] = _typo(rng, row["employer_name"])
            if exact:
                lat, lon = float(row["lat"]), float(row["lon"])
                row["lat"] = round(lat + rng.uniform(-0.001, 0.001), 6)
                row["lon"] = round(lon + rng.uniform(-0.001, 0.001), 6)
            if rng.random() < 0.5:
                row["employer_id"] = ""
        else:
            lat, lon = _point(rng, 6.0) if exact else ("", "")
            row = {"employer_id": "", "employer_name": f"{rng.choice(TRADES)} {_surname(rng)}",
                   "lat": lat, "lon": lon, "capacity": rng.randint(1, 3),
                   "period": rng.choice((0, 0, 0, 1, 2)), "postcode": POSTCODE, "city": CITY}
        row["offer_id"] = f"F{k}"
        second.append(row)
    out = []
    for name, rows in (("plateforme.csv", first), ("tableur.csv", second)):
        path = folder / name
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        out.append(Source(path))
    return out


def measure(n: int, exact: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        specs = sources(Path(tmp), n, exact)
        started = time.perf_counter()
        result = import_offers(specs, default_capacity=1)
        whole = time.perf_counter() - started
    merged = result.count(MERGED)
    flagged = sum("même source" in r.notes for r in result.report)
    with tempfile.TemporaryDirectory() as tmp:
        specs = sources(Path(tmp), n, exact)
        from affectation.intake.offers import _offer_drafts
        from affectation.intake.places import Places
        from affectation.intake.sources import read_sheet

        places = Places()
        cands = [d.candidate for i, s in enumerate(specs)
                 for d in _offer_drafts(s, i, read_sheet(s, COLUMNS, ("offer_id",)), places, 1)
                 if d.candidate is not None]
        started = time.perf_counter()
        find_duplicates(cands)
        alone = time.perf_counter() - started
    return {"case": "coordonnées" if exact else "sans coordonnées", "offers": f"{n} + {n}",
            "import_s": whole, "dedup_s": alone, "merged": merged, "flagged": flagged}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000", help="offers per source, comma-separated")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    rows = [measure(int(n), exact) for n in args.sizes.split(",") for exact in (False, True)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = ["| cas | offres | import-offers (s) | dé-doublonnage seul (s) | fusionnées | "
             "doublons probables (même source) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['offers']} | {r['import_s']:.2f} | "
                     f"{r['dedup_s']:.2f} | {r['merged']} | {r['flagged']} |")
    header = (f"`python benchmarks/dedup.py --sizes {args.sizes}` on {platform.node()} "
              f"({os.cpu_count()} cores), load average {load:.2f} at the end.\n\n")
    text = header + "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dedup.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
