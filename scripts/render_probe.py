"""How sharply can the world model's decoder draw PushT from the physical state alone?

PushT's frame is a function of its state (agent and block poses; the goal never moves), so a
decoder given the true state, coded as the model codes it (angles as cos and sin), should learn to
draw a crisp T. This fits the model's own upsampling decoder on (state, frame) pairs of a dataset
and scores held-out frames of another: PSNR, and the shape check of the long-horizon report (the
share of frames whose block and agent pixels overlap the real ones by half or more), with each
drawn frame snapped to the frames' palette. It separates what the decoder can draw from what the
world model's latent tells it.

Usage: python scripts/render_probe.py [--train data/robotics-v2] [--test data/eval/robotics-probe]
                                      [--decoder upsample|broadcast|field] [--foreground W] [--lr LR]
                                      [--steps 2000] [--channels 16] [--out render.png]
"""

from __future__ import annotations

import argparse

import imageio.v3 as iio
import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.networks import BroadcastDecoder, Decoder, FieldDecoder, coordinate_grid
from worldsim.model.objective import LossWeights, pixel_error, pixel_weight
from worldsim.model.palette import palette_from_frames, snap
from worldsim.sources.objects import ROBOTICS


class CoordinateDecoder(Decoder):
    """The decoder with each pixel's x, y beside every upsampling stage's input (CoordConv): a
    candidate for drawing poses sharply, tried here before it enters the model."""

    def __init__(self, channels: int, latent_dim: int, frame_size: int):
        super().__init__(channels, latent_dim, frame_size)
        for i, up in enumerate(self.ups):
            self.ups[i] = torch.nn.ConvTranspose2d(up.in_channels + 2, up.out_channels, 4, 2, 1)

    def forward(self, latent: torch.Tensor, reference=None, base=None) -> torch.Tensor:
        x = self.act(self.inp(latent).view(-1, 8 * self.c, self.side, self.side))
        for i, up in enumerate(self.ups):
            x = up(torch.cat([x, coordinate_grid(len(x), x.shape[-1], x)], 1))
            if i < 3:
                x = self.act(torch.cat([x, torch.zeros_like(x)], 1))
        return torch.sigmoid(x[:, :3])


def load(root: str, every: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = Dataset(root)
    episodes = [data.episode(i) for i in range(len(data))]
    fields = [f["name"] for f in data.source["state_fields"]]
    return np.concatenate([e.frames[::every] for e in episodes]), np.concatenate([e.states[::every] for e in episodes]), fields


POSITIONS = ("agent_x", "agent_y", "block_x", "block_y")  # what shows, besides the block's angle


def code(states: np.ndarray, fields: list[str], mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    # positions only (velocities and coverage do not show): x, y standardised; the angle as cos, sin
    k = fields.index("block_angle")
    keep = [fields.index(f) for f in POSITIONS]
    z = (states[:, keep] - mean) / std
    return torch.from_numpy(np.concatenate([z, np.cos(states[:, k : k + 1]), np.sin(states[:, k : k + 1])], 1)).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", default="data/robotics-v2")
    parser.add_argument("--test", default="data/eval/robotics-probe")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=6e-4)
    parser.add_argument("--coordinates", action="store_true", help="pixel coordinates beside each upsampling stage")
    parser.add_argument("--decoder", choices=("upsample", "broadcast", "field"), default="upsample")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--foreground",
        type=float,
        default=0.0,
        help="LossWeights.foreground: extra weight on pixels away from the batch's mean frame",
    )
    parser.add_argument(
        "--plain-init",
        action="store_true",
        help="the last layer at PyTorch's default initialisation, not scaled down as the decoder starts "
        "(a small start suits drawing on a previous frame; from the latent alone it slows learning)",
    )
    parser.add_argument("--out", default="render.png", help="a strip of held-out frames: real above, drawn below")
    args = parser.parse_args()
    if args.plain_init and args.decoder != "upsample":
        parser.error("--plain-init re-initialises the upsampling decoder's last layer; the others start at the default")
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    frames, states, fields = load(args.train, 1)
    test_frames, test_states, _ = load(args.test, 10)
    keep = [fields.index(f) for f in POSITIONS]
    mean, std = states[:, keep].mean(0), states[:, keep].std(0)
    x, y = code(states, fields, mean, std), torch.from_numpy(frames)  # uint8: converted per batch
    kind = {"upsample": CoordinateDecoder if args.coordinates else Decoder, "broadcast": BroadcastDecoder, "field": FieldDecoder}
    decoder = kind[args.decoder](args.channels, x.shape[1], frames.shape[1])
    if args.plain_init:
        decoder.ups[-1].reset_parameters()
    optimizer = torch.optim.Adam(decoder.parameters(), args.lr)
    generator = torch.Generator().manual_seed(0)
    for step in range(args.steps):
        idx = torch.randint(len(x), (args.batch,), generator=generator)
        target = y[idx].permute(0, 3, 1, 2).float() / 255
        weight = pixel_weight(LossWeights(foreground=args.foreground), target, target.mean(0))
        loss = pixel_error(decoder(x[idx]), target, weight).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 250 == 0:
            print(f"step {step}: pixel loss {loss.item():.1f}", flush=True)
    palette = palette_from_frames(frames[:: max(1, len(frames) // 2000)])
    with torch.no_grad():
        tx = code(test_states, fields, mean, std)
        drawn = torch.cat([decoder(tx[i : i + 256]) for i in range(0, len(tx), 256)])
        drawn = snap(drawn, palette)
    drawn = (drawn.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    mse = ((drawn.astype(np.float64) - test_frames) ** 2).mean((1, 2, 3))
    psnr = float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))))
    print(f"held out: {len(test_frames)} frames of {args.test}, PSNR {psnr:.1f} dB")
    for obj in ROBOTICS:
        overlap = obj.overlap(drawn, test_frames)
        print(f"  {obj.name}: mean overlap (IoU) {overlap.mean():.2f}, matched (IoU >= 0.5) {np.mean(overlap >= 0.5):.0%}")
    pick = np.linspace(0, len(test_frames) - 1, 8).astype(int)
    strip = np.concatenate([np.concatenate(list(test_frames[pick]), 1), np.concatenate(list(drawn[pick]), 1)], 0)
    iio.imwrite(args.out, np.kron(strip, np.ones((3, 3, 1), np.uint8)))


if __name__ == "__main__":
    main()
