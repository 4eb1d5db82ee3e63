"""Where should the dream take over from the filter? The same context, filtered to an earlier frame.

    python scripts/filter_depth.py [CHECKPOINT] [--data data/eval/robotics-near-goal] [--context 8]
                                   [--horizon 50] [--depths 7 6 5 3 0]

A reset with C real context frames filters all of them and dreams from the last. Here the filter
stops at frame d instead, the dream replays the context's remaining recorded actions open-loop up
to frame C - 1, and then the horizon's, as `worldsim adapt` scores them: the mean absolute state
error per field in data stds against the simulator's, at k = 1, 10 and HORIZON steps after the
context and over all of them (the first 30 episodes long enough; one noise seed per episode). A
model whose first imagined step jumps scores better when the dream has taken a few steps before
the horizon starts.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.critics import absolute_difference
from worldsim.model.long_horizon import model_columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default="robotics")
    parser.add_argument("--data", default="data/eval/robotics-near-goal")
    parser.add_argument("--context", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--depths", type=int, nargs="+", default=[7, 6, 5, 3, 0])
    parser.add_argument("--episodes", type=int, default=30)
    args = parser.parse_args()
    c, h = args.context, args.horizon
    if any(not 0 <= d < c for d in args.depths):
        parser.error(f"--depths are context frames, 0 to {c - 1}")
    torch.set_num_threads(2)
    model = load_model(resolve_checkpoint(args.checkpoint))[0].eval()
    data = Dataset(args.data)
    episodes = [e for e in (data.episode(i) for i in data.indices()) if len(e) >= c - 1 + h][: args.episodes]
    if not episodes:
        raise SystemExit(f"{args.data}: no episode reaches {c} context frames and {h} steps")
    columns = model_columns(model, data)
    frames = torch.from_numpy(np.stack([e.frames[:c] for e in episodes]))
    actions = torch.from_numpy(np.stack([e.actions[: c - 1 + h] for e in episodes]))
    truth = np.stack([e.states[c : c + h][:, columns] for e in episodes])
    print(f"{len(episodes)} episodes of {args.data}, {c} context frames, {h} steps scored")
    print("filtered to frame   err k=1    k=10   k=" + f"{h:<4}  mean")
    with torch.no_grad():
        for d in args.depths:
            latent = model.encode(frames[:, : d + 1], actions[:, :d])
            generators = [torch.Generator().manual_seed(i) for i in range(len(episodes))]
            states = model.imagine(latent, actions[:, d:], generator=generators).states[:, c - 1 - d :].cpu().numpy()
            error = absolute_difference(states, truth, model.angles.cpu().numpy()) / model.state_std.cpu().numpy()
            print(f"{d:>17}   {error[:, 0].mean():7.3f} {error[:, 9].mean():7.3f} {error[:, -1].mean():7.3f} {error.mean():6.3f}")


if __name__ == "__main__":
    main()
