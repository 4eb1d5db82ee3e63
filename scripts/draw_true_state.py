"""What a state-drawing world model's decoder draws from the simulator's true state, beside the real
frames: one PNG of an episode's real frames (top row) over the decoder's drawings of their states
(bottom row), and the PSNR of the drawings. It separates what the decoder can draw from what the
dream's state tells it (a model with `decoder_input` "state" only).

Usage: python scripts/draw_true_state.py --checkpoint games --data data/eval/games-long [--episode 1]
                                         [--steps 3,10,50,100,200,300,400,450] [--out true_state.png]
"""

from __future__ import annotations

import argparse

import imageio.v3 as iio
import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.metrics import psnr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--episode", type=int, default=1)
    parser.add_argument("--steps", default="3,10,50,100,200,300,400,450")
    parser.add_argument("--out", default="true_state.png")
    args = parser.parse_args()
    model, _ = load_model(resolve_checkpoint(args.checkpoint))
    if model.config.decoder_input != "state":
        parser.error(f"{args.checkpoint} draws from its latent (decoder_input {model.config.decoder_input!r}), not the state")
    episode = Dataset(args.data).with_fields(model.config.state_fields).episode(args.episode)
    steps = [t for t in (int(v) for v in args.steps.split(",")) if t < len(episode.frames)]
    with torch.no_grad():
        code = model.normalise_state(torch.from_numpy(episode.states[steps]).float())
        drawn = model.draw_state(code)
    real = torch.from_numpy(episode.frames[steps]).permute(0, 3, 1, 2).float() / 255
    print(f"PSNR of the drawings of the true state, steps {steps}: {psnr(drawn.clamp(0, 1), real).mean():.2f} dB")
    rows = [episode.frames[steps], model.to_uint8(drawn).numpy()]
    iio.imwrite(args.out, np.concatenate([np.concatenate(list(row), 1) for row in rows], 0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
