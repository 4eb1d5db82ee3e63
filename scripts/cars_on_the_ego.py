"""Where does a highway-env dream put the other cars, and what does the decoder then draw?

Each held-out episode is replayed as `worldsim eval --long` replays it (its first real frames, then
its recorded actions open loop; `worldsim.model.long_horizon.replay_episodes`). A decoder that draws
the state exactly (the camera's car boxes, `worldsim.sources.driving.CAMERA`) draws whatever the
dream's state says; this counts what it says that the simulator never does:
- the share of steps with another car's box on the ego's (centres within a car length along the
  road and a car width across it), in the dream's state and in the simulator's, by steps imagined;
- the share of frames the ego is found in (its colour, `worldsim.sources.objects`), where such a
  car sits on it and elsewhere;
- per vehicle slot (nearest first): how often the simulator's car is inside the camera's view, and
  the dream's median position error for cars inside and outside it; and, slots aside, the median
  over steps of the mean position error with the dream's cars matched to the simulator's in the
  order that fits best (what a model with `matched_slots` is scored on), and how many present cars
  stand in the camera's view per step;
- how often the simulator's own slots change cars from one step to the next (each car moved by its
  relative speed for the 1 s step, then matched to the next step's in the order that fits best);
- the share of present cars in the camera's view more than 1 m off every lane centre
  (`worldsim.sources.driving.LANES`) in the dream's states, in the states the filter reads off
  every real frame of the episodes, and in the simulator's (a car straddling the lane markings).

Usage: python scripts/cars_on_the_ego.py CHECKPOINT [--data data/eval/driving-heldout] [--episodes 40]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.long_horizon import LongEvalConfig, model_columns, replay_episodes
from worldsim.model.palette import palette_from_frames
from worldsim.model.start_bank import load_start_bank
from worldsim.sources.driving import CAMERA, LANES
from worldsim.sources.objects import DRIVING

STEPS = ((0, 1), (1, 3), (3, 6), (6, 12), (12, 30))  # steps imagined, [from, to)


def on_the_ego(states: np.ndarray, fields: list[str], slots: int) -> np.ndarray:
    """(N,) whether any present car's centre is within a box length along and a width across the ego's."""
    length, width = CAMERA["bodies"]["length"], CAMERA["bodies"]["width"]
    hit = np.zeros(len(states), bool)
    for k in range(slots):
        present, dx, dy = (states[:, fields.index(f"car{k}_{n}")] for n in ("present", "dx", "dy"))
        hit |= (present > 0.5) & (np.abs(dx) < length) & (np.abs(dy) < width)
    return hit


def in_view(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Whether a car centred at (dx, dy) from the ego shows in the camera's frame (any part of it)."""
    (half_x, half_y), (origin_x, origin_y) = np.abs(CAMERA["scale"]), CAMERA["origin"]
    reach = CAMERA["bodies"]["length"] / 2
    left, right = (-1 - origin_x) * half_x - reach, (1 - origin_x) * half_x + reach
    return (dx > left) & (dx < right) & (np.abs(dy - origin_y * half_y) < half_y + reach)


def off_lane(states: np.ndarray, fields: list[str], slots: int, by: float = 1.0) -> np.ndarray:
    """Whether each present car in the camera's view lies more than `by` metres off every lane
    centre (`worldsim.sources.driving.LANES`), one entry per such car."""
    own = states[:, fields.index(LANES["absolute"])]
    centres = LANES["width"] * np.arange(LANES["count"])
    out = []
    for k in range(slots):
        present, dx, dy = (states[:, fields.index(f"car{k}_{n}")] for n in ("present", "dx", "dy"))
        shown = (present > 0.5) & in_view(dx, dy)
        out.append(np.abs((own + dy)[shown, None] - centres).min(-1) > by)
    return np.concatenate(out)


