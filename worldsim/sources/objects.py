"""The objects each simulator draws, found in a frame by their colours.

The simulators draw in flat colours (PushT's blue agent and grey T, highway-env's green ego and blue
traffic, CarRacing's red car on grey road), so an object is found in a frame where enough pixels lie
near its colour, within its region of the frame if it has one (CarRacing's camera keeps the car in
place, so the road under it is a fixed patch). Colours were read off 64x64 frames of each source;
the tables are named by `DomainSpec.objects` and used to judge whether a dream keeps what the
simulator shows (`worldsim.model.persistence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ColourObject:
    name: str
    rgb: tuple[int, int, int]
    tolerance: int = 40  # summed absolute difference over the three channels
    min_pixels: int = 3
    region: tuple[float, float, float, float] | None = None  # rows and columns as fractions: y0, y1, x0, x1

    def mask(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, h, w) bool: the pixels near the object's colour, in its region."""
        if self.region is not None:
            h, w = frames.shape[1:3]
            y0, y1, x0, x1 = self.region
            frames = frames[:, int(y0 * h) : int(np.ceil(y1 * h)), int(x0 * w) : int(np.ceil(x1 * w))]
        return np.abs(frames.astype(np.int16) - np.array(self.rgb, np.int16)).sum(-1) <= self.tolerance

    def found(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N,) bool."""
        return self.mask(frames).reshape(len(frames), -1).sum(1) >= self.min_pixels

    def overlap(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N,) intersection over union of the object's pixels in frames `a` and `b` (N, H, W, 3):
        1 where both show it with the same shape in the same place; a blob of the right colour, or
        the right shape elsewhere, scores low. 0 where neither shows it."""
        ma, mb = self.mask(a).reshape(len(a), -1), self.mask(b).reshape(len(b), -1)
        union = (ma | mb).sum(1)
        return np.where(union > 0, (ma & mb).sum(1) / np.maximum(union, 1), 0.0)


DRIVING = (
    ColourObject("ego", (50, 200, 0)),
    ColourObject("traffic", (100, 200, 255)),
)
ROBOTICS = (
    ColourObject("agent", (78, 126, 255), tolerance=60, min_pixels=2),
    ColourObject("block", (143, 163, 184), tolerance=30, min_pixels=6),
)
GAMES = (
    ColourObject("car", (202, 0, 0), tolerance=80, min_pixels=4, region=(0.6, 0.85, 0.4, 0.6)),
    # The road's greys (100-105) under and around the car: rows 42-52, columns 28-36 of 64.
    ColourObject("road under the car", (102, 102, 102), tolerance=12, min_pixels=20, region=(0.65, 0.82, 0.44, 0.57)),
)
