"""Two games checkpoints that differ only in how their carried fields are scaled
(`derive_checkpoint.py --scale-carried`), compared: what an agent observes, what the model dreams,
and where their start banks' stored fits put the road.

- latent: the largest |column| of the `latent` observation of `RealWorldEnv` on one real episode
  held at full gas (`--steps` steps, seed 0), for each checkpoint;
- dream: from `--starts` real contexts of DATA (4 frames from step 100 of its first episodes), both
  models imagine `--horizon` steps under the recorded actions with the same noise; the largest
  difference of their physical states and of their drawn frames (in [0, 1]);
- fits: the start banks' stored fits (`start_bank.write_fitted_starts`) side by side: the mean and
  largest difference of the car's place on the line ahead (road+0_ahead) and of any road sample.

Usage: python scripts/carried_scale_check.py BEFORE AFTER --data data/games-scale
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.envs import RealWorldEnv
from worldsim.model.checkpoint import load_model
from worldsim.model.start_bank import load_start_bank
from worldsim.sources.track_view import field_names


def largest_latent(checkpoint: str, steps: int) -> float:
    env = RealWorldEnv(domain="games", checkpoint=checkpoint, obs_type="latent")
    seen = [env.reset(seed=0)[0]]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(np.array([0.0, 1.0, 0.0], np.float32))
        seen.append(obs)
        if terminated or truncated:
            break
    env.close()
    return float(np.abs(np.array(seen)).max())


@torch.no_grad()
def dream_difference(before, after, data: Dataset, starts: int, horizon: int) -> tuple[float, float]:
    worst_state = worst_frame = 0.0
    for index in range(starts):
        episode = data.episode(index)
        frames = torch.from_numpy(episode.frames[None, 100:104])
        actions = torch.from_numpy(episode.actions[None, 100:103]).float()
        a, b = before.encode(frames, actions), after.encode(frames, actions)
        for t in range(horizon):
            features = before.action_features(torch.from_numpy(episode.actions[None, 103 + t]).float())
            a = before.imagine_step(a, features, before.noise(1, torch.Generator().manual_seed(t)), 1.0)
            b = after.imagine_step(b, features, after.noise(1, torch.Generator().manual_seed(t)), 1.0)
        worst_state = max(worst_state, (before.physical_state(a) - after.physical_state(b)).abs().max().item())
        drawn = before.draw_state(before.split(a)[0]) - after.draw_state(after.split(b)[0])
        worst_frame = max(worst_frame, drawn.abs().max().item())
    return worst_state, worst_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--data", required=True, help="a games recording: the dreams' real starts")
    parser.add_argument("--steps", type=int, default=60, help="real steps at full gas (default 60)")
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for checkpoint in (args.before, args.after):
        print(f"{checkpoint}: largest |latent column| at full gas {largest_latent(checkpoint, args.steps):.1f}")
    (before, _), (after, _) = load_model(args.before), load_model(args.after)
    state, frame = dream_difference(before.eval(), after.eval(), Dataset(args.data), args.starts, args.horizon)
    print(f"after {args.horizon} imagined steps from {args.starts} real starts: state {state:.2g}, frames {frame:.2g} apart")
    fits = [load_start_bank(c).get("fitted") for c in (args.before, args.after)]
    if all(f is not None for f in fits):
        road = [before.config.state_fields.index(n) for n in field_names()]
        apart = np.abs(fits[0][:, road] - fits[1][:, road])
        anchor = apart[:, road.index(before.config.state_fields.index("road+0_ahead"))]
        print(f"stored fits: the car's place ahead {anchor.mean():.2f} apart on average, any road sample up to {apart.max():.2f}")


if __name__ == "__main__":
    main()
