"""Snapping dreamed frames to the simulator's palette.

The simulators draw flat colours (PushT's white table and grey T, highway-env's grey road and green
and blue cars, CarRacing's greens and greys): a real frame holds few distinct colours. A dream
decodes each frame on top of its own previous one, so a small colour error repeats every step:
objects fade and noise builds up over hundreds of steps. Snapping every decoded pixel to the nearest
palette colour removes that drift at its source, since the next step then starts from a frame made
of real colours again. The palette is read off the model's bank of real start frames: every colour
that covers at least `min_share` of their pixels, the most frequent `max_colours` of them.
"""

from __future__ import annotations

import numpy as np
import torch


def palette_from_frames(frames: np.ndarray, min_share: float = 1e-4, max_colours: int = 128) -> torch.Tensor:
    """(..., 3) uint8 frames -> (K, 3) float palette in [0, 1], most frequent colour first."""
    pixels = np.asarray(frames, dtype=np.uint8).reshape(-1, 3).astype(np.uint32)
    # One 24-bit code per colour: a 1-D unique is many times faster than unique rows, and sorts the
    # colours in the same (r, g, b) order.
    codes, counts = np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2], return_counts=True)
    colours = np.stack([codes >> 16, codes >> 8 & 255, codes & 255], -1)
    order = np.argsort(-counts, kind="stable")
    keep = order[counts[order] >= min_share * counts.sum()][:max_colours]
    return torch.from_numpy(colours[keep].astype(np.float32) / 255)


def snap(frames: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> the same frames with every pixel replaced by its nearest palette colour."""
    pixels = frames.movedim(1, -1).reshape(-1, 3)
    # ||x - p||^2 = ||x||^2 - 2 x.p + ||p||^2; ||x||^2 is the same for every p, so it is left out.
    scores = (palette * palette).sum(-1) - 2 * pixels @ palette.T
    return palette[scores.argmin(-1)].view(*frames.shape[:1], *frames.shape[2:], 3).movedim(-1, 1)
