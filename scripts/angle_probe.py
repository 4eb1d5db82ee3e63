"""How hard is PushT's block angle to read off a 64x64 frame, and does the loss's angle coding matter?

Fits the same small CNN three ways on frames of a PushT dataset (every 3rd step; the first 85 % of
frames to train, the rest held out) and prints the held-out angle error around the circle:
(cos, sin) targets, the raw angle with the error taken around the circle (what the world model's
losses now do), and the raw angle regressed plainly (what they did before).

Usage: python scripts/angle_probe.py [DATA=data/eval/robotics-probe] [STEPS=1500]
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from worldsim.data import Dataset


def cnn(outputs: int) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * 64, 256), nn.ReLU(), nn.Linear(256, outputs),
    )  # fmt: skip


def main(root: str = "data/eval/robotics-probe", steps: int = 1500) -> None:
    torch.set_num_threads(2)
    data = Dataset(root)
    episodes = [data.episode(i) for i in range(len(data))]
    frames = np.concatenate([e.frames[::3] for e in episodes])
    k = [f["name"] for f in data.source["state_fields"]].index("block_angle")
    angles = np.concatenate([e.states[::3, k] for e in episodes])
    train = np.arange(len(frames)) < int(len(frames) * 0.85)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    a = torch.from_numpy(angles).float()
    for coding in ("cos_sin", "raw_circular", "raw_plain"):
        model = cnn(2 if coding == "cos_sin" else 1)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        generator = torch.Generator().manual_seed(0)
        xt, at = x[train], a[train]
        for _ in range(steps):
            idx = torch.randint(len(xt), (64,), generator=generator)
            out, target = model(xt[idx]), at[idx]
            if coding == "cos_sin":
                loss = ((out - torch.stack([target.cos(), target.sin()], 1)) ** 2).mean()
            else:
                error = out[:, 0] - target
                if coding == "raw_circular":
                    error = torch.atan2(torch.sin(error), torch.cos(error))
                loss = (error**2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            out = model(x[~train])
        read = torch.atan2(out[:, 1], out[:, 0]).numpy() if coding == "cos_sin" else out[:, 0].numpy()
        error = np.abs(np.angle(np.exp(1j * (read - angles[~train]))))
        print(f"{coding:<13} held-out angle error: median {np.median(error):.2f} rad, mean {error.mean():.2f} rad")


if __name__ == "__main__":
    main(*sys.argv[1:2], *(int(v) for v in sys.argv[2:3]))
