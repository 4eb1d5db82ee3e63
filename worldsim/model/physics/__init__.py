"""Explicit, differentiable physics priors, one per built-in domain.

A prior maps (physical state, action) to the next physical state, in the units of the domain's
state fields, for one environment step. It is written from the simulator's documented equations,
not learned; the world model blends it with its learned dynamics through `physics_blend`.
"""

from __future__ import annotations

import torch

from worldsim.model.physics.driving import DrivingPrior
from worldsim.model.physics.games import CarPrior
from worldsim.model.physics.robotics import PushTPrior

PRIORS = {"driving": DrivingPrior, "robotics": PushTPrior, "games": CarPrior}


def make_prior(domain: str, state_fields: list[str]) -> torch.nn.Module | None:
    """The prior for `domain`, or None for domains without one (the generic adapter)."""
    if domain not in PRIORS:
        return None
    return PRIORS[domain](state_fields)


__all__ = ["PRIORS", "make_prior"]
