"""Which cars end up on the ego: highway-env's crashes against the dream's, by where the car came from.

    python scripts/merges_onto_the_ego.py [DATA=data/driving] [--model M --test data/eval/driving-probe]

Recorded crashes (every other episode of DATA): the step that ended the episode, whether the ego
kept its lane over it, and whether the car nearest the ego after it (the one it hit) was in the
ego's lane before the step or came from another. Then, over every fifth episode of DATA, how
often a step under an action that does not steer (IDLE, FASTER, SLOWER) ends with the ego in
another lane. With --model, from the latent filtered off the real frames of each TEST step, one
step imagined with the recorded action: the dream's false alarms (where the crash rule fires and
the simulator did not end the episode, the lane the simulator's car of that slot, both listed
nearest first, was in after the step), and how often the dream moves the ego to another lane
under an action that does not steer.
BENCHMARKS.md, "Driving: traffic that does not merge onto the ego" and "Driving: the ego kept in
its lane unless it steers".
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.crash import EGO_FIELDS, NEIGHBOUR_FIELDS, cars_overlapping
from worldsim.sources.driving import ACTIONS, lane_index

STEERING = (ACTIONS.index("LANE_LEFT"), ACTIONS.index("LANE_RIGHT"))


def cars(state: np.ndarray) -> np.ndarray:
    return np.asarray(state)[..., EGO_FIELDS:].reshape(*np.shape(state)[:-1], -1, NEIGHBOUR_FIELDS)


def recorded_crashes(root: str) -> Counter:
    kinds: Counter = Counter()
    data = Dataset(root)
    for episode in data.episodes(list(range(0, len(data), 2))):
        if not episode.terminated.any():
            continue
        t = int(np.argmax(episode.terminated))
        before, after = episode.states[t], episode.states[t + 1]
        now, then = cars(after), cars(before)
        present = now[:, 0] > 0.5
        if not present.any():
            kinds["no car in the state"] += 1
            continue
        hit = int(np.argmin(np.where(present, np.abs(now[:, 1]) + 10 * np.abs(now[:, 2]), np.inf)))
        # the same car before the step: the present one whose place, moved on by its speed, lies nearest
        x_after = after[0] + now[hit, 1]
        moved = np.where(then[:, 0] > 0.5, np.abs(before[0] + then[:, 1] + then[:, 3] - x_after), np.inf)
        came = lane_index(before[1] + then[int(np.argmin(moved)), 2])
        ego = "ego kept its lane" if lane_index(before[1]) == lane_index(after[1]) else "ego changed lanes"
        kinds[(ego, "car was in the ego's lane" if came == lane_index(before[1]) else "car came from another lane")] += 1
    return kinds


def recorded_ego_lane_changes(root: str) -> tuple[int, int]:
    """(steps under an action that does not steer, those that end with the ego in another lane)."""
    data = Dataset(root)
    steps = moved = 0
    for episode in data.episodes(list(range(0, len(data), 5))):
        calm = ~np.isin(episode.actions, STEERING)
        lanes = lane_index(episode.states[:, 1])
        steps += int(calm.sum())
        moved += int((calm & (lanes[1:] != lanes[:-1])).sum())
    return steps, moved


@torch.no_grad()
def false_alarms(model, root: str) -> tuple[Counter, tuple[int, int]]:
    """The crash rule's cars by where the simulator had them, and (steps under an action that does
    not steer, those the dream ends with the ego in another lane)."""
    lanes: Counter = Counter()
    calm_steps = moved = 0
    n = model.config.state_dim
    generator = torch.Generator().manual_seed(0)
    data = Dataset(root)
    for episode in data.episodes(list(range(len(data)))):
        actions = torch.as_tensor(episode.actions)
        latents = model.filter_episode(torch.from_numpy(episode.frames), actions)
        steps = len(actions)
        rollout = model.imagine(latents[:steps], actions[:, None], generator=generator)
        imagined = rollout.latents[:, -1, :n] * model.state_std + model.state_mean
        filtered = latents[:steps, :n] * model.state_std + model.state_mean
        calm = ~np.isin(episode.actions, STEERING)
        ego_moved = lane_index(imagined[:, 1].numpy()) != lane_index(filtered[:, 1].numpy())
        calm_steps, moved = calm_steps + int(calm.sum()), moved + int((calm & ego_moved).sum())
        fired = cars_overlapping(imagined).numpy()
        truth = cars(episode.states[1 : steps + 1])
        for t, k in zip(*np.nonzero(fired), strict=True):
            if episode.terminated[t]:
                lanes["a crash the simulator had"] += 1
                continue
            dy = abs(float(truth[t, k, 2]))
            where = "in the ego's lane" if dy < 2 else "in the next lane" if dy < 6 else "further"
            lanes[f"false: the simulator's car {where}"] += 1
    return lanes, (calm_steps, moved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default="data/driving")
    parser.add_argument("--model", help="a driving checkpoint (or 'driving'): also count its false alarms")
    parser.add_argument("--test", default="data/eval/driving-probe")
    args = parser.parse_args()
    torch.set_num_threads(2)
    kinds = recorded_crashes(args.data)
    print(f"recorded crashes in every other episode of {args.data}: {sum(kinds.values())}")
    for kind, count in kinds.most_common():
        print(f"  {count:5d}  {kind}")
    calm, moved = recorded_ego_lane_changes(args.data)
    print(f"steps of every fifth episode under IDLE, FASTER or SLOWER: {calm}, the ego in another lane after {moved}")
    if args.model:
        from worldsim.model.checkpoint import load_model, resolve_checkpoint

        model, _ = load_model(resolve_checkpoint(args.model), domain="driving")
        lanes, (calm, moved) = false_alarms(model, args.test)
        print(f"the crash rule one imagined step on from {args.test} (cars fired on): {sum(lanes.values())}")
        for kind, count in lanes.most_common():
            print(f"  {count:5d}  {kind}")
        print(f"dreamt steps under IDLE, FASTER or SLOWER: {calm}, the ego in another lane after {moved}")


if __name__ == "__main__":
    main()
