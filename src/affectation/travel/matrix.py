"""Travel minutes from a zone-to-zone matrix (`[travel] model = "matrix"`).

For coordinators who compute times with another router: a CSV (or XLSX) with the columns
`origin`, `destination`, `minutes` (one way, >= 0). A pupil's origin zone and an offer's
destination zone are the optional `zone` column of students.csv / offers.csv when present
(a row with an empty `zone` falls back to its commune), else the INSEE code of the commune of
the bundled geography whose centroid is nearest (as the fairness audit maps homes; a place
more than `audit.OUTSIDE_KM` from every centroid has no zone). A pair of zones absent from the
matrix is unreachable: list `origin = destination` rows too when pupils may work in their own
zone. Only pupils whose mode is in `[travel.matrix] modes` use the matrix; the others keep the
crowfly model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.errors import Problem, raise_if_any
from affectation.io.tables import parse_float, read_table, report_rows
from affectation.travel.zones import ZoneMinutes


def place_zones(lat: np.ndarray, lon: np.ndarray, given: np.ndarray | None) -> np.ndarray:
    """Each place's zone: the given code when non-empty, else its commune ("" if none)."""
    from affectation.domain.territory import OUTSIDE_KM
    from affectation.geo import nearest_communes
    from affectation.geodata import load_communes

    zones = np.full(len(lat), "", dtype=object) if given is None else given.astype(object)
    todo = np.flatnonzero(zones == "")
    if len(todo):
        communes = load_communes()
        row, km = nearest_communes(lat[todo], lon[todo], communes)
        codes = communes["insee"].to_numpy(dtype=object)[row]
        zones[todo] = np.where(km <= OUTSIDE_KM, codes, "")
    return zones


def read_matrix(path: Path) -> pd.DataFrame:
    """The matrix as (origin, destination, minutes), validated with file, line, column and
    value for every defect; a pair listed twice is an error."""
    table = read_table(path, ("origin", "destination", "minutes"))
    problems: list[Problem] = []
    origin, destination = table.column("origin"), table.column("destination")
    report_rows(table, "origin", origin == "", problems, "un code de zone non vide")
    report_rows(table, "destination", destination == "", problems, "un code de zone non vide")
    minutes = parse_float(table, "minutes", problems, "un nombre de minutes >= 0", 0, np.inf)
    report_rows(table, "minutes", table.column("minutes") == "", problems,
                "un nombre de minutes (obligatoire)")
    frame = pd.DataFrame({"origin": origin, "destination": destination, "minutes": minutes,
                          "line": table.lines})
    dup = frame.duplicated(["origin", "destination"], keep="first").to_numpy()
    if dup.any():
        first = frame[~dup].set_index(["origin", "destination"])["line"]
        for i in np.flatnonzero(dup):
            o, d = frame["origin"].iloc[i], frame["destination"].iloc[i]
            problems.append(Problem(table.file, f"une seule ligne par couple de zones (déjà "
                                    f"ligne {first.loc[(o, d)]})", line=int(frame["line"].iloc[i]),
                                    column="destination", value=str(d)))
    raise_if_any(problems)
    return frame


def matrix_minutes(instance: Instance) -> ZoneMinutes:
    """The matrix model's minutes for the pupils whose mode it covers (others: origin -1)."""
    of = instance.offers
    return _minutes(instance, place_zones(of.lat, of.lon, of.zone))


def matrix_places(instance: Instance, lat: np.ndarray, lon: np.ndarray) -> ZoneMinutes:
    """The matrix's minutes from the pupils' zones to new places (offers imagined at `lat`,
    `lon`, e.g. the sites of `analysis.mobilisation`): each place is in the zone of its
    commune, as an offer without a `zone` cell."""
    return _minutes(instance, place_zones(np.asarray(lat), np.asarray(lon), None))


def _minutes(instance: Instance, site: np.ndarray) -> ZoneMinutes:
    """Minutes from the covered pupils' zones to the destination zones `site` (codes; ""
    for none), one destination per entry."""
    travel = instance.scenario.travel
    params = travel.matrix
    assert params is not None
    st = instance.students
    frame = read_matrix(params.file)
    names = np.array(travel.mode_names, dtype=object)
    covered = np.isin(names[st.mode], list(params.modes)) if st.n else np.zeros(0, bool)
    home = place_zones(st.lat[covered], st.lon[covered],
                       None if st.zone is None else st.zone[covered])
    codes = np.unique(np.concatenate([home, site]).astype(str))
    index = {c: i for i, c in enumerate(codes)}
    origin = np.full(st.n, -1, dtype=np.int64)
    origin[covered] = [index[c] for c in home]
    dest = np.array([index[c] if c else -1 for c in site], dtype=np.int64)
    o = frame["origin"].map(index)
    d = frame["destination"].map(index)
    known = (o.notna() & d.notna()).to_numpy()
    n = len(codes)
    key = o[known].to_numpy(np.int64) * n + d[known].to_numpy(np.int64)
    minutes = frame["minutes"].to_numpy(np.float64)[known]
    order = np.argsort(key, kind="stable")
    return ZoneMinutes(origin_of_student=origin, dest_of_offer=dest, n_dest=n,
                       key=key[order], minutes=minutes[order])
