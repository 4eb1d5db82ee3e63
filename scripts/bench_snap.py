"""Palette snapping of a 64-env batch, each way `worldsim.model.palette` can do it, on each shipped
model's palette, in one process: every pixel scored against every colour at once (as an exported
graph does), a 64x64 frame's worth at a time (`chunk`), and through the colour table (`snap`'s
default: only 8-bit colours the table has not met are scored).

Two kinds of frames: what the decoder draws (each shipped model's frames of its bank's start states,
before snapping; what `snap` meets in an env) and uniformly random colours (the table's worst case:
nearly every pixel a colour it has not met, until it has met them all). The table is emptied before
each kind, so its first call (reported apart) pays for the colours it meets. Each line says whether
the three ways agree on every pixel.

Usage: python scripts/bench_snap.py [--envs 64] [--repeats 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from worldsim import domains
from worldsim.model import palette as palettes
from worldsim.model.checkpoint import SHIPPED, load_model
from worldsim.model.palette import SNAP_CHUNK, nearest_colours, palette_from_frames, snap
from worldsim.model.start_bank import load_start_bank


def drawn_frames(domain: str, envs: int) -> torch.Tensor:
    """The shipped model's decoder output for `envs` of its bank's starts (repeated as needed)."""
    model, _ = load_model(SHIPPED / domain)
    bank = load_start_bank(SHIPPED / domain)
    frames = torch.from_numpy(bank["frames"][:, -1]).repeat(envs // len(bank["frames"]) + 1, 1, 1, 1)[:envs]
    with torch.no_grad():
        latents = model.encode(frames[:, None], None)
        return model.draw(latents, model.frames_in(frames)).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ways = {
        "all at once": lambda f, p: snap(f, p, None),
        f"{SNAP_CHUNK} pixels at a time": lambda f, p: _scored(f, p),
        "lookup table": lambda f, p: snap(f, p),
    }
    for domain in domains.names():
        palette = palette_from_frames(load_start_bank(SHIPPED / domain)["frames"])
        print(f"{domain}: {len(palette)} colours")
        random = torch.rand(args.envs, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        for kind, frames in (("drawn", drawn_frames(domain, args.envs)), ("random", random)):
            palettes._tables.clear()
            start = time.perf_counter()
            snap(frames, palette)
            first = (time.perf_counter() - start) * 1e3
            times, outs = {}, {}
            for name, way in ways.items():
                way(frames, palette)  # warm-up
                start = time.perf_counter()
                for _ in range(args.repeats):
                    outs[name] = way(frames, palette)
                times[name] = (time.perf_counter() - start) / args.repeats * 1e3
            same = all(torch.equal(out, outs["all at once"]) for out in outs.values())
            line = ", ".join(f"{k} {v:.1f} ms" for k, v in times.items())
            print(f"  {args.envs} {kind} frames: {line} (its first call {first:.1f} ms); identical: {same}")


def _scored(frames: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Every pixel scored against every colour, a frame's worth at a time (the snap before the table)."""
    levels = (frames.movedim(1, -1).reshape(-1, 3).clamp(0, 1) * 255).round()
    nearest = nearest_colours(levels / 255, palette, SNAP_CHUNK)
    return palette[nearest].view(*frames.shape[:1], *frames.shape[2:], 3).movedim(-1, 1)


if __name__ == "__main__":
    main()
