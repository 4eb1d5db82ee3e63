"""The body a camera follows, painted at its fixed place in the frame as the simulator draws it.

CarRacing's camera keeps the car nose up at one place, so the car is the same few pixels in every
frame but for its front wheels, which turn with the steering. Drawn by the field decoder, the car
came out a shade off with a box of the decoder's own ground around it (BENCHMARKS.md, "Games: the
ground painted"). Painted instead: the hull's polygons and the wheels' rectangles in the body's
frame (units; x to its right, y ahead), each frame pixel the share of its box that each covers
(counted on a `SUPERSAMPLE` times finer grid), the steered wheels turned by the state's steering
(from a table of STEERING_STEPS angles, the nearest taken). Wheels are drawn first and the hull
over them, as the simulator does.

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
"""

from __future__ import annotations

import math

import torch
from torch import nn

SUPERSAMPLE = 8  # grid points per frame pixel along each side, for the shares
STEERING_STEPS = 33  # steering angles tabulated between -max_steer and +max_steer
BAND_PHASES = 64  # spin angles tabulated around the circle for a wheel's band
KEYS = {"hull", "hull_colour", "wheels", "wheel_half_size", "wheel_colour", "steered", "steering", "max_steer"}
BAND_KEYS = {"colour", "phases", "arc"}


def check_car(car, state_fields: list[str] | None = None) -> None:
    """A clear error for a malformed "car" entry of a paint spec."""
    if not isinstance(car, dict) or set(car) - {"band"} != KEYS:
        raise ValueError(f"decoder_view: paint car is a dict of {', '.join(sorted(KEYS))}[, band], got {car!r}")

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
        colour = car[key]
        if not (
            isinstance(colour, (list, tuple))
            and len(colour) == 3
            and all(isinstance(c, (int, float)) and 0 <= c <= 255 for c in colour)
        ):
            raise ValueError(f"decoder_view: paint car {key} must be an [r, g, b] colour in 0..255, got {colour!r}")
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
        colour = band["colour"]
        if not (
            isinstance(colour, (list, tuple))
            and len(colour) == 3
            and all(isinstance(c, (int, float)) and 0 <= c <= 255 for c in colour)
        ):
            raise ValueError(f"decoder_view: paint car band colour must be an [r, g, b] colour in 0..255, got {colour!r}")
        if not (isinstance(band["phases"], (list, tuple)) and len(band["phases"]) == len(car["wheels"])):
            raise ValueError(f"decoder_view: paint car band phases must name one state field per wheel, got {band['phases']!r}")
        if state_fields is not None and not set(band["phases"]) <= set(state_fields):
            missing = sorted(set(band["phases"]) - set(state_fields))
            raise ValueError(f"decoder_view: paint car band phases {missing} are not state fields")
        if not (isinstance(band["arc"], (int, float)) and 0 < band["arc"] < 2 * math.pi):
            raise ValueError(f"decoder_view: paint car band arc must be an angle in (0, 2 pi), got {band['arc']!r}")


