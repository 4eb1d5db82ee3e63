"""A score the simulator prints on its frame, painted as it prints it.

CarRacing prints the episode's reward so far at the dashboard's left end: four characters
(`f"{reward:04.0f}"`, so "-000" for a reward in (-0.5, 0)) in pygame's default font, white on black,
centred at a fixed place of its 1000 x 800 window, which is then shrunk to 96 x 96 and, by WorldSim's
source, to the frame. The digits' shapes depend on each other (the font is proportional and kerned:
"1111" is 18 px narrower than "0000"), so every string is rendered whole, once, through the same
shrinking, for each integer score in a range, and a frame's digits are looked up by its state's
score. A field decoder drew them as a blur the realism test tells apart on its own (BENCHMARKS.md,
"Games: the ground painted").

The "score" entry of a view's "paint" spec:
  field:     the state field holding the score
  font_size: points of pygame's default font; colour: [r, g, b] of the text (on black)
  centre:    [x, y] the text's centre in the window, pixels (y down)
  window:    [width, height] the window the simulator draws, pixels; render: [width, height] what
             it shrinks the window to (pygame's smoothscale) before the source's area-averaging
             to the square frame
  range:     [low, high] the integer scores tabulated; a score outside is shown at the nearer end
  clear:     [x0, y0, x1, y1] window pixels around the text where the simulator draws nothing else
             (its background colour): painted with it, so none of the decoder's drawing is left there
  offset:    what the printed value is above the field's (CarRacing draws its frame before it
             charges the frame's 0.1 of time)
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import torch
from torch import nn

KEYS = {"field", "font_size", "colour", "centre", "window", "render", "range", "clear", "offset"}


def check_score(score, state_fields: list[str] | None = None) -> None:
    """A clear error for a malformed "score" entry of a paint spec."""
    if not isinstance(score, dict) or set(score) != KEYS:
        raise ValueError(f"decoder_view: paint score is a dict of {', '.join(sorted(KEYS))}, got {score!r}")

    def pair(v, low=None):
        return (
            isinstance(v, (list, tuple))
            and len(v) == 2
            and all(isinstance(x, (int, float)) and (low is None or x >= low) for x in v)
        )

    if not (isinstance(score["font_size"], int) and score["font_size"] > 0):
        raise ValueError(f"decoder_view: paint score font_size must be a positive integer, got {score['font_size']!r}")
    colour = score["colour"]
    if not (isinstance(colour, (list, tuple)) and len(colour) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in colour)):
        raise ValueError(f"decoder_view: paint score colour must be an [r, g, b] of integers in 0..255, got {colour!r}")
    for key in ("window", "render"):
        if not (pair(score[key], 1) and all(isinstance(v, int) for v in score[key])):
            raise ValueError(f"decoder_view: paint score {key} must be [width, height] in whole pixels, got {score[key]!r}")
    if not pair(score["centre"]):
        raise ValueError(f"decoder_view: paint score centre must be [x, y] window pixels, got {score['centre']!r}")
    low_high = score["range"]
    if not (pair(low_high) and all(isinstance(v, int) for v in low_high) and low_high[0] < low_high[1]):
        raise ValueError(f"decoder_view: paint score range must be integers [low, high] with low < high, got {low_high!r}")
    if not isinstance(score["offset"], (int, float)):
        raise ValueError(f"decoder_view: paint score offset must be a number, got {score['offset']!r}")
    clear = score["clear"]
    if not (
        isinstance(clear, (list, tuple))
        and len(clear) == 4
        and all(isinstance(v, int) for v in clear)
        and clear[0] < clear[2]
        and clear[1] < clear[3]
    ):
        raise ValueError(
            f"decoder_view: paint score clear must be whole window pixels [x0, y0, x1, y1], x0 < x1, y0 < y1, got {clear!r}"
        )
    if state_fields is not None and score["field"] not in state_fields:
        raise ValueError(f"decoder_view: paint score field {score['field']!r} is not a state field")


def score_text(value: float) -> str:
    """What CarRacing prints for a reward of `value`."""
    return f"{value:04.0f}"


def pygame_quietly():
    """pygame, imported without its greeting on stdout (the paintings render their tables with it)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def aligned_span(low: int, high: int, window: int, render: int, frame: int) -> tuple[int, int]:
    """The narrowest span of the render grid's pixels [a, b) around [low, high) (render pixels) whose
    ends fall on whole window pixels and whole frame pixels: shrunk alone, such a crop gives what the
    whole window gives there. (0, render) where none is narrower."""

    def on_grid(r: int) -> bool:
        return (r * window) % render == 0 and (r * frame) % render == 0

    a = next((r for r in range(max(low, 0), -1, -1) if on_grid(r)), 0)
    b = next((r for r in range(min(high, render), render + 1) if on_grid(r)), render)
    return a, b


