"""What would an agent learn in the dream? Episodes under one action held throughout, dream against simulator.

An agent trained in a dream learns what the dream pays for: where holding an action ends episodes
more or less often in the dream than in the simulator, a policy that looks safe there crashes on the
real road. Open-loop replays of recorded actions (`worldsim eval --long`) cannot show it, since a
recorded driver never holds one action for a whole episode. For each action, `--episodes` episodes
of each side: the simulator from seeds SEED, SEED+1, ..., the dream (`WorldSimEnv`, crash rule as
shipped) from its start bank with the same seeds; each episode holds the action until it ends or is
cut at the domain's episode length. Reported per action and side: the share of episodes that
terminated (a crash, leaving the track), how many steps they lasted, their return and, for
highway-env, what ended them (a car behind or ahead on the ego, or no car there).

Usage: python scripts/constant_actions.py DOMAIN [--checkpoint C] [--episodes 40] [--seed 1000]
       [--actions JSON] [--physics-blend 1] [--json]
A discrete action space holds each of its actions in turn (highway-env's meta-actions by name);
a continuous one needs --actions, a JSON list of actions (CarRacing: '[[0, 0.5, 0], [0, 0, 0.8]]').
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from worldsim.envs import WorldSimEnv
from worldsim.model.crash import EGO_FIELDS, NEIGHBOUR_FIELDS, cars_overlapping
from worldsim.sources import make_source
from worldsim.sources.driving import ACTIONS

ACTION_NAMES = {"driving": ACTIONS}  # highway-env's meta-actions, in its own order


def hold(step, reset, action, episodes: int, seed: int, limit: int, why=None) -> dict:
    """`episodes` episodes of `action` held (`reset(seed)`, then `step(action)` -> (reward,
    terminated, truncated, state)): the share that terminated, their mean length and return, and
    with `why` (state -> a word) how many terminated episodes ended with each word."""
    ended, lengths, returns, causes = [], [], [], {}
    for episode in range(episodes):
        reset(seed + episode)
        total, steps, terminated = 0.0, 0, False
        while steps < limit:
            reward, terminated, truncated, state = step(action)
            total, steps = total + float(reward), steps + 1
            if terminated or truncated:
                break
        if terminated and why is not None:
            causes[why(state)] = causes.get(why(state), 0) + 1
        ended.append(terminated)
        lengths.append(steps)
        returns.append(total)
    row = {"terminated": float(np.mean(ended)), "steps": float(np.mean(lengths)), "return": float(np.mean(returns))}
    return {**row, "ended_by": dict(sorted(causes.items()))} if why is not None else row


def car_on_the_ego(state: np.ndarray) -> str:
    """Where a highway-env episode's last state puts the car on the ego (`worldsim.model.crash`'s
    window): "a car behind" (its centre behind the ego's), "a car ahead", or "no car on the ego"
    (the simulator's own crash flag, or the dream's termination head)."""
    row = torch.as_tensor(np.asarray(state, dtype=np.float32))[None]
    close = cars_overlapping(row)[0].numpy()
    if not close.any():
        return "no car on the ego"
    dx = row[0, EGO_FIELDS:].reshape(-1, NEIGHBOUR_FIELDS)[:, 1].numpy()[close]
    return "a car behind" if dx[np.argmin(np.abs(dx))] < 0 else "a car ahead"


WHY = {"driving": car_on_the_ego}  # how a domain's episodes end, read off the last state


def actions_of(domain: str, space: gym.Space, given: str | None) -> list[tuple[str, object]]:
    """(name, action) pairs: the given JSON list, or each action of a discrete space."""
    if given is not None:
        try:
            values = json.loads(given)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--actions is not JSON: {exc}") from None
        if not isinstance(values, list) or not values:
            raise ValueError(f"--actions must be a non-empty JSON list of actions, got {given!r}")
        actions = [np.asarray(v, dtype=space.dtype) if not isinstance(space, gym.spaces.Discrete) else v for v in values]
        bad = [v for v in actions if not space.contains(v)]
        if bad:
            raise ValueError(f"--actions: {bad[0]!r} is not in the action space {space}")
        return [(json.dumps(v if isinstance(v, int) else v.tolist()), v) for v in actions]
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"the action space {space} is continuous: give the actions to hold with --actions")
    names = ACTION_NAMES.get(domain, [str(a) for a in range(space.n)])
    return [(names[a], a) for a in range(space.n)]


def measure(
    domain: str | None, checkpoint: str | None, episodes: int, seed: int, given: str | None, physics_blend: float = 1.0
) -> dict:
    dream = WorldSimEnv(domain=domain, checkpoint=checkpoint, obs_type="latent", physics_blend=physics_blend)
    source = make_source(dream.domain, dream.model.config.frame_size)
    limit = dream.episode_steps

    def dream_step(action):
        _, reward, terminated, truncated, info = dream.step(action)
        return reward, terminated, truncated, info["state"]

    def real_step(action):
        obs = source.step(action)
        return obs.reward, obs.terminated, obs.truncated, obs.state

    why = WHY.get(dream.domain)

    rows = {}
    for name, action in tqdm(actions_of(dream.domain, dream.action_space, given), desc="actions held", unit="action"):
        started = time.perf_counter()
        real = hold(real_step, lambda s: source.reset(seed=s), action, episodes, seed, limit, why)
        simulator_s = time.perf_counter() - started
        imagined = hold(dream_step, lambda s: dream.reset(seed=s), action, episodes, seed, limit, why)
        rows[name] = {"simulator": real, "dream": imagined, "simulator_s": simulator_s}
    return {
        "domain": dream.domain,
        "checkpoint": str(dream.checkpoint),
        "physics_blend": physics_blend,
        "episodes": episodes,
        "seed": seed,
        "episode_steps": limit,
        "actions": rows,
    }


def table(report: dict) -> str:
    lines = [
        f"{report['domain']} ({report['checkpoint']}, physics blend {report.get('physics_blend', 1.0):g}), "
        f"{report['episodes']} episodes per action and side, "
        f"cut at {report['episode_steps']} steps:",
        f"{'action held':<16}{'terminated sim / dream':>24}{'steps sim / dream':>20}{'return sim / dream':>22}",
    ]
    for name, row in report["actions"].items():
        s, d = row["simulator"], row["dream"]
        lines.append(
            f"{name:<16}{s['terminated']:>12.0%} / {d['terminated']:<9.0%}{s['steps']:>9.1f} / {d['steps']:<8.1f}"
            f"{s['return']:>10.1f} / {d['return']:<8.1f}"
        )
    for name, row in report["actions"].items():
        if "ended_by" in row["dream"]:
            sim, dream = (_causes(row[side]["ended_by"]) for side in ("simulator", "dream"))
            lines.append(f"{name} ended by: simulator {sim}; dream {dream}")
    return "\n".join(lines)


def _causes(counts: dict[str, int]) -> str:
    return ", ".join(f"{cause} {n}" for cause, n in counts.items()) or "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("domain", nargs="?", help="a built-in domain (its shipped weights), or give --checkpoint")
    parser.add_argument("--checkpoint", help="a model directory (default: the domain's shipped weights)")
    parser.add_argument("--episodes", type=int, default=40, help="episodes per action and side (default 40)")
    parser.add_argument("--seed", type=int, default=1000, help="the first episode's seed (default 1000)")
    parser.add_argument("--actions", help="a JSON list of the actions to hold (needed for a continuous action space)")
    parser.add_argument("--physics-blend", type=float, default=1.0, help="the dream's α (default 1: the learned dynamics alone)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not (args.domain or args.checkpoint):
        parser.error("give a domain or --checkpoint")
    if args.episodes < 1:
        parser.error(f"--episodes must be at least 1, got {args.episodes}")
    torch.set_num_threads(args.threads)
    try:
        report = measure(args.domain, args.checkpoint, args.episodes, args.seed, args.actions, args.physics_blend)
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(report, indent=1) if args.json else table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
