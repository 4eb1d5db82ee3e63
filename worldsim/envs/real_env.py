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
from worldsim.envs.world_sim_env import EPISODE_STEPS, OBS_BOUND, RENDER_FPS, load_world, observation_space
from worldsim.sources.base import space_from_json


class RealWorldEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        domain: str | None = None,
        checkpoint: str | Path | None = None,
        obs_type: str = "pixels",
        render_mode: str | None = None,
        episode_steps: int | None = None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.model, _, self.checkpoint = load_world(domain, checkpoint, obs_type, 1.0)
        config = self.model.config
        from worldsim.sources import make_source

        self.source = make_source(config.domain, config.frame_size)
        self.domain, self.obs_type, self.render_mode = config.domain, obs_type, render_mode
        self.episode_steps = int(episode_steps or EPISODE_STEPS.get(config.domain, 500))
        self.metadata = {**self.metadata, "render_fps": RENDER_FPS.get(config.domain, 15)}
        self.action_space = space_from_json(config.action_space)
        self.observation_space = observation_space(config, obs_type)
        self._obs = None
        self._latent = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(map(str, options)))} for the real env")
        self._obs = self.source.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._latent = self.model.encode(torch.tensor(self._obs.frame)[None]) if self.obs_type == "latent" else None
        self._t = 0
        return self._observation(), self._info()

    def step(self, action):
        action = check_action(self.action_space, action)
        self._obs = self.source.step(action)
        if self._latent is not None:
            self._latent = self.model.filter(self._latent, torch.as_tensor(action)[None], torch.tensor(self._obs.frame)[None])
        self._t += 1
        obs = self._obs
        truncated = (obs.truncated or self._t >= self.episode_steps) and not obs.terminated
        return self._observation(), float(obs.reward), bool(obs.terminated), bool(truncated), self._info()

    def render(self):
        return self._obs.frame if self.render_mode == "rgb_array" and self._obs is not None else None

    def close(self):
        self.source.close()

    def _observation(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return self._obs.frame
        values = self._latent[0].numpy() if self.obs_type == "latent" else self._obs.state
        return np.clip(values, -OBS_BOUND[self.obs_type], OBS_BOUND[self.obs_type]).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {"state": self._obs.state, "caption": self._obs.caption, "step": self._t}
