"""What tells a games model's drawings of the simulator's own states from CarRacing's frames.

The realism test of the long-horizon evaluation (`worldsim.model.critics.realism_accuracy`, its
classifier, trained longer: see below; seeds 0..N-1) on real frames against the model's drawings of
their true states (every 10th step of each held-out episode from step 5, as the environments show
them), then (`--parts`) against the same drawings with parts of the real frame laid in: the dashboard (the frame's
bottom eighth), the car (the camera's car box, `worldsim.sources.games.CAR_BOX`), the score's
digits (the dashboard's first 8 columns), the dashboard's bars. Where laying a part in brings the
accuracy down, that part was a tell; where it does not, the others still tell the frames apart on
their own. Also counted: the real frames showing kerbs (3 or more red or white pixels outside the
car and the dashboard).

The classifier trains for `--steps` batches (default 2000): the long-horizon evaluation's recipe
(`RealismRecipe`, 300 steps) is sized for a horizon bucket's 100 frames a side, which it then sees
about 140 times each; on these 800 a side, 300 steps see each frame 17 times, and the test is
weaker than the evaluation's: the true states' drawings of the games model shipped with the score
and wheels painted were told apart in 0.71 of cases at 300 steps, 0.97 at 1000 and 3000.

`--snap-to start-bank` snaps the drawings to the palette of the model's start frames (what the
environments did before a painting camera's frames were shown as drawn); `--without touched,kerbs`
paints without those per-tile fields, to see what each buys. Also printed: the share of frames in
which the car's colour finder (`worldsim.sources.objects.GAMES`) finds the car, real and drawn.

Usage: python scripts/games_realism_tells.py [CHECKPOINT=games] [--data data/eval/games-long-wander] [--repeats 3]
                                             [--steps 2000] [--parts] [--snap-to start-bank] [--without touched,kerbs]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.critics import RealismRecipe, realism_accuracy
from worldsim.model.long_horizon import draw_states, model_columns
from worldsim.model.painted_ground import PaintedGround
from worldsim.model.palette import palette_from_frames, snap
from worldsim.model.start_bank import load_start_bank
from worldsim.sources.games import CAR_BOX, VIEW
from worldsim.sources.objects import GAMES

DASHBOARD_ROWS = 1 / 8  # CarRacing's dashboard: the window's bottom 5/40
DIGIT_COLUMNS = 8  # of 64: the score's four digits at the dashboard's left end


def real_frames(data: Dataset, every: int = 10, first: int = 5):
    frames, states, groups = [], [], []
    for index in range(len(data)):
        episode = data.episode(index)
        steps = np.arange(first, len(episode.frames), every)
        frames.append(episode.frames[steps])
        states.append(episode.states[steps])
        groups += [index] * len(steps)
    return np.concatenate(frames), np.concatenate(states), np.array(groups)


def masks(size: int) -> dict[str, np.ndarray]:
    """(size, size) bool masks of the frame's parts, from the camera's geometry."""
    centre = (np.arange(size) + 0.5) / size * 2 - 1  # normalised pixel centres, y down
    half = 1 / size
    (sx, sy), (_, oy) = VIEW["scale"], VIEW["origin"]
    width, behind, ahead = CAR_BOX
    rows = (centre + half > oy - ahead / sy) & (centre - half < oy + behind / sy)
    columns = np.abs(centre) - half < width / sx
    dashboard = np.zeros((size, size), bool)
    dashboard[size - round(size * DASHBOARD_ROWS) :] = True
    car = rows[:, None] & columns[None, :] & ~dashboard
    digits = dashboard.copy()
    digits[:, DIGIT_COLUMNS * size // 64 :] = False
    return {"dashboard": dashboard, "car": car, "digits": digits}


def kerbs(frames: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: the red or white pixels of `frames` (N, H, W, 3) where `outside` (H, W) holds."""
    r, g, b = (frames[..., c].astype(int) for c in range(3))
    return ((r > 150) & ((g < 120) | ((g > 150) & (b > 150)))) & outside


def laid_in(drawn: np.ndarray, real: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = drawn.copy()
    out[:, mask] = real[:, mask]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default="games")
    parser.add_argument("--data", default="data/eval/games-long-wander")
    parser.add_argument("--repeats", type=int, default=3, help="classifier seeds per test")
    parser.add_argument("--snap-to", choices=["start-bank"], help="snap the drawings to this palette")
    parser.add_argument("--parts", action="store_true", help="also test the drawings with parts of the real frames laid in")
    parser.add_argument("--steps", type=int, default=2000, help="the classifier's training batches")
    parser.add_argument("--without", default="", help="touched,kerbs: per-tile fields the painting leaves out")
    args = parser.parse_args()
    model, _ = load_model(args.checkpoint, domain="games")
    model.eval()
    if args.without:
        view = model.config.decoder_view
        tiles = dict(view.get("paint", {}).get("tiles", {}))
        for part in args.without.split(","):
            if part not in tiles or part not in ("touched", "kerbs"):
                parser.error(f"--without: {args.checkpoint}'s camera paints no tiles' {part!r}")
            del tiles[part]
        view = {**view, "paint": {**view["paint"], "tiles": tiles}}
        model.painted_ground = PaintedGround(view, model.config.state_fields, model.config.frame_size)
    data = Dataset(args.data)
    real, states, groups = real_frames(data)
    drawn = draw_states(model, states[:, model_columns(model, data)], palette_from_frames(real))
    if args.snap_to == "start-bank":
        palette = palette_from_frames(load_start_bank(resolve_checkpoint(args.checkpoint))["frames"])
        frames = torch.from_numpy(drawn).movedim(-1, 1).float() / 255
        drawn = model.to_uint8(snap(frames, palette)).numpy()
    m = masks(real.shape[1])
    bars = m["dashboard"] & ~m["digits"]
    kerb = kerbs(real, ~(m["car"] | m["dashboard"]))
    tests = [("as drawn", real, drawn)]
    if args.parts:
        tests += [
            ("the real dashboard laid in", real, laid_in(drawn, real, m["dashboard"])),
            ("the real score's digits laid in", real, laid_in(drawn, real, m["digits"])),
            ("the real dashboard's bars laid in", real, laid_in(drawn, real, bars)),
            ("the real car laid in", real, laid_in(drawn, real, m["car"])),
            ("the real car and dashboard laid in", real, laid_in(drawn, real, m["car"] | m["dashboard"])),
        ]
    print(f"kerbs in {float((kerb.reshape(len(kerb), -1).sum(1) >= 3).mean()):.2f} of the real frames")
    car = GAMES[0]
    found = car.found(real).mean(), car.found(drawn).mean()
    print(f"the car's colour finder finds it in {found[0]:.3f} of the real frames, {found[1]:.3f} drawn")
    print(f"{args.checkpoint}: {len(real)} frames of {len(np.unique(groups))} episodes of {args.data}, true states drawn")
    print("realism (0.5: indistinguishable), mean (lowest-highest) over classifier seeds:")
    recipe = RealismRecipe(steps=args.steps)
    for name, a, b in tests:
        scores = [realism_accuracy(a, b, groups, groups, recipe, seed=s)["accuracy"] for s in range(args.repeats)]
        print(f"  {name:52s} {np.mean(scores):.2f} ({min(scores):.2f}-{max(scores):.2f})")


if __name__ == "__main__":
    main()
