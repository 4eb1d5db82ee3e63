"""The body a camera follows, painted at its fixed place in the frame as the simulator draws it.

CarRacing's camera keeps the car nose up at one place, so the car is the same few pixels in every
frame but for its front wheels, which turn with the steering. Drawn by the field decoder, the car
came out a shade off with a box of the decoder's own ground around it (BENCHMARKS.md, "Games: the
ground painted"). Painted instead: the hull's polygons and the wheels' rectangles in the body's
frame (units; x to its right, y ahead), each frame pixel the share of its box that each covers
(counted on a `SUPERSAMPLE` times finer grid, or with "raster" filled by pygame on the simulator's
window and shrunk as the simulator shrinks it), the steered wheels turned by the state's steering
(from a table of STEERING_STEPS angles, the nearest taken). Wheels are drawn first and the hull
over them, as the simulator does. The tables are built once per view and frame size.

The "car" entry of a view's "paint" spec:
  hull:        [[[x, y], ...], ...] convex polygons, in units
  hull_colour: [r, g, b]
  wheels:      [[x, y], ...] the wheels' centres; wheel_half_size: [across, along] in units
  wheel_colour: [r, g, b] (without a band: CarRacing's black wheels with the grey band's mean
               share, 0.19, of its grey)
  steered:     indices of the wheels that turn; steering: the state field of their angle (rad,
               positive turning the wheel anticlockwise on the screen); max_steer: rad
  band:        optional: the band car_dynamics draws on each wheel as it spins, a drum's lit face
               seen from above: {"colour": [r, g, b], "phases": [a state field per wheel, rad],
               "arc": rad}: between the wheel's spin angle and `arc` past it, the band spans the
               wheel's length between their cosines, where the angle's sine is not positive (a sine
               above 0 puts that end at the wheel's end); tabulated over BAND_PHASES spin angles
  raster:      optional {"window": [width, height], "render": [width, height]}: the simulator's
               window (the view spanning it) and what it shrinks it to before the source's
               area-averaging: the car filled by pygame there, pixel for pixel as the simulator
               fills it, instead of counted on a finer grid
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import torch
from torch import nn

SUPERSAMPLE = 8  # grid points per frame pixel along each side, for the shares
STEERING_STEPS = 33  # steering angles tabulated between -max_steer and +max_steer
BAND_PHASES = 64  # spin angles tabulated around the circle for a wheel's band
KEYS = {"hull", "hull_colour", "wheels", "wheel_half_size", "wheel_colour", "steered", "steering", "max_steer"}
OPTIONAL = {"band", "raster"}
BAND_KEYS = {"colour", "phases", "arc"}


def check_car(car, state_fields: list[str] | None = None) -> None:
    """A clear error for a malformed "car" entry of a paint spec."""
    if not isinstance(car, dict) or set(car) - OPTIONAL != KEYS:
        raise ValueError(f"decoder_view: paint car is a dict of {', '.join(sorted(KEYS))}[, band, raster], got {car!r}")
    if "raster" in car:
        raster = car["raster"]

        def size(v):
            return isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) and x > 0 for x in v)

        if not (
            isinstance(raster, dict) and set(raster) == {"window", "render"} and size(raster["window"]) and size(raster["render"])
        ):
            raise ValueError(
                f"decoder_view: paint car raster is {{window: [w, h], render: [w, h]}} in whole pixels, got {raster!r}"
            )

    def point(p):
        return isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)

    if not (
        isinstance(car["hull"], (list, tuple))
        and car["hull"]
        and all(len(poly) >= 3 and all(map(point, poly)) for poly in car["hull"])
    ):
        raise ValueError("decoder_view: paint car hull must be polygons of at least three [x, y] points")
    if not (isinstance(car["wheels"], (list, tuple)) and all(map(point, car["wheels"]))):
        raise ValueError("decoder_view: paint car wheels must be [x, y] centres")
    if not (point(car["wheel_half_size"]) and min(car["wheel_half_size"]) > 0):
        raise ValueError(f"decoder_view: paint car wheel_half_size must be two positive numbers, got {car['wheel_half_size']!r}")
    for key in ("hull_colour", "wheel_colour"):
        if not _is_colour(car[key]):
            raise ValueError(f"decoder_view: paint car {key} must be an [r, g, b] colour in 0..255, got {car[key]!r}")
    if not all(isinstance(i, int) and 0 <= i < len(car["wheels"]) for i in car["steered"]):
        raise ValueError(f"decoder_view: paint car steered must index its wheels, got {car['steered']!r}")
    if not (isinstance(car["max_steer"], (int, float)) and car["max_steer"] > 0):
        raise ValueError(f"decoder_view: paint car max_steer must be a positive angle, got {car['max_steer']!r}")
    if state_fields is not None and car["steering"] not in state_fields:
        raise ValueError(f"decoder_view: paint car steering {car['steering']!r} is not a state field")
    if "band" in car:
        band = car["band"]
        if not (isinstance(band, dict) and set(band) == BAND_KEYS):
            raise ValueError(f"decoder_view: paint car band is a dict of {', '.join(sorted(BAND_KEYS))}, got {band!r}")
        if not _is_colour(band["colour"]):
            raise ValueError(f"decoder_view: paint car band colour must be an [r, g, b] colour in 0..255, got {band['colour']!r}")
        if not (isinstance(band["phases"], (list, tuple)) and len(band["phases"]) == len(car["wheels"])):
            raise ValueError(f"decoder_view: paint car band phases must name one state field per wheel, got {band['phases']!r}")
        if state_fields is not None and not set(band["phases"]) <= set(state_fields):
            missing = sorted(set(band["phases"]) - set(state_fields))
            raise ValueError(f"decoder_view: paint car band phases {missing} are not state fields")
        if not (isinstance(band["arc"], (int, float)) and 0 < band["arc"] < 2 * math.pi):
            raise ValueError(f"decoder_view: paint car band arc must be an angle in (0, 2 pi), got {band['arc']!r}")


def _is_colour(v) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(c, (int, float)) and 0 <= c <= 255 for c in v)


def _inside_convex(points: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
    """(..., 2) points -> bool, inside the convex `polygon` (K, 2) of either winding."""
    edges = polygon.roll(-1, 0) - polygon  # (K, 2)
    rel = points[..., None, :] - polygon  # (..., K, 2)
    cross = edges[:, 0] * rel[..., 1] - edges[:, 1] * rel[..., 0]  # (..., K)
    return (cross >= 0).all(-1) | (cross <= 0).all(-1)


def wheel_polygon(centre, half_size, angle: float, along: tuple[float, float] = (-1.0, 1.0)) -> list[tuple[float, float]]:
    """A wheel's rectangle (or the part of its length between `along`'s fractions of its
    half-length) at `centre`, turned `angle` rad anticlockwise: its four corners, in units."""
    (wx, wy), cos, sin = half_size, math.cos(angle), math.sin(angle)
    corners = ((-wx, along[0] * wy), (wx, along[0] * wy), (wx, along[1] * wy), (-wx, along[1] * wy))
    return [(centre[0] + a * cos - b * sin, centre[1] + a * sin + b * cos) for a, b in corners]


def band_span(spin: float, arc: float) -> tuple[float, float] | None:
    """car_dynamics' drum face of a wheel spun `spin` rad: from cos(spin) to cos(spin + arc) of its
    half-length, an end whose sine is positive put at the wheel's end; None where both are."""
    if math.sin(spin) > 0 and math.sin(spin + arc) > 0:
        return None
    ends = [math.copysign(1.0, math.cos(a)) if math.sin(a) > 0 else math.cos(a) for a in (spin, spin + arc)]
    return min(ends), max(ends)


