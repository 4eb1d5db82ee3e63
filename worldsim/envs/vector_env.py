"""`WorldSimVectorEnv`: N dreams as one torch batch, a native `gymnasium.vector.VectorEnv`.

`gym.make_vec("WorldSim-v0", num_envs=N)` builds it through the ids' `vector_entry_point`. Reset
semantics follow Gymnasium's next-step autoreset (declared in `metadata["autoreset_mode"]`): after
an episode ends, the next `step` resets that env, ignores its action and returns its first
observation with reward 0. Env i seeded with `seed + i` makes the same choices as a single
`WorldSimEnv` seeded `seed + i` (start context and noise stream).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from worldsim.envs.actions import check_actions
from worldsim.envs.crash import resolve_crash_rule
from worldsim.envs.dream import Dream
from worldsim.envs.world_sim_env import EPISODE_STEPS, OBS_BOUND, RENDER_FPS, load_world, observation_space
from worldsim.sources.base import space_from_json


class WorldSimVectorEnv(gym.vector.VectorEnv):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        domain: str | None = None,
        checkpoint: str | Path | None = None,
        obs_type: str = "pixels",
        physics_blend: float = 1.0,
        render_mode: str | None = None,
        episode_steps: int | None = None,
        snap_colours: bool = True,
        crash_rule: bool | None = None,
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"the vector env renders 'rgb_array' only, got {render_mode!r}")
        self.model, bank, self.checkpoint = load_world(domain, checkpoint, obs_type, physics_blend)
        config = self.model.config
        self.num_envs, self.obs_type, self.render_mode = num_envs, obs_type, render_mode
        self.domain, self.physics_blend = config.domain, float(physics_blend)
        self.episode_steps = int(episode_steps or EPISODE_STEPS.get(config.domain, 500))
        self.metadata = {**self.metadata, "render_fps": RENDER_FPS.get(config.domain, 15)}
        self.single_action_space = space_from_json(config.action_space)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = observation_space(config, obs_type)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.dream = Dream(
            self.model,
            bank,
            num_envs,
            self.physics_blend,
            draw=obs_type == "pixels" or render_mode is not None,
            snap_colours=snap_colours,
            crash_rule=resolve_crash_rule(config.domain, crash_rule),
        )
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._ended = np.zeros(num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        if options:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(map(str, options)))} for the vector env")
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset: {len(seeds)} seeds for {self.num_envs} envs")
        for i, s in enumerate(seeds):
            if s is not None or seed is None:
                self._rngs[i] = seeding.np_random(s)[0]
        self._restart(np.arange(self.num_envs))
        return self._observations(), self._infos()

    def step(self, actions):
        actions = torch.as_tensor(check_actions(self.single_action_space, actions, self.num_envs))
        ended = self._ended.copy()
        rewards, terminated = self.dream.step(actions)
        rewards, terminated = rewards.numpy().astype(np.float64), terminated.numpy()
        self._t += 1
        truncated = (self._t >= self.episode_steps) & ~terminated
        if ended.any():  # next-step autoreset: these envs start over and report their first frame
            self._restart(np.flatnonzero(ended))
            rewards[ended], terminated[ended], truncated[ended] = 0.0, False, False
        self._ended = terminated | truncated
        return self._observations(), rewards, terminated, truncated, self._infos()

    def render(self):
        return self.dream.pixels() if self.render_mode == "rgb_array" else None

    def restart(self, which: np.ndarray) -> np.ndarray:
        """Start envs `which` over now (same-step autoreset, as SB3 wants); their first observations."""
        self._restart(np.asarray(which))
        return self._observations()[which]

    def _restart(self, which: np.ndarray) -> None:
        choices = np.array([self._rngs[i].integers(self.dream.bank_size) for i in which])
        seeds = np.array([self._rngs[i].integers(2**63 - 1) for i in which])
        self.dream.reset_from_bank(which, seeds, choices)
        self._t[which] = 0
        self._ended[which] = False

    def _observations(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return self.dream.pixels()
        values = self.dream.latents() if self.obs_type == "latent" else self.dream.states()
        return np.clip(values, -OBS_BOUND[self.obs_type], OBS_BOUND[self.obs_type])

    def _infos(self) -> dict[str, Any]:
        states = self.dream.states() if self.model.config.state_dim else np.zeros((self.num_envs, 0), np.float32)
        return {"state": states, "physics_blend": np.full(self.num_envs, self.physics_blend), "step": self._t.copy()}
