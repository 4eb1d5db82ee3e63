"""Which cars end up on the ego: highway-env's crashes against the dream's, by where the car came from.

    python scripts/merges_onto_the_ego.py [DATA=data/driving] [--model M --test data/eval/driving-probe]

Recorded crashes (every other episode of DATA): the step that ended the episode, whether the ego
kept its lane over it, and whether the car nearest the ego after it (the one it hit) was in the
ego's lane before the step or came from another. With --model, the dream's false alarms: from
the latent filtered off the real frames of each TEST step, one step imagined with the recorded
action; where the crash rule fires and the simulator did not end the episode, the lane the
simulator's car of that slot (both listed nearest first) was in after the step.
BENCHMARKS.md, "Driving: traffic that does not merge onto the ego".
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.crash import EGO_FIELDS, NEIGHBOUR_FIELDS, cars_overlapping
from worldsim.sources.driving import LANE_WIDTH_M


def lane(y):
    return np.clip(np.round(np.asarray(y) / LANE_WIDTH_M), 0, 2)


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
        came = lane(before[1] + then[int(np.argmin(moved)), 2])
        ego = "ego kept its lane" if lane(before[1]) == lane(after[1]) else "ego changed lanes"
        kinds[(ego, "car was in the ego's lane" if came == lane(before[1]) else "car came from another lane")] += 1
    return kinds


@torch.no_grad()
def false_alarms(model, root: str) -> Counter:
    lanes: Counter = Counter()
    n = model.config.state_dim
    generator = torch.Generator().manual_seed(0)
    data = Dataset(root)
    for episode in data.episodes(list(range(len(data)))):
        actions = torch.as_tensor(episode.actions)
        latents = model.filter_episode(torch.from_numpy(episode.frames), actions)
        steps = len(actions)
        rollout = model.imagine(latents[:steps], actions[:, None], generator=generator)
        imagined = rollout.latents[:, -1, :n] * model.state_std + model.state_mean
        fired = cars_overlapping(imagined).numpy()
        truth = cars(episode.states[1 : steps + 1])
        for t, k in zip(*np.nonzero(fired), strict=True):
            if episode.terminated[t]:
                lanes["a crash the simulator had"] += 1
                continue
            dy = abs(float(truth[t, k, 2]))
            where = "in the ego's lane" if dy < 2 else "in the next lane" if dy < 6 else "further"
            lanes[f"false: the simulator's car {where}"] += 1
    return lanes


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
    if args.model:
        from worldsim.model.checkpoint import load_model, resolve_checkpoint

        model, _ = load_model(resolve_checkpoint(args.model), domain="driving")
        lanes = false_alarms(model, args.test)
        print(f"the crash rule one imagined step on from {args.test} (cars fired on): {sum(lanes.values())}")
        for kind, count in lanes.most_common():
            print(f"  {count:5d}  {kind}")


if __name__ == "__main__":
    main()
