"""Behaviour policies: how recorded episodes are driven, for coverage rather than for reward.

Each policy reads the source's physical state (and, where a domain needs it, privileged simulator
data such as CarRacing's track) and samples a *style* per episode from a documented mix, so a
dataset holds calm, busy and failing behaviour. Every random draw comes from the generator given
to `reset`, so an episode is reproducible from its seed.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from worldsim.sources.base import Observation, Source


def pick_style(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    if (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"style weights must be >= 0 and not all zero, got {weights}")
    return names[int(rng.choice(len(names), p=p / p.sum()))]


class BehaviourPolicy(abc.ABC):
    """`reset` once per episode, then `act` once per step."""

    style: str = ""

    @abc.abstractmethod
    def reset(self, rng: np.random.Generator, source: Source) -> None: ...

    @abc.abstractmethod
    def act(self, source: Source, obs: Observation): ...


@dataclass
class RandomPolicy(BehaviourPolicy):
    """Uniform random actions from the source's action space (the generic domain's policy)."""

    style: str = "random"

    def reset(self, rng, source):
        self.rng = rng
        source.action_space.seed(int(rng.integers(2**31)))

    def act(self, source, obs):
        return source.action_space.sample()


class OrnsteinUhlenbeck:
    """Temporally correlated noise: smooth wobble instead of white jitter."""

    def __init__(self, rng: np.random.Generator, size: int, theta: float, sigma: float):
        self.rng, self.theta, self.sigma = rng, theta, sigma
        self.x = np.zeros(size)

    def __call__(self) -> np.ndarray:
        self.x += -self.theta * self.x + self.sigma * self.rng.standard_normal(self.x.shape)
        return self.x.copy()
