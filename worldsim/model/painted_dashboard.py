"""A simulator's dashboard bars painted from the state, as it draws them.

CarRacing ends each frame with a dashboard: a black strip along its window's bottom, the score at
its left end (`painted_score`) and bars, each a rectangle one side of which moves with a state
field: the speed (white, up from the strip's lower line), the four wheels' spin rates (the "ABS"
bars), the front wheels' angle and the yaw rate (sideways from a fixed line). A bar whose field is
0 is not drawn; one whose field is not 0 but shorter than a pixel is drawn by pygame as a line. The
field decoder drew them as blurs, sometimes none (BENCHMARKS.md, "Games: what only the frame
shows"). As the score is, each bar is tabulated: for each whole window pixel of its length within
`reach`, filled by pygame on the window and shrunk as the simulator and the source shrink it; a
length between two whole pixels blends the two tables, one past the reach is shown at its end.

The "dashboard" entry of a view's "paint" spec:
  window:  [width, height] the window the simulator draws, pixels; render: [width, height] what it
           shrinks the window to (pygame's smoothscale) before the source's area-averaging
  box:     [x0, y0, x1, y1] window pixels: the strip, the full width of the window down to its
           bottom, painted in `colour` ([r, g, b]) under the bars
  bars:    [{"field": state field, "colour": [r, g, b], "base": [x0, y0, x1, y1] window pixels,
           the bar at 0 (a line: y0 = y1 for a bar that grows up, x0 = x1 for one that grows right),
           "grows": "up" | "right", "per_unit": window pixels per unit of the field (negative: the
           other way), "reach": pixels tabulated either way}, ...]
"""

from __future__ import annotations

import functools
import json

import numpy as np
import torch
from torch import nn

KEYS = {"window", "render", "box", "colour", "bars"}
BAR_KEYS = {"field", "colour", "base", "grows", "per_unit", "reach"}
DRAWN_ABOVE = 1e-4  # CarRacing draws a bar whose field's magnitude is above this


def check_dashboard(dashboard, state_fields: list[str] | None = None) -> None:
    """A clear error for a malformed "dashboard" entry of a paint spec."""
    if not isinstance(dashboard, dict) or set(dashboard) != KEYS:
        raise ValueError(f"decoder_view: paint dashboard is a dict of {', '.join(sorted(KEYS))}, got {dashboard!r}")

    def whole(v, n):
        return isinstance(v, (list, tuple)) and len(v) == n and all(isinstance(x, int) and x >= 0 for x in v)

    def colour(v):
        return isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in v)

    for key in ("window", "render"):
        if not (whole(dashboard[key], 2) and min(dashboard[key]) > 0):
            raise ValueError(
                f"decoder_view: paint dashboard {key} must be [width, height] in whole pixels, got {dashboard[key]!r}"
            )
    (W, H), box = dashboard["window"], dashboard["box"]
    if not (whole(box, 4) and box[0] == 0 and box[2] == W and box[3] == H and 0 <= box[1] < H):
        raise ValueError(f"decoder_view: paint dashboard box must be [0, y0, width, height] of the window, got {box!r}")
    if not colour(dashboard["colour"]):
        raise ValueError(f"decoder_view: paint dashboard colour must be [r, g, b] in 0..255, got {dashboard['colour']!r}")
    bars = dashboard["bars"]
    if not (isinstance(bars, (list, tuple)) and all(isinstance(b, dict) and set(b) == BAR_KEYS for b in bars)):
        raise ValueError(f"decoder_view: paint dashboard bars are dicts of {', '.join(sorted(BAR_KEYS))}, got {bars!r}")
    for bar in bars:
        base = bar["base"]
        line = isinstance(base, (list, tuple)) and len(base) == 4 and all(isinstance(v, (int, float)) for v in base)
        if not (
            line
            and bar["grows"] in ("up", "right")
            and base[(1, 0)[bar["grows"] == "right"]] <= base[(3, 2)[bar["grows"] == "right"]]
        ):
            raise ValueError(
                f"decoder_view: paint dashboard bar {bar['field']!r}: base must be [x0, y0, x1, y1] and grows up or right"
            )
        if not (
            colour(bar["colour"])
            and isinstance(bar["per_unit"], (int, float))
            and isinstance(bar["reach"], int)
            and bar["reach"] > 0
        ):
            raise ValueError(
                f"decoder_view: paint dashboard bar {bar['field']!r}: colour [r, g, b], per_unit a number, "
                "reach a positive integer"
            )
        if state_fields is not None and bar["field"] not in state_fields:
            raise ValueError(f"decoder_view: paint dashboard bar {bar['field']!r} is not a state field")


