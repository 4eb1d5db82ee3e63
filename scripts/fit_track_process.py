"""Fit the car prior's track process (worldsim/model/physics/games.py: TRACK_TREND, TRACK_DRIFT,
TRACK_SPREAD) to recorded CarRacing steps.

For each recorded step the road samples are slid as the prior slides them, by the car's true motion;
beyond the old farthest sample the slid line runs straight on. What the simulator's next state shows
there instead is the track coming into view: the farthest chord's turn less the straight line's,
over `driven` chords of new track. The process says that residual is driven * (trend . turns + drift)
plus a random part of spread * sqrt(driven) * N(0, 1), the turns being the farthest chord's and the
two before it.

Two fits. One step ahead (the constants the prior uses), least squares on residual / sqrt(driven)
gives trend and drift, and the remaining spread per square root of a chord gives spread; laid
alone, that trend (a bend tightens as it began to) winds the track more than CarRacing's. Over
many steps, the trend keeps the farthest turn alone (persistence rho), and rho and the spread are
the grid point whose laid track (the prior itself, sliding roads along their line at the data's
mean pace) has the data's spread of turns and their autocorrelation 5, 10, 20 and 40 steps on; the
drift is the one-step fit's. The second is the more faithful track, the first trained agents that
drive the real one better (worldsim/model/physics/games.py says which is used and why).

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
        road = prior._road(road, *prior.slide(road, moved, level), level, noise)
        turns.append(chord_turns(road)[:, -1])
    return torch.stack(turns[300:]).numpy()


def describe(turns: np.ndarray) -> str:
    sharp = np.mean(np.abs(turns) > 0.2)
    return f"std {turns.std():.3f} rad, mean size {np.abs(turns).mean():.3f}, {sharp:.0%} sharper than 0.2 rad"


LAGS = (5, 10, 20, 40)  # steps


def moments(series: list[np.ndarray]) -> np.ndarray:
    """The turns' standard deviation and autocorrelation at LAGS steps, pooled over series."""
    pooled = np.concatenate(series)
    lagged = [np.corrcoef(np.concatenate([x[:-k] for x in series]), np.concatenate([x[k:] for x in series]))[0, 1] for k in LAGS]
    return np.array([pooled.std(), *lagged])


def recorded_turns(data: Dataset, episodes: int) -> list[np.ndarray]:
    """The farthest chord's turn at every recorded step, one series per episode."""
    prior = CarPrior([f["name"] for f in data.source["state_fields"]])
    series = []
    for index in sorted(data.episode_paths)[:episodes]:
        states = torch.from_numpy(np.asarray(data.episode(index).states, dtype=np.float64))
        series.append(chord_turns(states.index_select(1, prior.road_index).unflatten(1, (-1, 2)))[:, -1].numpy())
    return series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--episodes", type=int, default=120, help="episodes read (default 120)")
    args = parser.parse_args()
    data = Dataset(args.data)
    driven, before, residual, seen = residuals(data, args.episodes)
    moving = driven > 0.02  # a standing car brings no new track into view
    u, b, r = driven[moving], before[moving], residual[moving]
    root = np.sqrt(u)
    design = root[:, None] * np.column_stack([b, np.ones(len(u))])
    coefficients, *_ = np.linalg.lstsq(design, r / root, rcond=None)
    left = r - u * (np.column_stack([b, np.ones(len(u))]) @ coefficients)
    spread = float(np.sqrt(np.mean(left**2 / u)))
    trend, drift = coefficients[:3], float(coefficients[3])
    pace = float(u.mean())
    print(f"{moving.sum()} moving steps of {len(driven)} ({args.data}, {args.episodes} episodes), {pace:.2f} chords a step")
    print(f"the data's farthest turns: {describe(seen)}")
    prior = CarPrior([f["name"] for f in data.source["state_fields"]])
    target = moments(recorded_turns(data, args.episodes))
    print(f"  their std and autocorrelation at {', '.join(map(str, LAGS))} steps: {np.round(target, 2).tolist()}")
    prior.trend, prior.drift, prior.spread = torch.tensor(trend, dtype=torch.float64), drift, spread
    laid = roll(prior, pace)
    print(
        f"one step ahead: trend ({', '.join(f'{c:.2f}' for c in trend)}), drift {drift:.3f}, spread {spread:.3f} "
        f"({1 - left.var() / r.var():.0%} of the residual's variance)"
    )
    print(f"  laid alone: {describe(laid)}; {np.round(moments(list(laid.T)), 2).tolist()}")
    best = None
    for persistence in (0.8, 0.85, 0.9, 0.95):
        for spread in (0.04, 0.05, 0.06, 0.07, 0.08):
            prior.trend, prior.spread = torch.tensor([persistence, 0.0, 0.0], dtype=torch.float64), spread
            laid = roll(prior, pace, steps=2000, tracks=32)
            got = moments(list(laid.T))
            miss = ((got[0] - target[0]) / target[0]) ** 2 + ((got[1:] - target[1:]) ** 2).sum()
            if best is None or miss < best[0]:
                best = (miss, persistence, spread, laid, got)
    _, persistence, spread, laid, got = best
    print(f"over many steps: TRACK_TREND = ({persistence:.2f}, 0.0, 0.0), TRACK_DRIFT = {drift:.3f}, TRACK_SPREAD = {spread:.3f}")
    print(f"  laid alone: {describe(laid)}; {np.round(got, 2).tolist()}")


if __name__ == "__main__":
    main()
