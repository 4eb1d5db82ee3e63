"""Throughput of WorldSim environments, for `worldsim bench`.

Counts environment steps per second: a vector env of N stepped K times made N * K steps. Actions
are sampled before the clock starts, so the number is the environment's, not the sampler's; a few
warm-up steps (first-call allocations) are not timed. Episode ends reset inside the timed loop, as
they would during training.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.envs.world_sim_env import WorldSimEnv

WARMUP_STEPS = 3


def dream_steps_per_second(
    domain: str,
    checkpoint: str | Path | None,
    num_envs: int,
    obs_type: str,
    steps: int,
    seed: int = 0,
    engine: str = "torch",
    decoder: str = "exact",
    device: str = "cpu",
) -> dict:
    """Time `steps` calls of step() on one env (num_envs=1) or a vector env of `num_envs`, its
    dream run by `engine` (an ONNX graph is exported, or read from its cache, before the clock
    starts), drawn by `decoder` ("exact" or "distilled"), its latents and frames kept on `device`
    (each step's observations are copied out as numpy arrays, as Gymnasium's API returns them)."""
    single = num_envs == 1
    kwargs = dict(domain=domain, checkpoint=checkpoint, obs_type=obs_type, engine=engine, decoder=decoder, device=device)
    env = WorldSimEnv(**kwargs) if single else WorldSimVectorEnv(num_envs=num_envs, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(steps + WARMUP_STEPS)]
    for action in actions[:WARMUP_STEPS]:
        _step(env, action, single)
    start = time.perf_counter()
    for action in actions[WARMUP_STEPS:]:
        _step(env, action, single)
    elapsed = time.perf_counter() - start
    env.close()
    return {
        "domain": domain,
        "num_envs": num_envs,
        "obs_type": obs_type,
        "engine": engine,
        "decoder": decoder,
        "device": str(device),
        "calls": steps,
        "seconds": elapsed,
        "steps_per_s": num_envs * steps / elapsed,
        "torch_threads": torch.get_num_threads(),
    }


def _step(env, action, single: bool) -> None:
    _, _, terminated, truncated, _ = env.step(action)
    if single and (terminated or truncated):
        env.reset()  # the vector env resets itself (next-step autoreset)


def ratio(dream: dict, simulator: dict) -> float:
    return float(np.float64(dream["steps_per_s"]) / simulator["steps_per_s"])
