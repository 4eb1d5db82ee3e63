"""What each cell of an ego-centred camera's frame sees of the physical state: features for a
decoder that draws from the state (`ModelConfig.decoder_view`).

A camera that follows a body (CarRacing's, nose up) shows the world turned by the body's heading.
A pattern fixed on the ground (CarRacing's lighter grass squares, 33.3 u apart) is then a plane wave
whose direction and phase at each pixel depend on the heading and the body's place: a FiLM layer,
which can only scale and shift a cell's fixed features by the state, cannot make a wave whose
frequency turns with the heading, and the decoder drew plain grass. A path given as points in the
body's frame (the track's centre line) shows as a band whose edge is a distance from a polyline,
which the FiLM layers approximate as a blur. Both are plain geometry once the camera's scale and the
body's place in the frame are known, so they are computed here, exactly, for every cell:
- ground: sin and cos of k times the phase of the ground pattern under the cell, k = 1..harmonics,
  along world x and y;
- path: the cell's distance to the polyline through the path's points, in `path_width` units;
- bodies: for same-sized boxes (cars), whether the cell lies inside one and where in it: a box's
  edge is a threshold on the cell's offset along the box's own axes, which a FiLM layer draws as a
  streak when the box may sit anywhere in the frame (highway-env's cars ahead came out as bars);
- lines: for a road's lane markings that run along the view's x (highway-env's camera does not
  turn with the ego), the cell's offset across to the nearest solid and the nearest dashed line,
  in cell heights, and the dash pattern's phase along the road under the cell. Drawn by FiLM from
  the ego's lateral place alone, a 1-pixel line came out a row too thick at some places of the
  ego (a half-tone row above the road's edge in every frame with the ego in the right-hand lane),
  and the realism test told frames apart by that alone (BENCHMARKS.md, "Driving: lane markings
  drawn as highway-env draws them").

Lines can also be painted (`PaintedLines`): a marking one pixel wide is rasterisation, not
something to learn, and even given its exact offset the field decoder drew half-tone rows beside
it. Painted, the lines are drawn over the decoder's frame as the simulator draws them, except
under a car's box.

The view spec (a JSON dict, held in the model's config):
  scale:   [units per normalised coordinate to the right, up the frame] (the frame spans -1..1)
  origin:  [x, y] the body's place in normalised frame coordinates (y down the frame)
  heading: the angle field (needed by `ground`); heading 0 points the body along world +y, so its
           right is world (cos, sin) and ahead is (-sin, cos) (CarRacing's hull angle)
  ground:  optional {"phases": [x field, y field], "period": units, "harmonics": k}; each phase field
           holds 2 pi (world coordinate / period), wrapped
  path:    optional [[right field, ahead field], ...] points in the body's frame, in order
  path_width: optional, units per unit of the distance feature (default 10)
  bodies:  optional {"length": units, "width": units, "own": angle field or null, "others":
           [[present field, right field, ahead field, angle field], ...]}: boxes `length` along
           their axis and `width` across it; an angle of 0 points a box's axis to the view's right,
           turning towards its ahead axis. "own" is the box at the origin (the body the camera
           follows); "others" are placed by their fields, and count where present > 0.5.
           Per cell: the own box's cover and the cell's place in it (along / length, across / width),
           then the same for the nearest of the others (cover: the union of all of them).
  lines:   optional {"across": field, "along": field, "solid": [places], "dashed": [places],
           "period": units, "harmonics": k}: lines at fixed places across the road (in the
           `across` field's units and origin: the body sits at `across` of them), the dashed ones
           repeating every `period` along the road (the body at `along` on it). Per cell: the offset
           to the nearest solid line, to the nearest dashed one (cell heights, within +-REACH), then
           sin and cos of k times the dash phase under the cell, k = 1..harmonics. With "paint":
           [r, g, b] (0..255), "dash" (the painted length of each period, in units) and
           "supersample" (the simulator's screen pixels per frame pixel, default 1), the model
           paints the lines over its frames (`PaintedLines`).
  paint:   optional: the ground pattern's colours, the path as a road, the followed body's shapes,
           painted over the model's frames (`worldsim.model.painted_ground`, which says its keys).
"""

from __future__ import annotations

import math

import torch
from torch import nn

