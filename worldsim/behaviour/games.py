"""CarRacing behaviour: follow the track with noise, and sometimes leave it.

A pure-pursuit driver steers at a waypoint `lookahead` tiles ahead and holds a sampled target speed.
Styles (one per episode, weights in `RacingBehaviour.styles`):
- clean:  small steering noise; stays on the track.
- noisy:  large correlated steering noise; cuts corners and clips the grass.
- sloppy: like clean, but with probability `swerve_rate` per step starts a 10-30 step swerve
          (full lock and gas) that usually leaves the track, then recovers.
- stop_go: like clean, but the pedals run through phases of `phase_steps` steps each: cruise at a
           fresh target speed, coast (no pedal), brake hard to a standstill and wait, or launch at
           full gas from wherever the car is. The other styles hold a speed and rarely coast or
           brake, and a model trained on them alone did not learn to slow down.
- wander: ignores the track for phases of `phase_steps` steps each: uniform random actions (what
          `worldsim dream` drives with), or steering that wobbles on its own at a held gas, or a
          pursuit back to the track. The other styles steer along the track, so in their data the
          steering foretells the bend ahead, and a model trained on them alone bent the dream's
          track the way the car steered; nor did they reach the grass far off the track, where a
          dream driven at random drew speckled road remnants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldsim.behaviour.base import BehaviourPolicy, OrnsteinUhlenbeck, pick_style
from worldsim.behaviour.programs import Program, change, sequence, turn


@dataclass
class RacingBehaviour(BehaviourPolicy):
    # wander is not in the default mix (the shipped model's data); `worldsim collect --styles` adds it
    styles: dict[str, float] = field(default_factory=lambda: {"clean": 0.3, "noisy": 0.25, "sloppy": 0.2, "stop_go": 0.25})
    known_styles = ("clean", "noisy", "sloppy", "stop_go", "wander")
    lookahead: int = 5
    speed_range: tuple[float, float] = (15.0, 45.0)  # Box2D units/s
    swerve_rate: float = 0.02
    steer_gain: float = 2.0
    phases: dict[str, float] = field(default_factory=lambda: {"cruise": 0.3, "coast": 0.25, "brake": 0.25, "launch": 0.2})
    phase_steps: tuple[int, int] = (15, 40)
    wander_modes: dict[str, float] = field(default_factory=lambda: {"random": 0.35, "wobble": 0.4, "return": 0.25})

    def reset(self, rng, source):
        self.rng = rng
        self.style = pick_style(rng, self.styles)
        self.target_speed = float(rng.uniform(*self.speed_range))
        sigma = 0.35 if self.style == "noisy" else 0.08
        self.ou = OrnsteinUhlenbeck(rng, 1, theta=0.15, sigma=sigma)
        self.swerve_left, self.swerve_steer = 0, 0.0
        self.phase, self.phase_left = "cruise", int(rng.integers(*self.phase_steps))
        if self.style == "wander":
            self.phase = pick_style(rng, self.wander_modes)
            self.ou = OrnsteinUhlenbeck(rng, 1, theta=0.1, sigma=0.5)
        if self.styles.get("wander", 0) > 0:
            # drawn only where the mix holds wander: episodes of the default mix stay the ones
            # recorded before the style existed (data/games, the shipped model's)
            self.gas = float(rng.uniform(0.2, 0.8))
        self.waypoints = source.centre_line

    def act(self, source, obs):
        x, y, speed, heading = (float(v) for v in obs.state[:4])
        if self.style == "sloppy" and self.swerve_left == 0 and self.rng.random() < self.swerve_rate:
            self.swerve_left = int(self.rng.integers(10, 31))
            self.swerve_steer = float(self.rng.choice([-1.0, 1.0]))
        if self.swerve_left > 0:
            self.swerve_left -= 1
            return np.array([self.swerve_steer, 0.6, 0.0], dtype=np.float32)
        if self.style == "wander":
            action = self._wander()
            if action is not None:
                return action

        nearest = int(np.argmin(np.sum((self.waypoints - (x, y)) ** 2, axis=1)))
        tx, ty = self.waypoints[(nearest + self.lookahead) % len(self.waypoints)]
        # The car's nose points along its local +y axis, i.e. world angle heading + pi/2.
        bearing = np.arctan2(ty - y, tx - x) - (heading + np.pi / 2)
        bearing = float(np.angle(np.exp(1j * bearing)))
        # CarRacing steers right for positive action[0]; a target to the left is a positive bearing.
        noise = 0.0 if self.style == "wander" else self.ou()[0]  # wander's pursuit back is plain
        steer = np.clip(-self.steer_gain * bearing + noise, -1.0, 1.0)
        if self.style == "stop_go":
            gas, brake = self._pedals(speed)
        else:
            gas = 0.5 if speed < self.target_speed else 0.0
            brake = 0.4 if speed > self.target_speed + 8.0 else 0.0
        return np.array([steer, gas, brake], dtype=np.float32)

    def _wander(self) -> np.ndarray | None:
        """wander's action for this step, or None in its "return" phase (pursue the track)."""
        self.phase_left -= 1
        if self.phase_left <= 0:
            self.phase = pick_style(self.rng, self.wander_modes)
            self.phase_left = int(self.rng.integers(*self.phase_steps))
            self.gas = float(self.rng.uniform(0.2, 0.8))
        if self.phase == "random":  # CarRacing's action space: steer in [-1, 1], gas and brake in [0, 1]
            return self.rng.uniform((-1.0, 0.0, 0.0), (1.0, 1.0, 1.0)).astype(np.float32)
        if self.phase == "wobble":
            return np.array([np.clip(self.ou()[0], -1.0, 1.0), self.gas, 0.0], dtype=np.float32)
        return None

    def _pedals(self, speed: float) -> tuple[float, float]:
        """stop_go's gas and brake for this step, moving to a fresh phase when the last one ends."""
        self.phase_left -= 1
        if self.phase_left <= 0:
            self.phase = pick_style(self.rng, self.phases)
            self.phase_left = int(self.rng.integers(*self.phase_steps))
            self.target_speed = float(self.rng.uniform(*self.speed_range))
        if self.phase == "coast":
            return 0.0, 0.0
        if self.phase == "brake":  # to a standstill, then wait there
            return 0.0, (0.8 if speed > 1.0 else 0.0)
        if self.phase == "launch":
            return 1.0, 0.0
        return (0.5 if speed < self.target_speed else 0.0), (0.4 if speed > self.target_speed + 8.0 else 0.0)


