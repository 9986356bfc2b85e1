"""scenario.toml: defaults, required keys, unknown keys, format and weeks (spec: scenario.toml)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from affectation.domain.params import Scenario
from affectation.errors import InputError
from affectation.io.scenario import load_scenario

MINIMAL = """\
[scenario]
name = "mini"
weeks = ["2026-W25", "2026-W26"]

[inputs]
students = "students.csv"
offers = "offers.csv"

[travel]
model = "crowfly"
default_mode = "public"

[travel.modes.public]
speed_kmh = 22.0
detour = 1.3
access_minutes = 10.0
max_minutes = 45.0
"""

FULL = MINIMAL + """
[travel.modes.car]
speed_kmh = 50
detour = 1.3
access_minutes = 5
max_minutes = 40

[rules]
split_two_week_offers = true

[solver]
time_limit_s = 12.5
seed = 7
workers = 4

[output]
language = "en"
"""


def _load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def _problems(tmp_path: Path, text: str) -> list[tuple[str | None, str | None]]:
    with pytest.raises(InputError) as err:
        _load(tmp_path, text)
    assert all(p.file == "scenario.toml" for p in err.value.problems)
    return [(p.column, p.value) for p in err.value.problems]


def _columns(tmp_path: Path, text: str) -> list[str | None]:
    return [column for column, _ in _problems(tmp_path, text)]


def test_defaults(tmp_path: Path) -> None:
    s = _load(tmp_path, MINIMAL)
    assert s.name == "mini"
    assert s.scenario.weeks == ("2026-W25", "2026-W26")
    assert s.scenario.format == 1
    assert s.rules.split_two_week_offers is False
    assert s.solver.time_limit_s == 600
    assert s.solver.seed == 0
    assert s.solver.workers >= 1
    assert s.output.language == "fr"
    assert s.inputs.conventions is None
    assert s.travel.mode_names == ("public",)


def test_every_value_is_read(tmp_path: Path) -> None:
    s = _load(tmp_path, FULL)
    assert s.travel.model == "crowfly"
    assert s.travel.default_mode == "public"
    assert s.travel.mode_names == ("public", "car")
    car = s.travel.modes["car"]
    assert (car.speed_kmh, car.detour, car.access_minutes, car.max_minutes) == (50, 1.3, 5, 40)
    assert isinstance(car.speed_kmh, float)
    assert s.rules.split_two_week_offers is True
    assert (s.solver.time_limit_s, s.solver.seed, s.solver.workers) == (12.5, 7, 4)
    assert s.output.language == "en"


def test_input_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    folder = tmp_path / "campagne"
    folder.mkdir()
    path = folder / "scenario.toml"
    path.write_text(MINIMAL.replace('offers = "offers.csv"',
                                    'offers = "data/offers.csv"\nconventions = "conv.csv"'),
                    encoding="utf-8")
    s = load_scenario(path)
    assert s.path == path
    assert s.inputs.students == folder / "students.csv"
    assert s.inputs.offers == folder / "data" / "offers.csv"
    assert s.inputs.conventions == folder / "conv.csv"


def test_equity_rules_are_read(tmp_path: Path) -> None:
    off = _load(tmp_path, MINIMAL).equity
    assert (off.max_min_groups, off.max_min_level, off.short_trips_for_priority) == (
        "", "after_total", 1.0)
    on = _load(tmp_path, MINIMAL + '[equity]\nmax_min_territories = "epci"\n'
               'max_min_level = "before_total"\nshort_trips_for_priority = 2\n').equity
    assert (on.max_min_groups, on.max_min_level, on.short_trips_for_priority) == (
        "epci", "before_total", 2.0)
    assert _load(tmp_path, MINIMAL + "[equity]\nmax_min_schools = true\n"
                 ).equity.max_min_groups == "school"


def test_parameters_are_frozen(tmp_path: Path) -> None:
    s = _load(tmp_path, MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.solver.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("old", "new", "dotted"),
    [
        ('name = "mini"', 'name = "mini"\nnom = "x"', "scenario.nom"),
        ('offers = "offers.csv"', 'offers = "offers.csv"\nstudent = "s.csv"', "inputs.student"),
        ('model = "crowfly"', 'model = "crowfly"\ndefault = "car"', "travel.default"),
        ("detour = 1.3", "detour = 1.3\nspeed = 20", "travel.modes.public.speed"),
        ("", "[rules]\nsplit_two_week_offer = true\n", "rules.split_two_week_offer"),
        ("", "[solver]\ntimelimit = 5\n", "solver.timelimit"),
        ("", "[output]\nlang = 'fr'\n", "output.lang"),
        ("", "[solvers]\nseed = 1\n", "solvers"),
        ("", 'time_limit_s = 5\n', "time_limit_s"),
    ],
)
def test_unknown_key_is_rejected_with_its_dotted_name(tmp_path: Path, old: str, new: str,
                                                       dotted: str) -> None:
    if old:
        assert old in MINIMAL
        text = MINIMAL.replace(old, new)
    else:
        text = (new + MINIMAL) if not new.startswith("[") else (MINIMAL + "\n" + new)
    with pytest.raises(InputError) as err:
        _load(tmp_path, text)
    assert [p.column for p in err.value.problems] == [dotted]
    assert f"« {dotted} »" in str(err.value)


def test_all_unknown_keys_are_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL + "\n[rules]\nsplit = true\n\n[solver]\nsed = 1\n"
    assert sorted(_columns(tmp_path, text)) == ["rules.split", "solver.sed"]


@pytest.mark.parametrize(
    ("remove", "dotted"),
    [
        ('name = "mini"\n', "scenario.name"),
        ('weeks = ["2026-W25", "2026-W26"]\n', "scenario.weeks"),
        ('students = "students.csv"\n', "inputs.students"),
        ('offers = "offers.csv"\n', "inputs.offers"),
        ('model = "crowfly"\n', "travel.model"),
        ('default_mode = "public"\n', "travel.default_mode"),
        ("speed_kmh = 22.0\n", "travel.modes.public.speed_kmh"),
        ("detour = 1.3\n", "travel.modes.public.detour"),
        ("access_minutes = 10.0\n", "travel.modes.public.access_minutes"),
        ("max_minutes = 45.0\n", "travel.modes.public.max_minutes"),
    ],
)
def test_required_key(tmp_path: Path, remove: str, dotted: str) -> None:
    assert remove in MINIMAL
    assert _columns(tmp_path, MINIMAL.replace(remove, "")) == [dotted]


@pytest.mark.parametrize("table", ["scenario", "inputs", "travel"])
def test_required_table(tmp_path: Path, table: str) -> None:
    lines = MINIMAL.splitlines(keepends=True)
    start = lines.index(f"[{table}]\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")
                and not lines[i].startswith(f"[{table}.")), len(lines))
    text = "".join(lines[:start] + lines[end:])
    if table == "travel":
        text = text.replace("[travel.modes.public]\n", "")
        text = "\n".join(line for line in text.splitlines()
                         if not line.startswith(("speed_kmh", "detour", "access", "max_")))
    columns = _columns(tmp_path, text)
    assert any(c is not None and c.split(".")[0] == table for c in columns), columns


def test_no_travel_mode_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL.split("[travel.modes.public]")[0]
    assert "travel.modes" in _columns(tmp_path, text)


def test_default_mode_must_be_a_defined_mode(tmp_path: Path) -> None:
    text = MINIMAL.replace('default_mode = "public"', 'default_mode = "car"')
    assert _problems(tmp_path, text) == [("travel.default_mode", "car")]


def test_only_the_crowfly_model_is_known(tmp_path: Path) -> None:
    text = MINIMAL.replace('model = "crowfly"', 'model = "osrm"')
    assert _problems(tmp_path, text) == [("travel.model", "osrm")]


@pytest.mark.parametrize(
    ("old", "new", "dotted"),
    [
        ("speed_kmh = 22.0", "speed_kmh = 0", "travel.modes.public.speed_kmh"),
        ("speed_kmh = 22.0", 'speed_kmh = "22"', "travel.modes.public.speed_kmh"),
        ("speed_kmh = 22.0", "speed_kmh = true", "travel.modes.public.speed_kmh"),
        ("speed_kmh = 22.0", "speed_kmh = inf", "travel.modes.public.speed_kmh"),
        ("detour = 1.3", "detour = 0.9", "travel.modes.public.detour"),
        ("access_minutes = 10.0", "access_minutes = -1", "travel.modes.public.access_minutes"),
        ("max_minutes = 45.0", "max_minutes = nan", "travel.modes.public.max_minutes"),
        ('name = "mini"', "name = 3", "scenario.name"),
    ],
)
def test_bad_mode_value(tmp_path: Path, old: str, new: str, dotted: str) -> None:
    assert _columns(tmp_path, MINIMAL.replace(old, new)) == [dotted]


@pytest.mark.parametrize(
    ("table", "dotted"),
    [
        ("[solver]\nseed = -1", "solver.seed"),
        ("[solver]\nseed = 1.5", "solver.seed"),
        ("[solver]\nworkers = 0", "solver.workers"),
        ("[solver]\ntime_limit_s = 0", "solver.time_limit_s"),
        ('[solver]\ntime_limit_s = "60"', "solver.time_limit_s"),
        ('[rules]\nsplit_two_week_offers = "yes"', "rules.split_two_week_offers"),
        ('[output]\nlanguage = "de"', "output.language"),
        ('[equity]\nmax_min_schools = "yes"', "equity.max_min_schools"),
        ('[equity]\nmax_min_territories = "commune"', "equity.max_min_territories"),
        ('[equity]\nmax_min_territories = true', "equity.max_min_territories"),
        ('[equity]\nmax_min_schools = true\nmax_min_territories = "epci"',
         "equity.max_min_territories"),
        ('[equity]\nmax_min_level = "first"', "equity.max_min_level"),
        ("[equity]\nshort_trips_for_priority = 0.5", "equity.short_trips_for_priority"),
        ("[equity]\nshort_trips_for_priority = true", "equity.short_trips_for_priority"),
        ("[equity]\nmax_min = true", "equity.max_min"),
    ],
)
def test_bad_optional_value(tmp_path: Path, table: str, dotted: str) -> None:
    assert _columns(tmp_path, MINIMAL + "\n" + table + "\n") == [dotted]


def test_format_1_is_accepted(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "mini"', 'name = "mini"\nformat = 1')
    assert _load(tmp_path, text).scenario.format == 1


@pytest.mark.parametrize("value", ["2", "0", '"1"'])
def test_other_formats_are_rejected(tmp_path: Path, value: str) -> None:
    text = MINIMAL.replace('name = "mini"', f'name = "mini"\nformat = {value}')
    assert _columns(tmp_path, text) == ["scenario.format"]


@pytest.mark.parametrize("value", ["true", "1.0"])
def test_boolean_or_float_format_is_rejected(tmp_path: Path, value: str) -> None:
    text = MINIMAL.replace('name = "mini"', f'name = "mini"\nformat = {value}')
    assert _columns(tmp_path, text) == ["scenario.format"]


@pytest.mark.parametrize("key", ["students", "offers"])
@pytest.mark.parametrize("value", ['""', '"  "'])
def test_empty_input_path_is_rejected(tmp_path: Path, key: str, value: str) -> None:
    text = MINIMAL.replace(f'{key} = "{key}.csv"', f"{key} = {value}")
    assert _columns(tmp_path, text) == [f"inputs.{key}"]


def test_empty_conventions_path_is_rejected(tmp_path: Path) -> None:
    text = MINIMAL.replace('offers = "offers.csv"', 'offers = "offers.csv"\nconventions = ""')
    assert _problems(tmp_path, text) == [("inputs.conventions", "")]


def test_2026_has_53_iso_weeks_and_2025_has_52() -> None:
    assert date(2026, 12, 31).isocalendar().week == 53
    assert date(2025, 12, 28).isocalendar().week == 52
    assert date(2027, 1, 4).isocalendar()[:2] == (2027, 1)


@pytest.mark.parametrize(
    "weeks",
    [
        ["2026-W25", "2026-W26"],
        ["2026-W01", "2026-W02"],
        ["2026-W52", "2026-W53"],
        ["2026-W53", "2027-W01"],
        ["2025-W52", "2026-W01"],
    ],
)
def test_consecutive_weeks_are_accepted(tmp_path: Path, weeks: list[str]) -> None:
    text = MINIMAL.replace('["2026-W25", "2026-W26"]', str(weeks).replace("'", '"'))
    assert _load(tmp_path, text).scenario.weeks == tuple(weeks)


@pytest.mark.parametrize(
    "weeks",
    [
        '["2026-W25", "2026-W27"]',
        '["2026-W26", "2026-W25"]',
        '["2026-W25", "2026-W25"]',
        '["2026-W52", "2027-W01"]',  # 2026 has a week 53 in between
        '["2025-W53", "2026-W01"]',  # 2025 has no week 53
        '["2026-W25"]',
        '["2026-W25", "2026-W26", "2026-W27"]',
        '["2026-25", "2026-26"]',
        '["2026-W5", "2026-W6"]',
        '["2026-W00", "2026-W01"]',
        '"2026-W25"',
        "[25, 26]",
    ],
)
def test_weeks_must_be_two_consecutive_iso_weeks(tmp_path: Path, weeks: str) -> None:
    text = MINIMAL.replace('["2026-W25", "2026-W26"]', weeks)
    assert _columns(tmp_path, text) == ["scenario.weeks"]


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_scenario(tmp_path / "absent.toml")
    assert "absent.toml" in str(err.value)


def test_folder_instead_of_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_scenario(tmp_path)
    [problem] = err.value.problems
    assert problem.file == str(tmp_path) and "dossier" in problem.expected


def test_unreadable_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(MINIMAL, encoding="utf-8")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    [problem] = err.value.problems
    assert problem.file == str(path) and "Permission denied" in problem.expected


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        _load(tmp_path, MINIMAL.replace('name = "mini"', 'name = "mini'))
    [problem] = err.value.problems
    assert (problem.file, problem.line, problem.column) == ("scenario.toml", 2, "13")
    assert problem.value == 'name = "mini'
    assert "TOML" in problem.expected and "(at line" not in problem.expected


def test_toml_error_at_end_of_document_names_the_last_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        _load(tmp_path, MINIMAL + "max_minutes = 40\n")
    [problem] = err.value.problems
    assert (problem.line, problem.value) == (len(MINIMAL.splitlines()) + 1, "max_minutes = 40")


def test_non_utf8_scenario_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_bytes(MINIMAL.replace("mini", "Hérouville").encode("latin-1"))
    with pytest.raises(InputError) as err:
        load_scenario(path)
    [problem] = err.value.problems
    assert (problem.file, problem.line) == ("scenario.toml", 2)
    assert "UTF-8" in problem.expected


def test_utf8_bom_in_scenario_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert load_scenario(path).name == "mini"
