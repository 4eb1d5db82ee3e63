"""Real start contexts for `reset(options={"scenario": ...})`.

A dream cannot place vehicles or blocks itself: it starts from real frames. For a scenario, the
simulator is run once through the scenario's start (its placement, its seed) for `context` frames
with the domain's behaviour policy, and those frames seed the dream. The simulator is imported only
here, only when a scenario is asked for, and each scenario's context is computed once per process.
Events the scenario scripts after its start are the simulator's; the dream does not replay them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import gymnasium as gym
import numpy as np

from worldsim.scenario import load_scenario


def scenario_context(ref: str | Path, domain: str, frame_size: int, context: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (context, S, S, 3) uint8, actions (context - 1, ...)) at the start of scenario `ref`."""
    scenario = load_scenario(ref)
    if scenario.domain != domain:
        raise ValueError(f"scenario {scenario.path}: its domain is {scenario.domain!r}, this environment's is {domain!r}")
    frames, actions = _record_start(str(scenario.path), frame_size, context)
    return frames.copy(), actions.copy()


@lru_cache(maxsize=16)
def _record_start(path: str, frame_size: int, context: int) -> tuple[np.ndarray, np.ndarray]:
    from worldsim.behaviour import default_policy
    from worldsim.sources import make_source

    scenario = load_scenario(path)
    source = make_source(scenario.domain, frame_size, scenario=scenario)
    policy = default_policy(scenario.domain)
    try:
        obs = source.reset(seed=scenario.seed)
        policy.reset(np.random.default_rng(scenario.seed), source)
        frames, actions = [obs.frame], []
        for _ in range(context - 1):
            action = policy.act(source, obs)
            obs = source.step(action)
            actions.append(action)
            frames.append(obs.frame)
            if obs.terminated or obs.truncated:
                raise ValueError(f"scenario {path}: the episode ended within its first {context} frames")
        discrete = isinstance(source.action_space, gym.spaces.Discrete)
    finally:
        source.close()
    return np.stack(frames), np.asarray(actions, dtype=np.int64 if discrete else np.float32)
