"""Agents playing the real simulator, with everything kept: the episodes diagnosis scores the
dream's heads on and head correction refits them on. A random policy stands in where no agent is
given, as the floor every agent is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.agents.envs import needs_rescaling, to_env_action
from worldsim.envs import RealWorldEnv


@dataclass
class PlayedEpisode:
    """One real-simulator episode as a dataset holds it: frames and states (T+1), per step (T) the
    action, reward and crash flag."""

    frames: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


class RandomAgent:
    """Uniform random actions for every env of a VecEnv, with SB3's `predict`."""

    def __init__(self, venv, seed: int):
        self.space = venv.action_space
        self.space.seed(seed)
        self.n = venv.num_envs

    def predict(self, obs, deterministic: bool = True):
        return np.stack([self.space.sample() for _ in range(self.n)]), None


def play_real(
    agent,
    domain: str,
    checkpoint: str | Path | None,
    obs_type: str,
    episodes: int,
    seed: int,
    episode_steps: int | None = None,
    deterministic: bool = True,
) -> list[PlayedEpisode]:
    """Play `episodes` real-simulator episodes with an SB3 agent (None: uniform random actions),
    keeping everything (no autoreset, so each final frame is kept). Episode i is seeded seed + i."""
    env = RealWorldEnv(
        domain=domain, checkpoint=checkpoint, obs_type=obs_type, render_mode="rgb_array", episode_steps=episode_steps
    )
    rescale = needs_rescaling(env.domain)  # the loaded model's domain
    env.action_space.seed(seed)
    played = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        record = {"frames": [env.render()], "states": [info["state"]], "actions": [], "rewards": [], "terminated": []}
        done = False
        while not done:
            if agent is None:
                action = env.action_space.sample()
            else:
                action = agent.predict(obs, deterministic=deterministic)[0]
                action = to_env_action(env.action_space, action) if rescale else action
            obs, reward, terminated, truncated, info = env.step(action)
            for key, value in (
                ("frames", env.render()),
                ("states", info["state"]),
                ("actions", action),
                ("rewards", reward),
                ("terminated", terminated),
            ):
                record[key].append(value)
            done = terminated or truncated
        actions = np.asarray(record["actions"])
        played.append(
            PlayedEpisode(
                frames=np.asarray(record["frames"]),
                states=np.asarray(record["states"], np.float32),
                actions=actions.astype(np.int64 if actions.dtype.kind in "iu" else np.float32),
                rewards=np.asarray(record["rewards"], np.float32),
                terminated=np.asarray(record["terminated"], bool),
            )
        )
    env.close()
    return played
