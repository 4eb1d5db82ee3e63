"""`worldsim dream`: one episode per domain, the real simulator beside its dream, written to video.

For each domain the real simulator plays an episode with the domain's own behaviour policy (the
one that recorded the training data); the shipped world model starts from the episode's first real
frames and is given the very same actions. `dreams/<domain>.mp4` shows real | dream side by side for
the whole episode, so what the model gets right and wrong over a long horizon is visible at a
glance. The dream is shown past an imagined crash too; the table says where it ended.

`--no-simulator` runs the dreams alone, exactly as `gym.make("WorldSim-<domain>-v0")` gives them
(nothing of a simulator is imported), with actions sampled from the action space; steps/s counts
`env.step` calls only.
"""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from worldsim import domains
from worldsim.rollout import BEHAVIOUR, RolloutRequest, rollout
from worldsim.video import write_video


def side_by_side_episode(domain: str, out: Path, steps: int | None, seed: int, checkpoint: str | None = None) -> dict:
    limit = steps or domains.get(domain).episode_steps
    request = RolloutRequest(domain=domain, checkpoint=checkpoint, policy=BEHAVIOUR, steps=limit, seed=seed, side_by_side=True)
    result = rollout(request, out / f"{domain}.mp4")
    return {
        "domain": domain,
        "steps": result["steps"],
        "real_return": result["real_return"],
        "dream_return": result["dream_return"],
        "dream_ended_at": result["dream_ended_at"],
        "video": result["video"],
    }


def dream_episode(domain: str, out: Path, steps: int | None, seed: int, checkpoint: str | None = None) -> dict:
    kwargs = {"checkpoint": checkpoint} if checkpoint else {}
    env = gym.make(f"WorldSim-{domain}-v0", render_mode="rgb_array", **kwargs)
    limit = steps or env.unwrapped.episode_steps
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    frames, total, step_s, n, terminated = [obs], 0.0, 0.0, 0, False
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
    video = write_video(out / f"{domain}.mp4", np.stack(frames), fps=fps)
    ended = "terminated" if n < limit and terminated else "truncated" if n < limit else "step limit"
    return {
        "domain": domain,
        "steps": n,
        "return": total,
        "ended": ended,
        "steps_per_s": n / step_s if step_s else 0.0,
        "video": str(video),
    }


def add_dream(commands) -> None:
    p = commands.add_parser("dream", help="an episode per domain, real simulator | dream side by side, written to video")
    p.add_argument("--domains", nargs="*", default=list(domains.names()), choices=domains.names(), help="default: all")
    p.add_argument("--steps", type=int, help="steps per episode at most (default: the domain's episode length)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="a trained run instead of the shipped weights (one domain only)")
    p.add_argument("--no-simulator", action="store_true", help="the dreams alone with random actions, no simulator imported")
    p.add_argument("--out", default="dreams", help="directory for the videos (default ./dreams)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_dream)


def run_dream(args):
    if args.checkpoint and len(args.domains) != 1:
        raise ValueError("--checkpoint is one world model: give exactly one domain with --domains")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    episode = dream_episode if args.no_simulator else side_by_side_episode
    rows = [episode(d, Path(args.out), args.steps, args.seed, args.checkpoint) for d in args.domains]
    if args.json:
        return rows
    if args.no_simulator:
        lines = [f"{'domain':<10} {'steps':>6} {'return':>8} {'steps/s':>8}  ended       video"]
        lines += [
            f"{r['domain']:<10} {r['steps']:>6} {r['return']:>8.2f} {r['steps_per_s']:>8.0f}  {r['ended']:<11} {r['video']}"
            for r in rows
        ]
        return "\n".join(lines)
    lines = [f"{'domain':<10} {'steps':>6} {'real return':>12} {'dream return':>13} {'dream ended at':>15}  video (real | dream)"]
    for r in rows:
        ended = "-" if r["dream_ended_at"] is None else f"step {r['dream_ended_at']}"
        lines.append(
            f"{r['domain']:<10} {r['steps']:>6} {r['real_return']:>12.2f} {r['dream_return']:>13.2f} {ended:>15}  {r['video']}"
        )
    return "\n".join(lines)
