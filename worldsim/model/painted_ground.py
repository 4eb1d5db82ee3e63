"""A camera's ground and road painted over a decoder's frames, as the simulator draws them.

CarRacing draws flat polygons: a green field, lighter squares on a fixed 33.3 u checker (one square
in four), the road's grey tiles 2 x 6.67 u wide along the track, then the car and the dashboard.
The field decoder, given each cell's phase in the checker and distance to the track's centre line
(`ego_view.EgoView`), drew the squares and the road's edge as soft ramps a pixel or two wide, with a
faint grid over the grass (BENCHMARKS.md, "Games: the ground painted"). Where the picture is plain
geometry of the state, it is painted instead, each pixel the share of its box that the pattern
covers, in closed form (the simulator shrinks its 1000 x 800 window to the frame by averaging); the
body the camera follows is painted over it (`painted_car`), and the decoder's own pixels are kept
only in the view's `keep` boxes (CarRacing's dashboard, where a state without the fields its score
and bars show does not paint it).

The view's "paint" spec (needs the view's "ground" phases and "path"):
  ground:      [r, g, b] the field's colour (0..255)
  squares:     [r, g, b] the lighter squares': those where both ground phases lie in [0, pi)
  road:        [r, g, b] the road's colour: cells nearer than `road_half_width` to the path's polyline
  road_half_width: units
  keep:        [[x0, y0, x1, y1], ...] boxes in normalised frame coordinates (-1..1, y down) where
               the decoder's drawing is kept: a frame pixel that overlaps one is not painted
  car:         optional: the body the camera follows, painted over the ground (`painted_car`)
  tiles:       optional: the road's tiles in shades by their index along the track:
               {"phase": state field, "anchor": path point, "cycle": tiles, "length": units,
               "shades": [grey levels]}: the phase (rad, 2 pi a cycle) is the path's `anchor`-th
               point's place in a cycle of tiles `length` long along the path, each pixel of road
               at the place along the path nearest it; tile i covers (i - 1, i] and is drawn
               `shades[i % len(shades)]` levels lighter than `road`. Per tile, by its offset from
               the anchor's own tile (the one the anchor lies in), from `"first"` on:
               optional "touched": [state fields]: a tile whose field is over 0.5 is drawn
               plain, without its shade (beyond the fields' tiles, the nearest end's);
               optional "kerbs": {"fields": [state fields], "width": units, "colours":
               [[r, g, b], ...]}: a strip `width` wide along the road's edge on a tile's right
               where its field is over 0.5, on its left where under -0.5 (of the path's direction),
               tile i's in `colours[i % len(colours)]` (none beyond the fields' tiles)
  score:       optional: the simulator's printed score (`painted_score`)
  dashboard:   optional: the simulator's dashboard strip and its bars (`painted_dashboard`), under
               the score
  shift:       optional [x, y] frame pixels the picture sits off the view's geometry (default 0, 0)
  midpoints:   optional, default false: the path's polyline gets a point between each two of its
               points, on the cubic through them and their neighbours (the quadratic at its ends),
               for a path whose points sample a smooth line coarsely (on a bend the chords cut
               inside it)

The road is carried on straight for EXTEND units past the path's first and last points (the track goes
on beyond them). What it leaves out: parts of the track the path's points do not reach (a loop of
the track passing near the car) and the field's edge 333 u from the centre.
"""

from __future__ import annotations

import torch
from torch import nn

from worldsim.model.painted_car import PaintedCar, check_car
from worldsim.model.painted_dashboard import PaintedDashboard, check_dashboard
from worldsim.model.painted_score import PaintedScore, check_score

