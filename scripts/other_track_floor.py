"""What the long-horizon realism test gives CarRacing's own simulator driven on another track.

A dream replaying a recorded episode's actions open-loop knows the track only as far as its first
frames show it (about 42 u ahead); beyond, the dream lays its own. The recorded steering follows
the real track, so the dream's car leaves its own road, and frames of a car on the grass are told
from frames of a car on the road. This measures that bound without any model: CarRacing itself,
reset on another track (seed 10,000 + the episode's index), driven with each held-out episode's
recorded actions from its start, against the episode's real frames, in the long-horizon
evaluation's horizon buckets, with its realism recipe and seeds (`worldsim.model.long_horizon`),
beside the evaluation's real-vs-real control. Also the share of frames showing road under the car
(its colour finder, as the evaluation's "road under the car found").

Usage: python scripts/other_track_floor.py [--data data/eval/games-long-wander] [--episodes 10] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from worldsim.data import Dataset
from worldsim.model.critics import realism_accuracy, realism_control
from worldsim.model.long_horizon import LongEvalConfig, Replay, _buckets
from worldsim.sources.games import GamesSource
from worldsim.sources.objects import GAMES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/eval/games-long-wander")
    parser.add_argument("--episodes", type=int, default=10, help="as `worldsim eval --long --episodes`")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = Dataset(args.data)
    config = LongEvalConfig(episodes=args.episodes)
    c = config.context
    held_out = [i for i in data.indices("all", config.val_fraction) if len(data.episode(i)) >= c]
    rng = np.random.default_rng(config.seed)  # the episodes `evaluate_long` replays
    chosen = sorted(rng.choice(held_out, size=min(config.episodes, len(held_out)), replace=False).tolist())
    source = GamesSource(data.source["frame_shape"][0], frame_skip=data.source.get("frame_skip", 2))
    replay = Replay([], [], [], [], [], [], None)
    for index in chosen:
        episode = data.episode(index)
        obs, frames = source.reset(seed=10_000 + index), []
        for action in episode.actions:
            obs = source.step(action)
            frames.append(obs.frame)
            if obs.terminated or obs.truncated:
                break
        k = len(episode) - (c - 1)
        other = np.stack(frames[c - 1 :])[:k]
        replay.episodes.append(index)
        replay.real.append(episode.frames[c : c + len(other)])
        replay.dream.append(other)
    source.close()
    road = next(o for o in GAMES if o.name != "car")
    report = {}
    for name, steps in _buckets(replay, config).items():
        real = np.stack([replay.real[i][k] for i, k in steps])
        other = np.stack([replay.dream[i][k] for i, k in steps])
        groups = np.array([replay.episodes[i] for i, _ in steps])
        seeds = range(config.seed, config.seed + config.realism_repeats)
        tests = [realism_accuracy(real, other, groups, groups, config.realism, seed=s)["accuracy"] for s in seeds]
        controls = [realism_control(real, groups, config.realism, seed=s)["accuracy"] for s in seeds]
        report[name] = {
            "frames": len(steps),
            "realism": float(np.mean(tests)),
            "realism_std": float(np.std(tests)),
            "control": float(np.mean(controls)),
            "road_under_the_car": {"real": float(road.found(real).mean()), "other_track": float(road.found(other).mean())},
        }
    if args.json:
        print(json.dumps({"data": args.data, "episodes": chosen, "buckets": report}, indent=2))
        return
    print(f"CarRacing on another track with the recorded actions of {len(chosen)} episodes of {args.data}")
    print("horizon  realism        control  road under the car: real / other track")
    for name, row in report.items():
        road_share = row["road_under_the_car"]
        print(
            f"{name:>7}  {row['realism']:.2f} +- {row['realism_std']:.2f}  {row['control']:.2f}     "
            f"{road_share['real']:.2f} / {road_share['other_track']:.2f}"
        )


if __name__ == "__main__":
    main()