def bar_polygon(bar: dict, length: float) -> list[tuple[float, float]]:
    """The bar's rectangle `length` window pixels long, as the simulator lists its corners."""
    x0, y0, x1, y1 = bar["base"]
    if bar["grows"] == "up":
        return [(x0, y0 - length), (x1, y0 - length), (x1, y1), (x0, y1)]
    return [(x0, y0), (x0 + length, y0), (x0 + length, y1), (x0, y1)]


@functools.lru_cache(maxsize=4)
def _tables(spec_json: str, frame_size: int) -> tuple[np.ndarray, list[tuple[np.ndarray, int, int]], int]:
    """The strip's frame pixels (h, S, 3) uint8 with no bar; per bar, (2 reach + 1, h, w, 3) float32,
    what the bar adds to them at each whole pixel of length from -reach, in frame columns [c0, c1);
    and the strip's first frame row. Each bar is rendered on a crop of the window around it whose
    ends fall on whole pixels of the window, the render and the frame (`aligned_span`)."""
    from PIL import Image

    from worldsim.model.painted_score import aligned_span, pygame_quietly

    pygame = pygame_quietly()
    spec = json.loads(spec_json)
    (W, H), (RW, RH), (_, y0, _, _) = spec["window"], spec["render"], spec["box"]
    if (y0 * RH) % H or (y0 * RH // H * frame_size) % RH:
        raise ValueError(f"decoder_view: paint dashboard box's top, {y0}, must fall on whole render and frame pixels")
    rows = (RH - y0 * RH // H) * frame_size // RH

    def shrunk(x0: int, x1: int, bar: dict | None = None, length: float = 0.0) -> np.ndarray:
        """Render columns [x0, x1) of the strip, with `bar` `length` pixels long, as frame pixels."""
        surface = pygame.Surface(((x1 - x0) * W // RW, H - y0))
        surface.fill(spec["colour"])
        if bar is not None:
            polygon = [(x - x0 * W // RW, y - y0) for x, y in bar_polygon(bar, length)]
            pygame.draw.polygon(surface, bar["colour"], polygon)
        render = (x1 - x0, RH - y0 * RH // H)
        small = pygame.surfarray.array3d(pygame.transform.smoothscale(surface, render)).swapaxes(0, 1)
        size = ((x1 - x0) * frame_size // RW, rows)
        return np.asarray(Image.fromarray(np.ascontiguousarray(small)).resize(size, Image.BOX))

    empty = shrunk(0, RW)
    tables = []
    for bar in spec["bars"]:
        xs = [x for x, _ in bar_polygon(bar, bar["reach"]) + bar_polygon(bar, -bar["reach"])]
        a, b = aligned_span(int(min(xs) * RW // W) - 1, -int(-max(xs) * RW // W) + 1, W, RW, frame_size)
        c0, c1 = a * frame_size // RW, b * frame_size // RW
        lengths = range(-bar["reach"], bar["reach"] + 1)
        table = np.stack([shrunk(a, b, bar, float(n)) for n in lengths]).astype(np.float32) - empty[:, c0:c1]
        tables.append((table, c0, c1))
    return empty, tables, frame_size - rows


class PaintedDashboard(nn.Module):
    """The dashboard's strip and bars painted over frames (B, 3, S, S) in [0, 1] from states (B, F)."""

    def __init__(self, spec: dict, state_fields: list[str], frame_size: int):
        super().__init__()
        empty, tables, self.row = _tables(json.dumps(spec, sort_keys=True), frame_size)
        self.register_buffer("empty", torch.tensor(empty).permute(2, 0, 1).float() / 255, persistent=False)  # (3, h, S)
        self.columns = []
        for i, (table, c0, c1) in enumerate(tables):  # (L, 3, h, w)
            self.register_buffer(f"bar{i}", torch.tensor(table).permute(0, 3, 1, 2) / 255, persistent=False)
            self.columns.append((c0, c1))
        self.fields = [state_fields.index(bar["field"]) for bar in spec["bars"]]
        self.per_unit = [float(bar["per_unit"]) for bar in spec["bars"]]
        self.reach = [int(bar["reach"]) for bar in spec["bars"]]

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        strip = frames[:, :, self.row :] * 0 + self.empty  # the batch's size taken from the frames, as an exported graph needs
        for i, (field, per_unit, reach, (c0, c1)) in enumerate(
            zip(self.fields, self.per_unit, self.reach, self.columns, strict=True)
        ):
            value = state[:, field]
            length = (value * per_unit).clamp(-reach, reach) + reach  # from the table's first entry
            low = length.floor().clamp(max=2 * reach - 1)
            share = (length - low)[:, None, None, None]
            table = getattr(self, f"bar{i}")
            drawn = table[low.long()] * (1 - share) + table[low.long() + 1] * share
            strip[..., c0:c1] += drawn * (value.abs() > DRAWN_ABOVE)[:, None, None, None]
        out = frames.clone()
        out[:, :, self.row :] = strip
        return out
