"""Does a CarRacing dream's track bend the way the car steers?

From real starts (every 100th step of each held-out episode: its frame and the 3 before it), each
model holds the wheel full left, straight or full right at light gas for 60 imagined steps. The
track's own shape is read off the dream's road samples as the turn of their farthest chord from the
one before it (left positive; it does not depend on where the car points), where the track coming
into view enters. In the simulator the track ahead is fixed whatever the wheel does: the mean turn
should not depend on the steering.

Usage: python scripts/track_follows_wheel.py CHECKPOINT [CHECKPOINT ...] [--data data/eval/games-long-wander]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.physics.games import chord_turns
from worldsim.sources.track_view import field_names

STEPS, CONTEXT = 60, 4
WHEELS = {"left": -1.0, "straight": 0.0, "right": 1.0}
SPANS = ((0, 10), (10, 30), (30, 60))


@torch.no_grad()
def farthest_turns(checkpoint: str, data: Dataset) -> tuple[int, dict[str, np.ndarray]]:
    model, _ = load_model(resolve_checkpoint(checkpoint))
    model.eval()
    fields = model.config.state_fields
    if not set(field_names()) <= set(fields):
        raise SystemExit(f"{checkpoint}: its state holds no road samples (a CarRacing model of format 5 or later)")
    road = [fields.index(name) for name in field_names()]
    frames, actions = [], []
    for index in range(len(data)):
        episode = data.episode(index)
        for t in range(0, len(episode.frames) - CONTEXT, 100):
            frames.append(episode.frames[t : t + CONTEXT])
            actions.append(episode.actions[t : t + CONTEXT - 1])
    latent = model.encode(torch.from_numpy(np.stack(frames)), torch.from_numpy(np.stack(actions)).float())
    turns = {}
    for name, steer in WHEELS.items():
        held = torch.tensor([steer, 0.1, 0.0]).expand(len(frames), STEPS, 3)
        states = model.imagine(latent, held, generator=torch.Generator().manual_seed(0)).states
        samples = states[..., road].unflatten(-1, (-1, 2))
        turns[name] = chord_turns(samples.flatten(0, 1))[:, -1].unflatten(0, (len(frames), STEPS)).numpy()
    return len(frames), turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default="data/eval/games-long-wander")
    args = parser.parse_args()
    data = Dataset(args.data)
    spans = " / ".join(f"{lo + 1}-{hi}" for lo, hi in SPANS)
    for checkpoint in args.checkpoints:
        starts, turns = farthest_turns(checkpoint, data)
        print(f"{checkpoint}: {starts} starts; mean turn of the farthest chord (rad, left +) at steps {spans}")
        for name, values in turns.items():
            print(f"  {name:9s}" + "".join(f" {values[:, lo:hi].mean():+.3f}" for lo, hi in SPANS))


if __name__ == "__main__":
    main()
