"""Does an action tell where the state is, more than what the step does? (the behaviour's confound)

A behaviour policy acts on the state: CarRacing's drivers steer towards the road, so in the data the
wheel's side foretells the road's side. A dynamics stepping from a filtered state that misses part
of the truth can then learn to move the state towards the steering's side (the action as evidence
of where the road is) in place of what steering does (turn the car, and the road the other way).
This prints, over a dataset's first N episodes, the correlation of an action dimension with a state
field and with the field's change over the next step, and the least-squares slope of that change on
the action and the field.

Usage: python scripts/action_evidence.py DATA [--action 0] [--field road+4_right] [--episodes 60]
"""

from __future__ import annotations

import argparse

import numpy as np

from worldsim.data import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--action", type=int, default=0, help="the action dimension (CarRacing: 0 steer, 1 gas, 2 brake)")
    parser.add_argument("--field", default="road+4_right")
    parser.add_argument("--episodes", type=int, default=60)
    args = parser.parse_args()

    dataset = Dataset(args.data)
    names = [f["name"] for f in dataset.source["state_fields"]]
    if args.field not in names:
        raise SystemExit(f"unknown field {args.field!r}; the dataset's fields: {names}")
    field = names.index(args.field)
    before, after, actions = [], [], []
    for episode in dataset.episodes(sorted(dataset.episode_paths)[: args.episodes], progress=True):
        before.append(episode.states[:-1, field])
        after.append(episode.states[1:, field])
        actions.append(np.asarray(episode.actions, dtype=np.float64).reshape(len(episode.actions), -1)[:, args.action])
    state, change, action = np.concatenate(before), np.concatenate(after) - np.concatenate(before), np.concatenate(actions)
    slope = np.linalg.lstsq(np.stack([action, state, np.ones_like(state)], 1), change, rcond=None)[0]
    print(f"{len(state)} steps of {args.data}, action {args.action}, field {args.field}")
    print(f"  correlation with the field:               {np.corrcoef(action, state)[0, 1]:+.2f}")
    print(f"  correlation with its change over a step:  {np.corrcoef(action, change)[0, 1]:+.2f}")
    print(f"  change per step = {slope[0]:+.3f} x action {slope[1]:+.3f} x field {slope[2]:+.3f}")


if __name__ == "__main__":
    main()
