"""Does the camera's view let a field decoder draw CarRacing's grass squares? A decoder-only fit.

Fits the games model's field decoder, reading the true state, on (state, frame) pairs of one dataset
(every 5th step of 60 episodes) with or without `"decoder_view": "camera"`
(`worldsim.model.ego_view`), and scores 8 held-out episodes of another (every 25th step): PSNR, and
the share of grass pixels whose lightness (a lighter square or not) the drawing gets right. The
lighter squares cover about a quarter of the grass, so a decoder drawing one green scores ~0.76.

Usage: python scripts/decoder_view_fit.py [--view] [--steps 1500] [--train data/games]
                                          [--test data/eval/games-long] [--out fit.png]
"""

from __future__ import annotations

import argparse
import json
import time

import imageio.v3 as iio
import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.metrics import psnr
from worldsim.model.train import model_config_for
from worldsim.model.world_model import WorldModel

LIGHT_GRASS, GRASS = 225, 190  # green levels: CarRacing's lighter squares are (102, 230, 102), grass (102, 204, 102)


def pairs(data: Dataset, episodes: int, every: int) -> tuple[np.ndarray, np.ndarray]:
    chosen = [data.episode(i) for i in range(0, len(data), max(1, len(data) // episodes))][:episodes]
    return np.concatenate([e.frames[::every] for e in chosen]), np.concatenate([e.states[::every] for e in chosen])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", action="store_true", help="give the decoder the camera's view")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--train", default="data/games")
    parser.add_argument("--test", default="data/eval/games-long")
    parser.add_argument("--out", default="fit.png", help="held-out frames (top) over their drawings")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train = Dataset(args.train)
    parts = {"draws_on_previous": False, "decoder": "field", "decoder_input": "state"}
    model = WorldModel(model_config_for(train, {**parts, **({"decoder_view": "camera"} if args.view else {})}))
    frames, states = pairs(train, 60, 5)
    held_frames, held_states = pairs(Dataset(args.test), 8, 25)
    model.fit_state_normalisation(torch.from_numpy(states).float())
    targets = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    codes = model.normalise_state(torch.from_numpy(states).float())
    optimiser = torch.optim.Adam(model.decoder.parameters(), 2e-3)
    start = time.perf_counter()
    for _ in range(args.steps):
        i = torch.randint(len(frames), (32,))
        loss = ((model.draw_state(codes[i]) - targets[i]) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        drawn = model.draw_state(model.normalise_state(torch.from_numpy(held_states).float()))
    real = torch.from_numpy(held_frames).permute(0, 3, 1, 2).float() / 255
    pixels = model.to_uint8(drawn).numpy()
    grass = (held_frames[..., 0] < 130) & (held_frames[..., 1] > GRASS)
    light = held_frames[..., 1] > LIGHT_GRASS
    report = {
        "view": args.view,
        "steps": args.steps,
        "psnr_db": round(float(psnr(drawn.clamp(0, 1), real).mean()), 2),
        "grass_lightness_right": round(float(((pixels[..., 1] > (LIGHT_GRASS + 204) / 2) == light)[grass].mean()), 3),
        "light_share_of_grass": round(float(light[grass].mean()), 3),
        "seconds": round(time.perf_counter() - start),
    }
    print(json.dumps(report))
    rows = [np.concatenate(list(held_frames[:8]), 1), np.concatenate(list(pixels[:8]), 1)]
    iio.imwrite(args.out, np.concatenate(rows, 0))


if __name__ == "__main__":
    main()
