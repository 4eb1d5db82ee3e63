"""A driver that reads the road off the state, on the simulator and in a CarRacing dream.

Replaying recorded actions open loop (`worldsim eval --long`) cannot keep a dream's car on its road:
the track beyond the camera is unknown to the dream, and the recorded steering follows the real one.
An agent drives closed loop, steering along whatever road its observations show. This drives both
worlds with one simple closed-loop driver that sees only the physical state (pure pursuit of the
centre-line sample 21 u ahead, `road+6`, at a held speed) and compares what happens: the share of
steps the car is on the road (its place within the road's half-width, 6.7 u, of the centre line),
its mean speed, and the return each world pays. In a faithful dream the driver stays on the road as
often and is paid as much as on the simulator.

Usage: python scripts/closed_loop_drive.py CHECKPOINT [CHECKPOINT ...] [--episodes 5] [--steps 300]
"""

from __future__ import annotations

import argparse

import numpy as np

from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.sources import make_source

HALF_WIDTH = 40 / 6  # CarRacing's TRACK_WIDTH, in the state's units
TARGET_SPEED = 30.0


def drive(state: dict[str, float]) -> np.ndarray:
    """steer, gas, brake towards the centre-line sample 21 u ahead, at about TARGET_SPEED u/s."""
    bearing = np.arctan2(state["road+6_right"], max(state["road+6_ahead"], 1e-3))  # right of the nose: +
    steer = float(np.clip(2.0 * bearing, -1.0, 1.0))
    speed = state["speed"]
    return np.array([steer, 0.5 if speed < TARGET_SPEED else 0.0, 0.3 if speed > TARGET_SPEED + 10 else 0.0], np.float32)


def on_road(state: dict[str, float]) -> bool:
    return float(np.hypot(state["road+0_right"], state["road+0_ahead"])) < HALF_WIDTH


def summary(steps: list[tuple[bool, float]], returns: list[float]) -> str:
    road, speed = np.array([s[0] for s in steps]), np.array([s[1] for s in steps])
    paid = f"{np.mean(returns):7.1f} ± {np.std(returns):5.1f}"
    return f"on the road {road.mean():6.1%}  speed {speed.mean():5.1f} u/s  return {paid}"


def simulator(episodes: int, steps: int) -> str:
    source = make_source("games", 64)
    names = [f.name for f in source.state_fields]
    record, returns = [], []
    try:
        for episode in range(episodes):
            obs = source.reset(seed=1000 + episode)
            paid = 0.0
            for _ in range(steps):
                state = dict(zip(names, map(float, obs.state), strict=True))
                obs = source.step(drive(state))
                paid += obs.reward
                after = dict(zip(names, map(float, obs.state), strict=True))
                record.append((on_road(after), after["speed"]))
                if obs.terminated or obs.truncated:
                    break
            returns.append(paid)
    finally:
        source.close()
    return summary(record, returns)


def dream(checkpoint: str, episodes: int, steps: int) -> str:
    env = WorldSimEnv(checkpoint=checkpoint, obs_type="state", episode_steps=steps)
    names = env.model.config.state_fields
    record, returns = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=1000 + episode)
        paid = 0.0
        for _ in range(steps):
            obs, reward, terminated, truncated, _ = env.step(drive(dict(zip(names, map(float, obs), strict=True))))
            paid += reward
            after = dict(zip(names, map(float, obs), strict=True))
            record.append((on_road(after), after["speed"]))
            if terminated or truncated:
                break
        returns.append(paid)
    env.close()
    return summary(record, returns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    print(f"{'simulator':>28s}  {simulator(args.episodes, args.steps)}")
    for checkpoint in args.checkpoints:
        print(f"{checkpoint:>28s}  {dream(checkpoint, args.episodes, args.steps)}")


if __name__ == "__main__":
    main()
