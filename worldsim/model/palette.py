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

from collections import OrderedDict

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


SNAP_CHUNK = 4096  # pixels scored against the palette at once
UNKNOWN = 255  # a colour the table has not met yet (a palette has at most 254 colours to use one)
TABLES_KEPT = 8  # palettes whose tables are kept (16 MB each)
_tables: OrderedDict[tuple[bytes, str], torch.Tensor] = OrderedDict()


def nearest_colours(pixels: torch.Tensor, palette: torch.Tensor, chunk: int | None = SNAP_CHUNK) -> torch.Tensor:
    """(P, 3) pixels -> (P,) index of each one's nearest palette colour, by scoring every colour.

    `chunk` pixels are scored at a time (None: all at once, as an exported graph with a dynamic batch
    needs); the scores of 64 frames at once (262,144 x K floats, 134 MB for CarRacing's 128 colours)
    go out to memory and back, and took 3-4x longer than one 64x64 frame's worth at a time."""
    # ||x - p||^2 = ||x||^2 - 2 x.p + ||p||^2; ||x||^2 is the same for every p, so it is left out.
    norms = (palette * palette).sum(-1)
    if chunk is None or len(pixels) <= chunk:
        return (norms - 2 * pixels @ palette.T).argmin(-1)
    nearest = torch.empty(len(pixels), dtype=torch.long, device=pixels.device)
    for lo in range(0, len(pixels), chunk):
        nearest[lo : lo + chunk] = (norms - 2 * pixels[lo : lo + chunk] @ palette.T).argmin(-1)
    return nearest


_weights: dict[torch.device, torch.Tensor] = {}


def _code_weights(device: torch.device) -> torch.Tensor:
    if device not in _weights:
        _weights[device] = torch.tensor([65536.0, 256.0, 1.0], device=device)
    return _weights[device]


def colour_table(palette: torch.Tensor) -> torch.Tensor | None:
    """(2^24,) uint8: the nearest palette colour of each 8-bit colour, filled in as colours are met
    (UNKNOWN until then); None for a palette too large for a byte's index. Kept per palette."""
    if len(palette) >= UNKNOWN:
        return None
    key = (palette.detach().cpu().numpy().tobytes(), str(palette.device))
    if key in _tables:
        _tables.move_to_end(key)
    else:
        _tables[key] = torch.full((1 << 24,), UNKNOWN, dtype=torch.uint8, device=palette.device)
        if len(_tables) > TABLES_KEPT:
            _tables.popitem(last=False)
    return _tables[key]


def snap(frames: torch.Tensor, palette: torch.Tensor, chunk: int | None = SNAP_CHUNK) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> the same frames with every pixel replaced by the palette colour
    nearest to its 8-bit colour (the colour an observation would show it in).

    Where the pixel's 8-bit colour has been met before, a table answers (`colour_table`); only
    colours new to the table are scored against every colour, `chunk` pixels at a time. A dream's
    frames hold few distinct colours, so after its first steps a frame costs one lookup per pixel:
    64 drawn CarRacing frames snap in 4.6 ms against 42.7 ms scoring every pixel a frame at a time
    (`python scripts/bench_snap.py`). With `chunk=None` (an exported graph: no loops, no state) every pixel
    is scored, to the same colours."""
    levels = (frames.movedim(1, -1).reshape(-1, 3).clamp(0, 1) * 255).round()
    table = colour_table(palette) if chunk is not None else None
    if table is None:
        nearest = nearest_colours(levels / 255, palette, chunk)
    else:
        # r * 2^16 + g * 2^8 + b in float32: every partial sum is an integer below 2^24, so exact,
        # in three calls where shifts and ors of three columns took seven. Multiplied and summed,
        # not a matrix product, which TF32 or autocast may round.
        codes = (levels * _code_weights(levels.device)).sum(-1).long()
        nearest = table[codes]
        new = (nearest == UNKNOWN).nonzero().squeeze(1)
        if len(new):
            found = nearest_colours(levels[new] / 255, palette, chunk).to(torch.uint8)
            table[codes[new]] = found
            nearest[new] = found
        nearest = nearest.long()
    return palette[nearest].view(*frames.shape[:1], *frames.shape[2:], 3).movedim(-1, 1)