def _inside_convex(points: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
    """(..., 2) points -> bool, inside the convex `polygon` (K, 2) of either winding."""
    edges = polygon.roll(-1, 0) - polygon  # (K, 2)
    rel = points[..., None, :] - polygon  # (..., K, 2)
    cross = edges[:, 0] * rel[..., 1] - edges[:, 1] * rel[..., 0]  # (..., K)
    return (cross >= 0).all(-1) | (cross <= 0).all(-1)


class PaintedCar(nn.Module):
    """The car painted over frames (B, 3, S, S) in [0, 1] at its place in the view, from states (B, F)."""

    def __init__(self, view: dict, state_fields: list[str], frame_size: int):
        super().__init__()
        car = view["paint"]["car"]
        from worldsim.model.painted_ground import painted_origin  # it builds on this module

        (sx, sy), (ox, oy) = view["scale"], painted_origin(view, frame_size)
        per_unit = (frame_size / (2 * abs(sx)), frame_size / (2 * abs(sy)))  # frame pixels per unit
        body = ((ox + 1) / 2 * frame_size, (oy + 1) / 2 * frame_size)  # the body's place, in pixels
        wx, wy = car["wheel_half_size"]
        reach = max(max(abs(x), abs(y)) for poly in car["hull"] for x, y in poly)
        reach = max(reach, *(math.hypot(abs(x) + wx, abs(y) + wy) for x, y in car["wheels"]))
        # the frame pixels the car can reach: a window around its place
        self.cols = (max(0, int(body[0] - reach * per_unit[0]) - 1), min(frame_size, int(body[0] + reach * per_unit[0]) + 2))
        self.rows = (max(0, int(body[1] - reach * per_unit[1]) - 1), min(frame_size, int(body[1] + reach * per_unit[1]) + 2))
        h, w = self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]
        # the grid's points in the body's frame, in units (y ahead, up the frame)
        fine_y = self.rows[0] + (torch.arange(h * SUPERSAMPLE, dtype=torch.float64) + 0.5) / SUPERSAMPLE
        fine_x = self.cols[0] + (torch.arange(w * SUPERSAMPLE, dtype=torch.float64) + 0.5) / SUPERSAMPLE
        gy, gx = torch.meshgrid(fine_y, fine_x, indexing="ij")
        points = torch.stack([(gx - body[0]) / per_unit[0], -(gy - body[1]) / per_unit[1]], -1)
        hull = torch.zeros(gy.shape, dtype=torch.bool)
        for polygon in car["hull"]:
            hull |= _inside_convex(points, torch.tensor(polygon, dtype=torch.float64))
        steered = set(car["steered"])
        fixed = torch.zeros_like(hull)
        for i, centre in enumerate(car["wheels"]):
            if i not in steered:
                fixed |= self._wheel(points, centre, (wx, wy), 0.0)
        angles = torch.linspace(-car["max_steer"], car["max_steer"], STEERING_STEPS, dtype=torch.float64)
        wheels = []  # per tabulated angle: the wheels' cover, under the hull
        for angle in angles.tolist():
            cover = fixed.clone()
            for i in steered:
                cover |= self._wheel(points, car["wheels"][i], (wx, wy), angle)
            wheels.append(cover & ~hull)

        def share(mask: torch.Tensor) -> torch.Tensor:  # (..., h * SS, w * SS) -> (..., h, w)
            return mask.float().unflatten(-1, (w, SUPERSAMPLE)).unflatten(-3, (h, SUPERSAMPLE)).mean((-3, -1))

        self.register_buffer("hull", share(hull), persistent=False)  # (h, w)
        self.register_buffer("wheels", share(torch.stack(wheels)), persistent=False)  # (STEPS, h, w)
        self.band = "band" in car
        if self.band:
            # per wheel (W, STEPS, PHASES, h, w): its band at each tabulated steering and spin angle
            # (a fixed wheel's the same at every steering angle), under the hull
            spins = (torch.arange(BAND_PHASES, dtype=torch.float64) * 2 * math.pi / BAND_PHASES).tolist()
            bands = []
            for i, centre in enumerate(car["wheels"]):
                turns = angles.tolist() if i in steered else [0.0]
                table = torch.stack(
                    [
                        torch.stack(
                            [self._band(points, centre, (wx, wy), turn, spin, car["band"]["arc"]) & ~hull for spin in spins]
                        )
                        for turn in turns
                    ]
                )
                bands.append(share(table).expand(len(angles), -1, -1, -1))
            self.register_buffer("bands", torch.stack(bands), persistent=False)
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

    @staticmethod
    def _wheel(points: torch.Tensor, centre, half_size, angle: float) -> torch.Tensor:
        """bool: the points inside a wheel at `centre` turned `angle` (rad, anticlockwise)."""
        rel = points - torch.tensor(centre, dtype=points.dtype)
        cos, sin = math.cos(angle), math.sin(angle)
        across = rel[..., 0] * cos + rel[..., 1] * sin  # in the wheel's own axes
        along = -rel[..., 0] * sin + rel[..., 1] * cos
        return (across.abs() <= half_size[0]) & (along.abs() <= half_size[1])

    @classmethod
    def _band(cls, points: torch.Tensor, centre, half_size, angle: float, spin: float, arc: float) -> torch.Tensor:
        """bool: the points on the band of a wheel at `centre` turned `angle`, spun `spin` rad:
        car_dynamics' drum face, from cos(spin) to cos(spin + arc) of the half-length along the wheel,
        an end whose sine is positive put at the wheel's end, nothing where both are."""
        ends = []
        for a in (spin, spin + arc):
            if math.sin(a) > 0:
                ends.append(math.copysign(1.0, math.cos(a)))
            else:
                ends.append(math.cos(a))
        if math.sin(spin) > 0 and math.sin(spin + arc) > 0:
            return torch.zeros(points.shape[:-1], dtype=torch.bool)
        rel = points - torch.tensor(centre, dtype=points.dtype)
        cos, sin = math.cos(angle), math.sin(angle)
        across = rel[..., 0] * cos + rel[..., 1] * sin
        along = -rel[..., 0] * sin + rel[..., 1] * cos
        low, high = sorted(e * half_size[1] for e in ends)
        return (across.abs() <= half_size[0]) & (along >= low) & (along <= high)

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
