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
from worldsim.envs.world import World


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
        device: str | torch.device = "cpu",
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"the vector env renders 'rgb_array' only, got {render_mode!r}")
        self.world = world = World.open(domain, checkpoint, obs_type, physics_blend, episode_steps, device)
        self.model, self.checkpoint, self.domain = world.model, world.checkpoint, world.domain
        self.num_envs, self.obs_type, self.render_mode = num_envs, obs_type, render_mode
        self.physics_blend, self.episode_steps = float(physics_blend), world.episode_steps
        self.metadata = {**self.metadata, "render_fps": world.spec.fps}
        self.single_action_space = world.action_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = world.observation_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.dream = world.dream(num_envs, self.physics_blend, render_mode is not None, snap_colours, crash_rule)
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
        actions = torch.as_tensor(check_actions(self.single_action_space, actions, self.num_envs), device=self.model.device)
        ended = self._ended.copy()
        rewards, terminated = self.dream.step(actions)
        rewards, terminated = rewards.cpu().numpy().astype(np.float64), terminated.cpu().numpy()
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
        return self.world.observations(self.dream)

    def _infos(self) -> dict[str, Any]:
        return self.world.infos(self.dream, self.physics_blend, self._t)
