"""Fit the car prior's track process (worldsim/model/physics/games.py: TRACK_EASE, TRACK_BENDS,
TRACK_KICK, TRACK_LEFT) to CarRacing's own tracks.

The target is what the state shows of the simulator's tracks: CarRacing is reset on `--tracks`
seeds, and the car's place is moved along each centre line at a dream's pace (a sixth of a 7 u chord
a step); at every place the road samples are read as the games source reads them
(`track_view.centre_line_view`), and the turn of the chord two behind the farthest (one that has come
into view whole) is kept once per chord driven. The process is laid alone by the prior itself (its
roads slid along their line at the same pace, `--lay` roads of `--steps` steps, the first 300
dropped) for every point of a grid, and the points whose turns are nearest the tracks' in mean,
spread, mean size, the shares of straight (< 0.02 rad) and sharp (> 0.2 rad) chords, and the
autocorrelation 1, 2 and 4 chords on (each relative to the tracks' value, or to 0.05 where that is
smaller) are printed beside the constants in use.

Usage: python scripts/fit_track_process.py [--tracks 60] [--lay 32] [--steps 2700] [--show 8]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch
from tqdm import tqdm

from worldsim.model.physics import games as car
from worldsim.sources.games import GamesSource
from worldsim.sources.track_view import centre_line_view, field_names

PACE = 6  # steps per chord driven
NAMES = ("mean", "std", "size", "straight", "sharp", "ac1", "ac2", "ac4")
WEIGHTS = np.ones(len(NAMES))
GRID = {  # TRACK_EASE, TRACK_BENDS, TRACK_KICK, TRACK_LEFT
    "ease": (0.25, 0.35, 0.5),
    "bends": (0.08, 0.12, 0.16, 0.2),
    "kick": ((0.3, 0.62), (0.45, 0.62), (0.6, 1.2)),
    "left": (0.68,),
}


def statistics(series: list[np.ndarray]) -> np.ndarray:
    """The turns' moments (NAMES), pooled over series of one turn per chord."""
    pooled = np.concatenate(series)
    lagged = [np.mean([np.corrcoef(x[:-k], x[k:])[0, 1] for x in series]) for k in (1, 2, 4)]
    size = np.abs(pooled)
    return np.array([pooled.mean(), pooled.std(), size.mean(), (size < 0.02).mean(), (size > 0.2).mean(), *lagged])


def track_turns(tracks: int) -> list[np.ndarray]:
    """One series per CarRacing track: the turn of each chord as it comes into view whole."""
    source = GamesSource(frame_size=64)
    series = []
    try:
        for seed in tqdm(range(tracks), desc="CarRacing's tracks", leave=False):
            source.reset(seed=seed)
            points = np.array([tile[2:4] for tile in source.env.unwrapped.track])
            views = []
            for place in np.arange(0, len(points), 2 / PACE):  # two track points to a chord
                low = int(place)
                share = place - low
                a, b = points[low % len(points)], points[(low + 1) % len(points)]
                heading = np.arctan2(-(b - a)[0], (b - a)[1])  # the nose along the line
                views.append(centre_line_view(points, (1 - share) * a + share * b, heading))
            road = torch.tensor(np.array(views)).unflatten(1, (-1, 2))
            series.append(car.chord_turns(road)[::PACE, -3].numpy())
    finally:
        source.close()
    return series


def laid_turns(prior: car.CarPrior, lay: int, steps: int, seed: int = 0) -> list[np.ndarray]:
    """One series per road the prior's process lays alone, the car driving along the line."""
    generator = torch.Generator().manual_seed(seed)
    offsets = (prior.spacing / prior.chord * 7).double()
    road = torch.stack([torch.zeros_like(offsets), offsets], -1).expand(lay, -1, -1).clone()
    level = torch.zeros(lay, dtype=torch.float64)  # the car's frame is the world's
    turns = []
    for _ in range(steps):
        tangent = road[:, prior.anchor + 1] - road[:, prior.anchor - 1]
        moved = tangent / tangent.norm(dim=-1, keepdim=True) * prior.chord / PACE
        noise = torch.randn(lay, prior.NOISE_DIM, generator=generator, dtype=torch.float64)
        road = prior._road(road, *prior.slide(road, moved, level), level, noise)
        turns.append(car.chord_turns(road)[:, -3])
    return list(torch.stack(turns[300::PACE]).numpy().T)


def miss(got: np.ndarray, target: np.ndarray) -> float:
    return float(np.sum(WEIGHTS * ((got - target) / np.maximum(np.abs(target), 0.05)) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=60, help="CarRacing tracks read (seeds 0..N-1)")
    parser.add_argument("--lay", type=int, default=32, help="roads the prior lays at once")
    parser.add_argument("--steps", type=int, default=2700, help="steps each road is laid for")
    parser.add_argument("--show", type=int, default=8, help="grid points shown, nearest first")
    args = parser.parse_args()
    target = statistics(track_turns(args.tracks))
    prior = car.CarPrior(["x", "y", "speed", "heading", "angular_velocity", *field_names()]).double()

    def laid(ease, bends, kick, left) -> np.ndarray:
        prior.ease, prior.bends, prior.kick, prior.left = ease, bends, kick, left
        return statistics(laid_turns(prior, args.lay, args.steps))

    rows = [("CarRacing's tracks", target)]
    shipped = (car.TRACK_EASE, car.TRACK_BENDS, car.TRACK_KICK, car.TRACK_LEFT)
    rows.append((f"in use {shipped}", laid(*shipped)))
    points = list(itertools.product(*GRID.values()))
    scored = [(miss(got := laid(*p), target), p, got) for p in tqdm(points, desc="grid", leave=False)]
    rows += [(f"grid {p}", got) for _, p, got in sorted(scored, key=lambda s: s[0])[: args.show]]
    print(f"{'turns per chord':44s} " + " ".join(f"{n:>8s}" for n in NAMES) + "     miss")
    for name, row in rows:
        print(f"{name:44s} " + " ".join(f"{v:8.3f}" for v in row) + f" {miss(row, target):8.3f}")


if __name__ == "__main__":
    main()
