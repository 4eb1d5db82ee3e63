"""How well does a domain's physics prior predict one recorded step, field by field?

For every transition of a dataset's first N episodes: the root-mean-square error of the prior's next
state (`worldsim.model.physics`, in the data's units) against the recorded one, beside that of the
state held unchanged (what `"dynamics": "delta"` starts from before its network learns anything).
Angles are compared around the circle. A field the prior predicts worse than holding it is one the
learned correction of `"dynamics": "prior"` must learn more of.

With `--steps H`, the prior steps H times from each recorded state, and after every step the fields
it does not hold under `"dynamics": "kinematic"` (all but its KINEMATIC ones; `--rolled PATTERN...`
names others) are put back to the recorded ones, as a perfect learned correction would: the error
at H is what the rolled fields gather on their way, against the state held for H steps.

Usage: python scripts/prior_step_error.py DATA [--episodes 40] [--steps 1] [--rolled 'road*' ...] [--json]
"""

from __future__ import annotations

import argparse
import fnmatch
import json

import numpy as np
import torch

from worldsim import domains
from worldsim.data import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--episodes", type=int, default=40, help="the dataset's first N episodes (default 40)")
    parser.add_argument("--steps", type=int, default=1, help="steps the prior takes from each recorded state (default 1)")
    parser.add_argument(
        "--rolled", nargs="+", help="with --steps: the fields (glob patterns) the prior rolls alone (default: its KINEMATIC ones)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    dataset = Dataset(args.data)
    fields = [f["name"] for f in dataset.source["state_fields"]]
    spec = domains.get(dataset.domain)
    if not spec.prior:
        raise SystemExit(f"the {dataset.domain} domain has no physics prior")
    prior = spec.load("prior")(fields)
    if args.steps < 1:
        raise SystemExit(f"--steps must be at least 1, got {args.steps}")
    patterns = args.rolled or list(getattr(prior, "KINEMATIC", ()))
    rolled = {name for name in fields if any(fnmatch.fnmatchcase(name, p) for p in patterns)}
    if args.steps > 1 and not rolled:
        raise SystemExit(f"--rolled {' '.join(patterns)} names none of the state's fields: {', '.join(fields)}")
    corrected = [i for i, name in enumerate(fields) if name not in rolled]
    h = args.steps
    discrete = dataset.source["action_space"]["type"] == "discrete"
    held, stepped = [], []
    with torch.no_grad():
        for episode in dataset.episodes(sorted(dataset.episode_paths)[: args.episodes], progress=True):
            states = np.asarray(episode.states, dtype=np.float64)
            actions = torch.as_tensor(np.asarray(episode.actions))
            actions = torch.nn.functional.one_hot(actions.long(), dataset.source["action_space"]["n"]) if discrete else actions
            if len(states) <= h:
                continue
            predicted = torch.as_tensor(states[:-h])
            for k in range(h):
                predicted = prior(predicted, actions[k : len(states) - h + k].double())
                if k < h - 1:  # a perfect correction of the fields the prior does not hold
                    predicted[:, corrected] = torch.as_tensor(states[k + 1 : len(states) - h + k + 1, corrected])
            held.append(states[:-h] - states[h:])
            stepped.append(predicted.numpy() - states[h:])
    angles = dataset.angles

    def absolute(errors: list[np.ndarray]) -> np.ndarray:
        e = np.concatenate(errors)
        e[:, angles] = np.arctan2(np.sin(e[:, angles]), np.cos(e[:, angles]))
        return np.abs(e)

    # The root-mean-square error, and the median one: over many steps a few starts whose truth jumps
    # (CarRacing's centre-line view when a car far off the track nears another part of it) rule the
    # first, the typical start the second.
    kept, prior_errors = absolute(held), absolute(stepped)
    report = {
        "data": args.data,
        "episodes": min(args.episodes, len(dataset)),
        "steps": h,
        "rolled": sorted(rolled) if h > 1 else [],
        "fields": {
            name: {
                "held": float(np.sqrt((kept[:, i] ** 2).mean())),
                "prior": float(np.sqrt((prior_errors[:, i] ** 2).mean())),
                "held_median": float(np.median(kept[:, i])),
                "prior_median": float(np.median(prior_errors[:, i])),
            }
            for i, name in enumerate(fields)
            if h == 1 or name in rolled  # after more steps, the others hold one step's error only
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"error after {h} step(s), the data's units: root-mean-square and median of the absolute error")
    print(f"{'field':20s} {'held':>9s} {'prior':>9s} {'median held':>12s} {'prior':>9s}")
    for name, row in report["fields"].items():
        print(f"{name:20s} {row['held']:9.4f} {row['prior']:9.4f} {row['held_median']:12.4f} {row['prior_median']:9.4f}")


if __name__ == "__main__":
    main()
