"""Scenario parameters: every setting, its default, read table by table from scenario.toml.

Each TOML table maps to one frozen dataclass. A key the engine does not know is an error, so
that a typo never passes silently (spec: scenario.toml).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from affectation.errors import InputError, Problem

ISO_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


@dataclass(frozen=True)
class ScenarioInfo:
    """`[scenario]`: the campaign's name and its two consecutive ISO weeks."""

    name: str
    weeks: tuple[str, str]
    format: int = 1


@dataclass(frozen=True)
class InputsParams:
    """`[inputs]`: input files, resolved against the scenario file's folder."""

    students: Path
    offers: Path
    conventions: Path | None = None


@dataclass(frozen=True)
class ModeParams:
    """`[travel.modes.NAME]`: the crowfly model's four parameters for one travel mode."""

    speed_kmh: float
    detour: float
    access_minutes: float
    max_minutes: float


@dataclass(frozen=True)
class TravelParams:
    """`[travel]`: which model computes travel minutes, and the modes pupils may use."""

    model: str
    default_mode: str
    modes: dict[str, ModeParams]

    @property
    def mode_names(self) -> tuple[str, ...]:
        return tuple(self.modes)


@dataclass(frozen=True)
class RulesParams:
    """`[rules]`: optional placement rules.

    `split_two_week_offers`: when false (default), an offer open for both weeks hosts each
    of its pupils for both weeks; only one-week offers (period 1 or 2) take one-week stays
    (in a split or a partial placement). When true, a two-week offer may also host a pupil
    for one week only.
    """

    split_two_week_offers: bool = False


EQUITY_TERRITORIES = ("epci", "department")
EQUITY_LEVELS = ("after_total", "before_total")


@dataclass(frozen=True)
class EquityParams:
    """`[equity]`: optional equal-opportunity rules (priority pupils first is always on).

    `max_min_schools`: maximise the lowest placement rate (pupils placed for both weeks over
    pupils to place) among schools, then the next lowest, and so on (leximin).
    `max_min_territories`: the same among the territories of the pupils' homes, `"epci"` or
    `"department"` (empty: off). One grouping at a time: schools or territories.
    `max_min_level`: where that level sits in the objective: `"after_total"` (default: among
    allocations placing the most pupils) or `"before_total"` (the lowest rate may cost total
    placements). Always below level 1 (priority pupils placed).
    `short_trips_for_priority`: weight of a priority pupil's travel minutes in the travel
    level of the objective (1 = like everyone; 2 = each of their minutes counts double).
    """

    max_min_schools: bool = False
    max_min_territories: str = ""
    max_min_level: str = "after_total"
    short_trips_for_priority: float = 1.0

    @property
    def max_min_groups(self) -> str:
        """The grouping levelled by the max-min rule: "school", a territory, or ""."""
        return "school" if self.max_min_schools else self.max_min_territories


@dataclass(frozen=True)
class SolverParams:
    """`[solver]`: the time budget of the whole solve step, the seed and CP-SAT workers.

    One worker (default) keeps results byte-identical for a seed; more workers let CP-SAT
    search in parallel, and runs with the same seed may then differ (never in validity).
    """

    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 1