KEYS = {"scale", "origin", "heading", "ground", "path", "path_width", "bodies", "lines", "paint"}
# how far a cell's offset from a box is read, in box lengths / widths: beyond it a cell is just "far"
REACH = 3.0


def check_view(view: dict, state_fields: list[str], angle_fields: list[str]) -> None:
    """A clear error for a view spec that names unknown fields or lacks what it needs."""
    if not view:
        return
    if set(view) - KEYS:
        raise ValueError(f"decoder_view: unknown keys {sorted(set(view) - KEYS)} (known: {', '.join(sorted(KEYS))})")
    for key in ("scale", "origin"):
        value = view.get(key)
        if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
            raise ValueError(f"decoder_view: {key} must be two numbers, got {value!r}")
    if ("ground" in view or "heading" in view) and view.get("heading") not in angle_fields:
        raise ValueError(
            f"decoder_view: heading must name an angle field ({', '.join(angle_fields) or 'none'}), got {view.get('heading')!r}"
        )
    if not {"ground", "path", "bodies", "lines"} & set(view):
        raise ValueError("decoder_view: give a ground pattern, a path, bodies, lines, or some of them")
    named = _check_bodies(view["bodies"], angle_fields) if "bodies" in view else []
    if "lines" in view:
        named += _check_lines(view["lines"])
    if "ground" in view:
        ground = view["ground"]
        if not (isinstance(ground, dict) and len(ground.get("phases", ())) == 2 and ground.get("period", 0) > 0):
            raise ValueError(f"decoder_view: ground needs two phase fields and a positive period, got {ground!r}")
        if int(ground.get("harmonics", 1)) < 1:
            raise ValueError(f"decoder_view: ground harmonics must be at least 1, got {ground['harmonics']!r}")
        named += list(ground["phases"])
    if "path" in view:
        path = view["path"]
        if not (isinstance(path, (list, tuple)) and len(path) >= 2 and all(len(p) == 2 for p in path)):
            raise ValueError("decoder_view: path must be at least two [right field, ahead field] pairs")
        named += [name for point in path for name in point]
        if view.get("path_width", 10.0) <= 0:
            raise ValueError(f"decoder_view: path_width must be positive, got {view['path_width']!r}")
    if "paint" in view:
        from worldsim.model.painted_ground import check_paint  # it builds on this module

        check_paint(view["paint"], view, state_fields)
    unknown = sorted(set(named) - set(state_fields))
    if unknown:
        raise ValueError(f"decoder_view: {unknown} are not state fields")


def _check_bodies(bodies, angle_fields: list[str]) -> list[str]:
    """The fields a bodies spec names, or a clear error for a malformed one."""
    if not isinstance(bodies, dict) or set(bodies) - {"length", "width", "own", "others"}:
        raise ValueError(f"decoder_view: bodies is a dict of length, width, own and others, got {bodies!r}")
    for key in ("length", "width"):
        if not (isinstance(bodies.get(key), (int, float)) and bodies[key] > 0):
            raise ValueError(f"decoder_view: bodies {key} must be a positive number, got {bodies.get(key)!r}")
    others = bodies.get("others", [])
    if not (isinstance(others, (list, tuple)) and all(isinstance(o, (list, tuple)) and len(o) == 4 for o in others)):
        raise ValueError("decoder_view: bodies others must be [present, right, ahead, angle] field lists")
    own = bodies.get("own")
    if own is None and not others:
        raise ValueError("decoder_view: bodies needs an own box, others, or both")
    angles = ([own] if own is not None else []) + [o[3] for o in others]
    if not set(angles) <= set(angle_fields):
        raise ValueError(f"decoder_view: bodies angles {sorted(set(angles) - set(angle_fields))} are not angle fields")
    return [name for o in others for name in o] + ([own] if own is not None else [])


