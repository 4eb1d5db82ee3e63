"""Ground-truth simulators behind one interface (see `base.Source`)."""

from __future__ import annotations

from worldsim import domains
from worldsim.scenario import Scenario, load_scenario
from worldsim.sources.base import Observation, Source, StateField, space_from_json, space_to_json


def make_source(domain: str, frame_size: int = 64, scenario: str | Scenario | None = None, **options) -> Source:
    """A source for a built-in domain, or `domain="any"` with `env_id=...` for any Gymnasium env.

    `scenario` is a scenario name, a path, or a loaded `Scenario`; its domain must match.
    Other keyword options go to the source class (e.g. `env_id`, `config`, `neighbours` for driving;
    `frame_skip` for games).
    """
    if scenario is not None and not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if scenario is not None and scenario.domain != domain:
        raise ValueError(f"scenario {scenario.name!r} is for domain {scenario.domain!r}, not {domain!r}")
    if domain == domains.GENERIC.name:
        if "env_id" not in options:
            raise ValueError("domain 'any' needs env_id=<a registered Gymnasium id>")
        return domains.GENERIC.load("source")(options.pop("env_id"), frame_size, **options)
    if domain not in domains.names():
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(domains.names())} or 'any'")
    return domains.get(domain).load("source")(frame_size, scenario=scenario, **options)


__all__ = ["Observation", "Source", "StateField", "make_source", "space_from_json", "space_to_json"]