@dataclass(frozen=True)
class OutputParams:
    """`[output]`: the language of what users read (reasons, explanations)."""

    language: str = "fr"


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file, its tables as parameter objects."""

    path: Path
    scenario: ScenarioInfo
    inputs: InputsParams
    travel: TravelParams
    rules: RulesParams = field(default_factory=RulesParams)
    equity: EquityParams = field(default_factory=EquityParams)
    solver: SolverParams = field(default_factory=SolverParams)
    output: OutputParams = field(default_factory=OutputParams)

    @property
    def name(self) -> str:
        return self.scenario.name


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
        self, table: dict[str, Any], prefix: str, key: str, default: Any = ..., minimum: float = 0
    ) -> Any:
        value = table.get(key, default)
        if value is ...:
            self.problem(f"{prefix}.{key}", None, "clé obligatoire manquante")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{prefix}.{key}", value, "un nombre")
            return None
        if not math.isfinite(value) or value < minimum:
            self.problem(f"{prefix}.{key}", value, f"un nombre fini >= {minimum}")
            return None
        return float(value)

    def integer(self, table: dict[str, Any], prefix: str, key: str, default: int) -> Any:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(f"{prefix}.{key}", value, "un entier >= 0")
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
        raise InputError([_toml_problem(file, text, exc)]) from None
    return parse_scenario(data, path)


_TOML_PLACE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _toml_problem(file: str, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
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
                       "output"})

    scen = r.table(data, "scenario", required=True)
    r.known_keys(scen, "scenario", _field_names(ScenarioInfo))
    name = r.string(scen, "scenario", "name")
    weeks = scen.get("weeks")
    if weeks is None:
        r.problem("scenario.weeks", None, "clé obligatoire manquante")
    elif not _valid_weeks(weeks):
        r.problem("scenario.weeks", weeks,
                  'deux semaines ISO consécutives, ex. ["2026-W25", "2026-W26"]')
    fmt = scen.get("format", 1)
    if type(fmt) is not int or fmt != 1:  # `true == 1` and `1.0 == 1` in Python
        r.problem("scenario.format", fmt, "1 (seule version connue)")

    inp = r.table(data, "inputs", required=True)
    r.known_keys(inp, "inputs", _field_names(InputsParams))
    base = path.parent
    files: dict[str, Path | None] = {}
    for key in ("students", "offers", "conventions"):
        required = key in ("students", "offers")
        value = r.string(inp, "inputs", key, ... if required else None)
        if value is not None and not value.strip():
            r.problem(f"inputs.{key}", value, "un chemin de fichier non vide"
                      + ("" if required else " (ou retirer la clé : pas de conventions)"))
            value = None
        files[key] = base / value if value else None

    travel = _read_travel(r, r.table(data, "travel", required=True))

    rules_t = r.table(data, "rules", required=False)
    r.known_keys(rules_t, "rules", _field_names(RulesParams))
    split = r.boolean(rules_t, "rules", "split_two_week_offers", False)

    equity = _read_equity(r, r.table(data, "equity", required=False))

    solver_t = r.table(data, "solver", required=False)
    r.known_keys(solver_t, "solver", _field_names(SolverParams))
    time_limit = r.number(solver_t, "solver", "time_limit_s", 60.0, minimum=0.1)
    seed = r.integer(solver_t, "solver", "seed", 0)
    workers = r.integer(solver_t, "solver", "workers", 1)
    if workers == 0:
        r.problem("solver.workers", workers, "un entier >= 1")

    out_t = r.table(data, "output", required=False)
    r.known_keys(out_t, "output", _field_names(OutputParams))
    language = r.string(out_t, "output", "language", "fr")
    if language not in ("fr", "en"):
        r.problem("output.language", language, '"fr" ou "en"')

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
        ),
        travel=travel,
        rules=RulesParams(split_two_week_offers=split),
        equity=equity,
        solver=SolverParams(time_limit_s=time_limit, seed=seed, workers=workers),
        output=OutputParams(language=language),
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
    weight = r.number(table, "equity", "short_trips_for_priority", 1.0, minimum=1.0)
    return EquityParams(max_min_schools=schools is True, max_min_territories=territories,
                        max_min_level=level, short_trips_for_priority=weight)


def _valid_weeks(weeks: Any) -> bool:
    if not isinstance(weeks, list) or len(weeks) != 2:
        return False
    if not all(isinstance(w, str) and ISO_WEEK.match(w) for w in weeks):
        return False
    (y1, w1), (y2, w2) = ((int(w[:4]), int(w[6:])) for w in weeks)
    try:
        first = date.fromisocalendar(y1, w1, 1)
        second = date.fromisocalendar(y2, w2, 1)
    except ValueError:
        return False
    return second - first == timedelta(days=7)


def _read_travel(r: _Reader, travel: dict[str, Any]) -> TravelParams | None:
    r.known_keys(travel, "travel", {"model", "default_mode", "modes"})
    model = r.string(travel, "travel", "model")
    if model is not None and model != "crowfly":
        r.problem("travel.model", model, '"crowfly" (seul modèle disponible)')
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
            "speed_kmh": r.number(table, prefix, "speed_kmh", minimum=1e-6),
            "detour": r.number(table, prefix, "detour", minimum=1.0),
            "access_minutes": r.number(table, prefix, "access_minutes"),
            "max_minutes": r.number(table, prefix, "max_minutes"),
        }
        if all(v is not None for v in values.values()):
            modes[mode] = ModeParams(**values)
    if default_mode is not None and default_mode not in modes_t:
        r.problem("travel.default_mode", default_mode, "un des modes définis dans [travel.modes]")
    if r.problems:
        return None
    return TravelParams(model=model, default_mode=default_mode, modes=modes)
