"""CarRacing behaviour: follow the track with noise, and sometimes leave it.

A pure-pursuit driver steers at a waypoint `lookahead` tiles ahead and holds a sampled target speed.
Styles (one per episode, weights in `RacingBehaviour.styles`):
- clean:  small steering noise; stays on the track.
- noisy:  large correlated steering noise; cuts corners and clips the grass.
- sloppy: like clean, but with probability `swerve_rate` per step starts a 10-30 step swerve
          (full lock and gas) that usually leaves the track, then recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldsim.behaviour.base import BehaviourPolicy, OrnsteinUhlenbeck, pick_style


@dataclass
class RacingBehaviour(BehaviourPolicy):
    styles: dict[str, float] = field(default_factory=lambda: {"clean": 0.4, "noisy": 0.35, "sloppy": 0.25})
    lookahead: int = 5
    speed_range: tuple[float, float] = (15.0, 45.0)  # Box2D units/s
    swerve_rate: float = 0.02
    steer_gain: float = 2.0

    def reset(self, rng, source):
        self.rng = rng
        self.style = pick_style(rng, self.styles)
        self.target_speed = float(rng.uniform(*self.speed_range))
        sigma = 0.35 if self.style == "noisy" else 0.08
        self.ou = OrnsteinUhlenbeck(rng, 1, theta=0.15, sigma=sigma)
        self.swerve_left, self.swerve_steer = 0, 0.0
        self.waypoints = np.array([(x, y) for _, _, x, y in source.core.track])

    def act(self, source, obs):
        x, y, speed, heading = (float(v) for v in obs.state[:4])
        if self.style == "sloppy" and self.swerve_left == 0 and self.rng.random() < self.swerve_rate:
            self.swerve_left = int(self.rng.integers(10, 31))
            self.swerve_steer = float(self.rng.choice([-1.0, 1.0]))
        if self.swerve_left > 0:
            self.swerve_left -= 1
            return np.array([self.swerve_steer, 0.6, 0.0], dtype=np.float32)

        nearest = int(np.argmin(np.sum((self.waypoints - (x, y)) ** 2, axis=1)))
        tx, ty = self.waypoints[(nearest + self.lookahead) % len(self.waypoints)]
        # The car's nose points along its local +y axis, i.e. world angle heading + pi/2.
        bearing = np.arctan2(ty - y, tx - x) - (heading + np.pi / 2)
        bearing = float(np.angle(np.exp(1j * bearing)))
        # CarRacing steers right for positive action[0]; a target to the left is a positive bearing.
        steer = np.clip(-self.steer_gain * bearing + self.ou()[0], -1.0, 1.0)
        gas = 0.5 if speed < self.target_speed else 0.0
        brake = 0.4 if speed > self.target_speed + 8.0 else 0.0
        return np.array([steer, gas, brake], dtype=np.float32)
