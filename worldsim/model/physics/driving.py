"""highway-env's ego dynamics, for one 1 s policy step of `highway-fast-v0` (5 physics frames).

From highway-env's `ControlledVehicle` and `Vehicle` (documented in its "Dynamics" page):
- meta-actions move set-points: FASTER/SLOWER step the target speed by 5 m/s within {20, 25, 30};
  LANE_LEFT/LANE_RIGHT move the target lane by one, within the road;
- speed control: a = (v_target - v) / tau_a, tau_a = 0.6 s;
- lateral control: lateral speed command -y_err / tau_lat (tau_lat = 0.6 s) -> heading reference,
  heading rate = (psi_ref - psi) / tau_psi (tau_psi = 0.2 s) -> slip angle -> steering angle,
  clipped to +-60 deg;
- kinematic bicycle: beta = atan(tan(delta) / 2), position += v (cos, sin)(psi + beta) dt,
  psi += v sin(beta) / (L / 2) dt, v += a dt, with L = 5 m.
Other vehicles keep a constant velocity (their state is relative to the ego, so it shifts by the
ego's own motion). The hidden set-points are inferred from the state: the target speed is the
nearest of {20, 25, 30} to the current speed, the target lane the nearest lane centre.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LANE_WIDTH = 4.0
LENGTH = 5.0
TAU_A, TAU_LATERAL, TAU_HEADING = 0.6, 0.6, 0.2
MAX_STEER = math.pi / 3
TARGET_SPEEDS = (20.0, 25.0, 30.0)


class DrivingPrior(nn.Module):
    def __init__(self, state_fields: list[str], lanes: int = 3, step_s: float = 1.0, frames: int = 5):
        super().__init__()
        if state_fields[:5] != ["ego_x", "ego_y", "ego_vx", "ego_vy", "ego_heading"]:
            raise ValueError(f"driving prior needs the ego fields first, got {state_fields[:5]}")
        self.neighbours = (len(state_fields) - 5) // 6
        self.lanes, self.dt, self.frames = lanes, step_s / frames, frames

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """state (B, S) in physical units; action (B, 5) one-hot meta-action."""
        x, y, vx, vy, psi = state[:, :5].unbind(-1)
        left, _, right, faster, slower = action.unbind(-1)
        v = torch.hypot(vx, vy)
        speeds = state.new_tensor(TARGET_SPEEDS)
        snapped = speeds[(v[:, None] - speeds).abs().argmin(-1)]
        v_target = (snapped + 5.0 * (faster - slower)).clamp(TARGET_SPEEDS[0], TARGET_SPEEDS[-1])
        lane = (y / LANE_WIDTH).round().clamp(0, self.lanes - 1)
        y_target = (lane + right - left).clamp(0, self.lanes - 1) * LANE_WIDTH

        others = state[:, 5:].reshape(len(state), self.neighbours, 6)
        present, dx, dy, ovx, ovy, oheading = others.unbind(-1)
        for _ in range(self.frames):
            accel = (v_target - v) / TAU_A
            lateral_speed = -(y - y_target) / TAU_LATERAL
            heading_cmd = torch.asin((lateral_speed / v.clamp(min=1e-2)).clamp(-1, 1)).clamp(-math.pi / 4, math.pi / 4)
            heading_rate = (heading_cmd - psi) / TAU_HEADING
            slip = torch.asin((LENGTH / 2 / v.clamp(min=1e-2) * heading_rate).clamp(-1, 1))
            steer = torch.atan(2 * torch.tan(slip)).clamp(-MAX_STEER, MAX_STEER)
            beta = torch.atan(0.5 * torch.tan(steer))
            ego_vx, ego_vy = v * torch.cos(psi + beta), v * torch.sin(psi + beta)
            x, y = x + ego_vx * self.dt, y + ego_vy * self.dt
            dx = dx + present * (ovx - ego_vx[:, None]) * self.dt
            dy = dy + present * (ovy - ego_vy[:, None]) * self.dt
            psi = psi + v * torch.sin(beta) / (LENGTH / 2) * self.dt
            v = v + accel * self.dt
        ego = torch.stack([x, y, v * torch.cos(psi), v * torch.sin(psi), psi], -1)
        others = torch.stack([present, dx, dy, ovx, ovy, oheading], -1).flatten(1)
        return torch.cat([ego, others], -1)
