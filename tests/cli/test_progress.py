"""A run you can watch: each stage's line on stderr as it ends (in French, with its figures
and seconds), nothing on stderr with --quiet, stdout kept for the result line or data; and
the status words a user reads in the console, the summary and the report."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import make_scenario, near

from affectation.analysis.result import make_result, status_text
from affectation.cli import main
from affectation.cli.progress import ConsoleProgress, number, seconds

SECONDS = r"\(\d+,\d\u00a0s\)"


def _scenario(tmp_path: Path) -> Path:
    # Five pupils, four two-week seats near them (one pupil stays unplaced), one far offer.
    return make_scenario(tmp_path, students=[
        {"student_id": f"S{i}", "priority": i == 0} for i in range(5)
    ], offers=[
        {"offer_id": "A", "capacity": 2}, {"offer_id": "B", **near(0.01, 0.0), "capacity": 2},
        {"offer_id": "F", **near(0.5, 0.0), "capacity": 3},
    ])


def _invoke(*args: object) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_solve_prints_each_stage_on_stderr_and_the_result_on_stdout(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    result = _invoke("solve", path, "--out", tmp_path / "out")
    lines = _lines(result.stderr)
    names = [re.sub(" " + SECONDS + "$", "", line).split(" : ")[0] for line in lines]
    # In the order the stages end, from reading the inputs to writing the files.
    for first, then in [("lecture des données", "trajets"), ("trajets", "bornes"),
                        ("bornes", "allocation de départ (flots)"),
                        ("allocation de départ (flots)", "finitions (secteurs, trajets)"),
                        ("finitions (secteurs, trajets)", "audit d'équité"),
                        ("audit d'équité", "écriture des fichiers")]:
        assert names.index(first) < names.index(then), names
    assert all(re.search(SECONDS + "$", line) for line in lines), lines
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    bound = summary["upper_bound_full"]
    assert "lecture des données : 5 élèves, 3 offres (" in lines[0]
    assert any(line.startswith(f"bornes : {bound} élèves au plus, dont 1 prioritaires (")
               for line in lines), lines
    # stdout: the one result line, nothing of the progress.
    out = result.stdout.splitlines()
    assert len(out) == 1 and out[0].startswith("test : 4 élèves placés deux semaines sur 5")
    assert "optimal prouvé" in out[0] and "bornes" not in result.stdout


def test_quiet_silences_stderr_and_leaves_the_same_files(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    loud = _invoke("solve", path, "--out", tmp_path / "a")
    quiet = _invoke("solve", path, "--out", tmp_path / "b", "--quiet")
    assert loud.stderr and quiet.stderr == ""
    assert quiet.stdout.count("\n") == 1
    assert ((tmp_path / "a" / "assignments.csv").read_bytes()
            == (tmp_path / "b" / "assignments.csv").read_bytes())


def test_repair_reports_its_stages_and_quiet_silences_them(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    _invoke("solve", path, "--out", tmp_path / "first", "--quiet")
    result = _invoke("repair", path, "--previous", tmp_path / "first", "--out",
                     tmp_path / "second")
    lines = _lines(result.stderr)
    assert any(line.startswith("placements conservés : ") for line in lines), lines
    assert lines[-1].startswith("écriture des fichiers (")
    assert result.stdout.count("\n") == 1 and "(réparation)" in result.stdout
    quiet = _invoke("repair", path, "--previous", tmp_path / "first", "--out",
                    tmp_path / "third", "-q")
    assert quiet.stderr == ""


def test_sweep_reports_each_run_as_it_ends(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    result = _invoke("sweep", path, "--vary", "solver.seed=0,1", "--out", tmp_path / "sw")
    runs = [line for line in _lines(result.stderr) if line.startswith("résolution : ")]
    assert [r.split(",")[0] for r in runs] == ["résolution : run-001", "résolution : run-002"]
    assert all(re.search(r"4 élèves placés deux semaines \(borne 4\) " + SECONDS, r)
               for r in runs), runs
    quiet = _invoke("sweep", path, "--vary", "solver.seed=0,1", "--out", tmp_path / "sq",
                    "--quiet")
    assert quiet.stderr == ""


def test_mobilise_reports_sites_and_confirmations(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    _invoke("solve", path, "--out", tmp_path / "out", "-q")
    result = _invoke("mobilise", path, tmp_path / "out", "--confirm", "1")
    lines = _lines(result.stderr)
    assert any(re.match(r"sites évalués : \d+ EPCI " + SECONDS, line) for line in lines), lines
    assert any(line.startswith("résolution : sans site, 4 élèves placés") for line in lines)
    assert any(line.startswith("résolution : site ") for line in lines)
    quiet = _invoke("mobilise", path, tmp_path / "out", "--quiet")
    assert quiet.stderr == ""


def test_suggest_csv_keeps_stdout_to_the_table(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    _invoke("solve", path, "--out", tmp_path / "out", "-q")
    assignments = (tmp_path / "out" / "assignments.csv").read_text(encoding="utf-8")
    unplaced = [r["student_id"] for r in csv.DictReader(io.StringIO(assignments))
                if r["kind"] != "full_same"][0]
    result = _invoke("suggest", path, tmp_path / "out", unplaced, "--csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows and all(len(r) == len(rows[0]) for r in rows)


def test_a_deadline_that_fires_says_the_result_depends_on_the_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from affectation.engine.solve import SolveSettings

    # The neighbourhood search rather than the whole model, so that the deadline is checked.
    base = SolveSettings.from_scenario

    def by_neighbourhoods(*args: object, **kwargs: object) -> SolveSettings:
        s = base(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(s, search=dataclasses.replace(
            s.search, mip_pupils=0, whole_model_pupils=0))

    monkeypatch.setattr(SolveSettings, "from_scenario", by_neighbourhoods)
    path = _scenario(tmp_path)
    result = _invoke("solve", path, "--out", tmp_path / "out", "--time-limit", "1e-9")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["depends_on_machine_speed"] is True
    assert summary["time_limit_reached_in"]
    assert summary["status_text"].endswith("; limite de temps atteinte : le résultat dépend "
                                           "de la vitesse de la machine")
    assert summary["status_text"] in result.stdout
    assert not re.search("OPTIMAL|FEASIBLE|FALLBACK", result.stdout)
    assert any(line.startswith("attention : limite de temps atteinte (")
               for line in _lines(result.stderr))


def test_the_fallback_allocation_is_named_in_french(tmp_path: Path) -> None:
    from affectation.engine.solve import SolveSettings, solve
    from affectation.travel.loading import load_instance

    instance = load_instance(_scenario(tmp_path))
    settings = dataclasses.replace(
        SolveSettings.from_scenario(instance.scenario.solver), time_limit_s=1e-9)
    solution = solve(instance, settings)
    assert solution.fallback  # too little time for the flows: the greedy allocation
    # On so small an instance HiGHS still proves it optimal; the words of a fallback that
    # stayed short of its bound (whether CP-SAT, given no time at all, stops at the clock or
    # proves first depends on the machine's load: the clock's note is tested apart):
    shown = make_result(instance, dataclasses.replace(solution, status="FALLBACK",
                                                      stopped_by_time_limit=()), 0, 0.0)
    # (the choice of the fallback follows from the limit and the instance's size, not from
    # the clock: the same on any machine)
    assert shown.summary["status_text"] == "allocation de secours : limite de temps trop courte"


def test_an_optimal_result_reads_optimal_in_summary_and_report(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    _invoke("solve", path, "--out", tmp_path / "out", "-q")
    summary_path = tmp_path / "out" / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["status_text"] == "optimal prouvé"
    assert summary["depends_on_machine_speed"] is False
    assert "time_limit_reached_in" not in summary
    _invoke("report", tmp_path / "out", "--out", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Résultat : optimal prouvé" in html and "OPTIMAL" not in html
    # The report shows whatever words the summary holds (here: a gap of 0.1 %).
    summary["status_text"] = status_text("FEASIBLE", 0.001, False)
    summary_path.write_text(json.dumps(summary), encoding="utf-8")
    _invoke("report", tmp_path / "out", "--out", tmp_path / "r2.html")
    html = unescape((tmp_path / "r2.html").read_text(encoding="utf-8"))
    assert "Résultat : à 0,10 % de l'optimum prouvé" in html


@pytest.mark.parametrize(("status", "gap", "clock", "words"), [
    ("OPTIMAL", 0.0, False, "optimal prouvé"),
    ("FEASIBLE", 0.001, False, "à 0,10 % de l'optimum prouvé"),
    ("FEASIBLE", 0.0169, False, "à 1,69 % de l'optimum prouvé"),
    ("FEASIBLE", 0.00004, False, "à moins de 0,01 % de l'optimum prouvé"),
    ("FALLBACK", 0.2, False, "allocation de secours : limite de temps trop courte"),
    ("FEASIBLE", 0.001, True, "à 0,10 % de l'optimum prouvé ; limite de temps atteinte : le "
                              "résultat dépend de la vitesse de la machine"),
])
def test_status_words(status: str, gap: float, clock: bool, words: str) -> None:
    assert status_text(status, gap, clock) == words


def test_console_words_of_a_stage() -> None:
    stream = io.StringIO()
    ConsoleProgress(stream).stage("bounds", 12.34, {"upper_bound_full": 22961,
                                                     "upper_bound_priority_full": 5429})
    assert stream.getvalue() == ("bornes : 22\u00a0961 élèves au plus, dont 5\u00a0429 "
                                 "prioritaires (12,3\u00a0s)\n")
    assert number(0.5) == "0,5" and seconds(0.04) == "0,0\u00a0s"
    # No terminal: no progress bar.
    ConsoleProgress(stream).step("search", 1, 4)
    assert stream.getvalue().count("\n") == 1 and "[" not in stream.getvalue()


@pytest.mark.parametrize("command", ["solve", "repair"])
def test_wall_seconds_count_from_the_command_start(tmp_path: Path, command: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the inputs (and routing the timetables) is part of `wall_seconds`: here the
    reading takes 1,000 s on a fake clock."""
    import time

    import affectation.travel.loading as loading

    path = _scenario(tmp_path)
    _invoke("solve", path, "--out", tmp_path / "first", "-q")
    real, offset = time.perf_counter, [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: real() + offset[0])
    load = loading.load_instance

    def slow_load(*args: object, **kwargs: object) -> object:
        offset[0] += 1000.0
        return load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loading, "load_instance", slow_load)
    extra = ["--previous", tmp_path / "first"] if command == "repair" else []
    started = real()
    _invoke(command, path, "--out", tmp_path / "out", *extra)
    elapsed = real() - started
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert 1000.0 <= summary["wall_seconds"] <= 1000.0 + elapsed
    # After the audit and the indicators: more than the sum of the stages the summary times.
    assert summary["wall_seconds"] - 1000.0 >= sum(summary["timings"].values()) - 0.01


