"""Stable-Baselines3 adapter: a `WorldSimVectorEnv` as an SB3 `VecEnv`, with no subprocesses.

SB3 resets finished envs within the same step and reports the last observation of the episode in
`infos[i]["terminal_observation"]` (and time-limit truncation in `infos[i]["TimeLimit.truncated"]`),
so episodes are restarted here right away instead of on the next step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv

from worldsim.envs.vector_env import WorldSimVectorEnv


class WorldSimSB3VecEnv(VecEnv):
    def __init__(self, venv: WorldSimVectorEnv | None = None, num_envs: int = 8, **env_kwargs):
        self.venv = venv if venv is not None else WorldSimVectorEnv(num_envs=num_envs, **env_kwargs)
        if self.venv.autoreset_mode != AutoresetMode.NEXT_STEP:
            # Finished envs are restarted here (`restart`), before the vector env's own autoreset.
            raise ValueError(
                f"WorldSimSB3VecEnv restarts finished envs itself and needs the vector env's default "
                f"AutoresetMode.NEXT_STEP, got {self.venv.autoreset_mode}"
            )
        super().__init__(self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self):
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        obs, _ = self.venv.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        actions = self._actions.reshape(self.num_envs, *self.action_space.shape)
        if isinstance(self.action_space, gym.spaces.Discrete):
            actions = actions.astype(np.int64)
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [
            {"state": info["state"][i], "physics_blend": float(info["physics_blend"][i])} for i in range(self.num_envs)
        ]
        if "uncertainty" in info:
            for i, value in enumerate(info["uncertainty"]):
                infos[i]["uncertainty"] = float(value)
        if dones.any():
            finished = np.flatnonzero(dones)
            for i in finished:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs = obs.copy()
            obs[finished] = self.venv.restart(finished)
        self._actions = None
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self):
        return list(self.venv.dream.pixels())

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        raise NotImplementedError(f"WorldSim dreams share one batched model; no per-env method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))