@functools.lru_cache(maxsize=4)
def _tables(spec_json: str, frame_size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(N + 1, h, w, 3) uint8: the frame's pixels in the digits' box for each tabulated integer score
    and, last, "-000"; with the box (row0, row1, col0, col1) in frame pixels. Rendered by pygame."""
    from PIL import Image

    pygame = pygame_quietly()

    spec = json.loads(spec_json)
    pygame.font.init()
    font = pygame.font.Font(pygame.font.get_default_font(), spec["font_size"])
    (W, H), (RW, RH), (cx, cy) = spec["window"], spec["render"], spec["centre"]
    if RW != RH:
        raise ValueError(f"decoder_view: paint score render must be square (the source's frames are), got {spec['render']!r}")
    low, high = spec["range"]
    texts = [score_text(v) for v in range(low, high + 1)] + ["-000"]
    surfaces = [font.render(t, True, tuple(spec["colour"]), (0, 0, 0)) for t in texts]
    rects = [s.get_rect(center=(cx, cy)) for s in surfaces]
    # the window pixels any text touches or the clear box holds, then that box in render pixels,
    # widened to crop-safe ends
    x0, y0, x1, y1 = spec["clear"]
    left, right = min(x0, *(r.left for r in rects)), max(x1, *(r.right for r in rects))
    top, bottom = min(y0, *(r.top for r in rects)), max(y1, *(r.bottom for r in rects))
    c0, c1 = aligned_span(left * RW // W, -(-right * RW // W), W, RW, frame_size)
    r0, r1 = aligned_span(top * RH // H, -(-bottom * RH // H), H, RH, frame_size)
    x0, x1, y0, y1 = c0 * W // RW, c1 * W // RW, r0 * H // RH, r1 * H // RH
    crop = pygame.Surface((x1 - x0, y1 - y0))
    out = []
    for surface, rect in zip(surfaces, rects, strict=True):
        crop.fill((0, 0, 0))
        crop.blit(surface, rect.move(-x0, -y0))
        shrunk = pygame.surfarray.array3d(pygame.transform.smoothscale(crop, (c1 - c0, r1 - r0))).swapaxes(0, 1)
        size = (c1 - c0) * frame_size // RW, (r1 - r0) * frame_size // RH
        out.append(np.asarray(Image.fromarray(np.ascontiguousarray(shrunk)).resize(size, Image.BOX)))
    box = (r0 * frame_size // RH, r1 * frame_size // RH, c0 * frame_size // RW, c1 * frame_size // RW)
    return np.stack(out), box


class PaintedScore(nn.Module):
    """The score painted over frames (B, 3, S, S) in [0, 1] from states (B, F): the digits' box of
    each frame replaced by the simulator's printing of the state's score (with the spec's offset,
    rounded as it rounds)."""

    def __init__(self, spec: dict, state_fields: list[str], frame_size: int):
        super().__init__()
        table, (self.r0, self.r1, self.c0, self.c1) = _tables(json.dumps(spec, sort_keys=True), frame_size)
        self.register_buffer("table", torch.from_numpy(table).float().movedim(-1, 1) / 255, persistent=False)  # (N + 1, 3, h, w)
        self.box = ((self.r0, self.r1), (self.c0, self.c1))  # frame pixels: (rows, columns)
        self.field = state_fields.index(spec["field"])
        self.low, self.high = spec["range"]
        self.offset = float(spec["offset"])

    def read(self, frames: torch.Tensor) -> torch.Tensor:
        """(B,) the score printed on frames (B, 3, S, S) in [0, 1]: the tabulated printing nearest
        the digits' box, as a value of the state's field that prints it (the middle of the values
        that round to it)."""
        box = frames[:, :, self.r0 : self.r1, self.c0 : self.c1]
        index = (box[:, None] - self.table[None]).abs().mean((2, 3, 4)).argmin(1)
        printed = (index + self.low).float()
        printed = torch.where(index == len(self.table) - 1, torch.full_like(printed, -0.25), printed)  # "-000"
        return printed - self.offset

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        score = state[:, self.field] + self.offset
        whole = torch.round(score)  # half to even, as Python's formatting rounds
        index = (whole.clamp(self.low, self.high) - self.low).long()
        index = torch.where((whole == 0) & (score < 0), torch.full_like(index, len(self.table) - 1), index)  # "-000"
        digits = self.table[index]
        rows = frames[:, :, self.r0 : self.r1]
        rows = torch.cat([rows[..., : self.c0], digits, rows[..., self.c1 :]], -1)
        return torch.cat([frames[:, :, : self.r0], rows, frames[:, :, self.r1 :]], 2)
