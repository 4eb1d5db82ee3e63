"""Which state fields of a replayed dream leave what the simulator does, and when?

Each held-out episode is replayed as `worldsim eval --long` replays it (its first real frames, then
its recorded actions open loop; `worldsim.model.long_horizon.replay_episodes`). For every field of
the model's state and a few horizons this prints the share of dream steps outside the range the
training data spans (its 0.5-99.5 percentiles), the dream's median absolute error against the
simulator's state at the same step (angles around the circle), and, for a CarRacing model, the
spacing of the road samples (the simulator's are always ~7 u apart). A field that leaves the range
is one the decoder is asked to draw from states it never saw.

Usage: python scripts/dream_fields.py CHECKPOINT DATA --train TRAIN_DATA [--episodes 10] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model
from worldsim.model.critics import absolute_difference
from worldsim.model.long_horizon import LongEvalConfig, model_columns, replay_episodes

HORIZONS = (10, 50, 100, 200)
BUCKET = 10  # steps pooled below each horizon


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data", help="held-out episodes to replay")
    parser.add_argument("--train", required=True, help="the training data, whose range each field is held to")
    parser.add_argument("--episodes", type=int, default=10, help="episodes replayed (default 10)")
    parser.add_argument("--train-episodes", type=int, default=100, help="training episodes the range is read from")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model, _ = load_model(args.checkpoint)
    model.eval()
    data, train = Dataset(args.data), Dataset(args.train)
    columns = model_columns(model, data)
    fields = model.config.state_fields
    train_columns = model_columns(model, train)
    episodes = train.episodes(sorted(train.episode_paths)[: args.train_episodes])
    seen = np.concatenate([np.asarray(e.states)[:, train_columns] for e in episodes])
    low, high = np.percentile(seen, 0.5, axis=0), np.percentile(seen, 99.5, axis=0)
    indices = list(range(min(args.episodes, len(data))))
    replay = replay_episodes(model, data, indices, LongEvalConfig(batch_size=len(indices)), columns=columns)
    length = min(len(s) for s in replay.head_states)
    horizons = [h for h in HORIZONS if h <= length]
    if not horizons:
        raise SystemExit(f"the episodes of {args.data} give {length} imagined steps, fewer than {HORIZONS[0]}")
    dream = np.stack([s[:length] for s in replay.head_states])
    truth = np.stack([s[:length] for s in replay.true_states])
    error = absolute_difference(dream, truth, data.angles[columns])  # angles around the circle, as `eval --long`
    report = {"checkpoint": args.checkpoint, "data": args.data, "episodes": len(indices), "horizons": horizons, "fields": {}}
    window = [slice(h - BUCKET, h) for h in horizons]
    for i, name in enumerate(fields):
        outside = (dream[..., i] < low[i]) | (dream[..., i] > high[i])
        report["fields"][name] = {
            "outside": [float(outside[:, w].mean()) for w in window],
            "median_error": [float(np.median(error[:, w, i])) for w in window],
            "range": [float(low[i]), float(high[i])],
        }
    road = [i for i, name in enumerate(fields) if name.startswith("road")]
    if road:
        samples = dream[..., road].reshape(len(indices), length, -1, 2)
        gaps = np.linalg.norm(np.diff(samples, axis=2), axis=-1)  # (episodes, steps, K - 1)
        report["road_spacing"] = {
            "min": [float(gaps[:, h - 1].min(-1).mean()) for h in horizons],
            "max": [float(gaps[:, h - 1].max(-1).mean()) for h in horizons],
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    heads = " ".join(f"h{h:<4d}" for h in horizons)
    print(f"{args.checkpoint} on {args.data}, {len(indices)} episodes")
    print("share of dream steps outside the training's range | median absolute error against the simulator")
    print(f"{'field':18s} {heads} | {heads}")
    for name, row in report["fields"].items():
        out = " ".join(f"{v:5.2f}" for v in row["outside"])
        err = " ".join(f"{v:5.2f}" for v in row["median_error"])
        print(f"{name:18s} {out} | {err}")
    if road:
        spacing = report["road_spacing"]
        print("road samples' spacing (u), mean over episodes of the smallest / largest gap:")
        gaps = zip(horizons, spacing["min"], spacing["max"], strict=True)
        print("  " + "  ".join(f"h{h}: {lo:.1f} / {hi:.1f}" for h, lo, hi in gaps))


if __name__ == "__main__":
    main()
