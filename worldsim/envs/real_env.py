"""`RealWorldEnv`: the real simulator, observed the way a WorldSim dream is observed.

A policy trained in a dream on `latent` observations needs latents from the real simulator too:
here each real frame is encoded by the same world model and filtered with the actions the agent
took (`WorldModel.filter`), exactly as the dream's start context is. `pixels` are the real frames;
`state` is the simulator's true physical state (the quantity the dream's state head estimates).
Rewards, terminations and truncations are the simulator's; episodes are cut at the same length as
the dream's, so returns compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from worldsim.envs.actions import check_action
from worldsim.envs.world import World, reset_options


class RealWorldEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        domain: str | None = None,
        checkpoint: str | Path | None = None,
        obs_type: str = "pixels",
        render_mode: str | None = None,
        episode_steps: int | None = None,
        device: str | torch.device = "cpu",
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.world = world = World.open(domain, checkpoint, obs_type, 1.0, episode_steps, device)
        self.model, self.checkpoint, self.domain = world.model, world.checkpoint, world.domain
        from worldsim.sources import make_source

        self.source = make_source(self.domain, self.model.config.frame_size)
        self.obs_type, self.render_mode, self.episode_steps = obs_type, render_mode, world.episode_steps
        self.metadata = {**self.metadata, "render_fps": world.spec.fps}
        self.action_space, self.observation_space = world.action_space, world.observation_space
        self._obs = None
        self._latent = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = reset_options(options)
        if options:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(map(str, options)))} for the real env")
        super().reset(seed=seed)
        self._obs = self.source.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._latent = self.model.encode(self._frame()) if self.obs_type == "latent" else None
        self._t = 0
        return self._observation(), self._info()

    def step(self, action):
        action = check_action(self.action_space, action)
        self._obs = self.source.step(action)
        if self._latent is not None:
            self._latent = self.model.filter(self._latent, torch.as_tensor(action, device=self.model.device)[None], self._frame())
        self._t += 1
        obs = self._obs
        truncated = (obs.truncated or self._t >= self.episode_steps) and not obs.terminated
        return self._observation(), float(obs.reward), bool(obs.terminated), bool(truncated), self._info()

    def render(self):
        return self._obs.frame if self.render_mode == "rgb_array" and self._obs is not None else None

    def close(self):
        self.source.close()

    def _frame(self) -> torch.Tensor:
        """The real frame as a batch of one, on the model's device (a copy: sources may hand out
        read-only frames, which torch warns about)."""
        return torch.tensor(self._obs.frame, device=self.model.device)[None]

    def _observation(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return self._obs.frame
        return self.world.clip(self._latent[0].cpu().numpy() if self.obs_type == "latent" else self._obs.state)

    def _info(self) -> dict[str, Any]:
        return {"state": self._obs.state, "caption": self._obs.caption, "step": self._t}
