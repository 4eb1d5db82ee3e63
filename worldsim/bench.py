"""`worldsim bench`: throughput of the ground-truth sources, as the baseline WorldSim is held to.

Each domain's source is driven by its behaviour policy for `--steps` steps at the given frame size
(resetting when an episode ends); the first episode's start-up is excluded from the timing.
With `--dataset DIR`, it also measures how fast `WindowSampler` serves training batches from DIR.
"""

from __future__ import annotations

import time

import numpy as np

from worldsim.behaviour import default_policy
from worldsim.data import WindowSampler
from worldsim.sources import DOMAINS, make_source


def source_steps_per_second(domain: str, steps: int, frame_size: int = 64, seed: int = 0) -> dict:
    source = make_source(domain, frame_size)
    policy = default_policy(domain)
    rng = np.random.default_rng(seed)
    obs = source.reset(seed=seed)
    policy.reset(rng, source)
    resets, start = 0, time.perf_counter()
    for _ in range(steps):
        obs = source.step(policy.act(source, obs))
        if obs.terminated or obs.truncated:
            obs = source.reset(seed=int(rng.integers(2**31)))
            policy.reset(rng, source)
            resets += 1
    elapsed = time.perf_counter() - start
    source.close()
    return {"domain": domain, "env_id": source.env_id, "steps": steps, "resets": resets,
            "seconds": elapsed, "steps_per_s": steps / elapsed}


def window_batches_per_second(root: str, batch: int = 32, length: int = 16, seconds: float = 3.0) -> dict:
    start = time.perf_counter()
    sampler = WindowSampler(root, length=length, split="train")
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    sampler.sample(batch, rng)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sampler.sample(batch, rng)
        n += 1
    elapsed = time.perf_counter() - start
    return {"dataset": root, "transitions": sampler.transitions, "load_s": load_s, "batch": batch,
            "length": length, "batches_per_s": n / elapsed, "frames_per_s": n * batch * (length + 1) / elapsed}


def add_bench(commands) -> None:
    p = commands.add_parser("bench", help="measure the real simulators' steps/s at the frame size")
    p.add_argument("--domains", nargs="*", default=list(DOMAINS), choices=list(DOMAINS), help="default: all")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--frame-size", type=int, default=64)
    p.add_argument("--dataset", help="also time WindowSampler batches (32 x 16 steps) from this dataset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_bench)


def run_bench(args):
    rows = [source_steps_per_second(d, args.steps, args.frame_size) for d in args.domains]
    windows = window_batches_per_second(args.dataset) if args.dataset else None
    if args.json:
        return {"frame_size": args.frame_size, "sources": rows, "windows": windows}
    lines = [f"{'domain':<10} {'simulator':<20} {'steps/s':>8}  (incl. rendering at {args.frame_size}x{args.frame_size}, resets)"]
    lines += [f"{r['domain']:<10} {r['env_id']:<20} {r['steps_per_s']:>8.1f}" for r in rows]
    if windows:
        lines.append(
            f"windows from {windows['dataset']} ({windows['transitions']} transitions, loaded in "
            f"{windows['load_s']:.1f} s): {windows['batches_per_s']:.0f} batches/s of {windows['batch']}x{windows['length']} steps"
        )
    return "\n".join(lines)