class _Supersampled:
    """Polygons' cover of the frame's pixels in the car's window, counted on a grid SUPERSAMPLE
    times finer: each pixel the share of its box that they cover."""

    def __init__(self, rows, cols, body, per_unit):
        self.rows, self.cols, self.h, self.w = rows, cols, rows[1] - rows[0], cols[1] - cols[0]
        fine_y = rows[0] + (torch.arange(self.h * SUPERSAMPLE, dtype=torch.float64) + 0.5) / SUPERSAMPLE
        fine_x = cols[0] + (torch.arange(self.w * SUPERSAMPLE, dtype=torch.float64) + 0.5) / SUPERSAMPLE
        gy, gx = torch.meshgrid(fine_y, fine_x, indexing="ij")
        # the grid's points in the body's frame, in units (y ahead, up the frame)
        self.points = torch.stack([(gx - body[0]) / per_unit[0], -(gy - body[1]) / per_unit[1]], -1)

    def mask(self, polygons) -> torch.Tensor:
        inside = torch.zeros(self.points.shape[:-1], dtype=torch.bool)
        for polygon in polygons:
            inside |= _inside_convex(self.points, torch.tensor(polygon, dtype=torch.float64))
        return inside

    def share(self, mask: torch.Tensor) -> torch.Tensor:
        return mask.float().unflatten(-1, (self.w, SUPERSAMPLE)).unflatten(-3, (self.h, SUPERSAMPLE)).mean((-3, -1))