def _check_lines(lines) -> list[str]:
    """The fields a lines spec names, or a clear error for a malformed one."""
    known = {"across", "along", "solid", "dashed", "period", "harmonics", "paint", "dash", "supersample"}
    if not isinstance(lines, dict) or set(lines) - known:
        raise ValueError(f"decoder_view: lines is a dict of {', '.join(sorted(known))}, got {lines!r}")
    for key in ("across", "along"):
        if not isinstance(lines.get(key), str):
            raise ValueError(f"decoder_view: lines {key} must name a state field, got {lines.get(key)!r}")
    for key in ("solid", "dashed"):
        places = lines.get(key)
        if not (isinstance(places, (list, tuple)) and places and all(isinstance(v, (int, float)) for v in places)):
            raise ValueError(f"decoder_view: lines {key} must be a non-empty list of places, got {places!r}")
    if not (isinstance(lines.get("period"), (int, float)) and lines["period"] > 0):
        raise ValueError(f"decoder_view: lines period must be a positive number, got {lines.get('period')!r}")
    if int(lines.get("harmonics", 1)) < 1:
        raise ValueError(f"decoder_view: lines harmonics must be at least 1, got {lines['harmonics']!r}")
    if "paint" in lines:
        colour = lines["paint"]
        channel = lambda v: isinstance(v, (int, float)) and 0 <= v <= 255  # noqa: E731
        if not (isinstance(colour, (list, tuple)) and len(colour) == 3 and all(channel(v) for v in colour)):
            raise ValueError(f"decoder_view: lines paint must be an [r, g, b] colour in 0..255, got {colour!r}")
        if not (isinstance(lines.get("dash"), (int, float)) and 0 < lines["dash"] <= lines["period"]):
            raise ValueError(f"decoder_view: painted lines need a dash length in (0, period], got {lines.get('dash')!r}")
        if not (isinstance(lines.get("supersample", 1), int) and lines.get("supersample", 1) >= 1):
            raise ValueError(f"decoder_view: lines supersample must be a whole number >= 1, got {lines['supersample']!r}")
    return [lines["across"], lines["along"]]


def channels(view: dict) -> int:
    """Feature channels a view spec gives each cell."""
    if not view:
        return 0
    ground = 4 * int(view["ground"].get("harmonics", 1)) if "ground" in view else 0
    bodies = view.get("bodies")
    boxes = (3 if bodies.get("own") is not None else 0) + (3 if bodies.get("others") else 0) if bodies else 0
    lines = 2 + 2 * int(view["lines"].get("harmonics", 1)) if "lines" in view else 0
    return ground + (1 if "path" in view else 0) + boxes + lines


