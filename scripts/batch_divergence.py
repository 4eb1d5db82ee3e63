"""How far env 0 of a vector env drifts from a single env with the same seed and actions.

    python scripts/batch_divergence.py [--num-envs 64] [--steps 100] [--domains driving robotics games]

Both start from the same bank entry with the same noise stream; the only difference is the batch
size the model's matrix products and convolutions run at, whose kernels round differently (about
1e-7 per step on these CPUs). A dream feeds its own output back in, so where the model is sensitive
to its input (CarRacing's grass and road edges) the rounding grows, and palette snapping turns it
into whole pixels of another colour. Prints, at a few horizons, the largest pixel difference, the
share of pixels that differ and the reward difference. Crash rules are off so episodes run long.
"""

from __future__ import annotations

import argparse

import numpy as np

from worldsim import domains
from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.envs.world_sim_env import WorldSimEnv


def divergence(domain: str, num_envs: int, steps: int, seed: int = 7) -> list[dict]:
    kwargs = {"domain": domain, "episode_steps": steps + 1, "crash_rule": False if domains.get(domain).crash_rule else None}
    single, vector = WorldSimEnv(**kwargs), WorldSimVectorEnv(num_envs=num_envs, **kwargs)
    single.reset(seed=seed)
    vector.reset(seed=seed)
    vector.action_space.seed(0)
    rows, marks = [], {1, 10, 50, 100, 200, steps}
    for t in range(1, steps + 1):
        actions = vector.action_space.sample()
        obs, reward, terminated, _, _ = single.step(actions[0])
        batch, rewards, terminations, _, _ = vector.step(actions)
        if terminated or terminations[0]:
            rows.append({"step": t, "ended": True})
            break
        if t in marks:
            diff = np.abs(obs.astype(int) - batch[0].astype(int)).max(-1)
            rows.append(
                {
                    "step": t,
                    "max_pixel_diff": int(diff.max()),
                    "pixels_differing": float((diff > 0).mean()),
                    "reward_diff": float(abs(reward - rewards[0])),
                }
            )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domains", nargs="*", default=list(domains.names()), choices=domains.names())
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args()
    print(f"{'domain':<10} {'step':>5} {'max |Δpixel|':>13} {'pixels differing':>17} {'|Δreward|':>10}")
    for domain in args.domains:
        for r in divergence(domain, args.num_envs, args.steps):
            if r.get("ended"):
                print(f"{domain:<10} {r['step']:>5}  (the single or the batched dream ended)")
                continue
            print(
                f"{domain:<10} {r['step']:>5} {r['max_pixel_diff']:>13} {r['pixels_differing']:>17.1%} {r['reward_diff']:>10.1e}"
            )


if __name__ == "__main__":
    main()
