"""How far the car prior moves CarRacing's road from where the simulator has it, given the car's
true motion.

From every 11th step of held-out episodes (the car within 5 u of the centre line), the road samples
are stepped by the car prior alone (`CarPrior.slide` and `_road`, no noise), fed the simulator's own
car positions and headings step by step. After `--steps` steps the samples still within the first
frame's view (those the track's process has not laid) are compared with the simulator's samples.
Windows are grouped by the sharpest chord turn in view at the start: through a bend the prior has to
slide the samples along a curve, and that is where an error shows.

Usage: python scripts/road_slide_error.py [DATA] [--steps 30] [--episodes 16]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.physics.games import CarPrior, chord_turns
from worldsim.sources.track_view import OFFSETS, POINT_SPACING

BENDS = ((0.0, 0.05), (0.05, 0.2), (0.2, 0.4), (0.4, np.inf))  # the sharpest chord turn in view, rad
IN_VIEW = 10  # the farthest offset (track points) a sample may have come from


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="data/eval/games-long-wander")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=16)
    args = parser.parse_args()
    data = Dataset(args.data)
    prior = CarPrior([f["name"] for f in data.source["state_fields"]]).double()
    if not prior.road:
        raise SystemExit(f"{args.data}: the state holds no road samples (worldsim.sources.track_view)")
    offsets = np.asarray(OFFSETS, dtype=float)
    rows = []  # (sharpest turn at the start, error per sample with nan where the process laid it)
    for index in sorted(data.episode_paths)[: args.episodes]:
        states = torch.from_numpy(np.asarray(data.episode(index).states, dtype=np.float64))
        roads = states.index_select(1, prior.road_index).unflatten(1, (-1, 2))
        for start in range(20, len(states) - args.steps - 1, 11):
            end = start + args.steps
            if roads[start, prior.anchor].norm() > 5 or roads[end, prior.anchor].norm() > 5:
                continue  # the car off the road: its place on the line is no longer near it
            road, driven = roads[start : start + 1], 0.0
            for k in range(start, end):
                step, along = prior.slide(road, states[k + 1 : k + 2, :2] - states[k : k + 1, :2], states[k : k + 1, 3])
                road = prior._road(road, step, along, states[k + 1 : k + 2, 3] - states[k : k + 1, 3], None)
                driven += float(along)
            error = (road[0] - roads[end]).norm(dim=-1).numpy()
            seen = offsets + driven / POINT_SPACING <= IN_VIEW
            bend = float(chord_turns(roads[start : start + 1])[0, 2:6].abs().max())
            rows.append((bend, np.where(seen, error, np.nan)))
    print(f"{args.data}: the road after {args.steps} steps of the simulator's car motion, error (u) per sample")
    print(f"{'sharpest turn in view':22s} {'windows':>7s}  " + " ".join(f"{f'road{o:+d}':>7s}" for o in OFFSETS))
    for low, high in BENDS:
        errors = np.array([e for b, e in rows if low <= b < high])
        if not len(errors):
            continue
        with np.errstate(all="ignore"):  # a sample no window kept in view
            median = np.nanmedian(errors, 0)
        cells = " ".join("      -" if np.isnan(v) else f"{v:7.2f}" for v in median)
        print(f"{f'{low:.2f}-{high:.2f} rad':22s} {len(errors):7d}  {cells}")
    print("(medians over windows; -: no window kept that sample in view)")


if __name__ == "__main__":
    main()