def _box(steer: float, gas: float, brake: float) -> np.ndarray:
    return np.array([steer, gas, brake], dtype=np.float32)


# Controllability programs (`worldsim.behaviour.programs`), 1 step = 2 physics frames. Measured in
# CarRacing-v3 from the first steps of an episode (~7 u/s): full gas gains ~30 u/s in 20 steps; the
# car keeps its speed when coasting (no rolling drag; it settles ~3 steps after the gas is cut);
# brake 0.8 stops it from ~25 u/s in ~4 steps; steer -1 turns the nose left, i.e. heading grows
# (+1.7 rad in 20 steps at gas 0.3), steer +1 turns it right. Coasting and braking first gain speed.
PROGRAMS = (
    Program("gas", 20, sequence(*[_box(0, 1, 0)] * 20), change("speed"), sign=1, dead_band=1.0, what="full gas: speed rises"),
    Program(
        "coast",
        20,
        sequence(*[_box(0, 0.5, 0)] * 8 + [_box(0, 0, 0)] * 12),
        change("speed"),
        sign=0,
        dead_band=1.0,
        judged_from=12,
        what="gas 0.5 x8, then no input x12: speed holds",
    ),
    Program(
        "brake",
        20,
        sequence(*[_box(0, 1, 0)] * 10 + [_box(0, 0, 0.8)] * 10),
        change("speed"),
        sign=-1,
        dead_band=1.0,
        judged_from=10,
        what="full gas x10, then brake 0.8 x10: speed falls",
    ),
    Program(
        "steer left",
        20,
        sequence(*[_box(-1, 0.3, 0)] * 20),
        turn("heading"),
        sign=1,
        dead_band=0.05,
        what="steer -1, gas 0.3: heading grows (turns left)",
    ),
    Program(
        "steer right",
        20,
        sequence(*[_box(1, 0.3, 0)] * 20),
        turn("heading"),
        sign=-1,
        dead_band=0.05,
        what="steer +1, gas 0.3: heading falls (turns right)",
    ),
)
