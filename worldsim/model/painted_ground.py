"""A camera's ground and road painted over a decoder's frames, as the simulator draws them.

CarRacing draws flat polygons: a green field, lighter squares on a fixed 33.3 u checker (one square
in four), the road's grey tiles 2 x 6.67 u wide along the track, then the car and the dashboard.
The field decoder, given each cell's phase in the checker and distance to the track's centre line
(`ego_view.EgoView`), drew the squares and the road's edge as soft ramps a pixel or two wide, with a
faint grid over the grass (BENCHMARKS.md, "Games: the ground painted"). Where the picture is plain
geometry of the state, it is painted instead, each pixel the share of its box that the pattern
covers, in closed form (the simulator shrinks its 1000 x 800 window to the frame by averaging); the
body the camera follows is painted over it (`painted_car`), and the decoder's own pixels are kept
only in the view's `keep` boxes (CarRacing's dashboard, whose score and wheel-speed bars the state
does not hold).

The view's "paint" spec (needs the view's "ground" phases and "path"):
  ground:      [r, g, b] the field's colour (0..255)
  squares:     [r, g, b] the lighter squares': those where both ground phases lie in [0, pi)
  road:        [r, g, b] the road's colour: cells nearer than `road_half_width` to the path's polyline
  road_half_width: units
  keep:        [[x0, y0, x1, y1], ...] boxes in normalised frame coordinates (-1..1, y down) where
               the decoder's drawing is kept: a frame pixel that overlaps one is not painted
  car:         optional: the body the camera follows, painted over the ground (`painted_car`)
  shift:       optional [x, y] frame pixels the picture sits off the view's geometry (default 0, 0)

The road is carried on straight for EXTEND units past the path's first and last points (the track goes
on beyond them). What it leaves out: parts of the track the path's points do not reach (a loop of
the track passing near the car), the kerbs CarRacing draws on sharp bends and the tiles' three
shades (both follow the tiles' index along the track, which the state does not hold), and the
field's edge 333 u from the centre.
"""

from __future__ import annotations

import torch
from torch import nn

from worldsim.model.painted_car import PaintedCar, check_car

KEYS = {"ground", "squares", "road", "road_half_width", "keep", "car", "shift"}


def check_paint(paint, view: dict, state_fields: list[str] | None = None) -> None:
    """A clear error for a malformed "paint" spec of a decoder view."""
    if not isinstance(paint, dict) or set(paint) - KEYS or not {"ground", "squares", "road", "road_half_width"} <= set(paint):
        raise ValueError(
            f"decoder_view: paint is a dict of ground, squares, road, road_half_width[, keep, car, shift], got {paint!r}"
        )
    if "ground" not in view or "path" not in view:
        raise ValueError("decoder_view: paint needs the view's ground phases and path")

    def colour(v):
        return isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(c, (int, float)) and 0 <= c <= 255 for c in v)

    for key in ("ground", "squares", "road"):
        if not colour(paint[key]):
            raise ValueError(f"decoder_view: paint {key} must be an [r, g, b] colour in 0..255, got {paint[key]!r}")
    if not (isinstance(paint["road_half_width"], (int, float)) and paint["road_half_width"] > 0):
        raise ValueError(f"decoder_view: paint road_half_width must be a positive number, got {paint['road_half_width']!r}")
    keep = paint.get("keep", [])
    box = lambda b: isinstance(b, (list, tuple)) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)  # noqa: E731
    if not (isinstance(keep, (list, tuple)) and all(box(b) and b[0] < b[2] and b[1] < b[3] for b in keep)):
        raise ValueError(f"decoder_view: paint keep must be [x0, y0, x1, y1] boxes with x0 < x1, y0 < y1, got {keep!r}")
    shift = paint.get("shift", [0, 0])
    if not (
        isinstance(shift, (list, tuple)) and len(shift) == 2 and all(isinstance(v, (int, float)) and abs(v) <= 1 for v in shift)
    ):
        raise ValueError(f"decoder_view: paint shift must be [x, y] frame pixels within +-1, got {shift!r}")
    if "car" in paint:
        check_car(paint["car"], state_fields)


