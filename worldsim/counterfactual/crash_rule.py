"""How well the state-overlap rule finds real crashes, on recorded driving data.

    python -m worldsim.counterfactual.crash_rule data/driving [--stride 10]

Scores `state_overlap` on every recorded state after a step (every `stride`-th episode) against the
simulator's crash flag (`terminated`: highway-env ends an episode at a crash).
"""

from __future__ import annotations

import argparse

import numpy as np

from worldsim.envs.crash import state_overlap
from worldsim.data import Dataset


def score(root: str, stride: int = 10) -> dict[str, float]:
    data = Dataset(root)
    if data.domain != "driving":
        raise ValueError(f"{root} holds {data.domain!r} data; the rule reads driving states")
    tp = fp = fn = 0
    for episode in data.episodes(list(range(0, len(data), stride))):
        predicted = np.array([state_overlap(s) for s in episode.states[1:]])
        tp += int((predicted & episode.terminated).sum())
        fp += int((predicted & ~episode.terminated).sum())
        fn += int((~predicted & episode.terminated).sum())
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "crashes": tp + fn}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--stride", type=int, default=10)
    args = parser.parse_args()
    r = score(args.data, args.stride)
    print(f"state-overlap rule on {args.data}: precision {r['precision']:.2f}, recall {r['recall']:.2f} ({r['crashes']} crashes)")
