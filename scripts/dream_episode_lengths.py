"""How long does a random-policy episode last in the driving dream, and in highway-env itself?

A dream that ends on near misses teaches an agent that every lane change is fatal; this compares
episode lengths and the share ended by a crash, in the shipped dream with and without the overlap
crash rule (`worldsim.model.crash`) and in the simulator, all under uniformly random actions.

Usage: python scripts/dream_episode_lengths.py [--checkpoint driving] [--envs 64] [--steps 300] [--sim-episodes 60]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


def dream_lengths(checkpoint: str, envs: int, steps: int, crash_rule: bool, seed: int = 0) -> tuple[float, float, int]:
    # same-step autoreset: every step() is a step of some episode (next-step mode spends one on the reset)
    env = gym.make_vec(
        "worldsim:WorldSim-v0", num_envs=envs, obs_type="latent", checkpoint=checkpoint, crash_rule=crash_rule,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )  # fmt: skip
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    length, lengths, crashes = np.zeros(envs), [], []
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.integers(0, 5, envs))
        length += 1
        done = terminated | truncated
        lengths += length[done].tolist()
        crashes += terminated[done].tolist()
        length[done] = 0
    env.close()
    return float(np.mean(lengths)), float(np.mean(crashes)), len(lengths)


def simulator_lengths(episodes: int, seed: int = 0) -> tuple[float, float, int]:
    import highway_env  # noqa: F401  (registers highway-fast-v0)

    env = gym.make("highway-fast-v0")
    rng = np.random.default_rng(seed)
    lengths, crashes = [], []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        n, done, terminated = 0, False, False
        while not done:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(0, 5)))
            n, done = n + 1, terminated or truncated
        lengths.append(n)
        crashes.append(terminated)
    return float(np.mean(lengths)), float(np.mean(crashes)), episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="driving")
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--sim-episodes", type=int, default=60)
    args = parser.parse_args()
    rows = [
        (f"dream, crash rule {'on' if rule else 'off'}", *dream_lengths(args.checkpoint, args.envs, args.steps, rule))
        for rule in (True, False)
    ]
    rows.append(("highway-fast-v0", *simulator_lengths(args.sim_episodes)))
    print("| random policy | mean episode length | ended by a crash | episodes |\n|---|---:|---:|---:|")
    for name, length, crash, n in rows:
        print(f"| {name} | {length:.1f} | {crash:.0%} | {n} |")


if __name__ == "__main__":
    main()
