"""Where painting highway-env's lane markings can be a row off, and where a model's start puts the ego.

    python scripts/markings_ties.py [CHECKPOINT] [--data data/driving] [--every 25] [--starts data/eval/driving-long]

A road edge lies exactly on a pixel row's edge when the ego is on a lane centre; the simulator
lights the row its float64 position falls in, which the recorded float32 state may not tell.
Prints, over every `--every`-th episode of DATA: for the frames with the ego within 1 mm of an
outer lane's centre, the share whose road edges the painting (`PaintedLines`) puts on the rows
the frame shows; the share of road and marking pixels painted as the frame shows them (over the
road's grey); the share of frames with a marking the paint put a row off (`PaintedLines.row_off`,
left out of a decoder refit); and, from the first frames of each episode of STARTS, how far the
model's filter reads the ego from its true lateral place (what a start drawn without a dreamt step,
whose lanes rule would put it on a lane centre, shows as a road shifted against the ego).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.long_horizon import model_columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default="driving")
    parser.add_argument("--data", default="data/driving")
    parser.add_argument("--every", type=int, default=25, help="read every n-th episode of DATA")
    parser.add_argument("--starts", default="data/eval/driving-long")
    parser.add_argument("--context", type=int, default=4)
    args = parser.parse_args()
    model, _ = load_model(resolve_checkpoint(args.checkpoint))
    painter = model.eval().painted_lines
    if painter is None or model.lanes is None:
        parser.error(f"{args.checkpoint}: its camera paints no lines, or it keeps no lanes")
    data = Dataset(args.data)
    columns = model_columns(model, data)
    episodes = [data.episode(i) for i in range(0, len(data), args.every)]
    frames = np.concatenate([e.frames for e in episodes])
    states = torch.from_numpy(np.concatenate([e.states[:, columns] for e in episodes])).float()
    with torch.no_grad():
        share = painter.coverage(states)
        off = painter.row_off(share, torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    y = states[:, model.config.state_fields.index("ego_y")].numpy()
    lit = (share[:, 0] > 0).numpy()
    marked = (frames == frames[..., :1]).all(-1) & (frames[..., 0] > 150)  # the markings' greys
    print(f"{len(frames)} frames of {args.data} (every {args.every}th episode)")
    for centre in (0.0, model.lanes.last):  # the outer lanes' centres (`ModelConfig.lanes`)
        near = np.abs(y - centre) < 1e-3
        # the rows a line crosses whole: the road's edges (the dashed lines never fill a row)
        same = (lit[near].all(-1) == marked[near].all(-1)).all(-1)
        print(f"  ego within 1 mm of {centre:g} m: {near.sum()} frames, road edges painted where shown: {same.mean():.3f}")
    print(f"  frames with a marking the paint put a row off: {(off.flatten(1).any(1)).float().mean():.4f}")
    # the road and its markings (greys 100, 139, 178) against the paint over the road's grey
    shown = frames[..., 0].astype(int)
    road = (frames == frames[..., :1]).all(-1) & np.isin(shown, (100, 139, 178))
    painted = np.rint(100 + share[:, 0].numpy() * (painter.colour.max().item() * 255 - 100))
    right = road & (np.abs(painted - shown) <= 1)
    print(
        f"  road and marking pixels painted as shown: {right.sum() / road.sum():.4f}; "
        f"frames with every one right: {(right == road).all((1, 2)).mean():.3f}"
    )
    starts = Dataset(args.starts)
    chosen = [starts.episode(i) for i in range(len(starts)) if len(starts.episode(i)) >= args.context]
    window = torch.from_numpy(np.stack([e.frames[: args.context] for e in chosen]))
    actions = torch.from_numpy(np.stack([e.actions[: args.context - 1] for e in chosen]))
    with torch.no_grad():
        read = model.physical_state(model.encode(window, actions))[:, model.config.state_fields.index("ego_y")].numpy()
    truth = np.array([e.states[args.context - 1, columns][model.config.state_fields.index("ego_y")] for e in chosen])
    error = np.abs(read - truth)
    print(
        f"  {args.starts}, {len(chosen)} starts: the filter's ego_y off the true one by "
        f"median {np.median(error):.2f} m, 90th percentile {np.percentile(error, 90):.2f} m, largest {error.max():.2f} m"
    )


if __name__ == "__main__":
    main()
