"""Writing frames to video files: upscaled with nearest-neighbour, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: np.ndarray, fps: float, scale: int = 4) -> Path:
    """Write (T, H, W, 3) uint8 frames to `path` (.mp4 with H.264, or .gif), each pixel `scale`
    times larger. The file appears complete or not at all (temporary name, then rename)."""
    import imageio.v3 as iio

    path = Path(path)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"{path}: frames must be a non-empty (T, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    if path.suffix not in (".mp4", ".gif"):
        raise ValueError(f"{path}: write .mp4 or .gif")
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix == ".mp4":
        iio.imwrite(tmp, frames, fps=fps, codec="libx264", macro_block_size=1)
    else:
        iio.imwrite(tmp, frames, duration=1000 / fps, loop=0)
    os.replace(tmp, path)
    return path
