"""What info["uncertainty"] costs: 64 latent-observation dreams stepped with and without it.

Usage: python scripts/bench_uncertainty.py CHECKPOINT   (a model trained with --model '{"ensemble": K}')
"""

import sys
import time

import numpy as np
import torch

from worldsim.envs.vector_env import WorldSimVectorEnv


def steps_per_second(checkpoint: str, uncertainty: bool, steps: int = 100) -> float:
    venv = WorldSimVectorEnv(64, checkpoint=checkpoint, obs_type="latent", uncertainty=uncertainty)
    venv.reset(seed=0)
    actions = np.stack([venv.single_action_space.sample() for _ in range(64)])
    for _ in range(5):
        venv.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        venv.step(actions)
    return steps * 64 / (time.perf_counter() - start)


if __name__ == "__main__":
    torch.set_num_threads(1)
    with_it, without = steps_per_second(sys.argv[1], True), steps_per_second(sys.argv[1], False)
    print(f"uncertainty on {with_it:.0f} steps/s, off {without:.0f} steps/s: ratio {with_it / without:.2f}")