KEYS = {"ground", "squares", "road", "road_half_width", "keep", "car", "tiles", "score", "dashboard", "shift", "midpoints"}
TILE_KEYS = {"phase", "anchor", "cycle", "length", "shades"}
TILE_OPTIONS = {"first", "touched", "kerbs"}
KERB_KEYS = {"fields", "width", "colours"}


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
    if not isinstance(paint.get("midpoints", False), bool):
        raise ValueError(f"decoder_view: paint midpoints must be true or false, got {paint['midpoints']!r}")
    if paint.get("midpoints") and len(view["path"]) < 3:
        raise ValueError(f"decoder_view: paint midpoints need a path of 3 points or more, got {len(view['path'])}")
    shift = paint.get("shift", [0, 0])
    if not (
        isinstance(shift, (list, tuple)) and len(shift) == 2 and all(isinstance(v, (int, float)) and abs(v) <= 1 for v in shift)
    ):
        raise ValueError(f"decoder_view: paint shift must be [x, y] frame pixels within +-1, got {shift!r}")
    if "car" in paint:
        check_car(paint["car"], state_fields)
    if "score" in paint:
        check_score(paint["score"], state_fields)
    if "dashboard" in paint:
        check_dashboard(paint["dashboard"], state_fields)
    if "tiles" in paint:
        tiles = paint["tiles"]
        if not (isinstance(tiles, dict) and TILE_KEYS <= set(tiles) and not set(tiles) - TILE_KEYS - TILE_OPTIONS):
            raise ValueError(
                f"decoder_view: paint tiles is a dict of {', '.join(sorted(TILE_KEYS))}[, first, touched, kerbs], got {tiles!r}"
            )

        def fields(names, what):
            if not (isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names)):
                raise ValueError(f"decoder_view: paint tiles {what} must be a list of state fields, one per tile, got {names!r}")
            if state_fields is not None and set(names) - set(state_fields):
                raise ValueError(
                    f"decoder_view: paint tiles {what} {sorted(set(names) - set(state_fields))} are not state fields"
                )

        if ("touched" in tiles or "kerbs" in tiles) and not isinstance(tiles.get("first"), int):
            raise ValueError(
                f"decoder_view: paint tiles first (the first field's tile offset) must be an integer, got {tiles.get('first')!r}"
            )
        if "touched" in tiles:
            fields(tiles["touched"], "touched")
        if "kerbs" in tiles:
            kerbs = tiles["kerbs"]
            if not (
                isinstance(kerbs, dict)
                and set(kerbs) == KERB_KEYS
                and isinstance(kerbs["width"], (int, float))
                and kerbs["width"] > 0
                and isinstance(kerbs["colours"], (list, tuple))
                and kerbs["colours"]
                and all(colour(c) for c in kerbs["colours"])
            ):
                raise ValueError(
                    "decoder_view: paint tiles kerbs is {fields: [...], width: units > 0, colours: [[r, g, b], ...]}, "
                    f"got {kerbs!r}"
                )
            fields(kerbs["fields"], "kerbs fields")
        shades = tiles["shades"]
        if not (isinstance(shades, (list, tuple)) and shades and all(isinstance(v, (int, float)) for v in shades)):
            raise ValueError(f"decoder_view: paint tiles shades must be grey levels, got {shades!r}")
        if not (isinstance(tiles["cycle"], int) and tiles["cycle"] > 0 and tiles["cycle"] % len(shades) == 0):
            raise ValueError(
                f"decoder_view: paint tiles cycle must be a whole number of its {len(shades)} shades, got {tiles['cycle']!r}"
            )
        if not (isinstance(tiles["length"], (int, float)) and tiles["length"] > 0):
            raise ValueError(f"decoder_view: paint tiles length must be a positive number of units, got {tiles['length']!r}")
        if not (isinstance(tiles["anchor"], int) and 0 <= tiles["anchor"] < len(view["path"])):
            raise ValueError(f"decoder_view: paint tiles anchor must index the path's points, got {tiles['anchor']!r}")
        if state_fields is not None and tiles["phase"] not in state_fields:
            raise ValueError(f"decoder_view: paint tiles phase {tiles['phase']!r} is not a state field")


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


