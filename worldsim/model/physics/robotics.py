"""PushT's agent, for one 10 Hz control step (10 pymunk steps of 10 ms).

From gym-pusht's `PushTEnv.step`: each physics step applies the PD law
a = k_p (target - position) + k_v (0 - velocity), k_p = 100, k_v = 20, then pymunk's
semi-implicit Euler (velocity first, then position). The block moves only through contact, which
is left entirely to the learned dynamics: the prior keeps its pose and goal coverage unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

K_P, K_V, DT, SUBSTEPS = 100.0, 20.0, 0.01, 10


class PushTPrior(nn.Module):
    def __init__(self, state_fields: list[str]):
        super().__init__()
        if state_fields[:4] != ["agent_x", "agent_y", "agent_vx", "agent_vy"]:
            raise ValueError(f"PushT prior needs the agent fields first, got {state_fields[:4]}")

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """state (B, 8) in PushT units; action (B, 2) the target position."""
        position, velocity = state[:, 0:2], state[:, 2:4]
        for _ in range(SUBSTEPS):
            velocity = velocity + (K_P * (action - position) - K_V * velocity) * DT
            position = position + velocity * DT
        return torch.cat([position, velocity, state[:, 4:]], -1)
