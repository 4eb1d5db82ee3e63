"""`worldsim dream`: one episode per domain in the shipped world models, written to video.

Each domain is made with `gym.make("WorldSim-<domain>-v0")`, so this is exactly what a user gets:
no simulator is imported or run. Actions are sampled from the action space (seeded). Steps/s
counts `env.step` calls only; rendering the video is timed apart.
"""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from worldsim import domains


def dream_episode(domain: str, out: Path, steps: int | None, seed: int, checkpoint: str | None = None) -> dict:
    kwargs = {"checkpoint": checkpoint} if checkpoint else {}
    env = gym.make(f"WorldSim-{domain}-v0", render_mode="rgb_array", **kwargs)
    limit = steps or env.unwrapped.episode_steps
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    frames, total, step_s, n = [obs], 0.0, 0.0, 0
    while n < limit:
        action = env.action_space.sample()
        start = time.perf_counter()
        obs, reward, terminated, truncated, _ = env.step(action)
        step_s += time.perf_counter() - start
        frames.append(obs)
        total, n = total + float(reward), n + 1
        if terminated or truncated:
            break
    fps = env.metadata["render_fps"]
    env.close()
    from worldsim.video import write_video

    video = write_video(out / f"{domain}.mp4", np.stack(frames), fps=fps)
    return {
        "domain": domain,
        "steps": n,
        "return": total,
        "ended": "terminated" if n < limit and terminated else "truncated" if n < limit else "step limit",
        "steps_per_s": n / step_s if step_s else 0.0,
        "video": str(video),
    }


def add_dream(commands) -> None:
    p = commands.add_parser("dream", help="run an episode per domain in the shipped world models, write videos")
    p.add_argument("--domains", nargs="*", default=list(domains.names()), choices=domains.names(), help="default: all")
    p.add_argument("--steps", type=int, help="steps per episode at most (default: the domain's episode length)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="a trained run instead of the shipped weights (one domain only)")
    p.add_argument("--out", default="dreams", help="directory for the videos (default ./dreams)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_dream)


def run_dream(args):
    if args.checkpoint and len(args.domains) != 1:
        raise ValueError("--checkpoint is one world model: give exactly one domain with --domains")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    rows = [dream_episode(d, Path(args.out), args.steps, args.seed, args.checkpoint) for d in args.domains]
    if args.json:
        return rows
    lines = [f"{'domain':<10} {'steps':>6} {'return':>8} {'steps/s':>8}  ended       video"]
    lines += [
        f"{r['domain']:<10} {r['steps']:>6} {r['return']:>8.2f} {r['steps_per_s']:>8.0f}  {r['ended']:<11} {r['video']}"
        for r in rows
    ]
    return "\n".join(lines)
