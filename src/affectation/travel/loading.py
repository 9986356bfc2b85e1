"""Loading a scenario: its input files read and checked, then its travel model (timetables or
a matrix) computed once, so that every later stage finds it ready."""

from __future__ import annotations

from pathlib import Path

from affectation.domain.instance import Instance
from affectation.io.inputs import read_instance
from affectation.io.scenario import load_scenario
from affectation.timing import Laps, Progress


def load_instance(scenario_path: Path, progress: Progress | None = None) -> Instance:
    """Read the scenario and every input file it names; raise `InputError` on any defect.
    Reports the reading, then the timetables' routing (when any), to `progress`."""
    laps = Laps(progress)
    scenario = load_scenario(Path(scenario_path))
    instance = read_instance(scenario)
    laps.lap("reading", students=instance.students.n, offers=instance.offers.n)
    if scenario.travel.model != "crowfly":
        # Timetables and matrices are inputs too: their defects surface here, once.
        from affectation.travel.models import model_minutes

        model_minutes(instance)
        laps.lap("timetables")
    return instance
