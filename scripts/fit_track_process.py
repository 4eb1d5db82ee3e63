"""Fit the car prior's track process (worldsim/model/physics/games.py: TRACK_TREND, TRACK_DRIFT,
TRACK_SPREAD) to recorded CarRacing steps.

For each recorded step the road samples are slid as the prior slides them, by the car's true motion;
beyond the old farthest sample the slid line runs straight on. What the simulator's next state shows
there instead is the track coming into view: the farthest chord's turn less the straight line's,
over `driven` chords of new track. The process says that residual is driven * (trend . turns + drift)
plus a random part of spread * sqrt(driven) * N(0, 1), the turns being the farthest chord's and the
two before it; least squares on residual / sqrt(driven) gives trend and drift, the remaining spread
per square root of a chord gives spread. Then the prior lays track alone with the fitted process
(roads slid 0.1 and 0.2 chords a step, ~30 and ~60 u/s), and its turns are set beside the data's.

Usage: python scripts/fit_track_process.py data/games-wander [--episodes 120]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.physics.games import CarPrior, chord_turns


def residuals(data: Dataset, episodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per recorded step: the chords driven, the turns before it (farthest first), the residual
    turn of the farthest chord, and the farthest chord's turn in the data."""
    fields = [f["name"] for f in data.source["state_fields"]]
    prior = CarPrior(fields)
    if not prior.road:
        raise SystemExit(f"{data.root}: the state holds no road samples (worldsim.sources.track_view)")
    driven, before, residual, seen = [], [], [], []
    for index in sorted(data.episode_paths)[:episodes]:
        states = torch.from_numpy(np.asarray(data.episode(index).states, dtype=np.float64))
        now, then = states[:-1], states[1:]
        road = now.index_select(1, prior.road_index).unflatten(1, (-1, 2))
        road_then = then.index_select(1, prior.road_index).unflatten(1, (-1, 2))
        _, along = prior.slide(road, then[:, :2] - now[:, :2], now[:, 3])
        straight = chord_turns(prior._resample(road, along))[:, -1]
        true = chord_turns(road_then)[:, -1]
        driven.append((along[:, 0] / prior.chord).numpy())
        before.append(chord_turns(road)[:, -3:].flip(-1).numpy())
        residual.append((true - straight).numpy())
        seen.append(true.numpy())
    return np.concatenate(driven), np.concatenate(before), np.concatenate(residual), np.concatenate(seen)


def roll(prior: CarPrior, driven: float, steps: int = 3000, tracks: int = 64, seed: int = 0) -> np.ndarray:
    """The farthest chord's turns the prior's track process lays alone: `tracks` roads, straight at
    first, slid `driven` chords a step along their line for `steps` steps (the first 300 dropped)."""
    generator = torch.Generator().manual_seed(seed)
    offsets = (prior.spacing / prior.chord * 7).double()
    road = torch.stack([torch.zeros_like(offsets), offsets], -1).expand(tracks, -1, -1).clone()
    level = torch.zeros(tracks, dtype=torch.float64)
    behind, ahead = prior.tangent
    turns = []
    for _ in range(steps):
        tangent = road[:, ahead] - road[:, behind]
        moved = tangent / tangent.norm(dim=-1, keepdim=True) * driven * prior.chord  # the car's frame is the world's
        noise = torch.randn(tracks, 1, generator=generator, dtype=torch.float64)
        road = prior._road(road, moved, level, level, noise)
        turns.append(chord_turns(road)[:, -1])
    return torch.stack(turns[300:]).numpy()


def describe(turns: np.ndarray) -> str:
    sharp = np.mean(np.abs(turns) > 0.2)
    return f"std {turns.std():.3f} rad, mean size {np.abs(turns).mean():.3f}, {sharp:.0%} sharper than 0.2 rad"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--episodes", type=int, default=120, help="episodes read (default 120)")
    args = parser.parse_args()
    driven, before, residual, seen = residuals(Dataset(args.data), args.episodes)
    moving = driven > 0.02  # a standing car brings no new track into view
    u, b, r = driven[moving], before[moving], residual[moving]
    root = np.sqrt(u)
    design = root[:, None] * np.column_stack([b, np.ones(len(u))])
    coefficients, *_ = np.linalg.lstsq(design, r / root, rcond=None)
    left = r - u * (np.column_stack([b, np.ones(len(u))]) @ coefficients)
    spread = float(np.sqrt(np.mean(left**2 / u)))
    trend, drift = coefficients[:3], float(coefficients[3])
    print(f"{moving.sum()} moving steps of {len(driven)} ({args.data}, {args.episodes} episodes)")
    print(f"TRACK_TREND = ({', '.join(f'{c:.2f}' for c in trend)}), TRACK_DRIFT = {drift:.3f}, TRACK_SPREAD = {spread:.3f}")
    print(f"variance of the residual explained by the trend: {1 - left.var() / r.var():.0%}")
    print(f"the data's farthest turns: {describe(seen)}")
    data = Dataset(args.data)
    prior = CarPrior([f["name"] for f in data.source["state_fields"]])
    prior.trend = torch.tensor(trend, dtype=torch.float64)
    prior.drift, prior.spread = drift, spread  # the fitted process, laid by the prior itself
    for step in (0.1, 0.2):
        print(f"rolled alone at {step} chords a step: {describe(roll(prior, step))}")


if __name__ == "__main__":
    main()
