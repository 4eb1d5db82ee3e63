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
  wheel_colour: [r, g, b] (CarRacing's black wheels with a grey band that turns with the wheel's
               spin, which the state does not hold: the band's mean share, 0.19, of its grey)
  steered:     indices of the wheels that turn; steering: the state field of their angle (rad,
               positive turning the wheel anticlockwise on the screen); max_steer: rad
"""

from __future__ import annotations

import math

import torch
from torch import nn

SUPERSAMPLE = 8  # grid points per frame pixel along each side, for the shares
STEERING_STEPS = 33  # steering angles tabulated between -max_steer and +max_steer
KEYS = {"hull", "hull_colour", "wheels", "wheel_half_size", "wheel_colour", "steered", "steering", "max_steer"}


def check_car(car, state_fields: list[str] | None = None) -> None:
    """A clear error for a malformed "car" entry of a paint spec."""
    if not isinstance(car, dict) or set(car) != KEYS:
        raise ValueError(f"decoder_view: paint car is a dict of {', '.join(sorted(KEYS))}, got {car!r}")

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

    def forward(self, frames: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        steps = len(self.wheels) - 1
        place = (state[:, self.steering].clamp(-self.max_steer, self.max_steer) / self.max_steer + 1) / 2 * steps
        wheels = self.wheels[place.round().long()][:, None]  # (B, 1, h, w)
        (r0, r1), (c0, c1) = self.rows, self.cols
        window = frames[:, :, r0:r1, c0:c1]
        painted = window + wheels * (self.wheel_colour - window) + self.hull * (self.hull_colour - window)
        return torch.cat(
            [frames[:, :, :r0], torch.cat([frames[:, :, r0:r1, :c0], painted, frames[:, :, r0:r1, c1:]], 3), frames[:, :, r1:]], 2
        )
