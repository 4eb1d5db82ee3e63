"""Any registered Gymnasium env with `rgb_array` rendering: frames, actions, rewards, no state.

Non-square renders are letterboxed (black bars) before downsampling, so shapes keep their aspect.
The caption names the env and the step, since there is no physical state to describe.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from worldsim.sources.base import Observation, Source, space_to_json, to_square_frame


class GenericSource(Source):
    domain = "any"

    def __init__(self, env_id: str, frame_size: int = 64, **make_kwargs):
        super().__init__(frame_size)
        try:
            self.env = gym.make(env_id, render_mode="rgb_array", **make_kwargs)
        except gym.error.Error as exc:
            raise ValueError(f"cannot make Gymnasium env {env_id!r}: {exc}") from None
        if "rgb_array" not in self.env.metadata.get("render_modes", []):
            raise ValueError(f"Gymnasium env {env_id!r} has no 'rgb_array' render mode")
        space_to_json(self.env.action_space)  # fail now, not at the end of the first episode
        self.steps = 0

    def _reset(self, seed):
        self.env.reset(seed=seed)
        self.env.action_space.seed(seed)
        self.steps = 0
        return self._observe(0.0, False, False)

    def _step(self, action):
        _, reward, terminated, truncated, _ = self.env.step(action)
        self.steps += 1
        return self._observe(float(reward), bool(terminated), bool(truncated))

    def _observe(self, reward, terminated, truncated) -> Observation:
        frame = to_square_frame(self.env.render(), self.frame_size)
        state = np.zeros(0, dtype=np.float32)
        return Observation(frame, state, f"{self.env_id} at step {self.steps}", reward, terminated, truncated, {})