class _Rasterised:
    """Polygons' cover of the frame's pixels in the car's window as the simulator makes it: filled
    by pygame on its window's pixels, the window shrunk by pygame's smoothscale to `render` and the
    source's area-averaging to the frame (a crop of the window whose ends fall on whole pixels of
    all three, so that shrunk alone it gives what the whole window gives there)."""

    def __init__(self, raster: dict, reach_px: tuple[float, float, float, float], body_px, zoom, frame_size: int):
        from worldsim.model.painted_score import aligned_span

        (W, H), (RW, RH) = raster["window"], raster["render"]
        left, top, right, bottom = reach_px
        c0, c1 = aligned_span(int(left * RW // W), -int(-right * RW // W), W, RW, frame_size)
        r0, r1 = aligned_span(int(top * RH // H), -int(-bottom * RH // H), H, RH, frame_size)
        self.x0, self.y0 = c0 * W // RW, r0 * H // RH
        self.crop = (c1 * W // RW - self.x0, r1 * H // RH - self.y0)
        self.render = (c1 - c0, r1 - r0)
        self.rows = (r0 * frame_size // RH, r1 * frame_size // RH)
        self.cols = (c0 * frame_size // RW, c1 * frame_size // RW)
        self.frame = (self.cols[1] - self.cols[0], self.rows[1] - self.rows[0])
        self.body, self.zoom = body_px, zoom

    def mask(self, polygons) -> torch.Tensor:
        from worldsim.model.painted_score import pygame_quietly

        pygame = pygame_quietly()
        surface = pygame.Surface(self.crop)
        surface.fill((0, 0, 0))
        for polygon in polygons:  # units (x right, y ahead) -> the window's pixels (y down)
            points = [(self.body[0] + x * self.zoom[0] - self.x0, self.body[1] - y * self.zoom[1] - self.y0) for x, y in polygon]
            pygame.draw.polygon(surface, (255, 255, 255), points)
        return torch.from_numpy(pygame.surfarray.array2d(surface).T != 0)

    def share(self, mask: torch.Tensor) -> torch.Tensor:
        """Shares in [0, 1]: pygame's shrinking truncates, a pixel all covered comes out 253 of 255
        (the frames' colours 2 levels darker, which the spec's colours already are), so each
        pixel's is taken against a window all covered."""
        full = self._shrunk(torch.ones(1, *mask.shape[-2:], dtype=torch.bool))
        return self._shrunk(mask) / full[0]

    def _shrunk(self, mask: torch.Tensor) -> torch.Tensor:
        from PIL import Image

        from worldsim.model.painted_score import pygame_quietly

        pygame = pygame_quietly()

        flat = mask.reshape(-1, *mask.shape[-2:])
        out = []
        for one in flat:
            grey = np.repeat((one.numpy().T * 255).astype(np.uint8)[..., None], 3, -1)
            shrunk = pygame.surfarray.array3d(pygame.transform.smoothscale(pygame.surfarray.make_surface(grey), self.render))
            shrunk = np.ascontiguousarray(shrunk.swapaxes(0, 1))
            out.append(np.asarray(Image.fromarray(shrunk).resize(self.frame, Image.BOX))[..., 0])
        return torch.from_numpy(np.stack(out).astype(np.float32) / 255).reshape(*mask.shape[:-2], *out[0].shape)


class PaintedCar(nn.Module):
    """The car painted over frames (B, 3, S, S) in [0, 1] at its place in the view, from states (B, F)."""

    def __init__(self, view: dict, state_fields: list[str], frame_size: int):
        super().__init__()
        car = view["paint"]["car"]
        tables = _tables(json.dumps(view, sort_keys=True), frame_size)
        self.rows, self.cols = tables["rows"], tables["cols"]
        self.box = (self.rows, self.cols)  # frame pixels: (rows, columns)
        self.register_buffer("hull", tables["hull"], persistent=False)  # (h, w)
        self.register_buffer("wheels", tables["wheels"], persistent=False)  # (STEPS, h, w)
        self.band = "band" in car
        if self.band:
            self.register_buffer("bands", tables["bands"], persistent=False)  # (W, STEPS, PHASES, h, w)
            self.register_buffer(
                "band_index", torch.tensor([state_fields.index(f) for f in car["band"]["phases"]]), persistent=False
            )
            self.register_buffer(
                "band_colour", torch.tensor(car["band"]["colour"], dtype=torch.float32).view(1, 3, 1, 1) / 255, persistent=False
            )
        self.steering = state_fields.index(car["steering"])
        self.max_steer = float(car["max_steer"])
        for name in ("hull_colour", "wheel_colour"):
            self.register_buffer(name, torch.tensor(car[name], dtype=torch.float32).view(1, 3, 1, 1) / 255, persistent=False)

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        steps = len(self.wheels) - 1
        place = ((state[:, self.steering].clamp(-self.max_steer, self.max_steer) / self.max_steer + 1) / 2 * steps).round().long()
        wheels = self.wheels[place][:, None]  # (B, 1, h, w)
        (r0, r1), (c0, c1) = self.rows, self.cols
        window = frames[:, :, r0:r1, c0:c1]
        painted = window + wheels * (self.wheel_colour - window) + self.hull * (self.hull_colour - window)
        if self.band:
            spin = torch.remainder(state.index_select(1, self.band_index), 2 * torch.pi) / (2 * torch.pi) * BAND_PHASES
            spin = spin.round().long() % BAND_PHASES  # (B, W)
            wheel = torch.arange(len(self.bands), device=frames.device)
            band = self.bands[wheel[None], place[:, None], spin].sum(1)[:, None]  # (B, 1, h, w): wheels do not overlap
            painted = painted + band * (self.band_colour - self.wheel_colour)
        return torch.cat(
            [frames[:, :, :r0], torch.cat([frames[:, :, r0:r1, :c0], painted, frames[:, :, r0:r1, c1:]], 3), frames[:, :, r1:]], 2
        )


@functools.lru_cache(maxsize=4)
def _tables(view_json: str, frame_size: int) -> dict:
    """The car's cover of its window's pixels: the hull (h, w), the wheels at each tabulated
    steering angle (STEPS, h, w) and, with a band, each wheel's band at each steering and spin angle
    (W, STEPS, PHASES, h, w; a fixed wheel's the same at every steering angle), all under the hull
    (drawn over them, as the simulator draws it); with the window's rows and columns."""
    from worldsim.model.painted_ground import painted_origin  # it builds on this module

    view = json.loads(view_json)
    car = view["paint"]["car"]
    (sx, sy), (ox, oy) = view["scale"], painted_origin(view, frame_size)
    per_unit = (frame_size / (2 * abs(sx)), frame_size / (2 * abs(sy)))  # frame pixels per unit
    body = ((ox + 1) / 2 * frame_size, (oy + 1) / 2 * frame_size)  # the body's place, in pixels
    wx, wy = car["wheel_half_size"]
    reach = max(max(abs(x), abs(y)) for poly in car["hull"] for x, y in poly)
    reach = max(reach, *(math.hypot(abs(x) + wx, abs(y) + wy) for x, y in car["wheels"]))
    if "raster" in car:
        # the simulator's window: the view spans it, the body at the view's own origin (unshifted:
        # what the shift stands for is the shrinking, done here as the simulator does it)
        (W, H), (vx, vy) = car["raster"]["window"], view["origin"]
        zoom = (W / (2 * abs(sx)), H / (2 * abs(sy)))
        centre = ((vx + 1) / 2 * W, (vy + 1) / 2 * H)
        extent = (
            centre[0] - reach * zoom[0],
            centre[1] - reach * zoom[1],
            centre[0] + reach * zoom[0],
            centre[1] + reach * zoom[1],
        )
        raster = _Rasterised(car["raster"], extent, centre, zoom, frame_size)
    else:
        # the frame pixels the car can reach: a window around its place
        cols = (max(0, int(body[0] - reach * per_unit[0]) - 1), min(frame_size, int(body[0] + reach * per_unit[0]) + 2))
        rows = (max(0, int(body[1] - reach * per_unit[1]) - 1), min(frame_size, int(body[1] + reach * per_unit[1]) + 2))
        raster = _Supersampled(rows, cols, body, per_unit)
    hull = raster.mask(car["hull"])
    steered = set(car["steered"])
    angles = torch.linspace(-car["max_steer"], car["max_steer"], STEERING_STEPS, dtype=torch.float64).tolist()
    fixed = [wheel_polygon(c, (wx, wy), 0.0) for i, c in enumerate(car["wheels"]) if i not in steered]
    wheels = [raster.mask(fixed + [wheel_polygon(car["wheels"][i], (wx, wy), a) for i in steered]) & ~hull for a in angles]
    out = {"rows": raster.rows, "cols": raster.cols, "hull": raster.share(hull), "wheels": raster.share(torch.stack(wheels))}
    if "band" in car:
        spins = [k * 2 * math.pi / BAND_PHASES for k in range(BAND_PHASES)]
        blank = torch.zeros_like(hull)
        bands = []
        for i, centre in enumerate(car["wheels"]):
            table = []
            for turn in angles if i in steered else [0.0]:
                spans = [band_span(spin, car["band"]["arc"]) for spin in spins]
                masks = [
                    blank if span is None else raster.mask([wheel_polygon(centre, (wx, wy), turn, span)]) & ~hull
                    for span in spans
                ]
                table.append(raster.share(torch.stack(masks)))
            bands.append(torch.stack(table).expand(len(angles), -1, -1, -1))
        out["bands"] = torch.stack(bands)
    return out
