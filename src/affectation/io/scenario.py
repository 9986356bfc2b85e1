"""Reading scenario.toml: each TOML table into its frozen parameter object (`domain.params`),
every problem collected with its key and value; an unknown key is an error, so that a typo
never passes silently (spec: scenario.toml)."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from affectation.domain.params import (
    EQUITY_LEVELS,
    EQUITY_TERRITORIES,
    MAX_DETOUR,
    MAX_MINUTES,
    MAX_SEED,
    MAX_SPEED_KMH,
    MAX_TIME_LIMIT_S,
    MAX_WORKERS,
    REPAIR_MOVE_LEVELS,
    TRAVEL_MODELS,
    AddedLine,
    EquityParams,
    FeedParams,
    GtfsParams,
    InputsParams,
    MatrixParams,
    ModeParams,
    OutputParams,
    RepairParams,
    RulesParams,
    Scenario,
    ScenarioInfo,
    SolverParams,
    TravelParams,
    valid_weeks,
)
from affectation.errors import InputError, Problem

# What an optional input file's absence means, for messages.
_NONE_OF = {"conventions": "pas de conventions", "exclusions": "pas d'exclusions",
            "pending": "pas de conventions en cours"}


class _Reader:
    """Collects problems while reading the scenario's tables."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, key: str, value: Any, expected: str) -> None:
        shown = None if value is None else str(value)
        self.problems.append(Problem(self.file, expected, column=key, value=shown))

    def table(self, data: dict[str, Any], name: str, required: bool) -> dict[str, Any]:
        value = data.get(name)
        if value is None:
            if required:
                self.problem(name, None, f"la table [{name}] est obligatoire")
            return {}
        if not isinstance(value, dict):
            self.problem(name, value, f"[{name}] doit être une table")
            return {}
        return value

    def known_keys(self, table: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in sorted(set(table) - allowed):
            self.problem(
                f"{prefix}.{key}" if prefix else key,
                table[key],
                "clé inconnue (clés possibles : " + ", ".join(sorted(allowed)) + ")",
            )

    def string(self, table: dict[str, Any], prefix: str, key: str, default: Any = ...) -> Any:
        value = table.get(key, default)
        if value is ...:
            self.problem(f"{prefix}.{key}", None, "clé obligatoire manquante")
            return None
        if value is not None and not isinstance(value, str):
            self.problem(f"{prefix}.{key}", value, "une chaîne de caractères")
            return None
        return value

    def number(
        self, table: dict[str, Any], prefix: str, key: str, default: Any = ..., minimum: float = 0,
        maximum: float = math.inf,
    ) -> Any:
        value = table.get(key, default)
        if value is ...:
            self.problem(f"{prefix}.{key}", None, "clé obligatoire manquante")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{prefix}.{key}", value, "un nombre")
            return None
        if not math.isfinite(value) or value < minimum or value > maximum:
            upper = "" if math.isinf(maximum) else f" et <= {maximum:g}"
            self.problem(f"{prefix}.{key}", value, f"un nombre fini >= {minimum:g}{upper}")
            return None
        return float(value)

    def integer(self, table: dict[str, Any], prefix: str, key: str, default: int,
                maximum: int = 2**53) -> Any:
        value = table.get(key, default)
        if (isinstance(value, bool) or not isinstance(value, int) or value < 0
                or value > maximum):
            self.problem(f"{prefix}.{key}", value, f"un entier entre 0 et {maximum}")
            return None
        return value

    def boolean(self, table: dict[str, Any], prefix: str, key: str, default: bool) -> Any:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{prefix}.{key}", value, "true ou false")
            return None
        return value


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; raise `InputError` listing every problem."""
    path = Path(path)
    file = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(str(path), "un fichier de scénario existant")]) from None
    except IsADirectoryError:
        raise InputError(
            [Problem(str(path), "un fichier de scénario (c'est un dossier)")]
        ) from None
    except OSError as exc:
        raise InputError(
            [Problem(str(path), f"un fichier de scénario lisible ({exc.strerror or exc})")]
        ) from None
    if raw.startswith(b"\xef\xbb\xbf"):  # a BOM, as Windows editors may write
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            [Problem(file, "un fichier TOML encodé en UTF-8", line=line)]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([toml_problem(file, text, exc)]) from None
    return parse_scenario(data, path)


_TOML_PLACE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def toml_problem(file: str, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    """The TOML syntax error at its line (column = character position, value = the line)."""
    message = str(exc)
    found = _TOML_PLACE.search(message)
    reason = message[: found.start()] if found else message
    lines = text.splitlines()
    if found and found.group(1):
        line, column = int(found.group(1)), found.group(2)
    else:  # "at end of document": the last line
        line, column = max(len(lines), 1), None
    value = lines[line - 1].strip() if 0 < line <= len(lines) else None
    return Problem(file, f"un fichier TOML valide ({reason})", line=line, column=column,
                   value=value or None)


def parse_scenario(data: dict[str, Any], path: Path) -> Scenario:
    """Build a `Scenario` from the TOML mapping `data` of the file at `path`."""
    r = _Reader(path.name)
    r.known_keys(data, "", {"scenario", "inputs", "travel", "rules", "equity", "solver",
                       "output", "repair"})

    scen = r.table(data, "scenario", required=True)
    r.known_keys(scen, "scenario", _field_names(ScenarioInfo))
    name = r.string(scen, "scenario", "name")
    weeks = scen.get("weeks")
    if weeks is None:
        r.problem("scenario.weeks", None, "clé obligatoire manquante")
    elif not valid_weeks(weeks):
        r.problem("scenario.weeks", weeks,
                  'deux semaines ISO consécutives, ex. ["2026-W25", "2026-W26"]')
    fmt = scen.get("format", 1)
    if type(fmt) is not int or fmt != 1:  # `true == 1` and `1.0 == 1` in Python
        r.problem("scenario.format", fmt, "1 (seule version connue)")

    inp = r.table(data, "inputs", required=True)
    r.known_keys(inp, "inputs", _field_names(InputsParams))
    base = path.parent
    files: dict[str, Path | None] = {}
    for key in ("students", "offers", "conventions", "exclusions", "pending"):
        required = key in ("students", "offers")
        value = r.string(inp, "inputs", key, ... if required else None)
        if value is not None and not value.strip():
            r.problem(f"inputs.{key}", value, "un chemin de fichier non vide"
                      + ("" if required else f" (ou retirer la clé : {_NONE_OF[key]})"))
            value = None
        files[key] = base / value if value else None

    travel = _read_travel(r, r.table(data, "travel", required=True), base)

    rules_t = r.table(data, "rules", required=False)
    r.known_keys(rules_t, "rules", _field_names(RulesParams))
    split = r.boolean(rules_t, "rules", "split_two_week_offers", False)

    equity = _read_equity(r, r.table(data, "equity", required=False))

    solver_t = r.table(data, "solver", required=False)
    r.known_keys(solver_t, "solver", _field_names(SolverParams))
    time_limit = r.number(solver_t, "solver", "time_limit_s", 600.0, minimum=0.1,
                          maximum=MAX_TIME_LIMIT_S)
    seed = r.integer(solver_t, "solver", "seed", 0, maximum=MAX_SEED)
    workers = r.integer(solver_t, "solver", "workers", 1, maximum=MAX_WORKERS)
    if workers == 0:
        r.problem("solver.workers", workers, "un entier >= 1")

    out_t = r.table(data, "output", required=False)
    r.known_keys(out_t, "output", _field_names(OutputParams))
    language = r.string(out_t, "output", "language", "fr")
    if language not in ("fr", "en"):
        r.problem("output.language", language, '"fr" ou "en"')

    repair_t = r.table(data, "repair", required=False)
    r.known_keys(repair_t, "repair", _field_names(RepairParams))
    move_level = r.string(repair_t, "repair", "move_level", "after_total")
    if move_level is not None and move_level not in REPAIR_MOVE_LEVELS:
        r.problem("repair.move_level", move_level, " ou ".join(f'"{v}"'
                                                             for v in REPAIR_MOVE_LEVELS))
    freeze = r.boolean(repair_t, "repair", "freeze_placed", False)
    free_pending = r.boolean(repair_t, "repair", "free_pending", False)
    may_displace = r.boolean(repair_t, "repair", "priority_may_displace", False)

    if r.problems:
        raise InputError(r.problems)
    assert files["students"] is not None and files["offers"] is not None and travel is not None
    assert weeks is not None
    return Scenario(
        path=path,
        scenario=ScenarioInfo(name=name, weeks=(weeks[0], weeks[1]), format=1),
        inputs=InputsParams(
            students=files["students"],
            offers=files["offers"],
            conventions=files["conventions"],
            exclusions=files["exclusions"],
            pending=files["pending"],
        ),
        travel=travel,
        rules=RulesParams(split_two_week_offers=split),
        equity=equity,
        solver=SolverParams(time_limit_s=time_limit, seed=seed, workers=workers),
        output=OutputParams(language=language),
        repair=RepairParams(move_level=move_level, freeze_placed=freeze,
                            free_pending=free_pending, priority_may_displace=may_displace),
    )


def _read_equity(r: _Reader, table: dict[str, Any]) -> EquityParams:
    r.known_keys(table, "equity", _field_names(EquityParams))
    schools = r.boolean(table, "equity", "max_min_schools", False)
    territories = r.string(table, "equity", "max_min_territories", "") or ""
    if territories not in ("", *EQUITY_TERRITORIES):
        r.problem("equity.max_min_territories", territories, '"epci", "department" ou ""')
        territories = ""
    elif territories and schools is True:
        r.problem("equity.max_min_territories", territories,
                  "une seule règle max-min à la fois : max_min_schools = true ou "
                  "max_min_territories, pas les deux")
    level = r.string(table, "equity", "max_min_level", "after_total")
    if level is not None and level not in EQUITY_LEVELS:
        r.problem("equity.max_min_level", level, '"after_total" ou "before_total"')
    weight = r.number(table, "equity", "short_trips_for_priority", 1.0, minimum=1.0,
                      maximum=1000.0)
    return EquityParams(max_min_schools=schools is True, max_min_territories=territories,
                        max_min_level=level, short_trips_for_priority=weight)


def _read_travel(r: _Reader, travel: dict[str, Any], base: Path = Path(".")
                 ) -> TravelParams | None:
    r.known_keys(travel, "travel", {"model", "default_mode", "modes", "gtfs", "matrix"})
    model = r.string(travel, "travel", "model")
    if model is not None and model not in TRAVEL_MODELS:
        r.problem("travel.model", model, '"crowfly", "gtfs" ou "matrix"')
    default_mode = r.string(travel, "travel", "default_mode")
    modes_t = travel.get("modes")
    if not isinstance(modes_t, dict) or not modes_t:
        r.problem("travel.modes", modes_t, "au moins une table [travel.modes.NOM]")
        return None
    modes: dict[str, ModeParams] = {}
    for mode, table in modes_t.items():
        prefix = f"travel.modes.{mode}"
        if not isinstance(table, dict):
            r.problem(prefix, table, "une table")
            continue
        r.known_keys(table, prefix, _field_names(ModeParams))
        values = {
            "speed_kmh": r.number(table, prefix, "speed_kmh", minimum=1e-6,
                                  maximum=MAX_SPEED_KMH),
            "detour": r.number(table, prefix, "detour", minimum=1.0, maximum=MAX_DETOUR),
            "access_minutes": r.number(table, prefix, "access_minutes", maximum=MAX_MINUTES),
            "max_minutes": r.number(table, prefix, "max_minutes", maximum=MAX_MINUTES),
        }
        if all(v is not None for v in values.values()):
            modes[mode] = ModeParams(**values)
    if default_mode is not None and default_mode not in modes_t:
        r.problem("travel.default_mode", default_mode, "un des modes définis dans [travel.modes]")
    gtfs = _read_gtfs(r, travel, base, tuple(modes_t), model == "gtfs")
    matrix = _read_matrix(r, travel, base, tuple(modes_t), model == "matrix")
    if r.problems:
        return None
    return TravelParams(model=model, default_mode=default_mode, modes=modes, gtfs=gtfs,
                        matrix=matrix)


_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(r: _Reader, table: dict[str, Any], prefix: str, key: str, default: str) -> Any:
    """A time of day "HH:MM" as seconds after midnight."""
    value = table.get(key, default)
    found = _CLOCK.match(value) if isinstance(value, str) else None
    if found is None:
        r.problem(f"{prefix}.{key}", value, 'une heure "HH:MM" (ex. "09:00")')
        return None
    return int(found.group(1)) * 3600 + int(found.group(2)) * 60


def _mode_list(r: _Reader, table: dict[str, Any], prefix: str, known: tuple[str, ...],
               default: Any = ...) -> tuple[str, ...]:
    value = table.get("modes", default)
    if value is ...:
        r.problem(f"{prefix}.modes", None, "clé obligatoire manquante (modes concernés)")
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        r.problem(f"{prefix}.modes", value, 'une liste de modes, ex. ["public"]')
        return ()
    for m in value:
        if m not in known:
            r.problem(f"{prefix}.modes", m, "un des modes définis dans [travel.modes]")
    return tuple(value)


def _sub_table(r: _Reader, travel: dict[str, Any], name: str, used: bool) -> Any:
    table = travel.get(name)
    if table is None:
        if used:
            r.problem(f"travel.{name}", None, f"la table [travel.{name}] est obligatoire avec "
                      f'model = "{name}"')
        return None
    if not isinstance(table, dict):
        r.problem(f"travel.{name}", table, "une table")
        return None
    return table


def _read_gtfs(r: _Reader, travel: dict[str, Any], base: Path, known: tuple[str, ...],
               used: bool) -> GtfsParams | None:
    """`[travel.gtfs]` (read whenever present, so that a typo is caught before it is used)."""
    table = _sub_table(r, travel, "gtfs", used)
    if table is None:
        return None
    p = "travel.gtfs"
    r.known_keys(table, p, _field_names(GtfsParams))
    feeds: list[FeedParams] = []
    raw_feeds = table.get("feeds", [] if table.get("added_lines") else None)
    if not isinstance(raw_feeds, list) or not raw_feeds and not table.get("added_lines"):
        r.problem(f"{p}.feeds", raw_feeds, 'une liste de flux GTFS, ex. ["reseau.zip"] ou '
                  '[{ path = "sncf.zip", shift_weeks = 652 }]')
        raw_feeds = []
    for item in raw_feeds:
        if isinstance(item, str) and item.strip():
            feeds.append(FeedParams(base / item))
        elif isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"]:
            r.known_keys(item, f"{p}.feeds", {"path", "shift_weeks"})
            shift = item.get("shift_weeks", 0)
            if isinstance(shift, bool) or not isinstance(shift, int) or abs(shift) > 5200:
                r.problem(f"{p}.feeds.shift_weeks", shift, "un nombre entier de semaines "
                          "(au plus 5200 : un siècle)")
                shift = 0
            feeds.append(FeedParams(base / item["path"], shift))
        else:
            r.problem(f"{p}.feeds", item, 'un chemin ou { path = "...", shift_weeks = N }')
    modes = _mode_list(r, table, p, known)
    values = {
        "arrive_by": _clock(r, table, p, "arrive_by", "09:00"),
        "leave_after": _clock(r, table, p, "leave_after", "16:30"),
        "walk_kmh": r.number(table, p, "walk_kmh", 4.5, minimum=0.1, maximum=50.0),
        "max_walk_m": r.number(table, p, "max_walk_m", 1000.0, maximum=100_000.0),
        "max_transfers": r.integer(table, p, "max_transfers", 2, maximum=20),
        "min_transfer_minutes": r.number(table, p, "min_transfer_minutes", 2.0,
                                         maximum=MAX_MINUTES),
        "window_minutes": r.number(table, p, "window_minutes", 120.0, minimum=1.0,
                                   maximum=MAX_MINUTES),
        "zone_m": r.number(table, p, "zone_m", 200.0, minimum=1.0, maximum=100_000.0),
    }
    lines = _read_added_lines(r, table.get("added_lines", []), f"{p}.added_lines")
    if any(v is None for v in values.values()) or not feeds and not lines:
        return None
    return GtfsParams(feeds=tuple(feeds), modes=modes, added_lines=lines, **values)


def _read_added_lines(r: _Reader, raw: Any, p: str) -> tuple[AddedLine, ...]:
    if not isinstance(raw, list):
        r.problem(p, raw, "une liste de tables [[travel.gtfs.added_lines]]")
        return ()
    lines: list[AddedLine] = []
    for k, item in enumerate(raw):
        q = f"{p}[{k}]"
        if not isinstance(item, dict):
            r.problem(q, item, "une table")
            continue
        r.known_keys(item, q, _field_names(AddedLine))
        name = r.string(item, q, "name", f"ligne ajoutée {k + 1}")
        communes = item.get("communes")
        if (not isinstance(communes, list) or len(communes) < 2
                or not all(isinstance(c, str) for c in communes)):
            r.problem(f"{q}.communes", communes, 'au moins deux codes INSEE, ex. ["14118", '
                      '"14341"]')
            continue
        times = item.get("departures")
        if not isinstance(times, list) or not times:
            r.problem(f"{q}.departures", times, 'une liste d\'heures, ex. ["07:10", "17:05"]')
            continue
        departures = tuple(_clock(r, {"t": t}, f"{q}.departures", "t", "") for t in times)
        minutes = item.get("minutes", 10)
        if isinstance(minutes, int | float) and not isinstance(minutes, bool):
            minutes = [minutes] * (len(communes) - 1)
        if (not isinstance(minutes, list) or len(minutes) != len(communes) - 1
                or not all(isinstance(m, int | float) and not isinstance(m, bool)
                           and 0 < m <= MAX_MINUTES for m in minutes)):
            r.problem(f"{q}.minutes", minutes, "un temps de parcours > 0 (minutes) entre "
                      "arrêts, ou une liste d'un temps par tronçon")
            continue
        both = r.boolean(item, q, "both_directions", True)
        if name is None or both is None or any(d is None for d in departures):
            continue
        lines.append(AddedLine(name=name, communes=tuple(communes), departures=departures,
                               minutes=tuple(float(m) for m in minutes), both_directions=both))
    return tuple(lines)


def _read_matrix(r: _Reader, travel: dict[str, Any], base: Path, known: tuple[str, ...],
                 used: bool) -> MatrixParams | None:
    table = _sub_table(r, travel, "matrix", used)
    if table is None:
        return None
    p = "travel.matrix"
    r.known_keys(table, p, {"file", "modes"})
    file = r.string(table, p, "file")
    modes = _mode_list(r, table, p, known, default=list(known))
    if not file:
        if file is not None:
            r.problem(f"{p}.file", file, "un chemin de fichier CSV non vide")
        return None
    return MatrixParams(file=base / file, modes=modes)