def in_box_frame(rel: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Offsets `rel` (..., 2) from boxes turned by `angles` (broadcast against rel[..., 0]) -> (along,
    across) each box's own axes, in units: an angle of 0 points a box's axis to the view's right."""
    cos, sin = angles.cos(), angles.sin()
    return rel[..., 0] * cos + rel[..., 1] * sin, -rel[..., 0] * sin + rel[..., 1] * cos


def polyline_distance(points: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """(B, C): each of `cells` (C, 2)'s distance to the polyline through `points` (B, M, 2)."""
    start, along = points[:, :-1], points[:, 1:] - points[:, :-1]  # (B, M-1, 2) segments
    rel = cells[None, None] - start[:, :, None]  # (B, M-1, C, 2)
    length = (along**2).sum(-1, keepdim=True).clamp(min=1e-6)  # (B, M-1, 1)
    t = ((rel * along[:, :, None]).sum(-1) / length).clamp(0.0, 1.0)  # (B, M-1, C)
    gap = rel - t[..., None] * along[:, :, None]
    return (gap**2).sum(-1).min(1).values.clamp(min=1e-9).sqrt()


class EgoView(nn.Module):
    """Physical state (B, S) in the domain's units -> (B, channels(view), grid, grid) cell features."""

    def __init__(self, view: dict, state_fields: list[str], grid: int):
        super().__init__()
        index = state_fields.index
        axis = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid * 2 - 1
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        (sx, sy), (ox, oy) = view["scale"], view["origin"]
        # each cell's place in the body's frame, in units: (to its right, ahead of it), (cells, 2)
        self.register_buffer("cells", torch.stack([(gx - ox) * sx, -(gy - oy) * sy], -1).flatten(0, 1), persistent=False)
        self.grid = grid
        self.cell_width = 2 * abs(sx) / grid  # in units, across the frame's x
        self.heading = index(view["heading"]) if "heading" in view else None
        ground = view.get("ground")
        self.phases = [index(f) for f in ground["phases"]] if ground else []
        self.period = float(ground["period"]) if ground else 1.0
        self.register_buffer(
            "harmonics",
            torch.arange(1, int(ground.get("harmonics", 1)) + 1, dtype=torch.float32) if ground else torch.zeros(0),
            persistent=False,
        )
        self.path = [(index(r), index(a)) for r, a in view.get("path", [])]
        self.path_width = float(view.get("path_width", 10.0))
        bodies = view.get("bodies") or {}
        self.box = (float(bodies.get("length", 1.0)), float(bodies.get("width", 1.0)))
        self.own = index(bodies["own"]) if bodies.get("own") is not None else None
        self.register_buffer(
            "others",
            torch.tensor([[index(f) for f in o] for o in bodies.get("others", [])], dtype=torch.long).view(-1, 4),
            persistent=False,
        )
        lines = view.get("lines")
        self.lines = (index(lines["across"]), index(lines["along"])) if lines else None
        self.cell_height = 2 * abs(sy) / grid  # in units, down the frame
        self.dash_period = float(lines["period"]) if lines else 1.0
        for name, places in (("solid", lines["solid"] if lines else []), ("dashed", lines["dashed"] if lines else [])):
            self.register_buffer(name, torch.tensor(places, dtype=torch.float32), persistent=False)
        self.register_buffer(
            "dash_harmonics",
            torch.arange(1, int(lines.get("harmonics", 1)) + 1, dtype=torch.float32) if lines else torch.zeros(0),
            persistent=False,
        )

    @property
    def right(self) -> torch.Tensor:
        return self.cells[:, 0]

    @property
    def ahead(self) -> torch.Tensor:
        return self.cells[:, 1]

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        features = []
        if self.phases:
            features.append(self._ground(state))
        if self.path:
            features.append(self._path_distance(state)[:, None] / self.path_width)
        if self.own is not None:
            # shaped after the state, not len(state): the ONNX export keeps the batch dynamic
            angle = state[:, self.own, None]
            features.append(self._boxes(torch.zeros_like(angle)[..., None].expand(-1, -1, 2), angle, torch.ones_like(angle)))
        if len(self.others):
            places = torch.stack([state[:, self.others[:, 1]], state[:, self.others[:, 2]]], -1)
            features.append(self._boxes(places, state[:, self.others[:, 3]], state[:, self.others[:, 0]]))
        if self.lines is not None:
            features.append(self._lines(state))
        return torch.cat(features, 1).unflatten(-1, (self.grid, self.grid))

    def _lines(self, state: torch.Tensor) -> torch.Tensor:
        """(B, 2 + 2K, cells): the offsets across to the nearest solid and dashed line (cell heights,
        within +-REACH), then sin, cos of k * the dash phase under each cell."""
        across, along = self.lines
        place = state[:, across, None] + self.ahead  # each cell's place across the road, (B, cells)
        offsets = []
        for lines in (self.solid, self.dashed):
            gap = lines[None, :, None] - place[:, None, :]  # (B, L, cells)
            nearest = gap.abs().argmin(1, keepdim=True)
            offsets.append((gap.gather(1, nearest)[:, 0] / self.cell_height).clamp(-REACH, REACH))
        # the place along the road wrapped to the period first: float32 holds a phase of 2 pi x /
        # period to 1e-3 rad only while x stays below a few thousand periods
        start = torch.remainder(state[:, along, None], self.dash_period)
        phase = 2 * torch.pi * (start + self.right) / self.dash_period  # (B, cells)
        k_phase = phase[:, None, :] * self.dash_harmonics[None, :, None]
        return torch.cat([torch.stack(offsets, 1), k_phase.sin(), k_phase.cos()], 1)

    def _ground(self, state: torch.Tensor) -> torch.Tensor:
        """(B, 4K, cells): sin, cos of k * the ground phase under each cell, along x then y."""
        heading = state[:, self.heading, None]
        cos, sin = heading.cos(), heading.sin()
        dx = self.right * cos - self.ahead * sin  # the cell's offset from the body in world axes
        dy = self.right * sin + self.ahead * cos
        waves = []
        for phase, offset in zip(self.phases, (dx, dy), strict=True):
            psi = state[:, phase, None] + 2 * torch.pi * offset / self.period  # (B, cells)
            k_psi = psi[:, None, :] * self.harmonics[None, :, None]  # (B, K, cells)
            waves += [k_psi.sin(), k_psi.cos()]
        return torch.cat(waves, 1)

    def _path_distance(self, state: torch.Tensor) -> torch.Tensor:
        """(B, cells): each cell's distance to the polyline through the path's points."""
        points = torch.stack([torch.stack([state[:, r], state[:, a]], -1) for r, a in self.path], 1)  # (B, M, 2)
        return polyline_distance(points, self.cells)

    def _boxes(self, places: torch.Tensor, angles: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """(B, 3, cells): boxes at `places` (B, K, 2) in (right, ahead) units, turned by `angles`
        (B, K), counted where `present` (B, K) > 0.5: the union of their covers (a cell's share
        inside a box, softened over a fifth of a cell so a box between cells still shows), and
        the cell's offset along and across the nearest present box, in box lengths and widths."""
        along, across = in_box_frame(self.cells[None, None] - places[:, :, None], angles[..., None])  # (B, K, C)
        along, across = along / self.box[0], across / self.box[1]
        soft = 0.2 * self.cell_width
        here = present[..., None] > 0.5  # (B, K, 1)
        inside = torch.sigmoid((self.box[0] / 2 - along.abs() * self.box[0]) / soft) * torch.sigmoid(
            (self.box[1] / 2 - across.abs() * self.box[1]) / soft
        )
        cover = (inside * here).amax(1)  # (B, C)
        reach = torch.where(here, along.square() + across.square(), torch.full_like(along, float("inf")))
        nearest = reach.argmin(1, keepdim=True)  # (B, 1, C)
        far = ~torch.isfinite(reach.gather(1, nearest)[:, 0])  # no box present at all
        offsets = [x.gather(1, nearest)[:, 0].clamp(-REACH, REACH).masked_fill(far, REACH) for x in (along, across)]
        return torch.stack([cover, *offsets], 1)


class PaintedLines(nn.Module):
    """The view's lines painted over frames (B, 3, S, S) in [0, 1] as a simulator that draws on a
    finer screen and shrinks it draws them: on a screen `supersample` times the frame's size, each
    line lights one screen row (the row its place falls in, counted from the screen's corner and
    truncated, as highway-env's integer pixels are) and, for a dashed line, the screen columns from each
    dash's start to its end, both included; a frame pixel takes the `paint` colour by the share of
    its screen pixels lit (highway-env's white 1-pixel markings on a 128-pixel screen come out
    (100 + 255) / 2 = 178 grey, a dash's end 139). No pixel inside a body's box is painted (the
    cars drive over the markings). Built only for a view whose lines have "paint"."""

    def __init__(self, view: dict, state_fields: list[str], frame_size: int):
        super().__init__()
        lines = view["lines"]
        self.view = EgoView({k: v for k, v in view.items() if k not in ("ground", "path")}, state_fields, frame_size)
        self.size, self.supersample = frame_size, int(lines.get("supersample", 1))
        screen = self.size * self.supersample
        (sx, sy), (ox, oy) = view["scale"], view["origin"]
        self.per_unit = (screen / (2 * abs(sx)), screen / (2 * abs(sy)))  # screen pixels per unit, across x and y
        self.body = ((ox + 1) / 2 * screen, (oy + 1) / 2 * screen)  # the body's place on the screen
        self.dash = float(lines["dash"])
        # the dashes a screen can show: its width in periods, and one more at either end
        self.dashes = int(math.ceil(screen / self.per_unit[0] / float(lines["period"]))) + 2
        self.register_buffer("colour", torch.tensor(lines["paint"], dtype=torch.float32).view(1, 3, 1, 1) / 255, persistent=False)
        self.register_buffer("screen", torch.arange(screen, dtype=torch.float32), persistent=False)

    def coverage(self, state: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) in [0, 1]: each pixel's share painted, for physical states (B, S) in their units."""
        v, ss, size = self.view, self.supersample, self.size
        across, along = v.lines
        # in float64 and in highway-env's order of operations (the screen's corner first, then
        # truncated pixels): a line on a pixel's edge (the road's edge with the ego on a lane
        # centre) falls on the simulator's side of it unless the float32 state has lost the difference
        (kx, ky), (bx, by) = self.per_unit, self.body
        corner_x = state[:, along, None].double() - bx / kx
        corner_y = state[:, across, None].double() - by / ky
        lines = torch.cat([v.solid, v.dashed]).double()
        screen_row = torch.trunc((lines[None, :] - corner_y) * ky).float()  # (B, L): the row each line lights
        on_screen = ((screen_row >= 0) & (screen_row < size * ss)).float()
        row = torch.div(screen_row, ss, rounding_mode="floor").clamp(0, size - 1)  # its frame row
        first = torch.floor(corner_x / v.dash_period) - 1
        starts = (first + torch.arange(self.dashes, dtype=first.dtype, device=first.device)) * v.dash_period  # (B, D)
        left = torch.trunc((starts - corner_x) * kx).float()
        right = torch.trunc((starts + self.dash - corner_x) * kx).float()
        column = self.screen[None, None, :]
        lit = ((column >= left[..., None]) & (column <= right[..., None])).float().amax(1)  # (B, screen)
        dashes = lit.unflatten(-1, (size, ss)).mean(-1)  # (B, S): each frame column's share of the dashes
        solid = torch.ones_like(dashes)[:, None].expand(-1, len(v.solid), -1)
        columns = torch.cat([solid, dashes[:, None].expand(-1, len(v.dashed), -1)], 1)  # (B, L, S)
        # a line lights 1 / ss of its frame row's pixels' screen rows; no pixel inside a car is lit.
        # The cars are tested on the lines' own rows only: a few of the frame's rows, not all of them.
        share = columns * (on_screen / ss)[..., None] * self._uncovered(state, row)
        rows = (row[..., None] == torch.arange(size, dtype=row.dtype, device=row.device)).float()  # (B, L, S)
        return torch.einsum("blr,blc->brc", rows, share).clamp(max=1.0)[:, None]

    def _uncovered(self, state: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """(B, L, S): 1 where the pixel of frame row `row` (B, L) in each column lies in no body's box."""
        v = self.view
        grid_ahead = v.ahead.view(self.size, self.size)[:, 0]  # each frame row's place ahead
        right = v.right.view(self.size, self.size)[0]  # each column's place to the right
        ahead = grid_ahead[row.long()]  # (B, L)
        cells = torch.stack([right[None, None, :].expand(*row.shape, -1), ahead[..., None].expand(-1, -1, self.size)], -1)
        places, angles, present = [], [], []
        if v.own is not None:
            angle = state[:, v.own, None]
            places.append(torch.zeros_like(angle)[..., None].expand(-1, -1, 2))
            angles.append(angle)
            present.append(torch.ones_like(angle))
        if len(v.others):
            places.append(torch.stack([state[:, v.others[:, 1]], state[:, v.others[:, 2]]], -1))
            angles.append(state[:, v.others[:, 3]])
            present.append(state[:, v.others[:, 0]])
        if not places:
            return torch.ones_like(cells[..., 0])
        places, angles, present = torch.cat(places, 1), torch.cat(angles, 1), torch.cat(present, 1)  # (B, K, ...)
        along, across = in_box_frame(cells[:, :, None] - places[:, None, :, None], angles[:, None, :, None])  # (B, L, K, S)
        inside = ((along.abs() < v.box[0] / 2) & (across.abs() < v.box[1] / 2) & (present[:, None, :, None] > 0.5)).any(2)
        return inside.logical_not().float()

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        share = self.coverage(state)
        return frames + share * (self.colour - frames)

    def row_off(self, share: torch.Tensor, target: torch.Tensor, tolerance: float = 0.05) -> torch.Tensor:
        """(B, 1, S, S) bool: the pixels of `target` frames (B, 3, S, S) that show a line the paint
        (`share`, from `coverage`) put one row off: unpainted, next to a painted pixel above or
        below, and of the colour that pixel would have painted over the target. A line exactly on
        a pixel's edge is lit on the side the simulator's float64 position falls, which a float32
        state may not tell; scored, such pixels teach a decoder to draw a second, half-tone line
        beside every painted one."""
        pad = torch.nn.functional.pad
        painted = target + share * (self.colour - target)  # what the paint makes of the target
        shifted = {  # (the pixel above is painted, its painted colour), and the same below
            "above": (pad(share[..., :-1, :], (0, 0, 1, 0)) > 0, pad(painted[..., :-1, :], (0, 0, 1, 0))),
            "below": (pad(share[..., 1:, :], (0, 0, 0, 1)) > 0, pad(painted[..., 1:, :], (0, 0, 0, 1))),
        }
        off = torch.zeros_like(share, dtype=torch.bool)
        for lit, colour in shifted.values():
            off |= lit & ((target - colour).abs().amax(1, keepdim=True) < tolerance)
        return off & (share == 0)
