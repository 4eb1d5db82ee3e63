"""Palette snapping of a 64-env batch, all pixels at once against a 64x64 frame's worth at a time
(`worldsim.model.palette.snap`'s `chunk`), on each shipped model's palette, in one process.

Usage: python scripts/bench_snap.py [--envs 64] [--repeats 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from worldsim import domains
from worldsim.model.checkpoint import SHIPPED
from worldsim.model.palette import SNAP_CHUNK, palette_from_frames, snap
from worldsim.model.start_bank import load_start_bank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for domain in domains.names():
        palette = palette_from_frames(load_start_bank(SHIPPED / domain)["frames"])
        frames = torch.rand(args.envs, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        times = {}
        for name, chunk in (("all at once", None), (f"{SNAP_CHUNK} pixels at a time", SNAP_CHUNK)):
            snap(frames, palette, chunk)  # warm-up
            start = time.perf_counter()
            for _ in range(args.repeats):
                snap(frames, palette, chunk)
            times[name] = (time.perf_counter() - start) / args.repeats * 1e3
        same = torch.equal(snap(frames, palette, None), snap(frames, palette, SNAP_CHUNK))
        line = ", ".join(f"{k} {v:.1f} ms" for k, v in times.items())
        print(f"{domain}: {len(palette)} colours, {args.envs} frames: {line}; identical: {same}")


if __name__ == "__main__":
    main()