def painted_origin(view: dict, frame_size: int) -> tuple[float, float]:
    """The body's place in normalised frame coordinates as the painted frames have it: the view's
    origin moved by the paint's `shift` (frame pixels), where the simulator's shrinking of its
    window puts the picture a fraction of a pixel off the window's own geometry."""
    (ox, oy), (dx, dy) = view["origin"], view["paint"].get("shift", [0, 0])
    return ox + 2 * dx / frame_size, oy + 2 * dy / frame_size


# how far the road is drawn on past the path's first and last points, in units: the track goes on
# beyond the points the state holds, and on a bend (or where a dream's car has outrun the points it
# samples) the last one can lie inside the frame; carried past the frame's farthest corner from
# any point in it (CarRacing's: 49 u from the car), the road never ends in view
EXTEND = 100.0


def extended(points: torch.Tensor, length: float) -> torch.Tensor:
    """(B, M, 2) polyline points -> (B, M + 2, 2): each end carried on `length` along its last segment."""

    def beyond(end: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        step = end - before
        return end + length * step / step.norm(dim=-1, keepdim=True).clamp(min=1e-6)

    first = beyond(points[:, 0], points[:, 1])
    last = beyond(points[:, -1], points[:, -2])
    return torch.cat([first[:, None], points, last[:, None]], 1)


class PaintedGround(nn.Module):
    """The view's field, squares and road painted over frames (B, 3, S, S) in [0, 1] from physical
    states (B, F) in their units, except in the `keep` boxes. Built only for a view with "paint"."""

    def __init__(self, view: dict, state_fields: list[str], frame_size: int):
        super().__init__()
        paint, index = view["paint"], state_fields.index
        axis = (torch.arange(frame_size, dtype=torch.float32) + 0.5) / frame_size * 2 - 1
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        (sx, sy), (ox, oy) = view["scale"], painted_origin(view, frame_size)
        # each pixel centre's place in the body's frame, in units: (to its right, ahead of it)
        self.register_buffer("cells", torch.stack([(gx - ox) * sx, -(gy - oy) * sy], -1).flatten(0, 1), persistent=False)
        # every other pixel edge's corner, the frame's own corners included: (S / 2 + 1)^2 places
        # whose distances to the road give each pixel centre's by halving between neighbours
        # (a distance field is linear across a road's edge; this costs a quarter of the points)
        if frame_size % 2:
            raise ValueError(f"a painted ground needs an even frame size, got {frame_size}")
        corners = torch.arange(0, frame_size + 1, 2, dtype=torch.float32) / frame_size * 2 - 1
        cy, cx = torch.meshgrid(corners, corners, indexing="ij")
        self.register_buffer("coarse", torch.stack([(cx - ox) * sx, -(cy - oy) * sy], -1).flatten(0, 1), persistent=False)
        self.pixel = (2 * abs(sx) / frame_size, 2 * abs(sy) / frame_size)  # a pixel's width and height, in units
        self.size = frame_size
        self.heading = index(view["heading"])
        self.phases = [index(f) for f in view["ground"]["phases"]]
        self.period = float(view["ground"]["period"])
        self.path = [(index(r), index(a)) for r, a in view["path"]]
        self.half_width = float(paint["road_half_width"])
        for name in ("ground", "squares", "road"):
            self.register_buffer(name, torch.tensor(paint[name], dtype=torch.float32).view(1, 3, 1, 1) / 255, persistent=False)
        # a pixel is kept from the decoder where any part of it lies in a keep box
        half = (1 / frame_size, 1 / frame_size)  # half a pixel, in normalised coordinates
        kept = torch.zeros(frame_size, frame_size, dtype=torch.bool)
        for x0, y0, x1, y1 in paint.get("keep", []):
            kept |= (gx + half[0] > x0) & (gx - half[0] < x1) & (gy + half[1] > y0) & (gy - half[1] < y1)
        self.register_buffer("painted", (~kept).float()[None, None], persistent=False)
        self.car = PaintedCar(view, state_fields, frame_size) if "car" in paint else None

    @torch.no_grad()
    def shares(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, S, S) each pixel's share of road and of lighter squares (the rest: field). A share
        is the pixel's box over the pattern, in closed form: the road's edge as a straight line at
        the pixel's distance from the centre line, each axis of the checker as a square wave. Not
        differentiated: the pattern is the state's exact drawing, with nothing to learn."""
        (pw, ph), size = self.pixel, self.size
        points = torch.stack([torch.stack([state[:, r], state[:, a]], -1) for r, a in self.path], 1)
        coarse = _distance_to_polyline(extended(points, EXTEND), self.coarse[:, 0], self.coarse[:, 1])
        distance = _halve_between(_halve_between(coarse.unflatten(-1, (size // 2 + 1, -1)), -1), -2).flatten(1)
        # across the road's edge a pixel spans between its width and its height: the mean is used
        road = (0.5 + (self.half_width - distance) / ((pw + ph) / 2)).clamp(0.0, 1.0)
        heading = state[:, self.heading, None]
        cos, sin = heading.cos(), heading.sin()
        right, ahead = self.cells[:, 0], self.cells[:, 1]
        # the pixel's offset from the body in world axes (heading 0: the body faces world +y), and
        # its box's extent along each world axis
        offsets = (right * cos - ahead * sin, right * sin + ahead * cos)
        extents = (cos.abs() * pw + sin.abs() * ph, sin.abs() * pw + cos.abs() * ph)
        lighter = torch.ones_like(road)
        for phase, offset, extent in zip(self.phases, offsets, extents, strict=True):
            # a phase holds 2 pi (coordinate / period); the squares cover the first half of each
            # period along both axes (CarRacing's grass patches at even multiples of GRASS_DIM)
            place = torch.remainder(state[:, phase, None], 2 * torch.pi) / (2 * torch.pi) * self.period + offset
            lighter = lighter * _first_half_share(place, extent, self.period)
        squares = lighter * (1 - road)
        return road.view(-1, 1, size, size), squares.view(-1, 1, size, size)

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        road, squares = self.shares(state)
        ground = self.ground + road * (self.road - self.ground) + squares * (self.squares - self.ground)
        frames = frames + self.painted * (ground - frames)
        return frames if self.car is None else self.car(frames, state)


def _distance_to_polyline(points: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, C): the distance from each point (x, y) (C,) to the polyline through `points` (B, M, 2).
    `ego_view.polyline_distance` without its gradient, in place over (B, M - 1, C) planes: there,
    (B, M - 1, C, 2) tensors going out to memory and back made 64 frames' distances many times slower."""
    start = points[:, :-1, :, None]  # (B, K, 2, 1)
    along = points[:, 1:, :, None] - start
    scale = 1 / (along**2).sum(2).clamp(min=1e-6)  # (B, K, 1)
    dx = x - start[:, :, 0]  # (B, K, C)
    dy = y - start[:, :, 1]
    t = (dx * along[:, :, 0]).add_(dy * along[:, :, 1]).mul_(scale).clamp_(0.0, 1.0)
    dx.sub_(t * along[:, :, 0])
    dy.sub_(t.mul_(along[:, :, 1]))
    return dx.square_().add_(dy.square_()).amin(1).sqrt_()


def _halve_between(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Values at points 0, 2, .., 2n along `dim` (< 0) -> at the 2n points 0.5, 1.5, .., 2n - 0.5
    between them, linearly: a quarter and three quarters of the way along each step."""
    steps = values.shape[dim] - 1
    first, second = values.narrow(dim, 0, steps), values.narrow(dim, 1, steps)
    return torch.stack([first * 0.75 + second * 0.25, first * 0.25 + second * 0.75], dim).flatten(dim - 1, dim)


def _first_half_share(place: torch.Tensor, extent: torch.Tensor, period: float) -> torch.Tensor:
    """The share of [place - extent / 2, place + extent / 2] that falls in the first half of a period,
    for an extent of at most half a period (a pixel's against the 33.3 u checker): the interval's
    reach into the half nearest its middle, from its signed distance to that half's nearer edge."""
    quarter = period / 4
    off_middle = torch.remainder(place - quarter, period)  # from the first half's middle, in [0, period)
    inside = quarter - torch.minimum(off_middle, period - off_middle)  # > 0 within the first half
    return (0.5 + inside / extent).clamp(0.0, 1.0)