def test_lp_bound_is_reported_beside_the_flow_bound(tmp_path: Path) -> None:
    """`solve --lp-bound`: its stage line, both bounds in the summary, the smaller one as
    `upper_bound_full`; without the option, neither."""
    path = _scenario(tmp_path)
    result = _invoke("solve", path, "--out", tmp_path / "lp", "--lp-bound")
    summary = json.loads((tmp_path / "lp" / "summary.json").read_text(encoding="utf-8"))
    bounds = summary["bounds"]
    assert set(bounds) == {"flow_upper_bound_full", "flow_upper_bound_priority_full",
                           "lp_upper_bound_full", "lp_upper_bound_priority_full",
                           "bound_slack_full", "engine_gap_full"}
    assert summary["upper_bound_full"] == min(bounds["flow_upper_bound_full"],
                                              bounds["lp_upper_bound_full"]) == 4
    # The gap to the flow bound, split between the bounds' slack and the allocation's share.
    flow, placed = bounds["flow_upper_bound_full"], summary["placed_full"]
    assert bounds["bound_slack_full"] == flow - 4
    assert bounds["engine_gap_full"] == 4 - placed
    line = (f"borne par relaxation linéaire : 4 élèves au plus (borne par flots : {flow}), "
            f"dont 1 prioritaires ; écart de {flow - placed} élève(s) à la borne par flots : "
            f"{flow - 4} dû à cette borne, {4 - placed} à l'allocation (")
    assert any(x.startswith(line) for x in _lines(result.stderr)), result.stderr
    plain = _invoke("solve", path, "--out", tmp_path / "plain", "--quiet")
    assert "relaxation" not in plain.stderr
    assert "bounds" not in json.loads((tmp_path / "plain" / "summary.json").read_text(
        encoding="utf-8"))
