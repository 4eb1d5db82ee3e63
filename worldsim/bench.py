"""`worldsim bench`: throughput of the ground-truth sources, as the baseline WorldSim is held to.

Each domain's source is driven by its behaviour policy for `--steps` steps at the given frame size
(resetting when an episode ends); the first episode's start-up is excluded from the timing.
"""

from __future__ import annotations

import time

import numpy as np

from worldsim.behaviour import default_policy
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


def add_bench(commands) -> None:
    p = commands.add_parser("bench", help="measure the real simulators' steps/s at the frame size")
    p.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=list(DOMAINS))
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--frame-size", type=int, default=64)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_bench)


def run_bench(args):
    rows = [source_steps_per_second(d, args.steps, args.frame_size) for d in args.domains]
    if args.json:
        return {"frame_size": args.frame_size, "sources": rows}
    lines = [f"{'domain':<10} {'simulator':<20} {'steps/s':>8}  (incl. rendering at {args.frame_size}x{args.frame_size}, resets)"]
    lines += [f"{r['domain']:<10} {r['env_id']:<20} {r['steps_per_s']:>8.1f}" for r in rows]
    return "\n".join(lines)
