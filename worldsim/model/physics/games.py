"""CarRacing's car as a kinematic car, for one WorldSim step (2 Box2D frames of 20 ms).

Structure from CarRacing's `car_dynamics.py`: the hull's nose points along its local +y axis, so
position moves by speed * (-sin psi, cos psi); the front wheels turn up to 0.4 rad (the steering
joint's limit) towards -steer, giving a kinematic yaw-rate target speed * tan(-0.4 steer) / L with
wheelbase L = 3.24 (WHEELPOS y = +80 and -82, times SIZE = 0.02); the steering joint reaches that
target with a lag. Engine and brake limits are grip-limited in CarRacing, so they enter as constant
rates. Constants measured on CarRacing-v3 (state units are Box2D world units per second):
full gas accelerates at ~44 u/s^2 at any speed reached in an episode, full brake decelerates at
~220 u/s^2 to a stop, coasting loses < 0.2 % per second, the yaw rate settles in ~0.15 s.
The grass squares' phases move with x and y; wheels-off-track, progress, steering and the track's
centre line around the car are left to the learned dynamics (kept unchanged here).
"""

from __future__ import annotations

import torch
from torch import nn

from worldsim.sources.track_view import GRASS_PERIOD

WHEELBASE, MAX_WHEEL_ANGLE = 3.24, 0.4
GAS_ACCEL, BRAKE_DECEL, YAW_LAG_S = 44.0, 220.0, 0.15
FRAME_S, FRAMES = 0.02, 2


class CarPrior(nn.Module):
    def __init__(self, state_fields: list[str]):
        super().__init__()
        if state_fields[:5] != ["x", "y", "speed", "heading", "angular_velocity"]:
            raise ValueError(f"car prior needs x, y, speed, heading, angular_velocity first, got {state_fields[:5]}")
        # The grass squares' phases (worldsim.sources.games) follow x and y exactly.
        phases = [state_fields.index(f) for f in ("grass_x_phase", "grass_y_phase") if f in state_fields]
        self.grass = phases if len(phases) == 2 else None

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """state (B, S), the car fields first; action (B, 3) = steer [-1, 1], gas [0, 1], brake [0, 1]."""
        x, y, speed, psi, yaw_rate = state[:, :5].unbind(-1)
        steer, gas, brake = action.unbind(-1)
        # CarRacing ramps gas by 0.1 per frame, so any gas above ~0.1 gives the full grip-limited push.
        push = GAS_ACCEL * (10 * gas).clamp(0, 1) - BRAKE_DECEL * brake.clamp(0, 1)
        for _ in range(FRAMES):
            target_rate = speed * torch.tan(-MAX_WHEEL_ANGLE * steer.clamp(-1, 1)) / WHEELBASE
            yaw_rate = yaw_rate + (target_rate - yaw_rate) * (FRAME_S / YAW_LAG_S)
            x = x - speed * torch.sin(psi) * FRAME_S
            y = y + speed * torch.cos(psi) * FRAME_S
            psi = psi + yaw_rate * FRAME_S
            speed = (speed + push * FRAME_S).clamp(min=0.0)
        psi = torch.atan2(torch.sin(psi), torch.cos(psi))  # the state keeps headings in (-pi, pi]
        out = torch.cat([torch.stack([x, y, speed, psi, yaw_rate], -1), state[:, 5:]], -1)
        if self.grass is not None:
            moved = torch.stack([x, y], -1) - state[:, :2]
            phase = state[:, self.grass] + 2 * torch.pi * moved / GRASS_PERIOD
            out[:, self.grass] = torch.atan2(torch.sin(phase), torch.cos(phase))
        return out