def with_midpoints(points: torch.Tensor) -> torch.Tensor:
    """(B, M, 2) polyline points (M >= 3) -> (B, 2 M - 1, 2): a point between each two, halfway
    along the cubic through them and the points either side (Catmull-Rom: (-a + 9 b + 9 c - d) / 16),
    along the quadratic through the end three for the end segments."""
    a, b, c, d = points[:, :-3], points[:, 1:-2], points[:, 2:-1], points[:, 3:]
    inner = (9 * (b + c) - a - d) / 16
    first = 0.375 * points[:, :1] + 0.75 * points[:, 1:2] - 0.125 * points[:, 2:3]
    last = 0.375 * points[:, -1:] + 0.75 * points[:, -2:-1] - 0.125 * points[:, -3:-2]
    middles = torch.cat([first, inner, last], 1)  # (B, M - 1, 2)
    return torch.cat([torch.stack([points[:, :-1], middles], 2).flatten(1, 2), points[:, -1:]], 1)


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
        self.midpoints = bool(paint.get("midpoints", False))
        for name in ("ground", "squares", "road"):
            self.register_buffer(name, torch.tensor(paint[name], dtype=torch.float32).view(1, 3, 1, 1) / 255, persistent=False)
        # a pixel is kept from the decoder where any part of it lies in a keep box
        half = (1 / frame_size, 1 / frame_size)  # half a pixel, in normalised coordinates
        kept = torch.zeros(frame_size, frame_size, dtype=torch.bool)
        for x0, y0, x1, y1 in paint.get("keep", []):
            kept |= (gx + half[0] > x0) & (gx - half[0] < x1) & (gy + half[1] > y0) & (gy - half[1] < y1)
        self.register_buffer("painted", (~kept).float()[None, None], persistent=False)
        self.covers_frame = not bool(kept.any())  # no pixel of a decoder's drawing shows through
        self.car = PaintedCar(view, state_fields, frame_size) if "car" in paint else None
        self.score = PaintedScore(paint["score"], state_fields, frame_size) if "score" in paint else None
        self.dashboard = PaintedDashboard(paint["dashboard"], state_fields, frame_size) if "dashboard" in paint else None
        self.tiles = paint.get("tiles")
        if self.tiles is not None:
            self.tile_phase = index(self.tiles["phase"])
            self.register_buffer("shades", torch.tensor(self.tiles["shades"], dtype=torch.float32) / 255, persistent=False)
        tiles = self.tiles or {}
        self.first = tiles.get("first", 0)
        self.touched = [index(f) for f in tiles.get("touched", [])]
        self.kerbs = tiles.get("kerbs")
        if self.kerbs is not None:
            self.kerb_fields = [index(f) for f in self.kerbs["fields"]]
            colours = torch.tensor(self.kerbs["colours"], dtype=torch.float32) / 255
            self.register_buffer("kerb_colours", colours, persistent=False)  # (C, 3)

    @torch.no_grad()
    def shares(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(B, 1, S, S) each pixel's share of road and of lighter squares (the rest: field), and
        with `tiles` the road's "shade" there (B, 1, S, S) and with kerbs their "kerb" share
        (B, 1, S, S) and "kerb_colour" (B, 3, S, S) (else an empty dict). A share is the pixel's
        box over the pattern, in closed form: the road's edge as a straight line at the pixel's
        distance from the centre line, each axis of the checker as a square wave, a tile's end as
        a straight line across the road. Not differentiated: the pattern is the state's exact
        drawing, with nothing to learn."""
        (pw, ph), size = self.pixel, self.size
        points = torch.stack([torch.stack([state[:, r], state[:, a]], -1) for r, a in self.path], 1)
        points = extended(with_midpoints(points) if self.midpoints else points, EXTEND)
        coarse, arc, side = _distance_to_polyline(points, self.coarse[:, 0], self.coarse[:, 1], along=self.tiles is not None)

        def fine(values: torch.Tensor) -> torch.Tensor:
            return _halve_between(_halve_between(values.unflatten(-1, (size // 2 + 1, -1)), -1), -2).flatten(1)

        distance = fine(coarse)
        tiles = {} if self.tiles is None else self._tiles(state, points, fine(arc), fine(coarse * side))
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
        shape = (-1, 1, size, size)
        return road.view(shape), squares.view(shape), {k: v.unflatten(-1, (size, size)) for k, v in tiles.items()}

    def _tiles(
        self, state: torch.Tensor, points: torch.Tensor, arc: torch.Tensor, lateral: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The road's "shade" under each pixel (B, 1, S * S) and, with kerbs, their "kerb" share
        (B, 1, S * S) and "kerb_colour" (B, 3, S * S), from each pixel's place along the path `arc`
        and its signed distance across it `lateral` (B, S * S; units: from the first of `points`,
        the extended path (B, M, 2), and to its left): the place in tiles from the anchor's phase,
        a tile's shade and kerb blended into the next's over the pixel's extent across their
        shared end."""
        tiles, (pw, ph) = self.tiles, self.pixel
        segments = (points[:, 1:] - points[:, :-1]).norm(dim=-1)  # (B, M - 1)
        anchor_point = tiles["anchor"] * (2 if self.midpoints else 1)
        anchor = segments[:, : anchor_point + 1].sum(1, keepdim=True)  # the extension's first segment first
        start = torch.remainder(state[:, self.tile_phase, None], 2 * torch.pi) / (2 * torch.pi) * tiles["cycle"]
        place = start + (arc - anchor) / tiles["length"]  # tile i covers (i - 1, i]
        end = torch.round(place)  # the nearest tile end: tile `end` before it, `end + 1` after
        after = (0.5 + (place - end) / ((pw + ph) / 2 / tiles["length"])).clamp(0.0, 1.0)
        # the tile before the end, counted from the anchor's own tile and from the first field's
        offset = (end - torch.ceil(start) - self.first).long()

        def blend(before: torch.Tensor, later: torch.Tensor) -> torch.Tensor:
            return before + after * (later - before)

        def by_tile(table: torch.Tensor) -> torch.Tensor:  # table (C, ...) -> (B, ..., S * S) per pixel
            count = len(table)
            before, later = table[torch.remainder(end, count).long()], table[torch.remainder(end + 1, count).long()]
            blended = before + after[..., None] * (later - before) if table.dim() > 1 else blend(before, later)
            return blended.movedim(-1, 1) if table.dim() > 1 else blended[:, None]

        def per_tile(fields: list[int], clamp: bool) -> tuple[torch.Tensor, torch.Tensor]:
            """The fields' values for the tile before each pixel's end and the one after (B, S * S)
            each; beyond the fields' tiles the nearest end's (`clamp`) or 0."""
            values = state[:, fields]  # (B, T)
            count = len(fields)

            def read(at: torch.Tensor) -> torch.Tensor:
                got = values.gather(1, at.clamp(0, count - 1))
                return got if clamp else got * ((at >= 0) & (at < count))

            return read(offset), read(offset + 1)

        shades = [self.shades[torch.remainder(end + k, len(self.shades)).long()] for k in (0, 1)]
        if self.touched:
            shades = [shade * (touched <= 0.5) for shade, touched in zip(shades, per_tile(self.touched, True), strict=True)]
        out = {"shade": blend(*shades)[:, None]}
        if self.kerbs is None:
            return out
        # a kerb on a tile's right (+1) lines the road's edge right of the path (lateral < 0)
        sides = per_tile(self.kerb_fields, False)
        inside = [((side > 0.5) & (lateral < 0)) | ((side < -0.5) & (lateral > 0)) for side in sides]
        width, half = self.kerbs["width"], self.half_width
        across = lateral.abs()
        pixel = (pw + ph) / 2
        share = (0.5 + (across - half) / pixel).clamp(0.0, 1.0) - (0.5 + (across - half - width) / pixel).clamp(0.0, 1.0)
        out["kerb"] = (share * blend(*(k.float() for k in inside)))[:, None]
        out["kerb_colour"] = by_tile(self.kerb_colours)
        return out

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        road, squares, tiles = self.shares(state)
        colour = self.road + tiles["shade"] if "shade" in tiles else self.road
        ground = self.ground + road * (colour - self.ground) + squares * (self.squares - self.ground)
        if "kerb" in tiles:
            ground = ground + tiles["kerb"] * (tiles["kerb_colour"] - ground)
        frames = frames + self.painted * (ground - frames)
        if self.dashboard is not None:
            frames = self.dashboard(frames, state)
        if self.score is not None:
            frames = self.score(frames, state)
        return frames if self.car is None else self.car(frames, state)


def _distance_to_polyline(
    points: torch.Tensor, x: torch.Tensor, y: torch.Tensor, along: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(B, C): the distance from each point (x, y) (C,) to the polyline through `points` (B, M, 2),
    and with `along` the place along the polyline nearest each (units from its first point) and
    the side it lies on (+1 left of the polyline's direction, -1 right; else both None).
    `ego_view.polyline_distance` without its gradient, in place over (B, M - 1, C) planes:
    there, (B, M - 1, C, 2) tensors going out to memory and back made 64 frames' distances many
    times slower."""
    start = points[:, :-1, :, None]  # (B, K, 2, 1)
    direction = points[:, 1:, :, None] - start
    scale = 1 / (direction**2).sum(2).clamp(min=1e-6)  # (B, K, 1)
    dx = x - start[:, :, 0]  # (B, K, C)
    dy = y - start[:, :, 1]
    t = (dx * direction[:, :, 0]).add_(dy * direction[:, :, 1]).mul_(scale).clamp_(0.0, 1.0)
    if along:
        lengths = direction[:, :, :, 0].norm(dim=-1)  # (B, K)
        place = t * lengths[:, :, None] + (lengths.cumsum(1) - lengths)[:, :, None]  # (B, K, C)
    dx.sub_(t * direction[:, :, 0])
    dy.sub_(t.mul_(direction[:, :, 1]))
    if along:
        left = direction[:, :, 0] * dy - direction[:, :, 1] * dx >= 0  # (B, K, C)
    squared = dx.square_().add_(dy.square_())
    if not along:
        return squared.amin(1).sqrt_(), None, None
    nearest, segment = squared.min(1)
    side = left.gather(1, segment[:, None]).squeeze(1).float() * 2 - 1
    return nearest.sqrt_(), place.gather(1, segment[:, None]).squeeze(1), side


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
