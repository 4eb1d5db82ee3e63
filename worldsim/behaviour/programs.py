"""Scripted action programs: fixed things to do from a start, and the response each is judged on.

Each domain keeps a table of them (`PROGRAMS` beside its behaviour policy, named by
`DomainSpec.programs`). A program is open-loop: its actions are a function of the step and of the
physical state at the start only, so the very same actions can be played in the simulator and in a
dream. Its response is a scalar read off the physical state, by field name (the source's
`StateField`s), judged as its change from step `judged_from` to the program's last step. Steps
before `judged_from` set the program up (e.g. a lane change away from the road's edge first, so
that the change judged is possible from any start); the curve covers every step.

`sign` is what the simulator does (measured, see each table): +1, -1, or 0 for "no change beyond
the dead-band". `dead_band` is the |change| below which a response counts as no change, in the
field's units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class State(Mapping[str, float]):
    """A physical state vector read by field name."""

    def __init__(self, values: np.ndarray, index: Mapping[str, int]):
        self.values, self.index = values, index

    @classmethod
    def of(cls, values: np.ndarray, names: Sequence[str]) -> State:
        return cls(np.asarray(values, dtype=np.float64), {n: i for i, n in enumerate(names)})

    def __getitem__(self, name: str) -> float:
        return float(self.values[self.index[name]])

    def __iter__(self):
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


Action = Callable[[int, State], Any]  # (step, the start's physical state) -> the action at that step
Response = Callable[[State, State], float]  # (the start's state, a later state) -> the scalar judged


@dataclass(frozen=True)
class Program:
    name: str
    steps: int
    action: Action
    response: Response
    sign: int  # the simulator's sign of the judged change: +1, -1, 0
    dead_band: float  # |change| below this is no change, in the response's units
    judged_from: int = 0  # the change is judged from this step (0: the start) to the last
    what: str = ""  # the program and its response, in a line

    def __post_init__(self):
        if self.sign not in (-1, 0, 1):
            raise ValueError(f"program {self.name!r}: sign must be -1, 0 or 1, got {self.sign!r}")
        if not 0 <= self.judged_from < self.steps:
            raise ValueError(f"program {self.name!r}: judged_from must lie in [0, {self.steps}), got {self.judged_from}")

    def actions(self, start: State) -> list:
        return [self.action(k, start) for k in range(self.steps)]


def sequence(*actions) -> Action:
    """The k-th of fixed `actions`, whatever the start."""
    return lambda k, start: actions[k]


def change(field: str) -> Response:
    return lambda start, now: now[field] - start[field]


def turn(field: str) -> Response:
    """Change of an angle, wrapped to (-pi, pi]: a program must turn less than half a turn."""
    return lambda start, now: float(np.angle(np.exp(1j * (now[field] - start[field]))))
