"""The environments agents learn and are scored in: N dreams as one torch batch, or the real
simulator observed through the same world model, both acting in the units the domain gives agents.

SB3's Gaussian policies start at mean 0 and std 1. On PushT's 0..512 targets an untrained policy
sits clipped at a corner, and 20k steps of PPO hardly move it (dream- and real-trained agents ended
up acting identically), so such domains let agents act in [-1, 1] and map the actions to the env's
bounds here. Which domains do is a fact of the domain table (`DomainSpec.agent_actions`), read for
the domain of the model the env runs, the checkpoint's own when one is given.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper

from worldsim import domains
from worldsim.envs import RealWorldEnv
from worldsim.envs.sb3 import WorldSimSB3VecEnv
from worldsim.model.checkpoint import read_config, resolve_checkpoint


def model_domain(domain: str, checkpoint: str | Path | None = None) -> str:
    """The domain of the model an env of `domain` and `checkpoint` runs: the checkpoint's when given."""
    if checkpoint is None:
        return domain
    return read_config(resolve_checkpoint(checkpoint))["model"]["domain"]


def needs_rescaling(domain: str, checkpoint: str | Path | None = None) -> bool:
    """Do agents act in [-1, 1] rather than in the env's own units?"""
    return domains.of_model(model_domain(domain, checkpoint)).agent_actions == "unit"


def to_env_action(space: gym.spaces.Box, action: np.ndarray) -> np.ndarray:
    """An agent's [-1, 1] action in `space`'s units."""
    unit = (np.clip(action, -1.0, 1.0) + 1.0) / 2.0
    return (space.low + unit * (space.high - space.low)).astype(space.dtype)


class RescaledActions(VecEnvWrapper):
    """The agent acts in [-1, 1]; the env gets its own units."""

    def __init__(self, venv):
        if not isinstance(venv.action_space, gym.spaces.Box):
            raise ValueError(f"agents act in [-1, 1] only on Box action spaces, not {venv.action_space}")
        self.env_space = venv.action_space
        space = gym.spaces.Box(-1.0, 1.0, shape=venv.action_space.shape, dtype=np.float32)
        super().__init__(venv, action_space=space)

    def step_async(self, actions: np.ndarray) -> None:
        self.venv.step_async(to_env_action(self.env_space, actions))

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        return self.venv.step_wait()


def for_agents(venv, domain: str, checkpoint: str | Path | None = None):
    """`venv` in the units agents act in: wrapped in `RescaledActions` where the domain says so."""
    return RescaledActions(venv) if needs_rescaling(domain, checkpoint) else venv


def dream_of(venv):
    """The `Dream` under a dream VecEnv (rescaled or not)."""
    return (venv.venv if isinstance(venv, RescaledActions) else venv).venv.dream


def dream_venv(
    domain: str,
    checkpoint: str | Path | None,
    obs_type: str,
    num_envs: int,
    seed: int,
    physics_blend: float = 1.0,
    episode_steps: int | None = None,
    crash_rule: bool | None = None,
):
    """N dreams as one torch batch (no subprocesses)."""
    venv = WorldSimSB3VecEnv(
        num_envs=num_envs,
        domain=domain,
        checkpoint=checkpoint,
        obs_type=obs_type,
        physics_blend=physics_blend,
        episode_steps=episode_steps,
        crash_rule=crash_rule,
    )
    venv.seed(seed)
    return for_agents(venv, venv.venv.domain)  # the loaded model's domain: no second read of its config


def real_venv(
    domain: str, checkpoint: str | Path | None, obs_type: str, num_envs: int, seed: int, episode_steps: int | None = None
):
    """The real simulator, observed through the same world model (RealWorldEnv), N in one process."""

    def make():
        return Monitor(RealWorldEnv(domain=domain, checkpoint=checkpoint, obs_type=obs_type, episode_steps=episode_steps))

    venv = DummyVecEnv([make] * num_envs)
    venv.seed(seed)
    return for_agents(venv, domain, checkpoint)