def reordered(states: list[np.ndarray], fields: list[str], slots: int) -> tuple[float, float]:
    """Share of steps whose best match of cars to the next step's is not slot for slot, and share
    where the nearest two are not."""
    column = fields.index
    changed = nearest = total = 0
    for episode in states:
        for now, then in zip(episode[:-1], episode[1:], strict=True):
            moved = np.array(
                [
                    (
                        now[column(f"car{k}_dx")] + now[column(f"car{k}_vx")] - now[column("ego_vx")],
                        now[column(f"car{k}_dy")] + now[column(f"car{k}_vy")] - now[column("ego_vy")],
                    )
                    for k in range(slots)
                ]
            )
            there = np.array([(then[column(f"car{k}_dx")], then[column(f"car{k}_dy")]) for k in range(slots)])
            distance = np.linalg.norm(moved[:, None] - there[None], axis=-1)  # (K, K): car k now to slot j then
            orders = list(itertools.permutations(range(slots)))
            best = orders[int(np.argmin([distance[range(slots), list(order)].sum() for order in orders]))]
            total += 1
            changed += best != tuple(range(slots))
            nearest += best[:2] != (0, 1)
    return changed / max(total, 1), nearest / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="data/eval/driving-heldout")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = resolve_checkpoint(args.checkpoint)
    model, _ = load_model(path)
    if model.config.domain != "driving":
        parser.error(f"{path}: a {model.config.domain!r} model; this counts highway-env's cars")
    data = Dataset(args.data)
    palette = palette_from_frames(load_start_bank(path)["frames"])
    config = LongEvalConfig()
    chosen = [i for i in data.indices() if len(data.episode(i)) >= config.context][: args.episodes]
    replay = replay_episodes(model, data, chosen, config, palette, model_columns(model, data))
    fields = model.config.state_fields
    slots = sum(1 for f in fields if f.startswith("car") and f.endswith("_present"))
    dream, truth = np.concatenate(replay.head_states), np.concatenate(replay.true_states)
    steps = np.concatenate([np.arange(len(s)) for s in replay.head_states])
    dreamt, real = on_the_ego(dream, fields, slots), on_the_ego(truth, fields, slots)
    print(f"{path}: {len(chosen)} episodes of {args.data}, {len(dream)} imagined steps")
    print("a car's box on the ego's, share of steps (dream / simulator):")
    for lo, hi in STEPS:
        now = (steps >= lo) & (steps < hi)
        if now.any():
            print(f"  steps {lo + 1:>2}-{hi:<2} {dreamt[now].mean():.3f} / {real[now].mean():.3f}  ({now.sum()} steps)")
    (ego,) = [o for o in DRIVING if o.name == "ego"]
    found = ego.found(np.concatenate(replay.dream))
    with_car = found[dreamt].mean() if dreamt.any() else float("nan")
    print(
        f"ego found in the dream's frames: {found.mean():.2f} (with a car on it {with_car:.2f}, "
        f"elsewhere {found[~dreamt].mean():.2f}); in the simulator's {ego.found(np.concatenate(replay.real)).mean():.2f}"
    )
    print("per slot: simulator's car in view, dream's median position error in view / out of view (m)")
    for k in range(slots):
        true_dx, true_dy = truth[:, fields.index(f"car{k}_dx")], truth[:, fields.index(f"car{k}_dy")]
        error = np.hypot(dream[:, fields.index(f"car{k}_dx")] - true_dx, dream[:, fields.index(f"car{k}_dy")] - true_dy)
        seen = in_view(true_dx, true_dy)
        median = lambda e: f"{np.median(e):.1f}" if len(e) else "-"  # noqa: E731
        print(f"  car{k}: {seen.mean():.2f} in view, error {median(error[seen])} / {median(error[~seen])}")
    places = lambda s: np.stack([s[:, [fields.index(f"car{k}_dx"), fields.index(f"car{k}_dy")]] for k in range(slots)], 1)  # noqa: E731
    ours, theirs = places(dream), places(truth)  # (N, K, 2)
    matched = np.min(
        [np.linalg.norm(ours - theirs[:, list(order)], axis=-1).mean(-1) for order in itertools.permutations(range(slots))], 0
    )
    print(f"cars matched in their best order: median mean position error {np.median(matched):.1f} m")
    seen = lambda s: sum(  # noqa: E731
        (s[:, fields.index(f"car{k}_present")] > 0.5)
        & in_view(s[:, fields.index(f"car{k}_dx")], s[:, fields.index(f"car{k}_dy")])
        for k in range(slots)
    )
    print(f"present cars in the camera's view per step: dream {seen(dream).mean():.2f}, simulator {seen(truth).mean():.2f}")
    with torch.no_grad():
        filtered = []  # the state read off each real frame in turn, as an agent on the simulator is shown it
        for episode in map(data.episode, chosen):
            actions = torch.from_numpy(episode.actions[: len(episode.frames) - 1])
            filtered.append(model.physical_state(model.filter_episode(torch.from_numpy(episode.frames), actions)).numpy())
    off_dream, off_filter, off_sim = (off_lane(s, fields, slots).mean() for s in (dream, np.concatenate(filtered), truth))
    print(
        f"present cars in view more than 1 m off every lane centre: dream {off_dream:.2f}, "
        f"filtered {off_filter:.2f}, simulator {off_sim:.2f}"
    )
    changed, nearest = reordered(replay.true_states, fields, slots)
    print(f"the simulator's slots change cars in {changed:.0%} of steps, the nearest two in {nearest:.0%}")


if __name__ == "__main__":
    main()
