"""Driving behaviour: lane changes, speed changes, and some crashes.

Styles (one per episode, weights in `DrivingBehaviour.styles`):
- cruise:   holds a sampled target speed and changes lane to pass a slow car ahead.
- weaver:   changes lane and speed often (`weave_rate` per step).
- random:   uniform random meta-actions.
- reckless: accelerates hard and swerves into occupied lanes; most of these episodes crash.
Every style repeats its previous action with probability `stickiness`, as human drivers do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldsim.behaviour.base import BehaviourPolicy, pick_style

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)


@dataclass
class DrivingBehaviour(BehaviourPolicy):
    styles: dict[str, float] = field(
        default_factory=lambda: {"cruise": 0.4, "weaver": 0.3, "random": 0.15, "reckless": 0.15}
    )
    stickiness: float = 0.2
    weave_rate: float = 0.15
    speed_range: tuple[float, float] = (18.0, 32.0)

    def reset(self, rng, source):
        self.rng = rng
        self.style = pick_style(rng, self.styles)
        self.target_speed = float(rng.uniform(*self.speed_range))
        self.previous = IDLE

    def act(self, source, obs):
        if self.rng.random() < self.stickiness:
            return self.previous
        state = obs.state
        speed = float(np.hypot(state[2], state[3]))
        gap = _gap_ahead(state)
        if self.style == "random":
            action = int(self.rng.integers(5))
        elif self.style == "cruise":
            if gap < 15.0:
                clear = [a for a in (LANE_LEFT, LANE_RIGHT) if _lane_clear(state, -1 if a == LANE_LEFT else 1)]
                action = int(self.rng.choice(clear)) if clear else SLOWER
            elif speed < self.target_speed - 2.5:
                action = FASTER
            elif speed > self.target_speed + 2.5:
                action = SLOWER
            else:
                action = IDLE
        elif self.style == "weaver":
            if self.rng.random() < self.weave_rate:
                action = int(self.rng.choice([LANE_LEFT, LANE_RIGHT]))
            else:
                action = int(self.rng.choice([IDLE, FASTER, SLOWER], p=[0.5, 0.3, 0.2]))
        else:  # reckless
            action = int(self.rng.choice([FASTER, LANE_LEFT, LANE_RIGHT, IDLE], p=[0.5, 0.2, 0.2, 0.1]))
        self.previous = action
        return action


def _gap_ahead(state: np.ndarray) -> float:
    """Distance to the nearest car ahead in roughly the ego's lane (inf if none)."""
    gaps = [
        float(state[6 + 6 * k])
        for k in range((len(state) - 5) // 6)
        if state[5 + 6 * k] > 0 and state[6 + 6 * k] > 0 and abs(state[7 + 6 * k]) < 2.0
    ]
    return min(gaps, default=float("inf"))


def _lane_clear(state: np.ndarray, side: int) -> bool:
    """No known car in the adjacent lane on `side` (-1 left, +1 right) within 12 m along the road."""
    for k in range((len(state) - 5) // 6):
        present, dx, dy = state[5 + 6 * k : 8 + 6 * k]
        if present > 0 and abs(dx) < 12.0 and 2.0 < side * dy < 6.0:
            return False
    return True
