"""How well does a domain's physics prior predict one recorded step, field by field?

For every transition of a dataset's first N episodes: the root-mean-square error of the prior's next
state (`worldsim.model.physics`, in the data's units) against the recorded one, beside that of the
state held unchanged (what `"dynamics": "delta"` starts from before its network learns anything).
Angles are compared around the circle. A field the prior predicts worse than holding it is one the
learned correction of `"dynamics": "prior"` must learn more of.

Usage: python scripts/prior_step_error.py DATA [--episodes 40] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from worldsim import domains
from worldsim.data import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--episodes", type=int, default=40, help="the dataset's first N episodes (default 40)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    dataset = Dataset(args.data)
    fields = [f["name"] for f in dataset.source["state_fields"]]
    spec = domains.get(dataset.domain)
    if not spec.prior:
        raise SystemExit(f"the {dataset.domain} domain has no physics prior")
    prior = spec.load("prior")(fields)
    discrete = dataset.source["action_space"]["type"] == "discrete"
    held, stepped = [], []
    with torch.no_grad():
        for episode in dataset.episodes(sorted(dataset.episode_paths)[: args.episodes], progress=True):
            states = np.asarray(episode.states, dtype=np.float64)
            actions = torch.as_tensor(np.asarray(episode.actions))
            actions = torch.nn.functional.one_hot(actions.long(), dataset.source["action_space"]["n"]) if discrete else actions
            predicted = prior(torch.as_tensor(states[:-1]), actions.double()).numpy()
            held.append(states[:-1] - states[1:])
            stepped.append(predicted - states[1:])
    angles = dataset.angles

    def rmse(errors: list[np.ndarray]) -> np.ndarray:
        e = np.concatenate(errors)
        e[:, angles] = np.arctan2(np.sin(e[:, angles]), np.cos(e[:, angles]))
        return np.sqrt((e**2).mean(0))

    report = {
        "data": args.data,
        "episodes": min(args.episodes, len(dataset)),
        "fields": {n: {"held": float(h), "prior": float(p)} for n, h, p in zip(fields, rmse(held), rmse(stepped), strict=True)},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'field':20s} {'held':>9s} {'prior':>9s}   (root-mean-square error of one step, the data's units)")
    for name, row in report["fields"].items():
        print(f"{name:20s} {row['held']:9.4f} {row['prior']:9.4f}")


if __name__ == "__main__":
    main()
