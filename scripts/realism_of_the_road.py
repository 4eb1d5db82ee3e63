"""How much of what tells driving dream frames from real ones is the road: the realism test with
the real frame's road pasted in.

    python scripts/realism_of_the_road.py [CHECKPOINT ...] [--data data/eval/driving-heldout] [--episodes 40]

The long-horizon evaluation's replays (`worldsim eval --long`: held-out episodes replayed open-loop
from their first real frames, the same episodes, seeds and realism recipe), and for each horizon
bucket the realism test's accuracy (0.5: indistinguishable) on four sets of frames against the
real ones: the dream's, the true states drawn by the model's decoder (what an exact dream would
score), and each of the two with the real frame's road laid in: every pixel that is a shade of
grey (the road and its markings) in both frames takes the real frame's value, so what is left to
tell them apart is the cars and where each frame has its road. A drawing whose accuracy falls to
near 0.5 with the real road is told apart by how it draws the road.
"""

from __future__ import annotations

import argparse

import numpy as np

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.critics import realism_accuracy
from worldsim.model.long_horizon import LongEvalConfig, _buckets, model_columns, replay_episodes
from worldsim.model.palette import palette_from_frames
from worldsim.model.start_bank import load_start_bank


def with_real_road(real: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """`drawn` (N, H, W, 3) with the pixels that are grey in both frames taken from `real`."""
    grey = lambda f: (f[..., 0] == f[..., 1]) & (f[..., 1] == f[..., 2])  # noqa: E731
    both = grey(real) & grey(drawn)
    out = drawn.copy()
    out[both] = real[both]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*", default=["driving"])
    parser.add_argument("--data", default="data/eval/driving-heldout")
    parser.add_argument("--episodes", type=int, default=40)
    args = parser.parse_args()
    config = LongEvalConfig(episodes=args.episodes)
    data = Dataset(args.data)
    # the episodes `worldsim eval --long` replays
    held_out = [i for i in data.indices("all", config.val_fraction) if len(data.episode(i)) >= config.context]
    rng = np.random.default_rng(config.seed)
    chosen = sorted(rng.choice(held_out, size=min(config.episodes, len(held_out)), replace=False).tolist())
    print("realism accuracy (0.5 ideal): dream, dream with the real road | true states drawn, with the real road")
    for name in args.checkpoints:
        path = resolve_checkpoint(name)
        model, _ = load_model(path)
        palette = palette_from_frames(load_start_bank(path)["frames"])
        replay = replay_episodes(model.eval(), data, chosen, config, palette, model_columns(model, data), draw_truth=True)
        if replay.drawn_truth is None:
            parser.error(f"{path}: its decoder does not read the state alone; no true states to draw")
        for bucket, steps in _buckets(replay, config).items():
            if not steps:
                continue
            real = np.stack([replay.real[i][k] for i, k in steps])
            groups = np.array([replay.episodes[i] for i, _ in steps])
            seeds = range(config.seed, config.seed + config.realism_repeats)
            cells = []
            for frames in (replay.dream, replay.drawn_truth):
                drawn = np.stack([frames[i][k] for i, k in steps])
                for shown in (drawn, with_real_road(real, drawn)):
                    tests = [realism_accuracy(real, shown, groups, groups, config.realism, seed=s) for s in seeds]
                    cells.append(f"{np.mean([t['accuracy'] for t in tests]):.3f}")
            print(f"{name}  h={bucket:>3}  {len(steps):4d} frames  {cells[0]}  {cells[1]} | {cells[2]}  {cells[3]}", flush=True)


if __name__ == "__main__":
    main()
