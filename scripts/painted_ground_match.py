"""How closely a camera's painting matches CarRacing's own frames, painted from the simulator's states.

For held-out episodes (every `--every`-th step), the ground, road and car of `worldsim.sources.games`'
CAMERA are painted from each frame's true state (`worldsim.model.painted_ground`) and compared with the
frame: the share of painted pixels above the dashboard within 3 and 10 grey levels (the largest
channel's difference) and the mean difference, and the same for the dashboard where it is painted;
the same in the car's window and the dashboard, beside a model's decoder drawing the same states
(`--checkpoint`); the share of frames whose printed score is within 1 level; and the kerbs (red or
white pixels outside the dashboard and the car's window): the share of frames showing 3 or more,
in the frames and painted, and of the pixels either shows as kerb, the share both do. `--shift X,Y`
paints with another shift of the picture (frame pixels), to see the fit of the one the camera uses.
`--no-midpoints` paints the path's chords alone, `--without TILES` paints without the state's
per-tile fields (`touched`, `kerbs` or both, comma-separated), to see what each buys.

Usage: python scripts/painted_ground_match.py [--data data/eval/games-long-wander] [--episodes 8]
                                              [--every 10] [--checkpoint runs/games-speed] [--shift -0.2,-0.2]
                                              [--no-midpoints] [--without touched,kerbs]
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.painted_ground import PaintedGround
from worldsim.sources.games import CAMERA, STATE_FIELDS


def differences(painted: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in grey levels -> (N, H, W): the largest channel's absolute difference."""
    return (painted.round() - frames).abs().amax(1)


def kerbs(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) grey levels -> (N, H, W): red or white pixels, a kerb's colours."""
    r, g, b = frames[:, 0], frames[:, 1], frames[:, 2]
    return (r > 150) & ((g < 120) | ((g > 150) & (b > 150)))


def summary(diff: torch.Tensor) -> str:
    close = [f"{(diff <= levels).float().mean():.3f}" for levels in (3, 10)]
    return f"within 3 levels {close[0]}, within 10 {close[1]}, mean {diff.mean():.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/eval/games-long-wander")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--checkpoint", help="a games model whose decoder draws the car's window for comparison")
    parser.add_argument("--shift", help="X,Y: the picture's shift in frame pixels (default: the camera's)")
    parser.add_argument("--no-midpoints", action="store_true", help="paint the path's chords alone (paint's midpoints off)")
    parser.add_argument("--without", default="", help="touched,kerbs: per-tile fields the painting leaves out")
    args = parser.parse_args()
    view = copy.deepcopy(CAMERA)
    if args.shift:
        view["paint"]["shift"] = [float(v) for v in args.shift.split(",")]
    if args.no_midpoints:
        view["paint"]["midpoints"] = False
    for part in filter(None, args.without.split(",")):
        if part not in ("touched", "kerbs"):
            parser.error(f"--without takes touched and/or kerbs, got {part!r}")
        del view["paint"]["tiles"][part]
    data = Dataset(args.data)
    names = [f.name for f in STATE_FIELDS]
    paint = PaintedGround(view, names, data.source["frame_shape"][0])
    frames, states, first = [], [], []
    for index in range(min(args.episodes, len(data))):
        episode = data.episode(index)
        steps = np.arange(0, len(episode.frames), args.every)
        frames.append(torch.from_numpy(np.array(episode.frames[steps])).permute(0, 3, 1, 2).float())
        states.append(torch.from_numpy(np.array(episode.states[steps])).float())
        first.append(torch.from_numpy(steps == 0))
    frames, states, first = torch.cat(frames), torch.cat(states), torch.cat(first)
    painted = paint(torch.zeros_like(frames), states) * 255
    where = paint.painted[0, 0].bool()
    if paint.dashboard is not None:  # the dashboard's pixels apart: painted from the state only with its fields
        where[paint.dashboard.row :] = False
    diff = differences(painted, frames)
    print(f"{len(frames)} frames of {args.data}, shift {view['paint'].get('shift', [0, 0])}")
    print(f"  painted pixels above the dashboard: {summary(diff[:, where])}")
    if paint.dashboard is not None:
        print(f"  the dashboard: {summary(diff[:, paint.dashboard.row :])}")
    (r0, r1), (c0, c1) = paint.car.rows, paint.car.cols
    print(f"  the car's window, painted: {summary(diff[:, r0:r1, c0:c1])}")
    if paint.score is not None:  # an episode's first frame shows the zoom-in's time, not the state's score
        (s0, s1), (t0, t1) = paint.score.box
        worst = diff[~first, s0:s1, t0:t1].flatten(1).amax(1)
        print(f"  the printed score, frames after an episode's first: {float((worst <= 1).float().mean()):.3f} within 1 level")
    if args.checkpoint:
        from worldsim.model.checkpoint import load_model
        from worldsim.model.long_horizon import draw_states, model_columns

        model, _ = load_model(args.checkpoint, domain="games")
        columns = model_columns(model, data)
        drawn = torch.from_numpy(draw_states(model.eval(), states[:, columns].numpy())).permute(0, 3, 1, 2).float()
        print(f"  the car's window, {args.checkpoint}'s drawing: {summary(differences(drawn, frames)[:, r0:r1, c0:c1])}")
        if paint.dashboard is not None:
            print(
                f"  the dashboard, {args.checkpoint}'s drawing: {summary(differences(drawn, frames)[:, paint.dashboard.row :])}"
            )
    ground = where.clone()
    ground[r0:r1, c0:c1] = False  # the car's red is not a kerb
    real, ours = kerbs(frames) & ground, kerbs(painted) & ground
    print(
        f"  kerbs: in {float((real.flatten(1).sum(1) >= 3).float().mean()):.2f} of the frames, painted in "
        f"{float((ours.flatten(1).sum(1) >= 3).float().mean()):.2f}; of the pixels either shows as kerb, both do "
        f"{float((real & ours).sum() / (real | ours).sum().clamp(min=1)):.2f}"
    )


if __name__ == "__main__":
    main()
