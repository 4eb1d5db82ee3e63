"""What fitting a start to its frame buys a CarRacing dream: the start's state and where the car drives.

    python scripts/frame_fit_gain.py [CHECKPOINT] [--data data/eval/games-long-wander] [--episodes 16] [--seeds 3]

Each held-out episode's first 4 frames are encoded as `worldsim eval --long` starts its dreams,
once with the filter's reading alone (`encode(..., fit=False)`) and once with the model's frame
fit (`ModelConfig.frame_fit`; a model without one is fitted with `{"anchor": 2}`). Printed per
reading: the start's error against the simulator's state at that frame (each road sample's
distance to the car's right, units; the heading modulo a quarter turn, since the grass checker
looks alike turned by one; the score), the median time of one fit on this machine, and, replayed
open-loop with the episode's recorded actions over `--seeds` draws of the dream's noise, the
share of episodes whose car is within the road's half-width (6.7 u) of its centre line at h = 10,
50, 100 and 200 (the simulator's own, "real").
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.long_horizon import model_columns
from worldsim.model.world_model import WorldModel

CONTEXT, HORIZONS, HALF_WIDTH = 4, (10, 50, 100, 200), 6.7


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default="games")
    parser.add_argument("--data", default="data/eval/games-long-wander")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    model, _ = load_model(resolve_checkpoint(args.checkpoint))
    if not model.config.frame_fit:
        fitted = WorldModel(dataclasses.replace(model.config, frame_fit={"anchor": 2}))
        fitted.load_state_dict(model.state_dict())
        model = fitted
    model.eval()
    data = Dataset(args.data)
    episodes = [data.episode(i) for i in range(min(args.episodes, len(data)))]
    steps = max(HORIZONS) + 1
    if min(len(e) for e in episodes) < CONTEXT - 1 + steps:
        raise SystemExit(f"{args.data}: every episode needs {CONTEXT - 1 + steps} steps")
    fields, columns = model.config.state_fields, model_columns(model, data)
    frames = torch.from_numpy(np.stack([e.frames[:CONTEXT] for e in episodes]))
    actions = torch.from_numpy(np.stack([np.asarray(e.actions[: CONTEXT - 1 + steps]) for e in episodes]))
    truth = np.stack([np.asarray(e.states)[:, columns] for e in episodes])  # (N, T, S)
    right = [i for i, f in enumerate(fields) if f.startswith("road") and f.endswith("_right")]
    anchor = fields.index("road+0_right")
    real = (np.abs(truth[:, [CONTEXT - 1 + h for h in HORIZONS], anchor]) < HALF_WIDTH).mean(0)
    print(f"{args.checkpoint} on {len(episodes)} episodes of {args.data}")
    print(f"road under the car at h = {', '.join(map(str, HORIZONS))}: real {' '.join(f'{v:.2f}' for v in real)}")
    read = model.encode(frames, actions[:, : CONTEXT - 1], fit=False)
    fits, times = [], []
    for i in range(len(episodes)):  # one start at a time, as a reset fits it, timed
        start = time.perf_counter()
        fits.append(model.fit_frame(read[i : i + 1], frames[i : i + 1, -1]))
        times.append(time.perf_counter() - start)
    fit = torch.cat(fits)
    start_truth = truth[:, CONTEXT - 1]
    for name, latent in (("filter", read), ("fitted", fit)):
        state = model.physical_state(latent).numpy()
        road = np.abs(state[:, right] - start_truth[:, right]).mean(0)
        quarter = np.abs(np.angle(np.exp(4j * (state[:, fields.index("heading")] - start_truth[:, fields.index("heading")])))) / 4
        score = np.abs(state[:, fields.index("score")] - start_truth[:, fields.index("score")]).mean()
        on_road = []
        for seed in range(args.seeds):
            rollout = model.imagine(latent, actions[:, CONTEXT - 1 :], generator=torch.Generator().manual_seed(seed))
            dreamt = rollout.states.numpy()[:, [h - 1 for h in HORIZONS], anchor]
            on_road.append((np.abs(dreamt) < HALF_WIDTH).mean(0))
        print(
            f"{name:7s} road samples' error to the right (road-4 .. road+12) {' '.join(f'{v:.2f}' for v in road)}; "
            f"heading {quarter.mean():.3f} rad; score {score:.2f}; "
            f"road under the car {' '.join(f'{v:.2f}' for v in np.mean(on_road, 0))}"
        )
    print(f"one fit: {1000 * np.median(times):.0f} ms (median of {len(times)})")


if __name__ == "__main__":
    main()
