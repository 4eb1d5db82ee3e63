"""Time a latent dream step with each way of drawing its per-dream noise, in one process.

    python scripts/bench_noise.py [--domains driving games] [--batches 1 64 1024] [--rounds 3]

For each shipped model and batch size: `WorldModel.imagine` for one step (no frames), its rewards
and terminations read, with the noise drawn from one torch.Generator per dream (the environments'
way before `NoiseStreams`) and from counter-based `NoiseStreams`, in alternating rounds; the
fastest round of each, ms per step. The draws alone are timed the same way.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from worldsim.envs.world import World
from worldsim.model.noise_streams import NoiseStreams


def per_step_ms(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def time_batch(model, batch: int, rounds: int) -> dict:
    """Fastest round of a step and of the draws alone, each way, for a batch of `batch` dreams."""
    c = model.config
    latent = torch.zeros(batch, c.latent_dim)
    shape = () if c.discrete else tuple(c.action_space["shape"])
    actions = torch.zeros(batch, 1, *shape, dtype=torch.long if c.discrete else torch.float32)
    streams = NoiseStreams(batch)
    streams.seed(np.arange(batch), np.arange(batch))
    ways = {"generators": [torch.Generator().manual_seed(i) for i in range(batch)], "streams": streams}
    calls = max(10, 12800 // batch)
    step, draw = {name: [] for name in ways}, {name: [] for name in ways}

    def one_step(noise) -> None:
        rollout = model.imagine(latent, actions, generator=noise)
        rollout.rewards, rollout.terminations  # noqa: B018 (read, as an env reads them)

    with torch.no_grad():
        for _ in range(rounds):
            for name, noise in ways.items():
                step[name].append(per_step_ms(lambda noise=noise: one_step(noise), calls))
                draw[name].append(per_step_ms(lambda noise=noise: model.noise(batch, noise), calls))
    row = {"batch": batch}
    for name in ways:
        row[f"step_ms_{name}"] = round(min(step[name]), 3)
        row[f"draw_ms_{name}"] = round(min(draw[name]), 3)
    row["speedup"] = round(row["step_ms_generators"] / row["step_ms_streams"], 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", nargs="+", default=["driving", "robotics", "games"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64, 1024])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for domain in args.domains:
        model = World.open(domain, None, "latent", 1.0, None, "cpu", "exact").model.eval()
        for batch in args.batches:
            print(json.dumps({"domain": domain, **time_batch(model, batch, args.rounds)}), flush=True)


if __name__ == "__main__":
    main()
