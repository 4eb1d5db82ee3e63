"""What the agent scripts share: environments for the dream and the real simulator, SB3 callbacks."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper
from tqdm import tqdm

from worldsim.envs import RealWorldEnv
from worldsim.envs.sb3 import WorldSimSB3VecEnv

ALGOS = ("ppo", "sac")


def action_space(domain: str, checkpoint: str | None):
    """The domain's action space as the world model (and so every env) declares it."""
    from worldsim.model.checkpoint import read_config, resolve_checkpoint
    from worldsim.sources.base import space_from_json

    return space_from_json(read_config(resolve_checkpoint(checkpoint or domain))["model"]["action_space"])


def needs_rescaling(space) -> bool:
    """Box actions with bounds beyond [-1, 1] (PushT's 0..512 target positions)."""
    return isinstance(space, gym.spaces.Box) and bool((np.abs(space.low) > 1).any() or (np.abs(space.high) > 1).any())


def to_env_action(space, action: np.ndarray) -> np.ndarray:
    """An agent's [-1, 1] action in `space`'s units."""
    unit = (np.clip(action, -1.0, 1.0) + 1.0) / 2.0
    return (space.low + unit * (space.high - space.low)).astype(space.dtype)


class RescaledActions(VecEnvWrapper):
    """The agent acts in [-1, 1]; the env gets its own units. SB3's Gaussian policies start at mean 0
    and std 1: on PushT's 0..512 targets an untrained policy sits clipped at a corner, and 20k steps
    of PPO hardly move it (dream- and real-trained agents ended up acting identically). Domains whose
    bounds lie within [-1, 1] (CarRacing) are left as they are."""

    def __init__(self, venv):
        self.env_space = venv.action_space
        space = gym.spaces.Box(-1.0, 1.0, shape=venv.action_space.shape, dtype=np.float32)
        super().__init__(venv, action_space=space)

    def step_async(self, actions: np.ndarray) -> None:
        self.venv.step_async(to_env_action(self.env_space, actions))

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        return self.venv.step_wait()


def for_agents(venv):
    return RescaledActions(venv) if needs_rescaling(venv.action_space) else venv


def dream_of(venv):
    """The `Dream` under a dream VecEnv (rescaled or not)."""
    return (venv.venv if isinstance(venv, RescaledActions) else venv).venv.dream


def dream_venv(
    domain: str,
    checkpoint: str | None,
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
    return for_agents(venv)


def real_venv(domain: str, checkpoint: str | None, obs_type: str, num_envs: int, seed: int, episode_steps: int | None = None):
    """The real simulator, observed through the same world model (RealWorldEnv), N in one process."""
    make = lambda: Monitor(RealWorldEnv(domain=domain, checkpoint=checkpoint, obs_type=obs_type, episode_steps=episode_steps))  # noqa: E731
    venv = DummyVecEnv([make] * num_envs)
    venv.seed(seed)
    return for_agents(venv)


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


def play_real(
    agent,
    domain: str,
    checkpoint: str | None,
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
                action = to_env_action(env.action_space, action) if needs_rescaling(env.action_space) else action
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


def make_agent(algo: str, venv, obs_type: str, seed: int, tensorboard: str | None, steps: int):
    import stable_baselines3

    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; choose one of {', '.join(ALGOS)}")
    policy = "CnnPolicy" if obs_type == "pixels" else "MlpPolicy"
    kwargs: dict[str, Any] = {"seed": seed, "device": "cpu", "verbose": 0, "tensorboard_log": tensorboard}
    if algo == "ppo":
        # ~1024 steps per update over all envs (fewer for tiny budgets), in minibatches of 256.
        n_steps = max(8, min(1024, steps) // venv.num_envs)
        kwargs.update(n_steps=n_steps, batch_size=min(256, n_steps * venv.num_envs))
    return getattr(stable_baselines3, algo.upper())(policy, venv, **kwargs)


def evaluate(agent, venv, episodes: int) -> dict[str, float]:
    """Mean and std of the return over `episodes` complete episodes, deterministic actions."""
    returns, current = [], np.zeros(venv.num_envs)
    obs = venv.reset()
    while len(returns) < episodes:
        actions, _ = agent.predict(obs, deterministic=True)
        obs, rewards, dones, _ = venv.step(actions)
        current += rewards
        for i in np.flatnonzero(dones):
            returns.append(float(current[i]))
            current[i] = 0.0
    returns = returns[:episodes]
    return {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "episodes": len(returns)}


class TimedEvalCallback(EvalCallback):
    """SB3's EvalCallback that also counts the seconds it spends evaluating, so the training
    wall-clock reported for dream and real agents is training alone (real-simulator evaluation
    episodes cost the same for both and would hide the dream's speed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds = 0.0

    def _on_step(self) -> bool:
        start = time.perf_counter()
        keep_going = super()._on_step()
        self.seconds += time.perf_counter() - start
        return keep_going


class ProgressBar(BaseCallback):
    """A tqdm bar over environment steps (SB3's own bar needs `rich`)."""

    def __init__(self, total: int, desc: str, disable: bool = False):
        super().__init__()
        self.bar = tqdm(total=total, unit="step", desc=desc, disable=disable)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
