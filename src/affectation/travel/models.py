"""The scenario's table travel model, computed once per instance: timetables (`transit`) or a
zone matrix (`matrix`); None for the crowfly model."""

from __future__ import annotations

from affectation.domain.instance import Instance
from affectation.travel.zones import ZoneMinutes


def model_minutes(instance: Instance) -> ZoneMinutes | None:
    """The scenario's table model (computed once per instance), or None for crowfly."""
    model = instance.scenario.travel.model
    if model == "crowfly":
        return None
    cached = instance.__dict__.get("_model_minutes")
    if cached is None:
        if model == "gtfs":
            from affectation.travel.transit import transit_minutes
            cached = transit_minutes(instance)
        else:
            from affectation.travel.matrix import matrix_minutes
            cached = matrix_minutes(instance)
        instance.__dict__["_model_minutes"] = cached
    return cached
